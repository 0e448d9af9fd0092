package protocol

// Limits on what a task may ask for. They bound the work and state every
// validator takes on for one task.
const (
	MaxRounds  = 100000
	MaxWindow  = 1000000
	MaxInvited = 10000
	// MaxTaskFracBits bounds a task's fixed-point scale.
	MaxTaskFracBits = 30
	// MaxChunks bounds the chunks of one chunked reveal.
	MaxChunks = 4096
	// MaxSamples bounds the sample count a commitment may claim.
	MaxSamples = 1 << 32
)
