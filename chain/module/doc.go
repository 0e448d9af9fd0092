// Package module is what an on-chain system of fedledger is written
// against: the Module interface (messages, handlers, state prefix,
// queries, genesis section), the Context a handler runs in (one version
// of the state, the block height, the chain-id, the events it emits), and
// typed state access.
//
// The app (package chain) is an ABCI adapter and a router: it checks every
// transaction's envelope (chain-id, signature, signer, nonce), hands the
// message to the module registered for its kind, stages the writes, and
// commits them in one atomic batch. A module sees none of that: it checks
// its message against the state and writes its own keys. Adding a system
// is one package that implements Module and one line in chain/modules.go.
//
// Modules are deterministic: no clock, no map order, no floating point,
// no goroutines whose scheduling matters.
package module
