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
//   - EncodeUpdate quantizes Δ = w_local − w_global to fixed point and
//     encodes it; its SHA-256 is what a hospital commits to.
//   - Client signs transactions for one key, broadcasts them to a CometBFT
//     node, confirms inclusion and sends again if the mempool lost them; it
//     reads tasks, rounds and global models (checking the model's hash).
//   - Trainer runs a hospital through a task: per round it scores the
//     global model on local test data, trains, commits, reveals, and waits.
//
// Package fl/sim runs a whole federation in one process.
package fl
