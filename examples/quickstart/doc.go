// Quickstart runs a small federation in one process: four hospitals (the
// UCI heart disease data if $FEDLEDGER_DATA or ../shared/datasets has it,
// else the synthetic cohort), four CometBFT validators, three rounds of
// FedAvg, and prints each round's test accuracy.
//
//	go run ./examples/quickstart
package main
