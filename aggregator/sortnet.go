package aggregator

import (
	"math"
	"sort"
	"sync"
)

// Huber's estimate by sorting network. Where the CPU can compare four
// 64-bit integers at once (AVX2 on amd64), huberBlock sorts its columns
// four at a time with a sorting network, one column per vector lane, and
// reads the median, the MAD and the range off the sorted values, instead of
// selecting twice per column. The result is the same, bit for bit: a
// sorted column has the same order statistics as any selection finds, and
// the MAD is the same order statistic of the same deviations (huberSorted
// walks them in order, TestHuberSortedMatchesSelection checks it on every
// count up to maxNet), so the golden vectors hold on every CPU, and a CPU
// without AVX2 (or a round of more than maxNet updates) selects as before.

// maxNet is the largest count of updates sorted by network; larger rounds
// select (a network's comparators grow as n·log²n, a selection's work as n).
const maxNet = 64

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
// rows of four lanes (rows[4·i+l] is value i of lane l).
func sortRows4Go(rows []int64, net []uint32) {
	for _, c := range net {
		i, j := int(c&0xffff)/8, int(c>>16)/8
		for l := range 4 {
			a, b := rows[i+l], rows[j+l]
			rows[i+l], rows[j+l] = min(a, b), max(a, b)
		}
	}
}

// huberBlockNet is huberBlock by network: the block's columns are
// gathered four to a group of n rows (gatherRows4), each group is sorted by
// netFor(n), and each lane's estimate read off its sorted values
// (huberLane).
func huberBlockNet(updates []Update, c clip, lo, hi int, out []int64) {
	n := len(updates)
	sc := newHuberScratch(n)
	rows := gatherRows4(updates, c, lo, hi)
	net := netFor(n)
	lanes := make([]int64, 4*n)
	l0, l1, l2, l3 := lanes[:n], lanes[n:2*n], lanes[2*n:3*n], lanes[3*n:]
	for g := 0; 4*g < hi-lo; g++ {
		group := rows[4*n*g : 4*n*(g+1)]
		sortRows4(group, net)
		for i := range n {
			r := group[4*i : 4*i+4 : 4*i+4]
			l0[i], l1[i], l2[i], l3[i] = r[0], r[1], r[2], r[3]
		}
		for l := range min(4, hi-lo-4*g) {
			out[lo+4*g+l] = huberSorted(lanes[l*n:(l+1)*n], sc)
		}
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
	groups := (hi - lo + 3) / 4
	size := 4 * n * groups
	var rows []int64
	if p, ok := columnPool.Get().(*[]int64); ok && cap(*p) >= size {
		rows = (*p)[:size]
	} else {
		rows = make([]int64, size)
	}
	var local [columnBlock]int64 // on the stack: no allocation per block
	var buf []int64
	full := (hi - lo) / 4
	for i, u := range updates {
		x := u.Values[lo:hi]
		if c.applies(i) {
			if buf == nil {
				if hi-lo <= columnBlock {
					buf = local[:hi-lo]
				} else {
					buf = make([]int64, hi-lo)
				}
			}
			scaleInto(buf, x, c.max, c.norms[i])
			x = buf
		}
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

// huberSorted is huberColumn's result for a column sorted in ascending
// order (s is not changed). The median and the range are read off the
// middle and the ends. The MAD needs no second selection: the j+1 values
// nearest m are a run of s, so the j-th smallest deviation is the least,
// over the runs s[w..w+j], of the larger deviation at the run's two ends,
// max(m − s[w], s[w+j] − m) (never below the run's largest deviation, and
// equal to it for the run of the j+1 nearest). The values within c of m are
// a run too, so the step sums that run and adds ±c once for each value
// beyond it. Every difference is exact when the column's range is small
// (huberScratch.small); otherwise it selects, as huberColumn does.
func huberSorted(s []int64, sc *huberScratch) int64 {
	n := len(s)
	lowest, highest := s[0], s[n-1]
	if absDiff(highest, lowest) > sc.small {
		return huberColumn(s, sc)
	}
	k := n / 2
	m := s[k]
	if n%2 == 0 {
		m = mean2(s[k-1], m)
	}
	mad := int64(math.MaxInt64)
	for w, v := range s[k:] { // the runs of k+1 values
		mad = min(mad, max(m-s[w], v-m))
	}
	if n%2 == 0 {
		prev := int64(math.MaxInt64)
		for w, v := range s[k-1:] { // the runs of k values
			prev = min(prev, max(m-s[w], v-m))
		}
		mad = mean2(prev, mad)
	}
	if mad == 0 {
		return m
	}
	c := huberC(mad)
	// s[a:b] lie within c of m. Only values left of k can lie below m − c
	// (s[k] ≥ m), and only values from k on above m + c (s[k−1] ≤ m).
	a, b := 0, k
	for _, v := range s[:k] {
		a += b2i(v-m < -c)
	}
	for _, v := range s[k:] {
		b += b2i(v-m <= c)
	}
	// b > a: at least half the values lie within the MAD ≤ c of m. A value
	// beyond c is more than c from m, so c times the count beyond is below
	// n times the range, as is the sum of the residuals: 63 bits hold every
	// partial sum.
	sum := c*int64(n-b) - c*int64(a)
	for _, v := range s[a:b] {
		sum += v - m
	}
	return huberResult(m, divRound64(sum, uint64(b-a)), lowest, highest)
}
