// Validationprobe measures, without the chain, the statistic the planned
// validation feedback would put on chain (docs/robustness.md): each round,
// every hospital trains locally from the global model (plain float FedAvg
// steps by the coordinate-wise median), the malicious ones attack, and
// every honest hospital scores every other update on its own validation
// rows (20 % of its training rows): is the model moved by that update
// alone worse, in log-loss, than the model moved by the median of the
// other updates? It prints, per round and update, the share of honest
// scorers that say "worse" and their median loss difference, then the
// spread over rounds for honest and malicious hospitals. It is a research
// probe for choosing the statistic, not a defence.
//
//	go run ./examples/validationprobe --dataset diabetes --attack sign-flip
//	go run ./examples/validationprobe --dataset heart --partition natural --malicious 1 --attack noise
package main
