// Package training is the on-chain module of federated training: tasks,
// commit–reveal rounds, aggregation in fixed point by package aggregator,
// server optimizers, and reputation.
//
//   - A researcher's CreateTask opens round 1. Invited hospitals send
//     CommitUpdate (SHA-256 of their encoded update, sample count, local
//     metrics) during the commit window, then RevealUpdate (the update) in
//     the reveal window; the module checks the hash against the commitment
//     and the shape and the task's compression (int8/int16 with per-tensor
//     scales, top-k) against the model. An update too large for one
//     transaction is committed with chunk hashes and revealed in
//     RevealChunk transactions, each checked on arrival and the whole
//     checked against the commitment once the last lands. A task may leave
//     its initial model empty; the module then draws it
//     (protocol.DrawInitialModel).
//   - A window closes at its deadline height, or early once every invited
//     hospital committed (every committer revealed). Closing the reveal
//     window runs the task's rule, scores every invited hospital when the
//     task keeps reputation, stores the next global model and its hash,
//     and opens the next round. An admin's Reinstate clears a flag.
//
// State (prefixes owned by this module; numbers big-endian so keys sort
// in numeric order):
//
//	t/<task u64>                    Task
//	r/<task u64><round u32>         Round
//	m/<task u64><round u32>         GlobalModel after that round (0: initial)
//	u/<task u64><round u32><pubkey> revealed update's Vector without its data, until the round closes
//	d/<task u64><round u32><pubkey><block u32> its data bytes for coordinates block·8192 onward (see updates.go)
//	c/<task u64><round u32><pubkey><index u32> chunk of a chunked reveal, until complete
//	o/<task u64>                    ServerOptState of the task's server optimizer
//	h/<task u64>                    Reputation: every invited hospital's score
//	s/task_seq                      last task id (u64)
//	s/active                        ids of running tasks (u64 each, ascending)
//	n/<task u64><pubkey>            DataAnchor a hospital trains a data_scope task on
//
// A task with a data_scope trains only on anchored, consented data: a
// hospital's first commitment names the record in its record log (the
// records module) that anchors its dataset, and its research grant to the
// task's creator over that dataset; each commitment needs the grant in
// force, so revoking it ends the hospital's part in the task.
//
// Queries: /task/{id}, /tasks, /round/{task}/{round},
// /model/{task}[/{round}], /reputation/{task} (see package protocol).
package training
