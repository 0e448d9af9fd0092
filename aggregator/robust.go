package aggregator

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"sync"
)

// Robust rules. Each takes the updates the chain would otherwise average and
// resists some fraction of them being adversarial. All are deterministic:
// integer arithmetic, ties broken by input order, no maps.

// Median returns the coordinate-wise median (Yin et al., 2018); for an even
// count, the mean of the two middle values rounded half away from zero.
// Weights are ignored. It tolerates fewer than half the updates being
// arbitrary. Cost: O(d·n) expected time (selection, not sorting), O(n·columnBlock) extra memory per worker; the
// coordinates are shared among GOMAXPROCS goroutines in blocks (each
// coordinate is computed on its own, so the result never depends on
// scheduling). For 2 to maxNet updates on a CPU with AVX2 it sorts four
// coordinates at once by network instead (sortnet.go), with the same
// result.
func Median(updates []Update) ([]int64, error) {
	d, err := checkShape(updates)
	if err != nil {
		return nil, err
	}
	out := make([]int64, d)
	parallelBlocks(d, columnBlock, func(lo, hi int) { medianBlock(updates, lo, hi, out) })
	return out, nil
}

// medianBlock writes the median of coordinates lo..hi (at most
// columnBlock of them) to out[lo:hi].
func medianBlock(updates []Update, lo, hi int, out []int64) {
	n := len(updates)
	if SortsByNetwork(n) {
		medianBlockNet(updates, lo, hi, out)
		return
	}
	cols := gatherColumns(updates, clip{}, lo, hi)
	s, t := make([]int64, n), make([]int64, n)
	for j := lo; j < hi; j++ {
		below, m := orderStats(cols[(j-lo)*n:(j-lo+1)*n], s, t, n/2)
		if n%2 == 0 {
			m = mean2(below, m)
		}
		out[j] = m
	}
	putColumns(cols)
}

// gatherColumns returns coordinates lo..hi of every update as columns:
// element (j−lo)·n+i is update i's coordinate j. It reads each update's
// stretch in order (n sequential streams, one at a time, rather than n
// interleaved ones per coordinate), which is what makes a column-wise rule
// fast once the updates outgrow the caches. With a clip, an update longer
// than its bound is scaled down as it is gathered (scaleInto a stretch at
// a time, in a buffer that stays in the CPU's cache), so no clipped copy of
// it is ever made. The slice comes from a pool: hand it back with
// putColumns.
func gatherColumns(updates []Update, c clip, lo, hi int) []int64 {
	n := len(updates)
	cols := getColumns((hi - lo) * n)
	var local [columnBlock]int64 // on the stack: no allocation per block
	buf := c.buffer(local[:], hi-lo)
	for i, u := range updates {
		for j, v := range c.stretch(i, u.Values[lo:hi], buf) {
			cols[j*n+i] = v
		}
	}
	return cols
}

// getColumns returns a slice of size values (of no meaning yet) from the
// pool of gatherColumns' and gatherRows4's buffers.
func getColumns(size int) []int64 {
	if p, ok := columnPool.Get().(*[]int64); ok && cap(*p) >= size {
		return (*p)[:size]
	}
	return make([]int64, size)
}

// clip is how gatherColumns scales updates: update i by max/norms[i] when
// its norm exceeds max. The zero clip scales nothing.
type clip struct {
	max   int64
	norms []uint64
}

func (c clip) applies(i int) bool { return c.max > 0 && c.norms[i] > uint64(c.max) }

// buffer returns where stretch may scale a stretch of w values: local when
// it is long enough (a caller's array on its stack), nil when c clips
// nothing.
func (c clip) buffer(local []int64, w int) []int64 {
	switch {
	case c.max <= 0:
		return nil
	case w <= len(local):
		return local[:w]
	}
	return make([]int64, w)
}

// stretch returns x, a stretch of update i's coordinates, scaled down into
// buf (from buffer) when c clips update i.
func (c clip) stretch(i int, x, buf []int64) []int64 {
	if !c.applies(i) {
		return x
	}
	scaleInto(buf, x, c.max, c.norms[i])
	return buf
}

// columnPool keeps gatherColumns' buffers between blocks.
var columnPool sync.Pool

func putColumns(cols []int64) { columnPool.Put(&cols) }

// columnBlock is how many coordinates a Median or TrimmedMean worker takes
// at a time: their columns (columnBlock·n values) stay in the CPU's cache.
const columnBlock = 1024

// Huber returns the coordinate-wise one-step Huber M-estimate of location
// (Huber, 1964; the one-step form of Bickel, 1975). From the median m of a
// coordinate and its scale s = 1.4826·MAD (the median absolute deviation
// from m, scaled to estimate σ at the normal), every value farther than
// c = 1.345·s from m is pulled in to m ± c, and the result is one Newton
// step of Huber's estimating equation:
//
//	m + Σᵢ ψ(xᵢ − m) / #{i : |xᵢ − m| ≤ c},   ψ(r) = max(−c, min(c, r)).
//
// 1.345 is Huber's constant for 95 % efficiency at the normal (the median
// has 64 %) and 1.4826 the MAD's consistency factor; neither is fitted to
// any data. Weights are ignored. Like the median, it tolerates fewer than
// half the updates being arbitrary: they cannot move m or the MAD outside
// the range the honest values allow, and each adds at most c to the sum.
// Where the honest values are skewed (hospitals whose patients differ),
// it lies between the median and the mean, which is what makes it cost
// less accuracy than the median when no one attacks.
//
// Integers only: c = ⌊MAD · 1994097 / 10⁶⌋ (1.345 · 1.4826 = 1.994097),
// capped at 2⁶³−1, as are deviations beyond it; the MAD of an even count is
// the mean of its two middle deviations, as the median is; the step is
// rounded half away from zero and the result kept within the coordinate's
// smallest and largest value. A coordinate whose MAD is 0 (more than half
// its values equal) gets the median. Cost: O(d·n) expected (two selections
// and two passes per coordinate), in parallel coordinate blocks as Median;
// for 2 to maxNet updates on a CPU with AVX2, O(d·n·log²n) by sorting
// network (sortnet.go), which is faster at those counts and gives the same
// result.
func Huber(updates []Update) ([]int64, error) {
	d, err := checkShape(updates)
	if err != nil {
		return nil, err
	}
	out := make([]int64, d)
	parallelBlocks(d, columnBlock, func(lo, hi int) { huberBlock(updates, clip{}, lo, hi, out) })
	return out, nil
}

// ClippedHuber scales every update whose Euclidean norm exceeds maxNorm
// down to maxNorm, as NormClip does, and returns Huber's estimate of the
// clipped updates. The rule "huber" runs it with maxNorm the round's median
// norm: an update's magnitude then buys no influence (a 10× update counts
// as one of the median's size, in its own direction), and Huber's estimate
// keeps the median's tolerance of fewer than half arbitrary updates while
// coming closer to the mean where honest values are skewed
// (docs/robustness.md, step 18). Weights are ignored.
func ClippedHuber(updates []Update, maxNorm int64) ([]int64, error) {
	return clippedHuber(updates, maxNorm, nil)
}

// clippedHuber is ClippedHuber given the updates' norms (nil: it computes
// them). Each update is clipped as its columns are gathered.
func clippedHuber(updates []Update, maxNorm int64, norms []uint64) ([]int64, error) {
	d, err := checkShape(updates)
	if err != nil {
		return nil, err
	}
	if maxNorm <= 0 {
		return nil, fmt.Errorf("%w: clipping norm must be positive", ErrParams)
	}
	if norms == nil {
		norms = Norms(updates)
	}
	c := clip{max: maxNorm, norms: norms}
	out := make([]int64, d)
	parallelBlocks(d, columnBlock, func(lo, hi int) { huberBlock(updates, c, lo, hi, out) })
	return out, nil
}

// clipAll returns the updates with every one whose norm exceeds maxNorm
// scaled down to it (a new slice; the others are shared, not copied).
func clipAll(updates []Update, maxNorm int64) ([]Update, error) {
	if _, err := checkShape(updates); err != nil {
		return nil, err
	}
	if maxNorm <= 0 {
		return nil, fmt.Errorf("%w: clipping norm must be positive", ErrParams)
	}
	clipped := make([]Update, len(updates))
	for i, u := range updates {
		clipped[i] = u
		if n := norm(u.Values); n > uint64(maxNorm) {
			clipped[i].Values = make([]int64, len(u.Values))
			scaleInto(clipped[i].Values, u.Values, maxNorm, n)
		}
	}
	return clipped, nil
}

// huberK is 1.345 · 1.4826 in millionths: c = MAD · huberK / 10⁶.
const huberK = 1_994_097

// huberBlock writes the one-step Huber estimate of coordinates lo..hi (at
// most columnBlock of them) of the updates clipped by c to out[lo:hi].
func huberBlock(updates []Update, c clip, lo, hi int, out []int64) {
	if SortsByNetwork(len(updates)) {
		huberBlockNet(updates, c, lo, hi, out)
		return
	}
	huberBlockSelect(updates, c, lo, hi, out)
}

// huberBlockSelect is huberBlock by selection, column by column.
func huberBlockSelect(updates []Update, c clip, lo, hi int, out []int64) {
	n := len(updates)
	sc := newHuberScratch(n)
	cols := gatherColumns(updates, c, lo, hi)
	for j := lo; j < hi; j++ {
		out[j] = huberColumn(cols[(j-lo)*n:(j-lo+1)*n], sc)
	}
	putColumns(cols)
}

// huberScratch is what huberColumn needs besides the column: three
// buffers of the column's length and the widest range, (2⁶²)/n, within
// which every residual and their sum fit in 63 bits; and col, where
// huberGroup copies out a lane it hands to huberColumn.
type huberScratch struct {
	dev, s, t, col []int64
	small          uint64
}

// newHuberScratch returns the scratch for columns of n values.
func newHuberScratch(n int) *huberScratch {
	return &huberScratch{dev: make([]int64, n), s: make([]int64, n), t: make([]int64, n), col: make([]int64, n), small: (1 << 62) / uint64(n)}
}

// huberColumn is Huber's estimate of one column; it does not change col.
func huberColumn(col []int64, sc *huberScratch) int64 {
	n := len(col)
	dev := sc.dev[:n]
	below, m := orderStats(col, sc.s, sc.t, n/2)
	if n%2 == 0 {
		m = mean2(below, m)
	}
	// The range and, in the same pass, the deviations as they are when it
	// is small (the usual case, without branches the data could make the
	// CPU mispredict); otherwise they are computed again, saturating.
	lowest, highest := col[0], col[0]
	for i, v := range col {
		lowest, highest = min(lowest, v), max(highest, v)
		d := v - m
		s := d >> 63
		dev[i] = (d ^ s) - s
	}
	small := absDiff(highest, lowest) <= sc.small
	if !small {
		for i, v := range col {
			dev[i] = absSat(v, m)
		}
	}
	below, mad := orderStats(dev, sc.s, sc.t, n/2)
	if n%2 == 0 {
		mad = mean2(below, mad)
	}
	return huberStep(col, m, mad, lowest, highest, small)
}

// huberStep is Huber's estimate of the column col (in any order) from its
// median m, MAD, smallest and largest value; small says that every residual
// and their sum fit in 63 bits (huberScratch.small).
func huberStep(col []int64, m, mad, lowest, highest int64, small bool) int64 {
	if mad == 0 {
		return m
	}
	c := huberC(mad)
	var step int64
	if small {
		var sum int64
		var inside uint64
		for _, v := range col {
			r := v - m
			cl := min(max(r, -c), c)
			sum += cl
			in := uint64(0)
			if cl == r {
				in = 1
			}
			inside += in
		}
		// inside ≥ 1: at least half the values lie within the MAD ≤ c of m.
		step = divRound64(sum, inside)
	} else {
		var acc int128
		var inside uint64
		negM := mul64(m, 1).neg()
		for _, v := range col {
			switch {
			case absDiff(v, m) <= uint64(c):
				inside++
				acc = acc.add(mul64(v, 1)).add(negM) // exact in 128 bits
			case v > m:
				acc = acc.add(mul64(c, 1))
			default:
				acc = acc.add(mul64(-c, 1))
			}
		}
		step = acc.divRound(inside)
	}
	return huberResult(m, step, lowest, highest)
}

// huberC is Huber's c = ⌊mad · huberK / 10⁶⌋, capped at 2⁶³−1.
func huberC(mad int64) int64 {
	if mad < 1<<42 { // mad · huberK < 2⁶³
		return int64(uint64(mad) * huberK / 1_000_000)
	}
	ph, pl := bits.Mul64(uint64(mad), huberK)
	cu, _ := bits.Div64(ph, pl, 1_000_000) // ph < 10⁶: mad < 2⁶³, huberK < 2²¹
	return int64(min(cu, math.MaxInt64))
}

// huberResult is m + step kept within [lowest, highest].
func huberResult(m, step, lowest, highest int64) int64 {
	r := m + step
	if (step > 0 && r < m) || (step < 0 && r > m) { // overflowed: beyond the range anyway
		if step > 0 {
			return highest
		}
		return lowest
	}
	return min(max(r, lowest), highest)
}

// absSat is |a − b|, saturated at 2⁶³−1.
func absSat(a, b int64) int64 {
	return int64(min(absDiff(a, b), math.MaxInt64))
}

// TrimmedMean drops the k = ⌊beta·n⌋ largest and k smallest values of each
// coordinate and averages the rest (rounded half away from zero); weights
// are ignored (Yin et al., 2018). It tolerates k arbitrary updates.
// beta is in millionths, below 500000. Cost: O(d·n) expected (two
// selections per coordinate), in parallel coordinate blocks as Median; by
// sorting network where Median sorts by one, with the same result.
func TrimmedMean(updates []Update, betaMicro uint64) ([]int64, error) {
	d, err := checkShape(updates)
	if err != nil {
		return nil, err
	}
	if betaMicro >= 500_000 {
		return nil, fmt.Errorf("%w: trimmed mean beta %d ppm must be below 500000", ErrShape, betaMicro)
	}
	k := trimCount(len(updates), betaMicro)
	out := make([]int64, d)
	parallelBlocks(d, columnBlock, func(lo, hi int) { trimmedBlock(updates, k, lo, hi, out) })
	return out, nil
}

// trimCount is how many values TrimmedMean drops at each end.
func trimCount(n int, betaMicro uint64) int { return int(uint64(n) * betaMicro / 1_000_000) }

// trimmedBlock writes the mean of coordinates lo..hi (at most columnBlock
// of them), k values trimmed at each end, to out[lo:hi].
func trimmedBlock(updates []Update, k, lo, hi int, out []int64) {
	n := len(updates)
	if SortsByNetwork(n) {
		trimmedBlockNet(updates, k, lo, hi, out)
		return
	}
	trimmedBlockSelect(updates, k, lo, hi, out)
}

// trimmedBlockSelect is trimmedBlock by selection, column by column.
func trimmedBlockSelect(updates []Update, k, lo, hi int, out []int64) {
	n := len(updates)
	cols := gatherColumns(updates, clip{}, lo, hi)
	for j := lo; j < hi; j++ {
		col := cols[(j-lo)*n : (j-lo+1)*n]
		if k > 0 {
			selectK(col, k)           // col[:k] are the k smallest
			selectK(col[k:], n-2*k-1) // then col[n-k:] the k largest
		}
		var acc int128
		for _, v := range col[k : n-k] {
			acc = acc.add(mul64(v, 1))
		}
		out[j] = acc.divRound(uint64(n - 2*k))
	}
	putColumns(cols)
}

// MultiKrum scores each update by the sum of its squared distances to its
// n−f−2 nearest others and averages (weighted) the m best-scored ones
// (Blanchard et al., 2017; El Mhamdi et al., 2018). It needs n > 2f+2.
// The returned weights are the inputs' weights for the selected updates and
// 0 for the others. Cost: O(n²·d) time for the distances, O(n²) memory.
func MultiKrum(updates []Update, f, m int) (Result, error) {
	d, err := checkShape(updates)
	if err != nil {
		return Result{}, err
	}
	_ = d
	n := len(updates)
	if f < 0 || n <= 2*f+2 {
		return Result{}, fmt.Errorf("%w: Multi-Krum with f=%d needs more than %d updates, got %d", ErrShape, f, 2*f+2, n)
	}
	if m < 1 || m > n {
		m = n - f
	}
	picked := krumPick(pairwiseSqDist(updates), f, m)
	weights := make([]uint64, n)
	sel := make([]Update, 0, m)
	for i, u := range updates {
		if picked[i] {
			weights[i] = u.Weight
			sel = append(sel, u)
		}
	}
	avg, err := FedAvg(sel)
	if err != nil {
		return Result{}, err
	}
	return Result{Values: avg, Weights: weights}, nil
}

// krumPick marks the m updates of best Multi-Krum score, given every
// pair's squared distance (n > 2f+2, 1 ≤ m ≤ n): each update's score is
// the sum of its n−f−2 smallest distances; ties go to the earlier update.
func krumPick(dist [][]uint128, f, m int) []bool {
	n := len(dist)
	type scored struct {
		i     int
		score uint128
	}
	scores := make([]scored, n)
	row := make([]uint128, 0, n-1)
	for i := 0; i < n; i++ {
		row = row[:0]
		for k := 0; k < n; k++ {
			if k != i {
				row = append(row, dist[i][k])
			}
		}
		sort.Slice(row, func(a, b int) bool { return row[a].less(row[b]) })
		var s uint128
		for _, v := range row[:n-f-2] {
			s = s.add(v)
		}
		scores[i] = scored{i, s}
	}
	sort.SliceStable(scores, func(a, b int) bool { return scores[a].score.less(scores[b].score) })
	picked := make([]bool, n)
	for _, s := range scores[:m] {
		picked[s.i] = true
	}
	return picked
}

// NormClip scales every update whose Euclidean norm exceeds maxNorm down to
// maxNorm (rounding half away from zero), then averages with FedAvg (Sun et
// al., 2019). maxNorm is at the updates' scale. Cost: O(n·d).
func NormClip(updates []Update, maxNorm int64) ([]int64, error) {
	clipped, err := clipAll(updates, maxNorm)
	if err != nil {
		return nil, err
	}
	return FedAvg(clipped)
}

// CenteredClip runs iters steps of v ← v + Σᵢwᵢ·clip(xᵢ − v, tau)/Σᵢwᵢ from
// v = 0 (Karimireddy et al., 2021): each update pulls the aggregate by at
// most tau. Cost: O(iters·n·d).
func CenteredClip(updates []Update, tau int64, iters int) ([]int64, error) {
	d, err := checkShape(updates)
	if err != nil {
		return nil, err
	}
	if tau <= 0 || iters < 1 {
		return nil, fmt.Errorf("%w: centered clipping needs tau > 0 and at least one iteration", ErrParams)
	}
	v := make([]int64, d)
	diff := make([]Update, len(updates))
	for it := 0; it < iters; it++ {
		for i, u := range updates {
			x := make([]int64, d)
			for j := range x {
				x[j] = satAdd(u.Values[j], -v[j])
			}
			diff[i] = Update{Values: clipTo(x, tau), Weight: u.Weight}
		}
		step, err := FedAvg(diff)
		if err != nil {
			return nil, err
		}
		for j := range v {
			v[j] = satAdd(v[j], step[j])
		}
	}
	return v, nil
}

// NearDuplicates returns the pairs (i, k), i < k, of updates closer to each
// other than relMicro/10⁶ of the larger one's norm: ‖a−b‖ ≤ rel·max(‖a‖,‖b‖).
// Hospitals training on their own data never send updates that close;
// sybils and colluders copying one update do (after FoolsGold, Fung et al.,
// 2020, which flags clients by the similarity of their updates). Zero
// updates are left to the free-rider check. Cost: O(n²·d).
func NearDuplicates(updates []Update, relMicro uint64) ([][2]int, error) {
	if _, err := checkShape(updates); err != nil {
		return nil, err
	}
	return nearDuplicates(updates, profileAll(updates), relMicro), nil
}

// profile is what one pass over an update tells: its norm, whether every
// value is within ±2^31, and then its block-sum sketch (see sketchFar).
type profile struct {
	norm   uint64
	small  bool
	sketch []int64 // nil unless small
}

// profileAll profiles every update, in parallel, each in one pass over its
// values (the round's updates are far larger than the CPU's caches, so
// passes, not arithmetic, set the cost).
func profileAll(updates []Update) []profile {
	out := make([]profile, len(updates))
	parallelBlocks(len(updates), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = profileOf(updates[i].Values)
		}
	})
	return out
}

// profileOf is v's profile, in one pass (blockStats): the norm, and for
// values within ±2^31 the sketch.
func profileOf(v []int64) profile {
	sk := make([]int64, (len(v)+sketchBlock-1)/sketchBlock)
	sq, big := blockStats(v, sk)
	if big {
		return profile{norm: isqrt128u(sq)}
	}
	return profile{norm: isqrt128u(sq), small: true, sketch: sk}
}

// nearDuplicates is NearDuplicates given the updates' profiles.
func nearDuplicates(updates []Update, prof []profile, relMicro uint64) [][2]int {
	n := len(updates)
	small := true
	for _, p := range prof {
		small = small && p.small
	}
	// Prune with block-sum sketches (see sketchFar): a pair whose sketches
	// are far apart cannot be near, and only the pairs left are measured in
	// full. The pairs found are exactly those of measuring every pair.
	near := make([][]bool, n)
	parallelBlocks(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			near[i] = make([]bool, n)
			for k := i + 1; k < n; k++ {
				mx := max(prof[i].norm, prof[k].norm)
				if mx == 0 {
					continue
				}
				if small && sketchFar(prof[i].sketch, prof[k].sketch, mx, relMicro) {
					continue
				}
				var d uint64
				if small {
					d = isqrt128u(sqDistSmall(updates[i].Values, updates[k].Values))
				} else {
					d = isqrt128u(sqDist(updates[i].Values, updates[k].Values))
				}
				dh, dl := bits.Mul64(d, 1_000_000)
				rh, rl := bits.Mul64(mx, relMicro)
				near[i][k] = dh < rh || (dh == rh && dl <= rl)
			}
		}
	})
	var pairs [][2]int
	for i := 0; i < n; i++ {
		for k := i + 1; k < n; k++ {
			if near[i][k] {
				pairs = append(pairs, [2]int{i, k})
			}
		}
	}
	return pairs
}

// sketchBlock is the number of coordinates summed into one value of a
// sketch.
const sketchBlock = 64

// sketchFar reports whether two updates whose sketches are a and b are
// certainly not within rel·mx of each other, where NearDuplicates tests
// ⌊‖x−y‖⌋·10⁶ ≤ mx·rel. By Cauchy–Schwarz each sketch value of x−y squared
// is at most sketchBlock times the sum of the squares it covers, so
// ‖S(x)−S(y)‖² ≤ sketchBlock·‖x−y‖²; and ⌊‖x−y‖⌋ ≤ T = ⌊mx·rel/10⁶⌋ implies
// ‖x−y‖² < (T+1)². Hence ‖S(x)−S(y)‖² ≥ sketchBlock·(T+1)² rules the pair
// out. Exact integer arithmetic; when a bound would overflow it says no.
func sketchFar(a, b []int64, mx, relMicro uint64) bool {
	hi, lo := bits.Mul64(mx, relMicro)
	if hi >= 1_000_000 {
		return false
	}
	t, _ := bits.Div64(hi, lo, 1_000_000)
	if t >= 1<<61 {
		return false
	}
	sh, sl := bits.Mul64(t+1, t+1)
	if sh >= 1<<57 {
		return false
	}
	limit := uint128{sh<<6 | sl>>58, sl << 6} // sketchBlock = 64 = 2^6
	var s uint128
	for j, x := range a {
		d := absDiff(x, b[j]) // < 2^38
		h, l := bits.Mul64(d, d)
		var c uint64
		s.lo, c = bits.Add64(s.lo, l, 0)
		s.hi += h + c
		if !s.less(limit) {
			return true
		}
	}
	return false
}

// sqDistSmall is sqDist for values within ±2^31: each squared difference
// fits in 64 bits and the sum cannot reach 2^128.
func sqDistSmall(a, b []int64) uint128 {
	var s uint128
	for j, x := range a {
		dv := x - b[j]
		if dv < 0 {
			dv = -dv
		}
		sq := uint64(dv) * uint64(dv)
		var c uint64
		s.lo, c = bits.Add64(s.lo, sq, 0)
		s.hi += c
	}
	return s
}

// Norms returns each update's Euclidean norm, rounded down.
func Norms(updates []Update) []uint64 {
	out := make([]uint64, len(updates))
	parallelBlocks(len(updates), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = norm(updates[i].Values)
		}
	})
	return out
}

// distBlockSize is the coordinate block of pairwiseSqDist: n blocks of it
// stay in cache while every pair is compared.
const distBlockSize = 2048

// pairwiseSqDist returns every pair's squared Euclidean distance, exactly.
// It walks the coordinates in cache-sized blocks, each worker summing its
// blocks into its own matrix; integer sums do not depend on order, so the
// result does not depend on scheduling. Values within ±2^31 take a fast
// path (each squared difference fits in 64 bits).
func pairwiseSqDist(updates []Update) [][]uint128 {
	n := len(updates)
	d := len(updates[0].Values)
	small := true
	for _, u := range updates {
		for _, v := range u.Values {
			if v > math.MaxInt32 || v < math.MinInt32 {
				small = false
				break
			}
		}
	}
	newMatrix := func() [][]uint128 {
		m := make([][]uint128, n)
		for i := range m {
			m[i] = make([]uint128, n)
		}
		return m
	}
	var mu sync.Mutex
	var parts [][][]uint128
	total := newMatrix()
	parallelBlocks(d, distBlockSize, func(lo, hi int) {
		m := newMatrix()
		for i := 0; i < n; i++ {
			a := updates[i].Values[lo:hi]
			for k := i + 1; k < n; k++ {
				b := updates[k].Values[lo:hi]
				if small {
					m[i][k] = sqDistSmall(a, b)
				} else {
					m[i][k] = sqDist(a, b)
				}
			}
		}
		mu.Lock()
		parts = append(parts, m)
		mu.Unlock()
	})
	for _, m := range parts {
		for i := 0; i < n; i++ {
			for k := i + 1; k < n; k++ {
				total[i][k] = total[i][k].add(m[i][k])
			}
		}
	}
	for i := 0; i < n; i++ {
		for k := i + 1; k < n; k++ {
			total[k][i] = total[i][k]
		}
	}
	return total
}

func checkShape(updates []Update) (int, error) {
	if len(updates) == 0 {
		return 0, ErrNoUpdates
	}
	d := len(updates[0].Values)
	for i, u := range updates {
		if len(u.Values) != d {
			return 0, fmt.Errorf("%w: update %d has %d values, update 0 has %d", ErrShape, i, len(u.Values), d)
		}
	}
	return d, nil
}

func mean2(a, b int64) int64 {
	if s := a + b; (a < 0) != (b < 0) || (s < 0) == (a < 0) { // a + b did not overflow
		if s >= 0 {
			return int64((uint64(s) + 1) >> 1)
		}
		return -int64((-uint64(s) + 1) >> 1)
	}
	s := mul64(a, 1).add(mul64(b, 1))
	return s.divRound(2)
}

// uint128 is an unsigned 128-bit integer.
type uint128 struct{ hi, lo uint64 }

func (a uint128) add(b uint128) uint128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, c2 := bits.Add64(a.hi, b.hi, c)
	if c2 != 0 {
		return uint128{math.MaxUint64, math.MaxUint64} // saturate
	}
	return uint128{hi, lo}
}

func (a uint128) less(b uint128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// sqDist is Σ(a−b)² exactly (saturating at 2^128−1).
func sqDist(a, b []int64) uint128 {
	var s uint128
	for j := range a {
		dv := absDiff(a[j], b[j])
		hi, lo := bits.Mul64(dv, dv)
		s = s.add(uint128{hi, lo})
	}
	return s
}

func absDiff(a, b int64) uint64 {
	if a >= b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}

func isqrt128u(v uint128) uint64 { return isqrt128(v.hi, v.lo) }

// norm is ⌊‖v‖⌋ (the sum of squares saturating at 2^128−1).
func norm(v []int64) uint64 {
	var s uint128
	for i := 0; i < len(v); i += 3 {
		// Three values within ±2^31 square to less than 2^64 together
		// (four squares of −2^31 would make exactly 2^64).
		c := v[i:min(i+3, len(v))]
		var q uint64
		for _, x := range c {
			if x > math.MaxInt32 || x < math.MinInt32 {
				for _, x := range v[i:] { // large values: saturating sums
					a := absU(x)
					hi, lo := bits.Mul64(a, a)
					s = s.add(uint128{hi, lo})
				}
				return isqrt128u(s)
			}
			q += uint64(x * x)
		}
		var carry uint64
		s.lo, carry = bits.Add64(s.lo, q, 0)
		s.hi += carry
	}
	return isqrt128u(s)
}

// clipTo scales v to norm max if its norm exceeds max.
func clipTo(v []int64, max int64) []int64 {
	n := norm(v)
	if n <= uint64(max) {
		return append([]int64(nil), v...)
	}
	out := make([]int64, len(v))
	scaleInto(out, v, max, n)
	return out
}

// scaleInto writes x·max/n of each x of v to out, rounded half away from
// zero, for n ≥ max > 0 and every |x| ≤ n (so the quotient fits); out may
// be v. Outside that contract it does not panic: max ≤ 0 or n = 0 copies
// v, and a quotient beyond the int64 range saturates.
func scaleInto(out, v []int64, max int64, n uint64) {
	out = out[:len(v)]
	switch {
	case uint64(max) == n || max <= 0 || n == 0:
		copy(out, v)
		return
	case n >= 1<<62 || uint64(max) > n: // a division each: norms this large are not seen in practice
		for j, x := range v {
			hi, lo := bits.Mul64(absU(x), uint64(max))
			q := uint64(math.MaxInt64) // outside the contract, when hi ≥ n
			if hi < n {
				var r uint64
				q, r = bits.Div64(hi, lo, n)
				q = min(q, math.MaxInt64)
				if r >= n-r && q < math.MaxInt64 {
					q++
				}
			}
			if x < 0 {
				out[j] = -int64(q)
			} else {
				out[j] = int64(q)
			}
		}
		return
	}
	// f = ⌊max·2⁶⁴/n⌋ (max < n): for |x| ≤ 2⁶³, q = ⌊|x|·f/2⁶⁴⌋ is
	// ⌊|x|·max/n⌋ or one less (the error is below |x|/2⁶⁴ ≤ ½). The
	// remainder |x|·max − q·n lies in [0, 2n) ⊂ [0, 2⁶³), so it is exact
	// in 64-bit arithmetic, and corrects q. No division, no branch the
	// data could make the CPU mispredict.
	f, _ := bits.Div64(uint64(max), 0, n)
	for j, x := range v {
		sign := x >> 63 // all ones when x < 0
		a := uint64((x ^ sign) - sign)
		q, _ := bits.Mul64(a, f)
		r := a*uint64(max) - q*n
		var over uint64
		if r >= n {
			over = 1
		}
		q += over
		r -= n & -over
		var up uint64
		if r >= n-r {
			up = 1
		}
		out[j] = (int64(q+up) ^ sign) - sign
	}
}

// cosineMicro is the cosine similarity of a and b in millionths, rounded
// toward zero, given their norms.
func cosineMicro(a, b []int64, na, nb uint64) int64 {
	var pos, neg uint128
	for j := range a {
		hi, lo := bits.Mul64(absU(a[j]), absU(b[j]))
		if (a[j] < 0) != (b[j] < 0) {
			neg = neg.add(uint128{hi, lo})
		} else {
			pos = pos.add(uint128{hi, lo})
		}
	}
	if pos.less(neg) {
		return -cosineOf(sub128(neg, pos), na, nb)
	}
	return cosineOf(sub128(pos, neg), na, nb)
}

// cosineSmall is cosineMicro for values within ±2^31: each product fits
// in 63 bits and the signed sum in 128 (|sum| < 2^93), so it is exact
// without cosineMicro's 128-bit products, and equal to it.
func cosineSmall(a, b []int64, na, nb uint64) int64 {
	var hi, lo uint64
	b = b[:len(a)]
	for j, x := range a {
		p := x * b[j]
		var c uint64
		lo, c = bits.Add64(lo, uint64(p), 0)
		hi += uint64(p>>63) + c
	}
	dot := int128{hi, lo}
	if dot.isNeg() {
		d := dot.neg()
		return -cosineOf(uint128{d.hi, d.lo}, na, nb)
	}
	return cosineOf(uint128{hi, lo}, na, nb)
}

// cosineOf is dot·10⁶/(na·nb) rounded toward zero and capped at 10⁶, in
// two divisions to stay within 128 bits.
func cosineOf(dot uint128, na, nb uint64) int64 {
	q1 := div128(dot, na)
	hi, lo := bits.Mul64(q1, 1_000_000)
	if hi >= nb {
		return 1_000_000
	}
	q, _ := bits.Div64(hi, lo, nb)
	if q > 1_000_000 {
		q = 1_000_000
	}
	return int64(q)
}

func sub128(a, b uint128) uint128 {
	lo, br := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, br)
	return uint128{hi, lo}
}

// div128 returns ⌊a/d⌋ saturated to uint64.
func div128(a uint128, d uint64) uint64 {
	if a.hi >= d {
		return math.MaxUint64
	}
	q, _ := bits.Div64(a.hi, a.lo, d)
	return q
}
