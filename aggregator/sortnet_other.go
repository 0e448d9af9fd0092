//go:build !amd64 || purego

package aggregator

// haveSortNet says whether sortRows4 runs as vector code on this CPU: not
// on this architecture, where huberBlock selects instead.
const haveSortNet = false

// sortRows4 applies the network net to rows of four lanes, in Go.
func sortRows4(rows []int64, net []uint32) { sortRows4Go(rows, net) }
