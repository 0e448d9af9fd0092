package chain

import (
	"fmt"
	"slices"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestDrawInitialModel pins the drawn weights (a golden vector: any change
// would fork a chain replaying old tasks), their bounds, and the zero biases.
func TestDrawInitialModel(t *testing.T) {
	spec := pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 3, HiddenDim: 2, InitSeed: 42}
	w, err := DrawInitialModel(spec, 16)
	if err != nil {
		t.Fatal(err)
	}
	// 3×2 weights, 2 biases, 2 output weights, 1 bias.
	want := "[25821 31812 470 -15481 -5580 -1393 0 0 73456 41041 0]"
	if got := fmt.Sprint(w); got != want {
		t.Errorf("drawn model %s, want %s", got, want)
	}
	a1, a2 := int64(isqrt(6<<32/5)), int64(isqrt(6<<32/3))
	for i, v := range w {
		bound := a1
		switch i {
		case 8, 9:
			bound = a2
		case 6, 7, 10:
			continue
		}
		if v < -bound || v > bound {
			t.Errorf("weight %d = %d outside ±%d", i, v, bound)
		}
	}
	if w[6] != 0 || w[7] != 0 || w[10] != 0 {
		t.Errorf("biases not zero: %v", w)
	}
	again, _ := DrawInitialModel(spec, 16)
	if !slices.Equal(w, again) {
		t.Error("two draws differ")
	}
	for _, n := range []uint64{0, 1, 2, 3, 4, 15, 16, 17, 1<<62 + 12345, 1<<64 - 1} {
		r := isqrt(n)
		if r*r > n || (r+1)*(r+1) <= n && r+1 != 1<<32 {
			t.Errorf("isqrt(%d) = %d", n, r)
		}
	}
}

// TestDrawnInitialModelOnChain: a task created without initial weights
// gets the drawn model as its round-0 model, and its stored spec keeps the
// shape only.
func TestDrawnInitialModelOnChain(t *testing.T) {
	h := newHarness(t, 2)
	spec := testSpec(h, "h1")
	spec.Model.InitSeed = 9
	spec.InitialModel = pb.Vector{}
	h.mustOK(h.block(h.tx("researcher", createTask(spec))))
	var m pb.GlobalModel
	if err := m.Unmarshal(h.query("/model/1/0")); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Weights.Values()
	want, _ := DrawInitialModel(spec.Model, spec.FracBits)
	if !slices.Equal(got, want) || len(got) != testDim {
		t.Errorf("round-0 model %v, want %v", got, want)
	}
	var task pb.Task
	if err := task.Unmarshal(h.query("/task/1")); err != nil {
		t.Fatal(err)
	}
	if task.Spec.InitialModel.Len != testDim || len(task.Spec.InitialModel.Data) != 0 {
		t.Errorf("stored initial model: len %d, %d data bytes; want the shape only", task.Spec.InitialModel.Len, len(task.Spec.InitialModel.Data))
	}
}
