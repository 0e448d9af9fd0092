package aggregator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sqMatrix builds a symmetric squared-distance matrix from the upper
// triangle given row by row.
func sqMatrix(upper ...[]uint64) [][]uint128 {
	m := newMatrix(len(upper) + 1)
	for i, row := range upper {
		for j, v := range row {
			k := i + 1 + j
			m[i][k], m[k][i] = uint128{lo: v}, uint128{lo: v}
		}
	}
	return m
}

func TestAlikeOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		sq   [][]uint128
		want []int
	}{
		{"none", nil, []int{}},
		{"two updates: nothing to compare with", sqMatrix([]uint64{0}), []int{-1, -1}},
		{"typical distance 0", sqMatrix([]uint64{0, 0}, []uint64{0}), []int{-1, -1, -1}},
		// Four apart (squared distances 100), the fifth at 25 of the
		// second: 16·25 > 100, kept; at 6: 16·6 ≤ 100, alike.
		{"a quarter, exactly", sqMatrix(
			[]uint64{100, 100, 100, 100},
			[]uint64{100, 100, 25},
			[]uint64{100, 100},
			[]uint64{100}), []int{-1, -1, -1, -1, -1}},
		{"within a quarter", sqMatrix(
			[]uint64{100, 100, 100, 100},
			[]uint64{100, 100, 6},
			[]uint64{100, 100},
			[]uint64{100}), []int{-1, -1, -1, -1, 1}},
		// Three alike (1 apart) among four apart: the first of them is
		// kept, the other two are alike to it, not to each other.
		{"a group counts once", sqMatrix(
			[]uint64{100, 100, 100, 100, 100, 100},
			[]uint64{100, 100, 100, 100, 100},
			[]uint64{100, 100, 100, 100},
			[]uint64{100, 100, 100},
			[]uint64{1, 1},
			[]uint64{1}), []int{-1, -1, -1, -1, -1, 4, 4}},
		// Three far from everyone and from each other cannot raise the
		// typical distance: the honest pair at 9 stays kept (a plain
		// median over pairs would be 10⁶, and 16·9 ≤ 10⁶).
		{"a far minority does not move the yardstick", sqMatrix(
			[]uint64{9, 100, 100, 1e6, 1e6, 1e6},
			[]uint64{100, 100, 1e6, 1e6, 1e6},
			[]uint64{100, 1e6, 1e6, 1e6},
			[]uint64{1e6, 1e6, 1e6},
			[]uint64{1e6, 1e6},
			[]uint64{1e6}), []int{-1, -1, -1, -1, -1, -1, -1}},
		{"saturated distances", [][]uint128{
			{{}, {^uint64(0), ^uint64(0)}, {1 << 60, 0}},
			{{^uint64(0), ^uint64(0)}, {}, {^uint64(0), ^uint64(0)}},
			{{1 << 60, 0}, {^uint64(0), ^uint64(0)}, {}}}, []int{-1, -1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := alikeOf(tc.sq); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("alikeOf = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSketchDistance: the count sketch's squared distances are within a
// few percent of the exact ones (its relative spread is √(2/1024) ≈ 4.4 %;
// 20 % is more than four of it), with any seed, and values past ±2^31 are
// clamped, not wrapped.
func TestSketchDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	const d = 3 * StreamBlock
	for trial := range 20 {
		seed := r.Uint64()
		a, b := make([]int64, d), make([]int64, d)
		for j := range a {
			a[j] = r.Int64N(2_000_001) - 1_000_000
			b[j] = a[j] + r.Int64N(20_001) - 10_000
		}
		if trial%5 == 0 { // an extreme value, the same in both: no distance
			a[7], b[7] = 1<<62, 1<<62
		}
		sa, sb := make([]int64, AlikeSketch), make([]int64, AlikeSketch)
		tab := make([]int32, d)
		sketchTable(seed, 0, tab)
		addSketch(sa, a, tab)
		addSketch(sb, b, tab)
		exact, est := sqDist(a, b), sqDist(sa, sb)
		if exact.hi != 0 || est.hi != 0 {
			t.Fatalf("trial %d: distances past 2^64", trial)
		}
		ratio := float64(est.lo) / float64(exact.lo)
		if ratio < 0.8 || ratio > 1.2 {
			t.Fatalf("trial %d seed %d: sketch/exact squared distance %.3f", trial, seed, ratio)
		}
	}
}

// TestAddSketchSmall: the fast path gives addSketch's sketch for values in
// [−2^31, 2^31), the edges included, and clamp31 leaves exactly those alone.
func TestAddSketchSmall(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	v := make([]int64, 3000)
	for j := range v {
		v[j] = r.Int64N(1<<32) - 1<<31
	}
	v[0], v[1], v[2] = -1<<31, 1<<31-1, 0
	tab := make([]int32, len(v))
	sketchTable(99, 5, tab)
	a, b := make([]int64, AlikeSketch), make([]int64, AlikeSketch)
	addSketch(a, v, tab)
	addSketchSmall(b, v, tab)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("addSketchSmall differs from addSketch on small values")
	}
	// Values past the range, over a length no multiple of addSketch's
	// buffer: the same as the fast path over the clamped values.
	for j := range v {
		if j%7 == 0 {
			v[j] = r.Int64() - 1<<62
		}
	}
	clamped := make([]int64, len(v))
	for j, x := range v {
		clamped[j] = clamp31(x)
	}
	clear(a)
	clear(b)
	addSketch(a, v, tab)
	addSketchSmall(b, clamped, tab)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("addSketch differs from the fast path over clamped values")
	}
	for _, x := range []int64{-1 << 31, 1<<31 - 1, 0, -1<<31 - 1, 1 << 31, math.MaxInt64, math.MinInt64} {
		small := x >= -1<<31 && x < 1<<31
		if (clamp31(x) == x) != small {
			t.Errorf("clamp31(%d) = %d", x, clamp31(x))
		}
	}
}

// alikeRound is a round of 10 members in d coordinates: seven honest
// (a common step and as much of their own), and with colluders the last
// three send one step shaped like an honest one (sybil-noisy), with 5 %
// noise each (past the 2 % sybil distance).
func alikeRound(r *rand.Rand, d int, colluders bool) []Member {
	common, evil := make([]int64, d), make([]int64, d)
	for j := range common {
		common[j] = r.Int64N(20_001) - 10_000
		evil[j] = common[j] + r.Int64N(20_001) - 10_000
	}
	members := make([]Member, 10)
	for i := range members {
		u := make([]int64, d)
		for j := range u {
			u[j] = common[j] + r.Int64N(20_001) - 10_000
			if colluders && i >= 7 {
				u[j] = evil[j] + (r.Int64N(20_001)-10_000)*evil[j]/100_000
			}
		}
		members[i] = Member{Committed: true, Revealed: true, Update: u, Weight: 100, Score: ScoreStart}
	}
	return members
}

// TestRoundCountsAlikeOnce: colluders sending one step are counted once,
// exactly for small models and through the sketch for large ones, with no
// penalty and no reward; the honest hospitals are untouched, and a round
// without colluders drops nobody.
func TestRoundCountsAlikeOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	rule, err := NewRule("median", RuleParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []int{20, AlikeSketch, AlikeSketch + 1, 3 * StreamBlock} {
		for _, colluders := range []bool{false, true} {
			t.Run(fmt.Sprintf("d=%d colluders=%v", d, colluders), func(t *testing.T) {
				members := alikeRound(r, d, colluders)
				out, err := RunRound(members, rule, true, r.Uint64())
				if err != nil {
					t.Fatal(err)
				}
				for i, c := range out.Changes {
					alike := strings.Join(c.Reasons, "; ")
					if colluders && i >= 8 {
						if out.Weights[i] != 0 || c.Delta != 0 || alike != "alike: counted once, with the update of the task's hospital #8" {
							t.Errorf("colluder %d: weight %d, delta %d, reasons %q; want 0, 0, alike to #8", i, out.Weights[i], c.Delta, alike)
						}
						continue
					}
					if out.Weights[i] == 0 || len(c.Reasons) != 0 {
						t.Errorf("member %d: weight %d, reasons %q; want used, none", i, out.Weights[i], c.Reasons)
					}
				}
				want := 10
				if colluders {
					want = 8
				}
				if out.Used != want {
					t.Errorf("%d updates used, want %d", out.Used, want)
				}
			})
		}
	}
}
