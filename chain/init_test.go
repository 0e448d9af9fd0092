package chain

import (
	"slices"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

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
	want, _ := protocol.DrawInitialModel(spec.Model, spec.FracBits)
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
