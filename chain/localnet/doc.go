// Package localnet starts an in-process network of N CometBFT validators,
// each running the fedledger app, on loopback: the test helper of fedledger,
// in the spirit of net/http/httptest, and the engine of `fedledger demo`.
//
//	cfg := localnet.DefaultConfig()
//	cfg.Dir = t.TempDir()
//	cfg.AppState = genesisAppState // chain.GenesisState as JSON
//	net, err := localnet.Start(ctx, cfg)
//	if err != nil { ... }
//	defer net.Stop()
//	client, _ := net.Nodes()[0].Client()
//
// Every node has a standard CometBFT home under cfg.Dir (config, genesis,
// keys, data), so a node can be stopped and started again on it, and the
// network survives a restart of the process when cfg.Dir is kept.
package localnet
