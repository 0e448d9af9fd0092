package aggregator

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// Sentinel errors. Callers test them with errors.Is; the returned errors wrap
// them with detail.
var (
	// ErrNoUpdates means the rule was given nothing to aggregate.
	ErrNoUpdates = errors.New("aggregator: no updates")
	// ErrShape means the updates do not all have the same length.
	ErrShape = errors.New("aggregator: updates differ in length")
	// ErrZeroWeight means every weight was zero, or a weight sum overflowed.
	ErrZeroWeight = errors.New("aggregator: total weight is zero or too large")
	// ErrParams means a rule's parameters are out of range.
	ErrParams = errors.New("aggregator: rule parameters")
	// ErrUnknownRule means no rule has the given name.
	ErrUnknownRule = errors.New("aggregator: unknown rule")
)

// Update is one participant's fixed-point update and its weight.
type Update struct {
	Values []int64
	Weight uint64
}

// Result is what a Rule returns: the aggregate, and the weight each input
// effectively received (0 for an input the rule excluded), in input order.
type Result struct {
	Values  []int64
	Weights []uint64
}

// Rule is an aggregation rule the chain can run inside FinalizeBlock.
// Implementations must be deterministic and must not keep state between calls.
type Rule interface {
	// Name is the rule's name as written in a task spec.
	Name() string
	// Aggregate combines updates of equal length.
	Aggregate(updates []Update) (Result, error)
}

// RuleParams tune the robust rules; zero values mean the rule's default.
type RuleParams struct {
	F, M      int    // Multi-Krum: tolerated Byzantine updates, updates averaged
	BetaMicro uint64 // trimmed mean: share trimmed at each end (default 0.2)
	Clip      int64  // normclip and huber bound / centeredclip radius (default: the median norm)
	Iters     int    // centeredclip iterations (default 3)
}

// Rules lists the rule names RuleByName knows.
var Rules = []string{"fedavg", "median", "huber", "trimmed_mean", "multikrum", "normclip", "centeredclip"}

// RuleByName returns the rule a task spec names, with default parameters.
func RuleByName(name string) (Rule, error) { return NewRule(name, RuleParams{}) }

// NewRule returns the named rule with parameters p.
func NewRule(name string, p RuleParams) (Rule, error) {
	switch name {
	case "fedavg", "":
		return FedAvgRule{}, nil
	case "median", "huber", "trimmed_mean", "multikrum", "normclip", "centeredclip":
		if p.BetaMicro >= 500_000 {
			return nil, fmt.Errorf("%w: trimmed mean beta must be below 0.5", ErrUnknownRule)
		}
		if p.F < 0 || p.M < 0 || p.Clip < 0 || p.Iters < 0 || p.Iters > 100 {
			return nil, fmt.Errorf("%w: negative or excessive rule parameters", ErrUnknownRule)
		}
		return robustRule{name: name, p: p}, nil
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownRule, name, Rules)
}

type robustRule struct {
	name string
	p    RuleParams
}

func (r robustRule) Name() string { return r.name }

func (r robustRule) Aggregate(updates []Update) (Result, error) {
	n := len(updates)
	all := func(v []int64, err error) (Result, error) {
		if err != nil {
			return Result{}, err
		}
		w := make([]uint64, n)
		for i, u := range updates {
			w[i] = u.Weight
		}
		return Result{Values: v, Weights: w}, nil
	}
	clip := r.p.Clip
	var norms []uint64
	if clip == 0 && n > 0 && clips(r.name) {
		// The median norm, saturated: norms of extreme updates exceed int64.
		norms = Norms(updates)
		clip = int64(min(medianU(norms), math.MaxInt64))
		if clip == 0 {
			clip = 1
		}
	}
	switch r.name {
	case "median":
		return all(Median(updates))
	case "huber":
		return all(clippedHuber(updates, clip, norms))
	case "trimmed_mean":
		beta := r.p.BetaMicro
		if beta == 0 {
			beta = 200_000
		}
		return all(TrimmedMean(updates, beta))
	case "multikrum":
		f := r.p.F
		if f == 0 || n <= 2*f+2 {
			f = (n - 3) / 2
		}
		if f < 0 {
			return all(FedAvg(updates)) // too few updates to exclude any
		}
		m := r.p.M
		if m == 0 || m > n-f {
			m = n - f
		}
		return MultiKrum(updates, f, m)
	case "normclip":
		return all(NormClip(updates, clip))
	case "centeredclip":
		it := r.p.Iters
		if it == 0 {
			it = 3
		}
		return all(CenteredClip(updates, clip, it))
	}
	return Result{}, fmt.Errorf("%w %q", ErrUnknownRule, r.name)
}

// clips reports whether the named rule bounds updates by a norm (RuleParams.Clip,
// by default the median norm).
func clips(name string) bool {
	return name == "normclip" || name == "centeredclip" || name == "huber"
}

func medianU(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]uint64(nil), v...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}

// FedAvgRule is weighted federated averaging (McMahan et al., 2017).
type FedAvgRule struct{}

// Name implements Rule.
func (FedAvgRule) Name() string { return "fedavg" }

// Aggregate implements Rule.
func (FedAvgRule) Aggregate(updates []Update) (Result, error) {
	v, err := FedAvg(updates)
	if err != nil {
		return Result{}, err
	}
	w := make([]uint64, len(updates))
	for i, u := range updates {
		w[i] = u.Weight
	}
	return Result{Values: v, Weights: w}, nil
}

// FedAvg returns the weighted mean Σ wᵢ·vᵢ / Σ wᵢ of the updates, coordinate
// by coordinate, rounded half away from zero (see the package doc).
// Updates with weight 0 take no part. Cost: O(n·d) time, O(d) memory; the
// coordinates are cut into cache-sized blocks shared among GOMAXPROCS
// goroutines (each block is exact on its own, so the result never depends on
// scheduling).
func FedAvg(updates []Update) ([]int64, error) {
	if len(updates) == 0 {
		return nil, ErrNoUpdates
	}
	d := len(updates[0].Values)
	var total uint64
	for i, u := range updates {
		if len(u.Values) != d {
			return nil, fmt.Errorf("%w: update %d has %d values, update 0 has %d", ErrShape, i, len(u.Values), d)
		}
		if u.Weight == 0 {
			continue
		}
		if total+u.Weight < total || total+u.Weight > math.MaxInt64 {
			return nil, fmt.Errorf("%w: weights overflow", ErrZeroWeight)
		}
		total += u.Weight
	}
	if total == 0 {
		return nil, ErrZeroWeight
	}
	out := make([]int64, d)
	parallelBlocks(d, blockSize, func(lo, hi int) { fedAvgBlock(updates, total, out, lo, hi) })
	return out, nil
}

// blockSize is how many coordinates a FedAvg worker sums at a time: the
// accumulator block stays in the CPU's cache while every update streams by
// (8192 measured fastest on the 2-core machine).
const blockSize = 8192

// parallelBlocks runs f over [0, d) in blocks, on up to GOMAXPROCS
// goroutines. Each block is written by one goroutine only, so the result does
// not depend on scheduling.
func parallelBlocks(d, blockSize int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	nb := (d + blockSize - 1) / blockSize
	if workers > nb {
		workers = nb
	}
	if workers <= 1 {
		for lo := 0; lo < d; lo += blockSize {
			f(lo, min(lo+blockSize, d))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				lo := b * blockSize
				f(lo, min(lo+blockSize, d))
			}
		}()
	}
	wg.Wait()
}

// fedAvgBlock computes out[lo:hi]. It sums in int64 while watching a
// bound on the values' magnitudes; if |v|·Σw could reach 2^63 anywhere in
// the block, it sums the block again in 128 bits. Both paths are exact, so
// the result is the same whichever runs.
func fedAvgBlock(updates []Update, total uint64, out []int64, lo, hi int) {
	var acc [blockSize]int64
	a := acc[:hi-lo]
	var mag uint64 // OR of |v| (one's complement for negatives): bounds max |v|
	// Four updates per pass over the accumulator: a quarter of the
	// accumulator loads and stores. Integer sums, so the grouping does not
	// change the result.
	var group [4]*Update
	n := 0
	flush := func() {
		switch n {
		case 4:
			w0, w1, w2, w3 := int64(group[0].Weight), int64(group[1].Weight), int64(group[2].Weight), int64(group[3].Weight)
			v0, v1, v2, v3 := group[0].Values[lo:hi], group[1].Values[lo:hi], group[2].Values[lo:hi], group[3].Values[lo:hi]
			v0, v1, v2, v3 = v0[:len(a)], v1[:len(a)], v2[:len(a)], v3[:len(a)]
			for j := range a {
				x0, x1, x2, x3 := v0[j], v1[j], v2[j], v3[j]
				a[j] += w0*x0 + w1*x1 + w2*x2 + w3*x3
				mag |= uint64(x0^(x0>>63)) | uint64(x1^(x1>>63)) | uint64(x2^(x2>>63)) | uint64(x3^(x3>>63))
			}
		default:
			for _, u := range group[:n] {
				w := int64(u.Weight)
				vals := u.Values[lo:hi]
				vals = vals[:len(a)]
				for j, v := range vals {
					a[j] += w * v
					mag |= uint64(v ^ (v >> 63))
				}
			}
		}
		n = 0
	}
	for i := range updates {
		if updates[i].Weight == 0 {
			continue
		}
		group[n] = &updates[i]
		n++
		if n == len(group) {
			flush()
		}
	}
	flush()
	// max |v| < 2^bits.Len64(mag); the int64 sums were exact if that bound
	// times Σw stays within 2^63.
	if hiBits, loBits := bits.Mul64(uint64(1)<<bits.Len64(mag), total); hiBits == 0 && loBits <= 1<<63 {
		div := newDivider(total)
		for j, s := range a {
			out[lo+j] = div.roundDiv(s)
		}
		return
	}
	acc128 := make([]int128, hi-lo)
	for _, u := range updates {
		if u.Weight == 0 {
			continue
		}
		for j, v := range u.Values[lo:hi] {
			acc128[j] = acc128[j].add(mul64(v, u.Weight))
		}
	}
	for j, s := range acc128 {
		out[lo+j] = s.divRound(total)
	}
}

// divider divides by a fixed d ≥ 1 without a hardware division, by
// multiplying with a precomputed reciprocal (Granlund and Montgomery, 1994;
// Hacker's Delight §10-8): exact for every 64-bit dividend.
type divider struct {
	d     uint64
	magic uint64
	shift uint
}

func newDivider(d uint64) divider {
	if d == 1 {
		return divider{d: 1}
	}
	l := uint(bits.Len64(d - 1)) // 2^(l-1) < d ≤ 2^l
	// magic = ⌊2^64·(2^l − d)/d⌋ + 1
	var hi uint64
	if l < 64 {
		hi = (uint64(1) << l) - d
	} else {
		hi = -d // 2^64 − d
	}
	q, _ := bits.Div64(hi, 0, d)
	return divider{d: d, magic: q + 1, shift: l - 1}
}

// div returns ⌊n/d⌋.
func (v divider) div(n uint64) uint64 {
	if v.d == 1 {
		return n
	}
	t, _ := bits.Mul64(v.magic, n)
	return (t + (n-t)>>1) >> v.shift
}

// roundDiv divides s by d, rounding half away from zero.
func (v divider) roundDiv(s int64) int64 {
	neg := s < 0
	a := absU(s)
	q := v.div(a)
	r := a - q*v.d
	if r >= v.d-r {
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// AddSaturating returns model + delta coordinate-wise, clamped to
// [minV, maxV] (for example math.MinInt32 and math.MaxInt32).
func AddSaturating(model, delta []int64, minV, maxV int64) ([]int64, error) {
	if len(model) != len(delta) {
		return nil, fmt.Errorf("%w: model has %d values, delta %d", ErrShape, len(model), len(delta))
	}
	out := make([]int64, len(model))
	AddSaturatingInto(out, model, delta, minV, maxV)
	return out, nil
}

// AddSaturatingInto is AddSaturating into out (of model's length; delta
// must be as long).
func AddSaturatingInto(out, model, delta []int64, minV, maxV int64) {
	delta = delta[:len(model)]
	for j := range model {
		a, b := model[j], delta[j]
		s := a + b
		// Overflow of int64 itself: both operands share a sign the sum lacks.
		if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
			if a > 0 {
				s = math.MaxInt64
			} else {
				s = math.MinInt64
			}
		}
		if s > maxV {
			s = maxV
		}
		if s < minV {
			s = minV
		}
		out[j] = s
	}
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// divRound64 divides s by d > 0, rounding half away from zero.
func divRound64(s int64, d uint64) int64 {
	neg := s < 0
	a := absU(s)
	q, r := a/d, a%d
	if r >= d-r { // 2r >= d without overflow
		q++
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}
