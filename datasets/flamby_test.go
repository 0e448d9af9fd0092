package datasets

import (
	"math"
	"testing"
)

// TestLoadHeartFLamby: FLamby's fixed split gives 104/89/16/45 test rows,
// every row lands once, and each hospital's training columns are z-scored
// with its own statistics; for pooled training, the union of the training
// rows is z-scored with the pooled statistics and the test rows as before,
// per hospital; HoldOut carves a stratified, disjoint,
// seed-determined share of the training rows.
func TestLoadHeartFLamby(t *testing.T) {
	dir := FindDir("")
	if dir == "" {
		t.Fatalf("no data: set %s or keep ../shared/datasets beside the checkout", EnvData)
	}
	fed, err := LoadHeartFLamby(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"cleveland": {199, 104}, "hungary": {172, 89}, "switzerland": {30, 16}, "va": {85, 45}}
	for _, h := range fed.Hospitals {
		if got := [2]int{h.Train.Len(), h.Test.Len()}; got != want[h.Name] {
			t.Errorf("%s: %v train/test rows, want %v", h.Name, got, want[h.Name])
		}
		for j := range fed.Features {
			var s float64
			for _, row := range h.Train.X {
				s += row[j]
			}
			if m := s / float64(h.Train.Len()); math.Abs(m) > 1e-9 {
				t.Errorf("%s column %s: training mean %v after scaling", h.Name, fed.Features[j], m)
			}
		}
	}
	pooled, tests, err := LoadHeartFLambyPooled(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkPooled(t, fed, pooled, tests)
	a, err := fed.HoldOut(0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := fed.HoldOut(0.2, 7)
	c, _ := fed.HoldOut(0.2, 8)
	same, differ := true, false
	for i, h := range a.Hospitals {
		if h.Train.Len()+h.Test.Len() != fed.Hospitals[i].Train.Len() {
			t.Errorf("%s: %d+%d rows after the hold-out, from %d", h.Name, h.Train.Len(), h.Test.Len(), fed.Hospitals[i].Train.Len())
		}
		if v := float64(h.Test.Len()) / float64(fed.Hospitals[i].Train.Len()); v < 0.15 || v > 0.25 {
			t.Errorf("%s: validation share %.2f", h.Name, v)
		}
		tr := fed.Hospitals[i].Train
		twoClasses := tr.Positives() > 1 && tr.Len()-tr.Positives() > 1 // switzerland trains on positives only
		if twoClasses && (h.Test.Positives() == 0 || h.Test.Positives() == h.Test.Len()) {
			t.Errorf("%s: validation rows of one class only", h.Name)
		}
		for k := range h.Test.X {
			same = same && &h.Test.X[k][0] == &b.Hospitals[i].Test.X[k][0]
			differ = differ || k >= c.Hospitals[i].Test.Len() || &h.Test.X[k][0] != &c.Hospitals[i].Test.X[k][0]
		}
	}
	if !same || !differ {
		t.Errorf("HoldOut: same seed same rows %v, other seed other rows %v", same, differ)
	}
	if _, err := fed.HoldOut(1, 7); err == nil {
		t.Error("a validation share of 1 was accepted")
	}
}

// checkPooled: pooled holds every training row of ref once, z-scored with
// the pooled statistics (not its hospital's), and tests are ref's test
// rows, z-scored per hospital as ref's are.
func checkPooled(t *testing.T, ref *Federation, pooled Table, tests []Hospital) {
	t.Helper()
	rows := 0
	for _, h := range ref.Hospitals {
		rows += h.Train.Len()
	}
	if pooled.Len() != rows {
		t.Errorf("pooled: %d rows, want %d", pooled.Len(), rows)
	}
	for j := range ref.Features {
		var s float64
		for _, row := range pooled.X {
			s += row[j]
		}
		if m := s / float64(pooled.Len()); math.Abs(m) > 1e-9 {
			t.Errorf("pooled column %s: training mean %v after scaling", ref.Features[j], m)
		}
	}
	if first := pooled.X[0][0]; first == ref.Hospitals[0].Train.X[0][0] {
		t.Errorf("pooled row 0 is scaled as its hospital's (%v): want the pooled statistics", first)
	}
	for i, h := range tests {
		if h.Name != ref.Hospitals[i].Name || h.Test.Len() != ref.Hospitals[i].Test.Len() {
			t.Fatalf("pooled tests: %s with %d rows, want %s with %d", h.Name, h.Test.Len(), ref.Hospitals[i].Name, ref.Hospitals[i].Test.Len())
		}
		for k, row := range h.Test.X {
			for j, v := range row {
				if v != ref.Hospitals[i].Test.X[k][j] {
					t.Fatalf("pooled tests: %s row %d column %d is %v, its hospital's scaling gives %v", h.Name, k, j, v, ref.Hospitals[i].Test.X[k][j])
				}
			}
		}
	}
}
