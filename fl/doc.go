// Package fl is the hospital side of fedledger: models, local training,
// update encoding, and the chain client.
//
//   - Models: logistic regression and a one-hidden-layer MLP, as flat
//     parameter vectors (ModelSpec.NumParams documents the order).
//     InitParams draws the initial weights from the spec's seed; Evaluate
//     scores a model in plain Go.
//   - Train runs local training on Gorgonia (SGD with optional momentum, or
//     Adam; epochs or a fixed number of steps; mini-batches drawn from a
//     seed), so the same seed gives the same bits.
//   - EncodeTaskUpdate quantizes Δ = w_local − w_global the way the task's
//     compression asks (int32; int16/int8 with per-tensor scales; top-k
//     sparse) and encodes it; its SHA-256 is what a hospital commits to.
//     An update above the trainer's ChunkSize (DefaultChunkSize, 512 KiB)
//     is committed with chunk hashes and revealed in chunks (SplitChunks).
//   - Client signs transactions for one key, broadcasts them to a CometBFT
//     node, confirms inclusion and sends again if the mempool lost them; it
//     reads tasks, rounds and global models (checking the model's hash).
//     SubmitAll pipelines several messages (the chunks of a large update)
//     with consecutive nonces, so they share blocks.
//   - Trainer runs a hospital through a task: per round it scores the
//     global model on local test data, trains, commits, reveals, and waits.
//
// Package fl/sim runs a whole federation in one process.
package fl
