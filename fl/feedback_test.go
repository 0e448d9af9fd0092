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
	one := datasets.Table{X: b.Train.X[:3], Y: []float64{1, 1, 1}}
	if _, err := UpdateVerdict(spec, w, delta, one); err == nil {
		t.Fatal("rows of one class: no error")
	}
	if _, err := UpdateVerdict(spec, w, delta[:2], b.Train); err == nil {
		t.Fatal("an update of the wrong length: no error")
	}
}
