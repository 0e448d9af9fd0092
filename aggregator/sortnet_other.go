//go:build !amd64 || purego

package aggregator

// haveSortNet says whether the network's loops run as vector code on this
// CPU: not on this architecture, where huberBlock selects instead (the Go
// versions below are what huberBlockNet runs in tests here).
const haveSortNet = false

// sortRows4 sorts the first n rows of four lanes each (rows[4i+l] is
// value i of lane l), every lane on its own, by netFor(n); n in
// [2, maxNet].
func sortRows4(rows []int64, n int) { sortRows4Go(rows[:4*n], netFor(n)) }

func madRuns4(rows []int64, m *[4]int64, runs, span int, out *[4]int64) {
	madRuns4Go(rows, m, runs, span, out)
}

func clipSum4(rows []int64, mc *[8]int64, out *[8]int64) { clipSum4Go(rows, mc, out) }
