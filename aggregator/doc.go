// Package aggregator holds the deterministic aggregation rules of fedledger.
//
// Every function here is pure: no network, disk, clock, randomness or chain
// types, and no floating point. Updates are fixed-point integer vectors that
// share one scale (2^fracBits, declared by the task), weighted by an unsigned
// integer (normally the hospital's sample count). Given the same inputs, the
// functions return the same bits on every CPU architecture, which is what
// lets every validator of a CometBFT network reach the same app hash.
//
// The chain calls a Rule; tests and tools may call the plain functions:
//
//	avg, err := aggregator.FedAvg([]aggregator.Update{
//		{Values: []int64{10, -20}, Weight: 3},
//		{Values: []int64{30, 40}, Weight: 1},
//	})
//	// avg == []int64{15, -5}
//
// # Rounds that do not fit in memory
//
// RunRound takes a round's updates in memory. StreamRound runs the same
// round (the same aggregate, weights and reputation changes, which the
// tests hold it to) over a Source that hands out one block of StreamBlock
// coordinates of an update at a time, and hands the aggregate on a block
// at a time: the chain closes a round of 25 updates of 2·10^6 parameters
// holding a few blocks of each, not 25 vectors of 16 MB.
//
// # Reputation and alike updates
//
// With reputation on, a round also scores every member (reputation.go,
// feedback.go) and counts alike updates once (alike.go): an update within
// a quarter of the round's typical distance of an earlier one gets weight
// 0, with its reason and no penalty. Large models are compared through a
// count sketch keyed by the seed the caller passes; the chain draws it
// from the round's commitments.
//
// # Vector code
//
// On an amd64 CPU with AVX2, Median, TrimmedMean and Huber (rounds of 2 to
// 128 updates) sort four coordinates at once with a sorting network in
// assembly (sortnet.go, sortnet_amd64.s) instead of selecting per
// coordinate; elsewhere, and under the purego build tag, they select. Both
// ways give the same bits, which the tests check against each other on
// every count; SortsByNetwork says which way this CPU takes.
//
// # Rounding
//
// FedAvg computes, per coordinate j, the exact rational Σ wᵢ·vᵢⱼ / Σ wᵢ with
// 128-bit intermediate sums, and rounds it to the nearest integer, halves
// away from zero (2.5 → 3, −2.5 → −3). No intermediate result is rounded.
//
// # Saturation
//
// AddSaturating adds an aggregate to a model and clamps every coordinate to
// the range of the model's integer width, so an extreme update can never wrap
// around.
package aggregator
