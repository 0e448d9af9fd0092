package aggregator

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// StreamBlock is how many coordinates of each update a streamed round reads
// at a time. A round holds n blocks of it per worker, never the n updates:
// the chain stores revealed updates in chunks of this many coordinates.
const StreamBlock = blockSize

// Source gives a round's revealed updates a block of coordinates at a time.
type Source interface {
	// Block returns coordinates [lo, hi) of revealed update k, where lo is
	// a multiple of StreamBlock and hi−lo ≤ StreamBlock: either a view the
	// source owns (unchanged while the round runs) or buf[:hi−lo] filled
	// in. It is called from several goroutines at once.
	Block(k, lo, hi int, buf []int64) ([]int64, error)
}

// SliceSource is a Source over updates held in memory.
type SliceSource [][]int64

// Block implements Source with a view of update k.
func (s SliceSource) Block(k, lo, hi int, _ []int64) ([]int64, error) { return s[k][lo:hi], nil }

// RunRound aggregates a round held in memory: it drops flagged members and,
// with reputation on, near-identical (sybil) updates, counts alike updates
// once (alike.go; seed keys the sketch of large models), runs the rule on
// the rest, and scores every member. Members must be in a fixed order (the
// chain sorts them by key); the outcome is in the same order. It is
// StreamRound over the members' updates. Cost: O(n²·d).
func RunRound(members []Member, rule Rule, reputation bool, seed uint64) (RoundOutcome, error) {
	var src SliceSource
	var ups []Update
	for _, m := range members {
		if m.Revealed {
			src = append(src, m.Update)
			if reputation || !m.Flagged {
				ups = append(ups, Update{Values: m.Update})
			}
		}
	}
	d := 0
	if len(ups) > 0 {
		var err error
		if d, err = checkShape(ups); err != nil {
			return RoundOutcome{Weights: make([]uint64, len(members))}, err
		}
	}
	var agg []int64
	out, err := StreamRound(members, d, src, rule, reputation, seed, func(lo int, block []int64) error {
		copy(agg[lo:], block)
		return nil
	}, func() { agg = make([]int64, d) })
	if err == nil && out.Aggregated {
		out.Aggregate = agg
	}
	return out, err
}

// StreamRound is RunRound over updates of d values read from src a block
// at a time: the k-th revealed member's update is src's update k (a flagged
// member's update is read only with reputation on, and an unrevealed
// member's never). The aggregate is not returned but handed to emit a block
// at a time: emit(lo, values) for coordinates lo..lo+len(values), each
// block once, from several goroutines at once and in no fixed order. begin,
// if not nil, runs once before the first emit, when it is known that there
// will be an aggregate. seed keys the count sketch that compares the
// updates of models over AlikeSketch parameters (alike.go); the chain
// draws it from the round's commitments. The outcome and emitted values
// are exactly those of running the rule over the updates in memory.
//
// Memory: O(n·StreamBlock) per worker, the reputation sketches (n·d/64
// values), the count sketches (n·AlikeSketch values per worker), and for
// centeredclip the d values of its running centre. Passes
// over the updates: one for their norms (with reputation, or for the rules
// that need norms or distances), one more for near-duplicate pairs the
// sketches leave in doubt, two per centeredclip iteration, and one that
// emits the aggregate.
func StreamRound(members []Member, d int, src Source, rule Rule, reputation bool, seed uint64, emit func(lo int, values []int64) error, begin func()) (RoundOutcome, error) {
	n := len(members)
	out := RoundOutcome{Weights: make([]uint64, n)}
	name, p, err := ruleOf(rule)
	if err != nil {
		return out, err
	}
	s := &stream{d: d, src: src, seed: seed}
	for i, m := range members {
		if m.Revealed {
			s.member = append(s.member, i)
			s.weight = append(s.weight, m.Weight)
			s.flagged = append(s.flagged, m.Flagged)
		}
	}
	nr := len(s.member)
	sybil := make([]bool, n)
	// Norms, sketches and (for Multi-Krum, and with reputation for models
	// small enough to compare exactly) every pair's distance, in one pass.
	needStats := reputation || clips(name) || name == "multikrum"
	pairs := name == "multikrum" || (reputation && d <= AlikeSketch)
	if needStats && nr > 0 {
		if err := s.statsPass(reputation, pairs, reputation && d > AlikeSketch); err != nil {
			return out, err
		}
	}
	if reputation && nr > 1 {
		near, err := s.nearPairs(SybilDistance)
		if err != nil {
			return out, err
		}
		for _, pr := range near {
			sybil[s.member[pr[0]]], sybil[s.member[pr[1]]] = true, true
		}
	}
	// The rule runs over revealed, unflagged, non-sybil members, alike
	// updates counted once (alike.go).
	var use []int // indices into the revealed
	for k, i := range s.member {
		if !s.flagged[k] && !sybil[i] {
			use = append(use, k)
		}
	}
	var alikeTo []int // per member: the member its update is alike to, or −1
	if reputation {
		alikeTo = make([]int, n)
		for i := range alikeTo {
			alikeTo[i] = -1
		}
		if len(use) >= 3 { // fewer: nothing can be alike (alikeOf)
			var kept []int
			for j, a := range alikeOf(s.pairSq(use)) {
				if a < 0 {
					kept = append(kept, use[j])
				} else {
					alikeTo[s.member[use[j]]] = s.member[use[a]]
				}
			}
			use = kept
		}
	}
	var pl *plan
	if len(use) > 0 {
		if pl, err = s.plan(name, p, use); err != nil {
			return out, err
		}
		for j, k := range use {
			out.Weights[s.member[k]] = pl.weights[j]
			if pl.weights[j] > 0 {
				out.Used++
			}
		}
		if begin != nil {
			begin()
		}
		out.Aggregated = true
	}
	// The emitting pass, which also takes each revealed, unflagged member's
	// dot product with the aggregate.
	var dots []dot
	var aggSq uint128
	if pl != nil {
		if dots, aggSq, err = s.emitPass(pl, reputation, emit); err != nil {
			return out, err
		}
	}
	if !reputation {
		return out, nil
	}
	ev := evidence{members: members, revealed: s.member, sybil: sybil, alikeTo: alikeTo, norms: s.norms, weights: out.Weights, aggregated: pl != nil}
	if pl != nil {
		ev.aggNorm = isqrt128u(aggSq)
		ev.cosines = make([]int64, nr)
		for k := range dots {
			if !s.flagged[k] && s.norms[k] > 0 && ev.aggNorm > 0 {
				ev.cosines[k] = dots[k].cosine(s.norms[k], ev.aggNorm)
			}
		}
	}
	out.Changes = ev.score()
	return out, nil
}

// ruleOf names a rule NewRule made and gives its parameters.
func ruleOf(rule Rule) (string, RuleParams, error) {
	switch r := rule.(type) {
	case FedAvgRule:
		return "fedavg", RuleParams{}, nil
	case robustRule:
		return r.name, r.p, nil
	}
	return "", RuleParams{}, fmt.Errorf("%w: a streamed round runs the rules NewRule makes, not %T", ErrUnknownRule, rule)
}

// stream is one streamed round's updates and what passes learnt of them.
type stream struct {
	d       int
	src     Source
	member  []int    // revealed k → member index
	weight  []uint64 // revealed k → weight
	flagged []bool   // revealed k → flagged

	sumSq    []uint128 // revealed k → Σx² (saturating)
	norms    []uint64  // revealed k → ⌊‖x‖⌋
	allSmall bool      // every revealed value within [−2^31, 2^31)
	sketch   [][]int64 // revealed k → block sums (reputation only)
	dist     [][]uint128
	seed     uint64    // the count sketches' hash key
	csk      [][]int64 // unflagged k → count sketch (alike.go), large models with reputation
	workers  []*worker // scratch, kept from pass to pass
}

// worker is one goroutine's scratch: a block buffer per revealed update.
type worker struct {
	bufs  [][]int64
	views [][]int64
	ups   []Update
	tmp   [][]int64 // per update, for transformed blocks (clipping)
	agg   []int64
	lo    int // the block a sumPass item function sees
	hi    int
	csk   [][]int64 // per revealed update: this worker's share of its count sketch
	tab   []int32   // the block's signed sketch buckets (sketchTable)
}

func (s *stream) newWorker() *worker {
	n := len(s.member)
	w := &worker{bufs: make([][]int64, n), views: make([][]int64, n), tmp: make([][]int64, n), agg: make([]int64, StreamBlock)}
	return w
}

// read fills w.views[k] for each k in ks with block lo..hi.
func (s *stream) read(w *worker, ks []int, lo, hi int) error {
	for _, k := range ks {
		if w.bufs[k] == nil {
			w.bufs[k] = make([]int64, StreamBlock)
		}
		v, err := s.src.Block(k, lo, hi, w.bufs[k][:hi-lo])
		if err != nil {
			return err
		}
		if len(v) != hi-lo {
			return fmt.Errorf("%w: update %d gave %d values for coordinates %d..%d", ErrShape, k, len(v), lo, hi)
		}
		w.views[k] = v
	}
	return nil
}

// forBlocks runs f over the coordinates in StreamBlock blocks on up to
// GOMAXPROCS workers, each with its own scratch, and returns the error of
// the lowest block that failed (so the error does not depend on
// scheduling).
func (s *stream) forBlocks(f func(w *worker, lo, hi int) error) error {
	nb := (s.d + StreamBlock - 1) / StreamBlock
	workers := min(runtime.GOMAXPROCS(0), nb)
	var next atomic.Int64
	var mu sync.Mutex
	failed, firstErr := nb, error(nil)
	for len(s.workers) < workers {
		s.workers = append(s.workers, s.newWorker())
	}
	if workers == 1 { // one block, or one CPU: no goroutine
		for b := range nb {
			lo := b * StreamBlock
			if err := f(s.workers[0], lo, min(lo+StreamBlock, s.d)); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := s.workers[i]
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				lo := b * StreamBlock
				if err := f(w, lo, min(lo+StreamBlock, s.d)); err != nil {
					mu.Lock()
					if b < failed {
						failed, firstErr = b, err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// statsPass takes every revealed update's sum of squares and range, its
// sketch (with reputation), with pairs the squared distance of every pair
// of unflagged updates, and with counts each unflagged update's count
// sketch.
func (s *stream) statsPass(sketches, pairs, counts bool) error {
	nr := len(s.member)
	var all []int // with reputation every revealed update, else the unflagged
	for k := range nr {
		if sketches || !s.flagged[k] {
			all = append(all, k)
		}
	}
	if sketches {
		s.sketch = make([][]int64, nr)
		for k := range s.sketch {
			s.sketch[k] = make([]int64, (s.d+sketchBlock-1)/sketchBlock)
		}
	}
	var unflagged []int
	for _, k := range all {
		if !s.flagged[k] {
			unflagged = append(unflagged, k)
		}
	}
	var mu sync.Mutex
	s.sumSq = make([]uint128, nr)
	large := make([]bool, nr)
	if pairs {
		s.dist = newMatrix(nr)
	}
	err := s.forBlocks(func(w *worker, lo, hi int) error {
		if err := s.read(w, all, lo, hi); err != nil {
			return err
		}
		sq := make([]uint128, nr)
		big := make([]bool, nr)
		for _, k := range all {
			var sk []int64
			if sketches {
				sk = s.sketch[k][lo/sketchBlock:]
			}
			sq[k], big[k] = blockStats(w.views[k], sk)
		}
		if counts {
			if w.csk == nil {
				w.csk = make([][]int64, nr)
				w.tab = make([]int32, StreamBlock)
			}
			tab := w.tab[:hi-lo]
			sketchTable(s.seed, lo, tab)
			for _, k := range unflagged {
				if w.csk[k] == nil {
					w.csk[k] = make([]int64, AlikeSketch)
				}
				if big[k] {
					addSketch(w.csk[k], w.views[k], tab)
				} else {
					addSketchSmall(w.csk[k], w.views[k], tab)
				}
			}
		}
		var m [][]uint128
		if pairs {
			m = newMatrix(nr)
			for a, i := range unflagged {
				for _, k := range unflagged[a+1:] {
					if big[i] || big[k] {
						m[i][k] = sqDist(w.views[i], w.views[k])
					} else {
						m[i][k] = sqDistSmall(w.views[i], w.views[k])
					}
				}
			}
		}
		mu.Lock()
		for _, k := range all {
			s.sumSq[k] = s.sumSq[k].add(sq[k])
			large[k] = large[k] || big[k]
		}
		for i := range m {
			for k := i + 1; k < nr; k++ {
				s.dist[i][k] = s.dist[i][k].add(m[i][k])
			}
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if counts { // the workers' shares, summed (exactly: no order matters)
		s.csk = make([][]int64, nr)
		for _, w := range s.workers {
			for k, part := range w.csk {
				if part == nil {
					continue
				}
				if s.csk[k] == nil {
					s.csk[k] = make([]int64, AlikeSketch)
				}
				for b, v := range part {
					s.csk[k][b] += v
				}
			}
			w.csk = nil
		}
	}
	s.norms = make([]uint64, nr)
	s.allSmall = true
	for _, k := range all {
		s.norms[k] = isqrt128u(s.sumSq[k])
		s.allSmall = s.allSmall && !large[k]
	}
	for i := range s.dist {
		for k := i + 1; k < nr; k++ {
			s.dist[k][i] = s.dist[i][k]
		}
	}
	return nil
}

// pairSq returns the squared distances between the updates use (revealed
// indices, unflagged): exact ones from the statistics pass for models of
// at most AlikeSketch parameters, else the count sketches'. A model of
// 2^32 parameters or more is not compared (all zero: nothing is alike).
func (s *stream) pairSq(use []int) [][]uint128 {
	m := newMatrix(len(use))
	if uint64(s.d) >= 1<<32 {
		return m
	}
	for a, i := range use {
		for b, k := range use[a+1:] {
			var v uint128
			if s.d <= AlikeSketch {
				v = s.dist[i][k]
			} else {
				v = sqDist(s.csk[i], s.csk[k])
			}
			m[a][a+1+b], m[a+1+b][a] = v, v
		}
	}
	return m
}

func newMatrix(n int) [][]uint128 {
	m := make([][]uint128, n)
	for i := range m {
		m[i] = make([]uint128, n)
	}
	return m
}

// blockStats returns Σx² over v (exact, saturating at 2^128−1) and whether
// some value lies outside [−2^31, 2^31); with sk not nil it writes v's
// sketch (sums of sketchBlock values, v starting on a sketch boundary)
// into sk.
func blockStats(v []int64, sk []int64) (uint128, bool) {
	var s uint128
	big := false
	for b := 0; b < len(v); b += sketchBlock {
		sum, mag := statsRun(v[b:min(b+sketchBlock, len(v))], &s)
		if sk != nil {
			sk[b/sketchBlock] = sum
		}
		if uint64(mag)>>32 != 0 {
			big = true
			break
		}
	}
	if !big {
		return s, false
	}
	// Large values: the exact, saturating sum (and the rest of the sketch).
	s = uint128{}
	for b := 0; b < len(v); b += sketchBlock {
		c := v[b:min(b+sketchBlock, len(v))]
		var sum int64
		for _, x := range c {
			sum += x
			a := absU(x)
			hi, lo := bits.Mul64(a, a)
			s = s.add(uint128{hi, lo})
		}
		if sk != nil {
			sk[b/sketchBlock] = sum
		}
	}
	return s, true
}

// statsRun returns the sum of c and the OR of each value plus 2³¹ (a bit
// above 31 set when a value lies outside [−2³¹, 2³¹)), and adds the
// squares of c to s, which is exact while every value lies within that
// range (x² ≤ 2⁶²). A function of its own, so that its accumulators stay in
// registers (inlined into blockStats, one was kept on the stack, and each
// value waited for its store).
//
//go:noinline
func statsRun(c []int64, s *uint128) (sum, mag int64) {
	lo, hi := s.lo, s.hi
	for _, x := range c {
		sum += x
		mag |= x + 1<<31
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(x*x), 0)
		hi += carry
	}
	s.lo, s.hi = lo, hi
	return sum, mag
}

// nearPairs is NearDuplicates over the stream: the pairs of revealed
// updates (flagged ones too) within rel of the larger one's norm. The
// sketches rule most pairs out; the distances of the rest come from the
// Multi-Krum matrix or from one more pass.
func (s *stream) nearPairs(relMicro uint64) ([][2]int, error) {
	nr := len(s.member)
	type pair struct{ i, k int }
	var doubt []pair
	for i := 0; i < nr; i++ {
		for k := i + 1; k < nr; k++ {
			mx := max(s.norms[i], s.norms[k])
			if mx == 0 || (s.allSmall && sketchFar(s.sketch[i], s.sketch[k], mx, relMicro)) {
				continue
			}
			doubt = append(doubt, pair{i, k})
		}
	}
	dist := make([]uint128, len(doubt))
	var missing []int // indices into doubt
	for j, pr := range doubt {
		if s.dist != nil && !s.flagged[pr.i] && !s.flagged[pr.k] {
			dist[j] = s.dist[pr.i][pr.k]
		} else {
			missing = append(missing, j)
		}
	}
	if len(missing) > 0 {
		var ks []int
		seen := make([]bool, nr)
		for _, j := range missing {
			for _, k := range []int{doubt[j].i, doubt[j].k} {
				if !seen[k] {
					seen[k] = true
					ks = append(ks, k)
				}
			}
		}
		sums, err := s.sumPass(ks, len(missing), func(w *worker, x int) uint128 {
			j := missing[x]
			return sqDist(w.views[doubt[j].i], w.views[doubt[j].k])
		})
		if err != nil {
			return nil, err
		}
		for x, j := range missing {
			dist[j] = sums[x]
		}
	}
	var out [][2]int
	for j, pr := range doubt {
		mx := max(s.norms[pr.i], s.norms[pr.k])
		d := isqrt128u(dist[j])
		dh, dl := bits.Mul64(d, 1_000_000)
		rh, rl := bits.Mul64(mx, relMicro)
		if dh < rh || (dh == rh && dl <= rl) {
			out = append(out, [2]int{pr.i, pr.k})
		}
	}
	return out, nil
}

// plan is how a rule combines the used updates, block by block.
type plan struct {
	kind      string   // "mean", "median", "huber", "trimmed" or "centre"
	use       []int    // revealed indices of the used updates
	weights   []uint64 // effective weight of each used update
	mean      []int    // "mean": revealed indices averaged with their weights
	total     uint64   // "mean": their weight sum
	clip      int64    // "mean" (normclip): the clipping norm, 0 for none
	huberClip clip     // "huber": the clipping norm and the used updates' norms
	trimK     int      // "trimmed"
	centre    []int64  // "centre": centeredclip's result
}

// plan decides, from what the statistics pass learnt, how the named rule
// aggregates the used updates: the same decisions, and the same errors, as
// the rule's Aggregate over them.
func (s *stream) plan(name string, p RuleParams, use []int) (*plan, error) {
	m := len(use)
	pl := &plan{use: use, weights: make([]uint64, m)}
	all := func() {
		for j, k := range use {
			pl.weights[j] = s.weight[k]
		}
	}
	mean := func(ks []int) error {
		var total uint64
		for _, k := range ks {
			w := s.weight[k]
			if w == 0 {
				continue
			}
			if total+w < total || total+w > math.MaxInt64 {
				return fmt.Errorf("%w: weights overflow", ErrZeroWeight)
			}
			total += w
		}
		if total == 0 {
			return ErrZeroWeight
		}
		pl.kind, pl.mean, pl.total = "mean", ks, total
		return nil
	}
	var norms []uint64 // the used updates' norms, for the rules that clip
	if clips(name) {
		norms = make([]uint64, m)
		for j, k := range use {
			norms[j] = s.norms[k]
		}
	}
	clipNorm := p.Clip
	if clipNorm == 0 && clips(name) {
		clipNorm = int64(min(medianU(norms), math.MaxInt64))
		if clipNorm == 0 {
			clipNorm = 1
		}
	}
	switch name {
	case "fedavg":
		all()
		return pl, mean(use)
	case "median":
		all()
		pl.kind = name
		return pl, nil
	case "huber":
		all()
		pl.kind, pl.huberClip = name, clip{max: clipNorm, norms: norms}
		return pl, nil
	case "trimmed_mean":
		beta := p.BetaMicro
		if beta == 0 {
			beta = 200_000
		}
		all()
		pl.kind, pl.trimK = "trimmed", trimCount(m, beta)
		return pl, nil
	case "multikrum":
		f := p.F
		if f == 0 || m <= 2*f+2 {
			f = (m - 3) / 2
		}
		if f < 0 { // too few updates to exclude any
			all()
			return pl, mean(use)
		}
		if m <= 2*f+2 { // two updates: f rounds to 0, which MultiKrum refuses
			return nil, fmt.Errorf("%w: Multi-Krum with f=%d needs more than %d updates, got %d", ErrShape, f, 2*f+2, m)
		}
		mm := p.M
		if mm == 0 || mm > m-f {
			mm = m - f
		}
		dist := newMatrix(m)
		for a, i := range use {
			for b, k := range use {
				dist[a][b] = s.dist[i][k]
			}
		}
		picked := krumPick(dist, f, mm)
		var sel []int
		for j, k := range use {
			if picked[j] {
				pl.weights[j] = s.weight[k]
				sel = append(sel, k)
			}
		}
		return pl, mean(sel)
	case "normclip":
		all()
		pl.clip = clipNorm
		return pl, mean(use)
	case "centeredclip":
		it := p.Iters
		if it == 0 {
			it = 3
		}
		all()
		if err := mean(use); err != nil {
			return nil, err
		}
		centre, err := s.centeredClip(use, pl.total, clipNorm, it)
		if err != nil {
			return nil, err
		}
		pl.kind, pl.centre = "centre", centre
		return pl, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownRule, name)
}

// centeredClip is CenteredClip over the stream: per iteration one pass for
// the norms of xᵢ − v and one that moves v.
func (s *stream) centeredClip(use []int, total uint64, tau int64, iters int) ([]int64, error) {
	v := make([]int64, s.d)
	norms := make([]uint64, len(s.member))
	for range iters {
		sq, err := s.sumPass(use, len(use), func(w *worker, j int) uint128 {
			x := s.diff(w, use[j], v[w.lo:w.hi])
			sum, _ := blockStats(x, nil)
			return sum
		})
		if err != nil {
			return nil, err
		}
		for j, k := range use {
			norms[k] = isqrt128u(sq[j])
		}
		err = s.forBlocks(func(w *worker, lo, hi int) error {
			if err := s.read(w, use, lo, hi); err != nil {
				return err
			}
			ups := w.ups[:0]
			for _, k := range use {
				x := s.diff(w, k, v[lo:hi])
				if norms[k] > uint64(tau) {
					scaleInto(x, x, tau, norms[k])
				}
				if s.weight[k] > 0 {
					ups = append(ups, Update{Values: x, Weight: s.weight[k]})
				}
			}
			w.ups = ups
			step := w.agg[:hi-lo]
			fedAvgBlock(ups, total, step, 0, hi-lo)
			for j := range step {
				v[lo+j] = satAdd(v[lo+j], step[j])
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// sumPass reads updates ks block by block and returns, for each of m
// items, the saturating sum over the blocks of f(worker, item), which sees
// the block in w.views (and its bounds in w.lo, w.hi).
func (s *stream) sumPass(ks []int, m int, f func(w *worker, item int) uint128) ([]uint128, error) {
	sums := make([]uint128, m)
	var mu sync.Mutex
	err := s.forBlocks(func(w *worker, lo, hi int) error {
		if err := s.read(w, ks, lo, hi); err != nil {
			return err
		}
		w.lo, w.hi = lo, hi
		part := make([]uint128, m)
		for x := range part {
			part[x] = f(w, x)
		}
		mu.Lock()
		for x := range part {
			sums[x] = sums[x].add(part[x])
		}
		mu.Unlock()
		return nil
	})
	return sums, err
}

// diff writes update k's block minus v (saturating) over the worker's
// buffer for k (which may hold the block itself) and returns it.
func (s *stream) diff(w *worker, k int, v []int64) []int64 {
	x := w.bufs[k][:len(v)]
	for j, u := range w.views[k] {
		x[j] = satAdd(u, -v[j])
	}
	w.views[k] = nil // no longer the update's
	return x
}

// dot is a member's dot product with the aggregate: the sums of its
// positive and negative terms (each saturating), as cosineMicro takes them.
type dot struct{ pos, neg uint128 }

func (d dot) cosine(na, nb uint64) int64 {
	if d.pos.less(d.neg) {
		return -cosineOf(sub128(d.neg, d.pos), na, nb)
	}
	return cosineOf(sub128(d.pos, d.neg), na, nb)
}

// emitPass computes the aggregate block by block and emits it; with
// reputation it also returns each revealed member's dot product with it
// and its sum of squares.
func (s *stream) emitPass(pl *plan, reputation bool, emit func(int, []int64) error) ([]dot, uint128, error) {
	nr := len(s.member)
	var ks []int // what the pass reads
	seen := make([]bool, nr)
	need := func(k int) {
		if !seen[k] {
			seen[k] = true
			ks = append(ks, k)
		}
	}
	switch pl.kind {
	case "mean":
		for _, k := range pl.mean {
			need(k)
		}
	case "median", "huber", "trimmed":
		for _, k := range pl.use {
			need(k)
		}
	}
	var dotted []int
	if reputation {
		for k := range s.member {
			if !s.flagged[k] && s.norms[k] > 0 {
				dotted = append(dotted, k)
				need(k)
			}
		}
	}
	dots := make([]dot, nr)
	var aggSq uint128
	var mu sync.Mutex
	err := s.forBlocks(func(w *worker, lo, hi int) error {
		if err := s.read(w, ks, lo, hi); err != nil {
			return err
		}
		agg := w.agg[:hi-lo]
		ups := w.ups[:0]
		switch pl.kind {
		case "mean":
			for _, k := range pl.mean {
				if s.weight[k] == 0 {
					continue
				}
				ups = append(ups, Update{Values: s.clipped(w, k, pl.clip), Weight: s.weight[k]})
			}
			fedAvgBlock(ups, pl.total, agg, 0, hi-lo)
		case "median", "huber", "trimmed":
			for _, k := range pl.use {
				ups = append(ups, Update{Values: w.views[k]})
			}
			for c := 0; c < hi-lo; c += columnBlock {
				switch pl.kind {
				case "median":
					medianBlock(ups, c, min(c+columnBlock, hi-lo), agg)
				case "huber": // clipped as its columns are gathered
					huberBlock(ups, pl.huberClip, c, min(c+columnBlock, hi-lo), agg)
				default:
					trimmedBlock(ups, pl.trimK, c, min(c+columnBlock, hi-lo), agg)
				}
			}
		case "centre":
			copy(agg, pl.centre[lo:hi])
		}
		w.ups = ups
		if reputation {
			part := make([]dot, len(dotted))
			for j, k := range dotted {
				part[j] = blockDot(w.views[k], agg)
			}
			sq, _ := blockStats(agg, nil)
			mu.Lock()
			for j, k := range dotted {
				dots[k].pos = dots[k].pos.add(part[j].pos)
				dots[k].neg = dots[k].neg.add(part[j].neg)
			}
			aggSq = aggSq.add(sq)
			mu.Unlock()
		}
		return emit(lo, agg)
	})
	return dots, aggSq, err
}

// clipped is the worker's current block of revealed update k, scaled by
// clip/‖update‖ when clip > 0 and the update's norm exceeds it (clipTo, a
// block at a time); otherwise the block itself.
func (s *stream) clipped(w *worker, k int, clip int64) []int64 {
	x := w.views[k]
	if clip <= 0 || s.norms[k] <= uint64(clip) {
		return x
	}
	if w.tmp[k] == nil {
		w.tmp[k] = make([]int64, StreamBlock)
	}
	y := w.tmp[k][:len(x)]
	scaleInto(y, x, clip, s.norms[k])
	return y
}

// blockDot is a and b's dot product as a positive and a negative part
// (pos − neg is the product; only the difference is used). Within ±2^31
// each product fits in 63 bits and their signed sum in 128, so it goes
// without branches, two's complement; any larger value takes cosineMicro's
// 128-bit products, summed by sign.
func blockDot(a, b []int64) dot {
	b = b[:len(a)]
	var lo uint64 // the sum, two's complement in 128 bits: |sum| < 2^62·len(a)
	var hi int64
	var mag int64
	for j, x := range a {
		y := b[j]
		mag |= (x + 1<<31) | (y + 1<<31)
		p := x * y
		var c uint64
		lo, c = bits.Add64(lo, uint64(p), 0)
		hi += int64(c) + p>>63
	}
	if uint64(mag)>>32 == 0 {
		sum := int128{uint64(hi), lo}
		if sum.isNeg() {
			n := sum.neg()
			return dot{neg: uint128{n.hi, n.lo}}
		}
		return dot{pos: uint128{sum.hi, sum.lo}}
	}
	var d dot
	for j, x := range a {
		y := b[j]
		hi, lo := bits.Mul64(absU(x), absU(y))
		if (x < 0) != (y < 0) {
			d.neg = d.neg.add(uint128{hi, lo})
		} else {
			d.pos = d.pos.add(uint128{hi, lo})
		}
	}
	return d
}
