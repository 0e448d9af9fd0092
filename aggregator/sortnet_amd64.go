//go:build amd64 && !purego

package aggregator

import "golang.org/x/sys/cpu"

// haveSortNet says whether sortRows4 runs as vector code on this CPU.
var haveSortNet = cpu.X86.HasAVX2

// sortRows4AVX2 applies the n comparators at net to rows (sortnet_amd64.s).
//
//go:noescape
func sortRows4AVX2(rows *int64, net *uint32, n int)

// sortRows4 applies the network net (from netFor) to rows of four lanes;
// rows must hold every row net names. Only on a CPU with AVX2.
func sortRows4(rows []int64, net []uint32) {
	if len(net) == 0 {
		return
	}
	sortRows4AVX2(&rows[0], &net[0], len(net))
}
