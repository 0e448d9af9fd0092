// Package recordsnet starts an in-process CometBFT network with the
// participants a records story needs (hospitals, a researcher, a reviewer,
// an admin), and dials verified clients to it: for the records tests, the
// records benchmark and examples/records. Keys are derived from names, so
// they are for demonstrations and tests only.
package recordsnet
