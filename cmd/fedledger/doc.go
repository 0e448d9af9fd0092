// Command fedledger is federated learning between hospitals with a CometBFT
// blockchain in place of the central server.
//
// Usage:
//
//	fedledger demo [flags]    run a whole federation in one process
//	fedledger bench heart     FLamby's Fed-Heart-Disease table, through the chain
//	fedledger testnet|node|train|task|rounds|audit   the multi-process deployment
//	fedledger help [command]  show help
package main
