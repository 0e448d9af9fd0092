package sim

import (
	"bytes"
	"context"
	"math"
	"sync"
	"testing"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestAttacksSmall: every attack on a small case.
func TestAttacksSmall(t *testing.T) {
	ctx := context.Background()
	delta := []float64{0.5, -1, 2}
	prev := []float64{0.1, 0.2, 0.3}
	solo := map[string]func([]float64) bool{
		"label-flip":       func(o []float64) bool { return eq(o, delta) },
		"commit-no-reveal": func(o []float64) bool { return eq(o, delta) },
		"sign-flip":        func(o []float64) bool { return eq(o, []float64{-0.5, 1, -2}) },
		"scale":            func(o []float64) bool { return eq(o, []float64{5, -10, 20}) },
		"free-rider":       func(o []float64) bool { return eq(o, []float64{0, 0, 0}) },
		"free-rider-echo":  func(o []float64) bool { return eq(o, prev) },
		"noise":            func(o []float64) bool { return !eq(o, delta) && l2(o) > 0.5 },
	}
	for name, ok := range solo {
		a := &Attack{Name: name, Seed: 1}
		out, err := a.Transform(ctx, "h", Step{Task: 1, Round: 1, Delta: delta, PrevStep: prev})
		if err != nil || !ok(out) {
			t.Errorf("%s: %v %v", name, out, err)
		}
	}
	h := datasets.Hospital{Train: datasets.Table{X: [][]float64{{1}, {2}}, Y: []float64{0, 1}}}
	if f := (&Attack{Name: "label-flip"}).PrepareData(h); f.Train.Y[0] != 1 || f.Train.Y[1] != 0 || h.Train.Y[0] != 0 {
		t.Errorf("label-flip data: %v (original %v)", f.Train.Y, h.Train.Y)
	}
	var none *Attack
	if out, _ := none.Transform(ctx, "h", Step{Task: 1, Round: 1, Delta: delta, PrevStep: prev}); !eq(out, delta) {
		t.Error("no attack changed the update")
	}

	// Colluding groups of three.
	honest := [][]float64{{1, 2, 3}, {3, 2, 1}, {2, 2, 2}}
	for _, name := range []string{"sybil", "alie", "ipm"} {
		outs := collude(t, name, honest)
		switch name {
		case "sybil":
			if d := dist(outs[0], outs[1]); d == 0 || d > 0.05*l2(outs[0]) {
				t.Errorf("sybil updates %v: not near-identical", outs)
			}
		case "alie":
			// μ = (2,2,2), σ = (0.816, 0, 0.816), z = Φ⁻¹(0.7) ≈ 0.524.
			if math.Abs(outs[0][0]-(2-0.524*0.8165)) > 0.01 || outs[0][1] != 2 || !eq(outs[0], outs[2]) {
				t.Errorf("alie: %v", outs)
			}
		case "ipm":
			if !eq(outs[1], []float64{-1, -1, -1}) {
				t.Errorf("ipm: %v", outs)
			}
		}
	}
	if _, err := (&Attack{Name: "sybil"}).Transform(ctx, "h", Step{Task: 1, Round: 1, Delta: delta, PrevStep: prev}); err == nil {
		t.Error("sybil without a group accepted")
	}
	if _, err := ParseAttacks([]string{"scale:3", "sybil", "nope:1"}); err == nil {
		t.Error("unknown attack accepted")
	}
	if m, err := ParseAttacks([]string{"scale:3", "sybil"}); err != nil || m["scale"] != 3 || m["sybil"] != 1 {
		t.Errorf("ParseAttacks = %v, %v", m, err)
	}
}

func eq(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

// TestStrongerAttacks checks each attack added for robustness evaluation
// against its definition.
func TestStrongerAttacks(t *testing.T) {
	ctx := context.Background()
	delta := []float64{0.5, -1, 2}
	for round, want := range map[uint32][]float64{1: delta, 2: {-1.5, 3, -6}, 3: delta, 5: {-1.5, 3, -6}} {
		out, err := (&Attack{Name: "on-off"}).Transform(ctx, "h", Step{Task: 1, Round: round, Delta: delta})
		if err != nil || !eq(out, want) {
			t.Errorf("on-off round %d: %v %v, want %v", round, out, err, want)
		}
	}
	global := []float64{1, 2, 3}
	a, _ := (&Attack{Name: "mpaf", Seed: 5}).Transform(ctx, "a", Step{Task: 1, Round: 1, Delta: delta, Global: global})
	b, _ := (&Attack{Name: "mpaf", Seed: 5}).Transform(ctx, "b", Step{Task: 1, Round: 4, Delta: []float64{9, 9, 9}, Global: []float64{0, 0, 0}})
	for j := range a {
		if math.Abs(a[j]+global[j]-b[j]) > 1e-12 {
			t.Fatalf("mpaf: fake clients pull towards different base models: %v + %v vs %v", a, global, b)
		}
	}

	// Colluding groups of four, over updates of 50 values.
	rng := datasets.NewRand(9, "benign")
	honest := make([][]float64, 4)
	for i := range honest {
		honest[i] = make([]float64, 50)
		for j := range honest[i] {
			honest[i][j] = 1 + 0.3*rng.NormFloat64()
		}
	}
	mean := make([]float64, 50)
	for _, u := range honest {
		for j, v := range u {
			mean[j] += v / 4
		}
	}
	maxPair, maxSum, meanNorm := 0.0, 0.0, 0.0
	for _, u := range honest {
		s := 0.0
		for _, w := range honest {
			maxPair = math.Max(maxPair, dist(u, w))
			s += dist(u, w) * dist(u, w)
		}
		maxSum = math.Max(maxSum, s)
		meanNorm += l2(u) / 4
	}
	mm := collude(t, "min-max", honest)[0]
	if far := func() float64 {
		m := 0.0
		for _, u := range honest {
			m = math.Max(m, dist(mm, u))
		}
		return m
	}(); far > maxPair*(1+1e-6) || far < 0.95*maxPair {
		t.Errorf("min-max: farthest benign update at %.4f, want just within the benign %.4f", far, maxPair)
	}
	ms := collude(t, "min-sum", honest)[0]
	if s := func() float64 {
		s := 0.0
		for _, u := range honest {
			s += dist(ms, u) * dist(ms, u)
		}
		return s
	}(); s > maxSum*(1+1e-6) || s < 0.95*maxSum {
		t.Errorf("min-sum: sum of squares %.4f, want just within the benign %.4f", s, maxSum)
	}
	ad := collude(t, "adaptive", honest)
	for i, u := range ad {
		cos := 0.0
		for j := range u {
			cos += u[j] * mean[j]
		}
		cos /= l2(u) * l2(mean)
		if math.Abs(cos-AdaptiveCosine) > 1e-9 || math.Abs(l2(u)/meanNorm-AdaptiveNorm) > 1e-9 {
			t.Errorf("adaptive %d: cosine %.4f, norm %.3f× (want %.2f, %.1f×)", i, cos, l2(u)/meanNorm, AdaptiveCosine, AdaptiveNorm)
		}
	}
	if dist(ad[0], ad[1]) < 0.1*l2(ad[0]) {
		t.Error("adaptive colluders sent near-identical updates")
	}
	// Fang: each coordinate 3 to 4 benign standard deviations from the
	// benign mean, against the sign of the mean; the colluders differ.
	fg := collude(t, "fang", honest)
	for i, u := range fg {
		for j, v := range u {
			var s2 float64
			for _, h := range honest {
				s2 += (h[j] - mean[j]) * (h[j] - mean[j])
			}
			sd := math.Sqrt(s2 / 4)
			if z := (mean[j] - v) / sd; z < 3-1e-9 || z > 4+1e-9 { // every benign mean here is positive
				t.Fatalf("fang %d: coordinate %d is %.3f, %.2f standard deviations below the mean %.3f; want 3 to 4", i, j, v, z, mean[j])
			}
		}
	}
	if dist(fg[0], fg[1]) == 0 {
		t.Error("fang colluders sent identical updates")
	}
	// Fang apart: fang, and each colluder's own noise of FangApart times
	// the median distance between the honest updates: the colluders end
	// up more than a quarter of that apart, the same seeds give the same
	// fang underneath.
	fa := collude(t, "fang-apart", honest)
	d0 := medianPairDist(honest)
	for i, u := range fa {
		if e := dist(u, fg[i]); math.Abs(e-FangApart*d0) > 1e-9*d0 {
			t.Errorf("fang-apart %d: %.4f from fang's update, want %.4f", i, e, FangApart*d0)
		}
	}
	if r := dist(fa[0], fa[1]) / d0; r < 0.3 {
		t.Errorf("fang-apart colluders %.2f of the honest median distance apart, want clear of a quarter", r)
	}
	sn := collude(t, "sybil-noisy", honest)
	if r := dist(sn[0], sn[1]) / l2(sn[0]); r < 0.03 || r > 0.15 {
		t.Errorf("sybil-noisy: relative distance %.3f, want about 0.07 (above the 2%% near-duplicate test)", r)
	}
}

// collude runs a colluding attack in a group of len(honest) attackers in a
// federation of 10, each with its honest update, and returns what each sends.
func collude(t *testing.T, name string, honest [][]float64) [][]float64 {
	t.Helper()
	group := NewColluders(len(honest), 10)
	outs := make([][]float64, len(honest))
	var wg sync.WaitGroup
	for i := range honest {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := &Attack{Name: name, Colluders: group, Seed: 3}
			var err error
			if outs[i], err = a.Transform(context.Background(), string(rune('a'+i)), Step{Task: 1, Round: 2, Delta: honest[i]}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	return outs
}

// TestLyingScores: an honest attacker's verdicts pass unchanged; a
// wholesale liar calls every honest update harmful and its allies'
// helpful; a targeted liar lies only about its allies and its target.
func TestLyingScores(t *testing.T) {
	ally, target, other := []byte("ally"), []byte("target"), []byte("other")
	honest := []pb.UpdateScore{{Hospital: ally, LossDiffPpm: 5}, {Hospital: other, LossDiffPpm: -7}, {Hospital: target, LossDiffPpm: -3}}
	allies := map[string]bool{"ally": true}
	for _, c := range []struct {
		name string
		a    Attack
		want []int64
	}{
		{"honest", Attack{Allies: allies}, []int64{5, -7, -3}},
		{"wholesale", Attack{LieScores: true, Allies: allies}, []int64{-fl.MaxVerdict, fl.MaxVerdict, fl.MaxVerdict}},
		{"targeted", Attack{LieScores: true, Allies: allies, LieTarget: target}, []int64{-fl.MaxVerdict, -7, fl.MaxVerdict}},
	} {
		got := hook{a: &c.a}.Scores(1, 2, honest)
		for i, s := range got {
			if s.LossDiffPpm != c.want[i] || !bytes.Equal(s.Hospital, honest[i].Hospital) {
				t.Errorf("%s: verdict %d is %d on %s, want %d", c.name, i, s.LossDiffPpm, s.Hospital, c.want[i])
			}
		}
	}
}
