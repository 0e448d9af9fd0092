// Package node runs a production fedledger node: a CometBFT node with the
// fedledger app built in, on a standard CometBFT home (config, genesis,
// keys, data), as `fedledger node` does on each validator's machine.
//
//	n, err := node.Open(home, node.Options{Logger: logger})
//	if err != nil { ... }
//	if err := n.Start(); err != nil { ... }
//	defer n.Stop()
//
// WriteHomes writes the homes of a whole network (genesis, validator and
// node keys, peers, config.toml) for `fedledger testnet`. Homes keep
// CometBFT's own consensus timeouts unless the caller tunes them (package
// localnet does, for networks on one machine's loopback); the network
// limits (block, transaction, mempool, RPC and peer rates) come from
// NetworkSettings, chosen for model-update traffic.
//
// Package localnet builds on this one to start whole networks in one
// process for tests, examples and the demo.
package node
