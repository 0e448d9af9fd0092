//go:build amd64 && !purego

package aggregator

import (
	"math"

	"golang.org/x/sys/cpu"
)

// haveSortNet says whether the network's loops run as vector code on this
// CPU.
var haveSortNet = cpu.X86.HasAVX2

// The vector code (sortnet_amd64.s), only on a CPU with AVX2. The wrappers
// below check the bounds the assembly relies on, and run the Go versions on
// a CPU without AVX2.

//go:noescape
func sortRows4AVX2(rows *int64, net *uint32, n int)

//go:noescape
func madRuns4AVX2(rows *int64, m *[4]int64, runs, span int, out *[4]int64)

//go:noescape
func clipSum4AVX2(rows *int64, n int, mc *[8]int64, out *[8]int64)

// sortRows4 sorts the first n rows of four lanes each (rows[4i+l] is
// value i of lane l), every lane on its own, by netFor(n); n in
// [2, maxNet].
func sortRows4(rows []int64, n int) {
	_ = rows[4*n-1]
	net := netFor(n)
	if !haveSortNet {
		sortRows4Go(rows[:4*n], net)
		return
	}
	sortRows4AVX2(&rows[0], &net[0], len(net))
}

// madRuns4 is madRuns4Go as vector code.
func madRuns4(rows []int64, m *[4]int64, runs, span int, out *[4]int64) {
	if !haveSortNet {
		madRuns4Go(rows, m, runs, span, out)
		return
	}
	if runs <= 0 {
		*out = [4]int64{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64}
		return
	}
	_ = rows[4*(runs+span)-1]
	madRuns4AVX2(&rows[0], m, runs, span, out)
}

// clipSum4 is clipSum4Go as vector code.
func clipSum4(rows []int64, mc *[8]int64, out *[8]int64) {
	if !haveSortNet {
		clipSum4Go(rows, mc, out)
		return
	}
	n := len(rows) / 4
	if n == 0 {
		*out = [8]int64{}
		return
	}
	clipSum4AVX2(&rows[0], n, mc, out)
}
