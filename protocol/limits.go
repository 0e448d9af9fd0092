package protocol

// Limits on what a task may ask for. They bound the work and state every
// validator takes on for one task.
const (
	MaxRounds  = 100000
	MaxWindow  = 1000000
	MaxInvited = 10000
	// MaxFeedbackInvited bounds the hospitals of a task with validation
	// feedback, at the default max_hospitals: each commitment carries a
	// verdict on every other hospital's update, kept in the round record
	// (n(n−1) verdicts, re-written with the record by each of the round's
	// 2n txs), and the round's judgment computes an exact tail for up to
	// half the updates (package aggregator's BenchmarkJudge, its worst
	// case on a 2-core machine: 1.3 ms a round at 100 hospitals, 14 ms at
	// 256).
	MaxFeedbackInvited = 100
	// MaxTaskFracBits bounds a task's fixed-point scale.
	MaxTaskFracBits = 30
	// MaxChunks bounds the chunks of one chunked reveal.
	MaxChunks = 4096
	// MaxNonceGap bounds how far above a signer's last nonce the next may
	// be: nonces stay strictly increasing (replays are refused) but cannot
	// be driven to 2^64−1, which would leave the key unable to sign again.
	MaxNonceGap = 1 << 16
	// MaxSamples bounds the sample count a commitment may claim.
	MaxSamples = 1 << 32
)
