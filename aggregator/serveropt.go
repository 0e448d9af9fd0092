package aggregator

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Server-side optimizers (Reddi et al., "Adaptive Federated Optimization",
// ICLR 2021), in fixed point so that every validator computes the same bits.
//
// With Δ the aggregated update of a round (from FedAvg), the global model x
// moves by a step s:
//
//	fedavg:     s = Δ
//	fedavgm:    m = β₁·m + Δ;                          s = η·m
//	fedadagrad: m = β₁·m + (1−β₁)·Δ; v = v + Δ²;         s = η·m / (√v + τ)
//	fedadam:    m = β₁·m + (1−β₁)·Δ; v = β₂·v + (1−β₂)·Δ²; s = η·m / (√v + τ)
//	fedyogi:    m = β₁·m + (1−β₁)·Δ; v = v − (1−β₂)·Δ²·sign(v − Δ²); s = η·m / (√v + τ)
//
// Every value (Δ, m, v, s, and the hyperparameters η, β₁, β₂, τ) is a fixed-
// point integer with the task's fracBits, except v, which holds squares and
// keeps twice as many fractional bits (so that small squares do not vanish).
// A product of two values is computed exactly in 128 bits and rounded half
// away from zero back to the scale; √v is the integer square root of v,
// rounded down, which lands at the fracBits scale; the quotient is rounded
// half away from zero. Results saturate at the int64 range.
// Cost: O(d) per round, O(d) state (m and v).

// ErrServerOpt marks bad server-optimizer parameters or state.
var ErrServerOpt = errors.New("aggregator: server optimizer")

// ServerOptParams are a server optimizer's name and hyperparameters, the
// latter as real numbers scaled by 2^FracBits.
type ServerOptParams struct {
	Name     string // fedavg, fedavgm, fedadagrad, fedadam, fedyogi
	FracBits uint32
	LR       int64 // η
	Beta1    int64 // β₁
	Beta2    int64 // β₂
	Tau      int64 // τ, > 0 for the adaptive ones
}

// ServerOptState is the optimizer's memory between rounds.
type ServerOptState struct {
	M []int64
	V []int64
}

// ServerOptimizers lists the names ServerStep knows.
var ServerOptimizers = []string{"fedavg", "fedavgm", "fedadagrad", "fedadam", "fedyogi"}

// Validate checks the parameters.
func (p ServerOptParams) Validate() error {
	one := int64(1) << p.FracBits
	switch p.Name {
	case "fedavg", "":
		return nil
	case "fedavgm", "fedadagrad", "fedadam", "fedyogi":
	default:
		return fmt.Errorf("%w: unknown optimizer %q (known: %v)", ErrServerOpt, p.Name, ServerOptimizers)
	}
	if p.FracBits > 30 {
		return fmt.Errorf("%w: frac bits %d > 30", ErrServerOpt, p.FracBits)
	}
	if p.LR <= 0 || p.LR > 100*one {
		return fmt.Errorf("%w: server learning rate must be in (0, 100]", ErrServerOpt)
	}
	if p.Beta1 < 0 || p.Beta1 >= one {
		return fmt.Errorf("%w: beta1 must be in [0, 1)", ErrServerOpt)
	}
	if p.Name != "fedavgm" {
		if p.Name != "fedadagrad" && (p.Beta2 < 0 || p.Beta2 >= one) {
			return fmt.Errorf("%w: beta2 must be in [0, 1)", ErrServerOpt)
		}
		if p.Tau <= 0 {
			return fmt.Errorf("%w: tau must be positive (it keeps the step finite where v is 0)", ErrServerOpt)
		}
	}
	return nil
}

// ServerStep advances the optimizer by one round: it returns the step to
// add to the global model and the new state. A nil state means zeros.
func ServerStep(p ServerOptParams, st ServerOptState, delta []int64) ([]int64, ServerOptState, error) {
	if err := p.Validate(); err != nil {
		return nil, st, err
	}
	d := len(delta)
	if p.Name == "fedavg" || p.Name == "" {
		return append([]int64(nil), delta...), st, nil
	}
	m := st.M
	if m == nil {
		m = make([]int64, d)
	}
	if len(m) != d {
		return nil, st, fmt.Errorf("%w: momentum has %d values, update %d", ErrServerOpt, len(m), d)
	}
	v := st.V
	if v == nil && p.Name != "fedavgm" {
		v = make([]int64, d)
	}
	if p.Name != "fedavgm" && len(v) != d {
		return nil, st, fmt.Errorf("%w: second moment has %d values, update %d", ErrServerOpt, len(v), d)
	}
	out, nm := make([]int64, d), make([]int64, d)
	var nv []int64
	if p.Name != "fedavgm" {
		nv = make([]int64, d)
	}
	ServerStepBlock(p, m, v, delta, out, nm, nv)
	return out, ServerOptState{M: nm, V: nv}, nil
}

// ServerStepBlock is ServerStep on a block of coordinates, into buffers the
// caller owns: from the moments m and v (v unused by fedavgm) and the
// aggregate delta it writes the step to out and the new moments to nm and
// nv. Every slice has delta's length (nv none for fedavgm), p is valid
// and not fedavg. Coordinates are independent, so blocks give the same
// values as the whole.
func ServerStepBlock(p ServerOptParams, m, v, delta, out, nm, nv []int64) {
	f := p.FracBits
	one := int64(1) << f
	if p.Name == "fedavgm" {
		for j := range delta {
			nm[j] = satAdd(mulFix(p.Beta1, m[j], f), delta[j])
			out[j] = mulFix(p.LR, nm[j], f)
		}
		return
	}
	for j, g := range delta {
		nm[j] = satAdd(mulFix(p.Beta1, m[j], f), mulFix(one-p.Beta1, g, f))
		g2 := mulFix(g, g, 0) // Δ² at scale 2^(2·fracBits): small squares keep their bits
		switch p.Name {
		case "fedadagrad":
			nv[j] = satAdd(v[j], g2)
		case "fedadam":
			nv[j] = satAdd(mulFix(p.Beta2, v[j], f), mulFix(one-p.Beta2, g2, f))
		case "fedyogi":
			s := mulFix(one-p.Beta2, g2, f)
			switch {
			case v[j] > g2:
				nv[j] = v[j] - s
			case v[j] < g2:
				nv[j] = satAdd(v[j], s)
			default:
				nv[j] = v[j]
			}
		}
		if nv[j] < 0 {
			nv[j] = 0
		}
		den := satAdd(int64(isqrt128(0, uint64(nv[j]))), p.Tau)
		out[j] = divFix(mulFix(p.LR, nm[j], f), den, f)
	}
}

// mulFix returns a·b / 2^f, exactly rounded half away from zero, saturated.
func mulFix(a, b int64, f uint32) int64 {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(absU(a), absU(b))
	return roundShift(hi, lo, f, neg)
}

// roundShift returns ±(hi:lo) / 2^f rounded half away from zero, saturated.
func roundShift(hi, lo uint64, f uint32, neg bool) int64 {
	if f > 0 {
		half := uint64(1) << (f - 1)
		var c uint64
		lo, c = bits.Add64(lo, half, 0)
		hi += c
		lo = lo>>f | hi<<(64-f)
		hi >>= f
	}
	if hi != 0 || lo > math.MaxInt64 {
		if neg {
			return math.MinInt64 + 1
		}
		return math.MaxInt64
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}

// divFix returns a·2^f / b for b > 0, rounded half away from zero, saturated.
func divFix(a, b int64, f uint32) int64 {
	if b <= 0 {
		return 0
	}
	neg := a < 0
	x := absU(a)
	hi, lo := x>>(64-f), x<<f
	if f == 0 {
		hi, lo = 0, x
	}
	if hi >= uint64(b) {
		if neg {
			return math.MinInt64 + 1
		}
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, uint64(b))
	if r >= uint64(b)-r {
		q++
	}
	if q > math.MaxInt64 {
		q = math.MaxInt64
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// isqrt128 is the integer square root of hi:lo, by Newton's method from
// above, in integers only.
func isqrt128(hi, lo uint64) uint64 {
	if hi == 0 && lo == 0 {
		return 0
	}
	// Start from a power of two at or above the root.
	n := 128 - bits.LeadingZeros64(hi)
	if hi == 0 {
		n = 64 - bits.LeadingZeros64(lo)
	}
	shift := uint((n + 1) / 2)
	var x uint64
	if shift >= 64 {
		x = math.MaxUint64
	} else {
		x = uint64(1) << shift
	}
	for {
		// y = (x + N/x) / 2. From above, x ≥ √N, so N/x ≤ x fits in 64
		// bits, except when x = 2^64−1 < √N (N > (2^64−1)²): then the
		// root, below 2^64, is x itself.
		if hi >= x {
			return x
		}
		q, _ := bits.Div64(hi, lo, x)
		y := (x >> 1) + (q >> 1) + (x & q & 1)
		if y >= x {
			return x
		}
		x = y
	}
}

func satAdd(a, b int64) int64 {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		if a > 0 {
			return math.MaxInt64
		}
		return math.MinInt64 + 1
	}
	return s
}
