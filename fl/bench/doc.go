// Package bench holds fedledger's benchmark drivers: runs that compare
// training methods (local, pooled, and federated through a real in-process
// CometBFT network) on real data, write one CSV row per measurement, and
// print the table of means beside published numbers.
package bench
