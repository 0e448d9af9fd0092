// Package chain is fedledger's ABCI 2.0 application: the state machine that
// CometBFT replicates in place of a central federated-learning server.
//
// It reads like CometBFT's abci/example/kvstore, made safe:
//
//   - Every transaction is a signed envelope (proto Tx): CheckTx and
//     FinalizeBlock decode it, check the chain-id, the ed25519 signature,
//     that the signer is a participant, that its nonce is above the last one
//     it used (replay protection) and that its role may send the message.
//     Each refusal has its own result code (codes.go) and a message that
//     says what to do.
//   - Roles (admin, researcher, hospital, reviewer) come from the genesis
//     app_state (GenesisState) and live in state.
//   - A researcher's CreateTask opens round 1. Invited hospitals send
//     CommitUpdate (SHA-256 of their encoded update, sample count, local
//     metrics) during the commit window, then RevealUpdate (the update) in
//     the reveal window; the app checks the hash against the commitment and
//     the shape and the task's compression (int8/int16 with per-tensor
//     scales, top-k) against the model. An update too large for one
//     transaction is committed with chunk hashes and revealed in
//     RevealChunk transactions, each checked on arrival and the whole
//     checked against the commitment once the last lands. A task may leave
//     its initial model empty; the chain then draws it (DrawInitialModel).
//     A window closes at its deadline height,
//     or early once every invited hospital committed (every committer
//     revealed). Closing the reveal window runs the task's aggregation rule
//     (package aggregator) in fixed point, stores the next global model and
//     its hash, and opens the next round.
//   - FinalizeBlock stages all writes; Commit writes them in one atomic,
//     synced Pebble batch together with the height and app hash, so Info
//     always tells the truth about the last commit and a killed node
//     replays exactly the blocks it lacks.
//   - The app hash is the root of a Merkle tree (cometbft's crypto/merkle)
//     over every key/value pair of the state, sorted by key. Query answers
//     carry a proof against it (VerifyProof).
//
// Queries: /task/{id}, /round/{task}/{round}, /model/{task}[/{round}],
// /participant/{hex key}; answers are protobuf records of package
// fedledgerv1.
//
// Nothing here reads a clock, iterates a map in an order that matters, or
// uses floating point: validators on any CPU reach the same app hash.
package chain
