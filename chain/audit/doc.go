// Package audit verifies a task's history without trusting the node that
// serves it: it fetches every block through RPC, checks that the headers
// form one chain signed by the genesis validators and that each block's
// transactions are the ones its header commits to, replays every block
// through a fresh fedledger app (so every commit/reveal check, aggregation
// and model hash is recomputed here), checks each header's app hash against
// the replay, and checks the node's query answers for every round and model
// of the task, with their Merkle proofs, against the same app hashes.
//
//	rep, err := audit.Run(ctx, client, taskID)
//	for _, r := range rep.Rounds { fmt.Println(r.Round, r.OK, r.Problem) }
package audit
