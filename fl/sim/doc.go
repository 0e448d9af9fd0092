// Package sim runs a whole federation in one process: an in-process
// CometBFT network (chain/localnet), one trainer per hospital (fl.Trainer),
// and a researcher who creates the task; it follows the task round by round
// and reports each global model's test accuracy at every hospital. It is
// the engine of `fedledger demo` and of the end-to-end tests.
//
//	cfg := sim.DefaultConfig()
//	cfg.Data = datasets.Synthetic(42)
//	rep, err := sim.Run(ctx, cfg)
package sim
