package aggregator

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestIsqrt128(t *testing.T) {
	r := splitmix(5)
	cases := [][2]uint64{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 15}, {0, 16}, {0, math.MaxUint64}, {1, 0}, {math.MaxUint64 >> 2, math.MaxUint64}}
	for i := 0; i < 500; i++ {
		cases = append(cases, [2]uint64{r.next() >> (r.next() % 64), r.next()})
	}
	for _, c := range cases {
		n := new(big.Int).Lsh(new(big.Int).SetUint64(c[0]), 64)
		n.Add(n, new(big.Int).SetUint64(c[1]))
		want := new(big.Int).Sqrt(n)
		if !want.IsUint64() {
			continue
		}
		if got := isqrt128(c[0], c[1]); got != want.Uint64() {
			t.Fatalf("isqrt(%d:%d) = %d, want %s", c[0], c[1], got, want)
		}
	}
}

func TestFixedPointHelpers(t *testing.T) {
	const f = 16
	one := int64(1) << f
	if got := mulFix(one/2, 3*one, f); got != 3*one/2 {
		t.Errorf("0.5*3 = %d", got)
	}
	if got := mulFix(-one/2, 3*one, f); got != -3*one/2 {
		t.Errorf("-0.5*3 = %d", got)
	}
	if got := divFix(3*one, 2*one, f); got != 3*one/2 {
		t.Errorf("3/2 = %d", got)
	}
	if got := isqrt128(0, uint64(4*one*one)); got != uint64(2*one) {
		t.Errorf("sqrt(4) = %d", got)
	}
	if got := mulFix(math.MaxInt64, math.MaxInt64, f); got != math.MaxInt64 {
		t.Errorf("saturation: %d", got)
	}
}

// TestServerStepFloatReference: every optimizer tracks a float64 reference
// implementation of the same formulas within fixed-point rounding.
func TestServerStepFloatReference(t *testing.T) {
	const f = 20
	one := float64(int64(1) << f)
	q := func(x float64) int64 { return int64(math.Round(x * one)) }
	for _, name := range ServerOptimizers {
		p := ServerOptParams{Name: name, FracBits: f, LR: q(0.1), Beta1: q(0.9), Beta2: q(0.99), Tau: q(1e-3)}
		if name == "fedavgm" {
			p.LR = q(1)
		}
		r := splitmix(11)
		var st ServerOptState
		fm, fv := make([]float64, 8), make([]float64, 8)
		for round := 0; round < 20; round++ {
			delta := make([]int64, 8)
			for j := range delta {
				delta[j] = int64(r.next()%uint64(one/10)) - int64(one/20)
			}
			step, next, err := ServerStep(p, st, delta)
			if err != nil {
				t.Fatal(err)
			}
			st = next
			for j, dq := range delta {
				g := float64(dq) / one
				var s float64
				switch name {
				case "fedavg":
					s = g
				case "fedavgm":
					fm[j] = 0.9*fm[j] + g
					s = fm[j]
				default:
					fm[j] = 0.9*fm[j] + 0.1*g
					switch name {
					case "fedadagrad":
						fv[j] += g * g
					case "fedadam":
						fv[j] = 0.99*fv[j] + 0.01*g*g
					case "fedyogi":
						fv[j] -= 0.01 * g * g * math.Copysign(1, fv[j]-g*g)
						if fv[j] < 0 {
							fv[j] = 0
						}
					}
					s = 0.1 * fm[j] / (math.Sqrt(fv[j]) + 1e-3)
				}
				if got := float64(step[j]) / one; math.Abs(got-s) > 1e-3*math.Max(1, math.Abs(s)) {
					t.Fatalf("%s round %d coord %d: step %.6f, float reference %.6f", name, round, j, got, s)
				}
			}
		}
	}
}

func TestServerOptValidate(t *testing.T) {
	one := int64(1) << 16
	for _, p := range []ServerOptParams{
		{Name: "sgd", FracBits: 16},
		{Name: "fedadam", FracBits: 16, LR: 0, Beta1: 0, Beta2: 0, Tau: 1},
		{Name: "fedadam", FracBits: 16, LR: one, Beta1: one, Beta2: 0, Tau: 1},
		{Name: "fedadam", FracBits: 16, LR: one, Beta1: 0, Beta2: 0, Tau: 0},
	} {
		if _, _, err := ServerStep(p, ServerOptState{}, []int64{1}); !errors.Is(err, ErrServerOpt) {
			t.Errorf("%+v: err %v, want ErrServerOpt", p, err)
		}
	}
}

// TestServerOptGolden pins each optimizer's exact output (see TestGolden).
func TestServerOptGolden(t *testing.T) {
	var b strings.Builder
	for _, name := range ServerOptimizers {
		const f = 16
		p := ServerOptParams{Name: name, FracBits: f, LR: 1 << 14, Beta1: 58982, Beta2: 64880, Tau: 66}
		r := splitmix(21)
		var st ServerOptState
		var last []int64
		for round := 0; round < 5; round++ {
			ups := randomUpdates(&r, 3, 257, 1<<18, 200)
			avg, err := FedAvg(ups)
			if err != nil {
				t.Fatal(err)
			}
			step, next, err := ServerStep(p, st, avg)
			if err != nil {
				t.Fatal(err)
			}
			st, last = next, step
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", name, hashValues(last), hashValues(st.M), hashValues(st.V))
	}
	checkGolden(t, "serveropt.txt", b.String())
}
