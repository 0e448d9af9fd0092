package sim

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/fedledger/fedledger/datasets"
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
		out, err := a.Transform(ctx, "h", 1, 1, delta, prev)
		if err != nil || !ok(out) {
			t.Errorf("%s: %v %v", name, out, err)
		}
	}
	h := datasets.Hospital{Train: datasets.Table{X: [][]float64{{1}, {2}}, Y: []float64{0, 1}}}
	if f := (&Attack{Name: "label-flip"}).PrepareData(h); f.Train.Y[0] != 1 || f.Train.Y[1] != 0 || h.Train.Y[0] != 0 {
		t.Errorf("label-flip data: %v (original %v)", f.Train.Y, h.Train.Y)
	}
	var none *Attack
	if out, _ := none.Transform(ctx, "h", 1, 1, delta, prev); !eq(out, delta) {
		t.Error("no attack changed the update")
	}

	// Colluding groups of three.
	honest := [][]float64{{1, 2, 3}, {3, 2, 1}, {2, 2, 2}}
	for _, name := range []string{"sybil", "alie", "ipm"} {
		group := NewColluders(3, 10)
		outs := make([][]float64, 3)
		var wg sync.WaitGroup
		for i := range honest {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				a := &Attack{Name: name, Colluders: group, Seed: 3}
				outs[i], _ = a.Transform(ctx, []string{"a", "b", "c"}[i], 1, 2, honest[i], nil)
			}(i)
		}
		wg.Wait()
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
	if _, err := (&Attack{Name: "sybil"}).Transform(ctx, "h", 1, 1, delta, prev); err == nil {
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

func l2(a []float64) float64 {
	s := 0.0
	for _, v := range a {
		s += v * v
	}
	return math.Sqrt(s)
}

func dist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s)
}
