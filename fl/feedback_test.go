package fl

import (
	"testing"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestUpdateVerdict: a hospital's honest first step helps another's rows
// (negative), its opposite harms them (positive, the same size), a step
// too small to tell apart on the rows is no opinion (0), and rows of one
// class are refused.
func TestUpdateVerdict(t *testing.T) {
	fed := datasets.Synthetic(7)
	a, b := fed.Hospitals[0], fed.Hospitals[1]
	spec := pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: uint32(fed.NumFeatures())}
	w := make([]float64, fed.NumFeatures()+1)
	local, err := Train(spec, w, a.Train, DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	delta := make([]float64, len(w))
	neg := make([]float64, len(w))
	tiny := make([]float64, len(w))
	for i := range w {
		delta[i] = local[i] - w[i]
		neg[i] = -delta[i]
		tiny[i] = delta[i] * 1e-9
	}
	help, err := UpdateVerdict(spec, w, delta, b.Train)
	if err != nil {
		t.Fatal(err)
	}
	harm, err := UpdateVerdict(spec, w, neg, b.Train)
	if err != nil {
		t.Fatal(err)
	}
	if help >= 0 || harm != -help {
		t.Fatalf("verdicts: honest step %d, its opposite %d; want negative and its negation", help, harm)
	}
	if v, err := UpdateVerdict(spec, w, tiny, b.Train); err != nil || v != 0 {
		t.Fatalf("a step of 1e-9: verdict %d, %v; want 0 (no opinion)", v, err)
	}
	// From a trained model, what an update does to the model's confidence
	// (its component along the weights) is no part of the verdict: less
	// confidence alone is no opinion, and added to a turn it changes
	// nothing.
	shrink, turn := make([]float64, len(w)), make([]float64, len(w))
	for i := range local {
		shrink[i] = -0.5 * local[i]
	}
	shrink[len(w)-1] = 0.3 // the bias is refitted anyway
	second, err := Train(spec, local, b.Train, DefaultTrainConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range local {
		turn[i] = second[i] - local[i]
	}
	if v, err := UpdateVerdict(spec, local, shrink, fed.Hospitals[2].Train); err != nil || v != 0 {
		t.Fatalf("an update that only shrinks the model: verdict %d, %v; want 0", v, err)
	}
	both := make([]float64, len(w))
	for i := range both {
		both[i] = turn[i] + 3*shrink[i]
	}
	v1, err1 := UpdateVerdict(spec, local, turn, fed.Hospitals[2].Train)
	v2, err2 := UpdateVerdict(spec, local, both, fed.Hospitals[2].Train)
	if err1 != nil || err2 != nil || v1 == 0 || v1 != v2 {
		t.Fatalf("a turn: verdict %d (%v); with a shrink added %d (%v); want the same, not 0", v1, err1, v2, err2)
	}
	one := datasets.Table{X: b.Train.X[:3], Y: []float64{1, 1, 1}}
	if _, err := UpdateVerdict(spec, w, delta, one); err == nil {
		t.Fatal("rows of one class: no error")
	}
	if _, err := UpdateVerdict(spec, w, delta[:2], b.Train); err == nil {
		t.Fatal("an update of the wrong length: no error")
	}
}

func TestOrthogonal(t *testing.T) {
	for _, c := range []struct {
		name       string
		w, d, want []float64
	}{
		{"zero weights", []float64{0, 0, 5}, []float64{1, 2, 3}, []float64{1, 2, 3}},
		{"along the weights", []float64{1, 1, 5}, []float64{2, 2, 3}, []float64{0, 0, 3}},
		{"across them", []float64{1, 0, 5}, []float64{0, 2, 3}, []float64{0, 2, 3}},
		{"both", []float64{1, 0, 5}, []float64{-4, 2, 3}, []float64{0, 2, 3}},
		{"empty", nil, nil, nil},
	} {
		got := Orthogonal(c.w, c.d)
		if len(got) != len(c.want) {
			t.Fatalf("%s: %v, want %v", c.name, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}
