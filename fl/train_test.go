package fl

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

func TestTrainLearns(t *testing.T) {
	fed := datasets.Synthetic(1)
	h := fed.Hospitals[0]
	for _, tc := range []struct {
		name string
		spec pb.ModelSpec
		cfg  TrainConfig
	}{
		{"logreg-sgd", pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 13}, TrainConfig{Optimizer: "sgd", LearningRate: 0.1, Epochs: 5, BatchSize: 16}},
		{"logreg-momentum", pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 13}, TrainConfig{Optimizer: "sgd", LearningRate: 0.05, Momentum: 0.9, Epochs: 5, BatchSize: 16}},
		{"logreg-adam", pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 13}, TrainConfig{Optimizer: "adam", LearningRate: 0.01, Steps: 200, BatchSize: 8}},
		{"mlp-adam", pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 13, HiddenDim: 8, InitSeed: 3}, TrainConfig{Optimizer: "adam", LearningRate: 0.01, Epochs: 10, BatchSize: 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p0, err := InitParams(tc.spec, 16)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := Evaluate(tc.spec, p0, h.Train)
			p1, err := Train(tc.spec, p0, h.Train, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := Evaluate(tc.spec, p1, h.Train)
			test, _ := Evaluate(tc.spec, p1, h.Test)
			t.Logf("train loss %.3f → %.3f, test accuracy %.3f", before.Loss, after.Loss, test.Accuracy)
			if after.Loss >= before.Loss*0.8 {
				t.Fatalf("loss %.4f → %.4f: training did not learn", before.Loss, after.Loss)
			}
			if test.Accuracy < 0.7 {
				t.Fatalf("test accuracy %.3f on a separable synthetic task", test.Accuracy)
			}
			again, _ := Train(tc.spec, p0, h.Train, tc.cfg)
			for i := range again {
				if again[i] != p1[i] {
					t.Fatalf("same seed, different result at %d", i)
				}
			}
		})
	}
}

func TestTrainRejects(t *testing.T) {
	spec := pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 13}
	p, _ := InitParams(spec, 16)
	tab := datasets.Synthetic(1).Hospitals[0].Train
	for name, cfg := range map[string]TrainConfig{
		"optimizer": {Optimizer: "rmsprop", LearningRate: 0.1, Epochs: 1, BatchSize: 4},
		"lr":        {Optimizer: "sgd", LearningRate: 0, Epochs: 1, BatchSize: 4},
		"epochs":    {Optimizer: "sgd", LearningRate: 0.1, BatchSize: 4},
		"batch":     {Optimizer: "sgd", LearningRate: 0.1, Epochs: 1},
	} {
		if _, err := Train(spec, p, tab, cfg); err == nil {
			t.Errorf("%s: bad config accepted", name)
		}
	}
	if _, err := Train(spec, p[:3], tab, DefaultTrainConfig()); err == nil {
		t.Error("wrong parameter count accepted")
	}
}

func TestQuantizeRoundTrip(t *testing.T) {
	q := Quantize([]float64{0.5, -0.5, 1e12, -1e12, 1.0 / 3}, 16, pb.WIDTH_INT32)
	want := []int64{32768, -32768, 2147483647, -2147483648, 21845}
	for i := range want {
		if q[i] != want[i] {
			t.Fatalf("Quantize = %v, want %v", q, want)
		}
	}
	f := Dequantize(q[:2], 16)
	if f[0] != 0.5 || f[1] != -0.5 {
		t.Fatalf("Dequantize = %v", f)
	}
}

// TestProxTermPullsTowardStart: with a large μ the trained model stays
// closer to where it started.
func TestProxTermPullsTowardStart(t *testing.T) {
	spec := pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 13, HiddenDim: 4, InitSeed: 1}
	p0, _ := InitParams(spec, 16)
	tab := datasets.Synthetic(2).Hospitals[1].Train
	dist := func(mu float64) float64 {
		cfg := TrainConfig{Optimizer: "sgd", LearningRate: 0.05, Epochs: 5, BatchSize: 8, ProxMu: mu}
		p, err := Train(spec, p0, tab, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for i := range p {
			d += (p[i] - p0[i]) * (p[i] - p0[i])
		}
		return d
	}
	free, prox := dist(0), dist(5)
	if !(prox < free*0.5) {
		t.Fatalf("squared distance from start: %.4f with mu=5, %.4f without", prox, free)
	}
}

// TestWeightDecayShrinksWeights: with a large λ the trained logistic
// regression's weights are smaller, and its bias is not held at zero.
func TestWeightDecayShrinksWeights(t *testing.T) {
	spec := pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 13}
	p0 := make([]float64, 14)
	tab := datasets.Synthetic(2).Hospitals[1].Train
	norm := func(wd float64) (float64, float64) {
		cfg := TrainConfig{Optimizer: "sgd", LearningRate: 0.05, Epochs: 5, BatchSize: 8, WeightDecay: wd}
		p, err := Train(spec, p0, tab, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for _, w := range p[:13] {
			d += w * w
		}
		return d, p[13]
	}
	free, _ := norm(0)
	decayed, bias := norm(1)
	if !(decayed < free*0.5) || bias == 0 {
		t.Fatalf("squared weight norm %.4f with λ=1, %.4f without; bias %v", decayed, free, bias)
	}
	// An MLP: both weight matrices shrink (the biases b1, b2 are left out).
	mlp := pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 13, HiddenDim: 4, InitSeed: 1}
	m0, _ := InitParams(mlp, 16)
	mlpNorm := func(wd float64) float64 {
		p, err := Train(mlp, m0, tab, TrainConfig{Optimizer: "sgd", LearningRate: 0.05, Epochs: 5, BatchSize: 8, WeightDecay: wd})
		if err != nil {
			t.Fatal(err)
		}
		d := 0.0
		for _, w := range append(p[:13*4:13*4], p[13*4+4:13*4+8]...) { // w1, then w2
			d += w * w
		}
		return d
	}
	if free, decayed := mlpNorm(0), mlpNorm(1); !(decayed < free*0.5) {
		t.Errorf("MLP: squared weight norm %.4f with λ=1, %.4f without", decayed, free)
	}
	if c := (TrainConfig{Optimizer: "sgd", LearningRate: 0.1, Epochs: 1, BatchSize: 1, WeightDecay: -1}); c.Validate() == nil {
		t.Error("negative weight decay accepted")
	}
	if h := (TrainConfig{Optimizer: "sgd", LearningRate: 0.1, Epochs: 1, BatchSize: 1, WeightDecay: 0.01}).Hints(); FromHints(h).WeightDecay != 0.01 {
		t.Errorf("weight decay through the task's hints: %v", FromHints(h).WeightDecay)
	}
}

// TestCanTrain: a task whose model does not fit the hospital's data is
// refused with ErrCannotTrain and a message naming both sides.
func TestCanTrain(t *testing.T) {
	task := &pb.Task{Id: 7, Spec: pb.TaskSpec{Model: pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 2}}}
	two := datasets.Table{X: [][]float64{{1, 2}, {3, 4}}, Y: []float64{0, 1}}
	three := datasets.Table{X: [][]float64{{1, 2, 3}}, Y: []float64{1}}
	for _, c := range []struct {
		name string
		data datasets.Hospital
		want string // "" for no error
	}{
		{"fits", datasets.Hospital{Train: two, Test: two}, ""},
		{"no test rows", datasets.Hospital{Train: two}, ""},
		{"no rows", datasets.Hospital{Test: two}, "has no training rows"},
		{"training features", datasets.Hospital{Train: three, Test: two}, "takes 2 inputs; h's training row 1 has 3 features"},
		{"test features", datasets.Hospital{Train: two, Test: three}, "h's test row 1 has 3 features"},
	} {
		err := CanTrain(task, "h", c.data)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.Is(err, ErrCannotTrain) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want ErrCannotTrain saying %q", c.name, err, c.want)
		}
	}
}
