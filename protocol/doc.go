// Package protocol is what both sides of fedledger's wire agree on: the
// result codes and sentinel errors of CheckTx, FinalizeBlock and Query,
// the query paths and their builders, the limits and stateless rules of a
// task spec, the sizes a task's updates may have (TopK, TensorSizes), the
// one deterministic initial-model draw, roles, and spec presets.
//
// The chain (package chain, the ABCI app) and the hospital side (package
// fl, the trainer and client) both import it; neither imports the other.
// It is plain Go over the wire types of proto/fedledger/v1 and the pure
// rules of package aggregator: no network, disk, clock or floating point
// in what the chain calls.
package protocol
