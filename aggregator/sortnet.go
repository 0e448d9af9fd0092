package aggregator

import (
	"math"
	"sort"
	"sync"
)

// The median, the trimmed mean and Huber's estimate by sorting network.
// Where the CPU can compare four 64-bit integers at once (AVX2 on amd64,
// sortnet_amd64.s), medianBlock, trimmedBlock and huberBlock gather their
// coordinates four to a group, sort each group with a sorting network (one
// coordinate per vector lane), and read the median, the trimmed sum, or
// the MAD, the range and Huber's step off the sorted values (Huber's with
// vector loops), instead of selecting once or twice per coordinate. At the
// counts of a round (up to maxNet updates) that is about four times faster
// for huber (docs/performance.md), and the result is the same, bit for
// bit: a sorted column has the order statistics any selection finds, and
// the MAD is the same order statistic of the same deviations. TestNetSorts
// proves the networks sort (exhaustively by the 0–1 principle up to 18
// values), TestLaneLoops holds the vector loops to their Go versions, and
// TestHuberNetMatchesSelection, TestMedianNetMatchesSelection and
// FuzzHuberNet hold the estimates to the selection's, so the golden vectors
// hold on every CPU. A CPU without AVX2, or a round of more than maxNet
// updates, selects as before.

// SortsByNetwork reports whether Median, TrimmedMean and Huber over n
// updates sort by vector network on this CPU (AVX2, 2 to 128 updates)
// rather than select. The result is the same either way; only the time
// differs.
func SortsByNetwork(n int) bool { return haveSortNet && n >= 2 && n <= maxNet }

// maxNet is the largest count of updates sorted by network; larger rounds
// select (a network's comparators grow as n·log²n, a selection's work as
// n). 128 covers the 100 hospitals a task with feedback may invite: at 100
// updates of 10⁶ parameters the network still halves huber's round.
const maxNet = 128

// netFor returns the comparators of a sorting network for n values (n in
// [2, maxNet]), each packed as i·32 | j·32<<16 with i < j: the byte offsets
// of rows i and j of four int64 lanes. It is Batcher's odd–even merge sort
// for the next power of two, without the comparators that touch a row
// ≥ n (rows past the end may be taken as +∞, which no comparator moves, so
// what is left sorts n values; Knuth, TAOCP 5.3.4), ordered by layer so
// that neighbouring comparators are independent.
func netFor(n int) []uint32 {
	e := &nets[n]
	e.once.Do(func() { e.net = buildNet(n) })
	return e.net
}

var nets [maxNet + 1]struct {
	once sync.Once
	net  []uint32
}

// buildNet builds netFor(n)'s table.
func buildNet(n int) []uint32 {
	p := 1
	for p < n {
		p *= 2
	}
	type cmp struct{ i, j, layer int }
	var cs []cmp
	depth := make([]int, p)
	add := func(i, j int) {
		l := max(depth[i], depth[j]) + 1
		depth[i], depth[j] = l, l
		if j < n {
			cs = append(cs, cmp{i, j, l})
		}
	}
	var merge func(lo, m, r int)
	merge = func(lo, m, r int) { // Batcher's merge of lo..lo+m−1 at stride r
		step := 2 * r
		if step < m {
			merge(lo, m, step)
			merge(lo+r, m, step)
			for i := lo + r; i+r < lo+m; i += step {
				add(i, i+r)
			}
		} else {
			add(lo, lo+r)
		}
	}
	var sortNet func(lo, m int)
	sortNet = func(lo, m int) {
		if m > 1 {
			h := m / 2
			sortNet(lo, h)
			sortNet(lo+h, h)
			merge(lo, m, 1)
		}
	}
	sortNet(0, p)
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].layer < cs[b].layer })
	net := make([]uint32, len(cs))
	for k, c := range cs {
		net[k] = uint32(c.i*32) | uint32(c.j*32)<<16
	}
	return net
}

// sortRows4Go is what sortRows4 does, in Go: it applies the network to
// rows of four lanes (rows[4i+l] is value i of lane l).
func sortRows4Go(rows []int64, net []uint32) {
	for _, c := range net {
		i, j := int(c&0xffff)/8, int(c>>16)/8
		for l := range 4 {
			a, b := rows[i+l], rows[j+l]
			rows[i+l], rows[j+l] = min(a, b), max(a, b)
		}
	}
}

// madRuns4Go sets out[l], for each lane l of rows, to the least over w in
// [0, runs) of max(m[l] − rows[4w+l], rows[4(w+span)+l] − m[l]) (2⁶³−1
// when runs ≤ 0); wrapping arithmetic.
func madRuns4Go(rows []int64, m *[4]int64, runs, span int, out *[4]int64) {
	for l := range 4 {
		least := int64(math.MaxInt64)
		for w := range max(runs, 0) {
			least = min(least, max(m[l]-rows[4*w+l], rows[4*(w+span)+l]-m[l]))
		}
		out[l] = least
	}
}

// clipSum4Go sets, for each lane l of rows, with m = mc[l] and c =
// mc[4+l], out[l] = Σ clamp(v − m, −c, c) and out[4+l] = #{v : −c ≤ v − m
// ≤ c}; wrapping arithmetic.
func clipSum4Go(rows []int64, mc *[8]int64, out *[8]int64) {
	*out = [8]int64{}
	for i, v := range rows {
		l := i % 4
		r := v - mc[l]
		cl := min(max(r, -mc[4+l]), mc[4+l])
		out[l] += cl
		out[4+l] += int64(b2i(cl == r))
	}
}

// huberBlockNet is huberBlock by network: the four estimates of each
// sorted group are read off it by huberGroup.
func huberBlockNet(updates []Update, c clip, lo, hi int, out []int64) {
	sc := newHuberScratch(len(updates))
	eachSortedGroup(updates, c, lo, hi, out, func(group, out []int64) { huberGroup(group, sc, out) })
}

// medianBlockNet is medianBlock by network: each lane's middle rows.
func medianBlockNet(updates []Update, lo, hi int, out []int64) {
	n := len(updates)
	eachSortedGroup(updates, clip{}, lo, hi, out, func(group, out []int64) {
		for l := range out {
			out[l] = laneMedian(group, n, l)
		}
	})
}

// laneMedian is the median of lane l of a sorted group of n rows: its
// middle row, or the mean of its two middle rows (mean2) for an even n.
func laneMedian(group []int64, n, l int) int64 {
	m := group[4*(n/2)+l]
	if n%2 == 0 {
		m = mean2(group[4*(n/2-1)+l], m)
	}
	return m
}

// trimmedBlockNet is trimmedBlock by network: each lane's rows k..n−k−1,
// averaged.
func trimmedBlockNet(updates []Update, k, lo, hi int, out []int64) {
	n := len(updates)
	eachSortedGroup(updates, clip{}, lo, hi, out, func(group, out []int64) {
		for l := range out {
			var acc int128
			for i := k; i < n-k; i++ {
				acc = acc.add(mul64(group[4*i+l], 1))
			}
			out[l] = acc.divRound(uint64(n - 2*k))
		}
	})
}

// eachSortedGroup gathers coordinates lo..hi of the updates, clipped by c,
// four to a group of n rows (gatherRows4), sorts each group by netFor(n),
// and hands f the group and the part of out its coordinates fill (four
// values, fewer for a last group).
func eachSortedGroup(updates []Update, c clip, lo, hi int, out []int64, f func(group, out []int64)) {
	n := len(updates)
	rows := gatherRows4(updates, c, lo, hi)
	for g := 0; 4*g < hi-lo; g++ {
		group := rows[4*n*g : 4*n*(g+1)]
		sortRows4(group, n)
		f(group, out[lo+4*g:min(lo+4*g+4, hi)])
	}
	putColumns(rows)
}

// gatherRows4 returns coordinates lo..hi of every update in groups of four:
// element 4n·g + 4i + l is update i's coordinate lo + 4g + l (a last group
// of fewer than four coordinates has lanes of no meaning). Like
// gatherColumns, it reads each update's stretch in order and clips as it
// gathers; hand the slice back with putColumns.
func gatherRows4(updates []Update, c clip, lo, hi int) []int64 {
	n := len(updates)
	rows := getColumns(4 * n * ((hi - lo + 3) / 4))
	var local [columnBlock]int64 // on the stack: no allocation per block
	buf := c.buffer(local[:], hi-lo)
	full := (hi - lo) / 4
	for i, u := range updates {
		x := c.stretch(i, u.Values[lo:hi], buf)
		at := 4 * i
		for g := range full {
			r := rows[at : at+4 : at+4]
			v := x[4*g : 4*g+4 : 4*g+4]
			r[0], r[1], r[2], r[3] = v[0], v[1], v[2], v[3]
			at += 4 * n
		}
		for l, v := range x[4*full:] {
			rows[at+l] = v
		}
	}
	return rows
}

// huberGroup writes to out (at most four values) huberColumn's result for
// each lane of a sorted group of n rows: lane l is the column sorted in
// ascending order, s_i = group[4i+l]. The median and the range are read
// off the middle and the ends. The MAD needs no second selection: the j+1
// values nearest m are a run of s, so the j-th smallest deviation is the
// least, over the runs s_w … s_{w+j}, of the larger deviation at the run's
// two ends, max(m − s_w, s_{w+j} − m) (never below the run's largest
// deviation, and equal to it for the run of the j+1 nearest): madRuns4.
// The step's sum of clamped residuals is clipSum4. Every difference is
// exact when the column's range is small (huberScratch.small); a lane
// whose range is not is copied out and selected, as huberColumn does.
func huberGroup(group []int64, sc *huberScratch, out []int64) {
	n := len(group) / 4
	k := n / 2
	var m, lowest, highest [4]int64
	for l := range 4 {
		lowest[l], highest[l], m[l] = group[l], group[4*(n-1)+l], laneMedian(group, n, l)
	}
	var mad, prev [4]int64
	madRuns4(group, &m, n-k, k, &mad) // the runs of k+1 values
	if n%2 == 0 {
		madRuns4(group, &m, n-k+1, k-1, &prev) // the runs of k values
	}
	var mc, sums [8]int64
	for l := range 4 {
		if n%2 == 0 {
			mad[l] = mean2(prev[l], mad[l])
		}
		mc[l], mc[4+l] = m[l], huberC(max(mad[l], 0))
	}
	clipSum4(group, &mc, &sums)
	for l := range out {
		switch {
		case absDiff(highest[l], lowest[l]) > sc.small:
			col := sc.col[:n]
			for i := range col {
				col[i] = group[4*i+l]
			}
			out[l] = huberColumn(col, sc)
		case mad[l] == 0:
			out[l] = m[l]
		default: // at least half the values lie within the MAD ≤ c of m
			out[l] = huberResult(m[l], divRound64(sums[l], uint64(sums[4+l])), lowest[l], highest[l])
		}
	}
}
