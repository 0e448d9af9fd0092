package fl

import (
	"errors"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TrainConfig is a hospital's local training recipe.
type TrainConfig struct {
	// Optimizer is "sgd" (with optional Momentum) or "adam".
	Optimizer    string
	LearningRate float64
	Momentum     float64
	// Epochs passes over the local data; Steps, when positive, replaces
	// them with a fixed number of mini-batch steps (FLamby's setting).
	Epochs    int
	Steps     int
	BatchSize int
	// ProxMu, when positive, adds FedProx's proximal term μ/2·‖w − w_global‖²
	// to the local loss (Li et al., 2020).
	ProxMu float64
	// WeightDecay, when positive, adds the L2 penalty λ/2·‖w‖² over the
	// model's weights (not its biases) to the local loss.
	WeightDecay float64
	// Seed drives the order of the mini-batches.
	Seed uint64
}

// DefaultTrainConfig is SGD, learning rate 0.05, batch 16, one epoch.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Optimizer: "sgd", LearningRate: 0.05, Epochs: 1, BatchSize: 16}
}

// Validate checks the recipe.
func (c TrainConfig) Validate() error {
	switch {
	case c.Optimizer != "sgd" && c.Optimizer != "adam":
		return fmt.Errorf("fl: optimizer %q unknown (known: sgd, adam)", c.Optimizer)
	case !(c.LearningRate > 0) || c.LearningRate > 10:
		return fmt.Errorf("fl: learning rate %v, want in (0, 10]", c.LearningRate)
	case c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("fl: momentum %v, want in [0, 1)", c.Momentum)
	case c.Steps <= 0 && c.Epochs <= 0:
		return errors.New("fl: set Epochs or Steps to at least 1")
	case c.BatchSize <= 0:
		return fmt.Errorf("fl: batch size %d, want at least 1", c.BatchSize)
	case c.ProxMu < 0 || c.ProxMu > 1000:
		return fmt.Errorf("fl: FedProx mu %v, want in [0, 1000]", c.ProxMu)
	case c.WeightDecay < 0 || c.WeightDecay > 1000:
		return fmt.Errorf("fl: weight decay %v, want in [0, 1000]", c.WeightDecay)
	}
	return nil
}

// FromHints builds a recipe from a task's training hints.
func FromHints(h pb.TrainingHints) TrainConfig {
	c := DefaultTrainConfig()
	if h.Optimizer != "" {
		c.Optimizer = h.Optimizer
	}
	if h.LearningRateMicro > 0 {
		c.LearningRate = float64(h.LearningRateMicro) / 1e6
	}
	c.Momentum = float64(h.MomentumMicro) / 1e6
	if h.LocalEpochs > 0 {
		c.Epochs = int(h.LocalEpochs)
	}
	c.Steps = int(h.LocalSteps)
	if h.BatchSize > 0 {
		c.BatchSize = int(h.BatchSize)
	}
	c.ProxMu = float64(h.ProxMuMicro) / 1e6
	c.WeightDecay = float64(h.WeightDecayMicro) / 1e6
	return c
}

// Hints is the inverse of FromHints.
func (c TrainConfig) Hints() pb.TrainingHints {
	return pb.TrainingHints{
		Optimizer: c.Optimizer, LocalEpochs: uint32(c.Epochs), LocalSteps: uint32(c.Steps),
		BatchSize: uint32(c.BatchSize), LearningRateMicro: uint64(math.Round(c.LearningRate * 1e6)),
		MomentumMicro:    uint64(math.Round(c.Momentum * 1e6)),
		ProxMuMicro:      uint64(math.Round(c.ProxMu * 1e6)),
		WeightDecayMicro: uint64(math.Round(c.WeightDecay * 1e6)),
	}
}

// Train runs local training with Gorgonia, starting from params, and returns
// the trained parameters (params is not modified). The loss is the mean
// binary cross-entropy of the logits, log(1+e^z) − y·z, plus FedProx's
// proximal term when cfg.ProxMu > 0 and the L2 penalty on the weights when
// cfg.WeightDecay > 0.
func Train(spec pb.ModelSpec, params []float64, data datasets.Table, cfg TrainConfig) ([]float64, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, err := spec.NumParams()
	if err != nil {
		return nil, err
	}
	if len(params) != n {
		return nil, fmt.Errorf("fl: %d parameters for a model of %d", len(params), n)
	}
	rows := data.Len()
	if rows == 0 {
		return nil, errors.New("fl: no training rows")
	}
	d := int(spec.InputDim)
	if len(data.X[0]) != d {
		return nil, fmt.Errorf("fl: data has %d features, the model takes %d", len(data.X[0]), d)
	}
	bs := cfg.BatchSize
	if bs > rows {
		bs = rows
	}
	steps := cfg.Steps
	if steps <= 0 {
		steps = cfg.Epochs * ((rows + bs - 1) / bs)
	}

	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(bs, d), G.WithName("x"))
	y := G.NewVector(g, tensor.Float64, G.WithShape(bs), G.WithName("y"))
	var learn, weights G.Nodes
	var logits *G.Node
	vec := func(name string, vals []float64) *G.Node {
		return G.NewVector(g, tensor.Float64, G.WithShape(len(vals)), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(len(vals)), tensor.WithBacking(append([]float64(nil), vals...)))))
	}
	switch spec.Arch {
	case pb.ArchMLP:
		h := int(spec.HiddenDim)
		w1 := G.NewMatrix(g, tensor.Float64, G.WithShape(d, h), G.WithName("w1"),
			G.WithValue(tensor.New(tensor.WithShape(d, h), tensor.WithBacking(append([]float64(nil), params[:d*h]...)))))
		b1 := vec("b1", params[d*h:d*h+h])
		w2 := vec("w2", params[d*h+h:d*h+2*h])
		b2 := vec("b2", params[d*h+2*h:])
		pre, err := G.BroadcastAdd(G.Must(G.Mul(x, w1)), b1, nil, []byte{0})
		if err != nil {
			return nil, err
		}
		hid := G.Must(G.Rectify(pre))
		logits = G.Must(G.BroadcastAdd(G.Must(G.Mul(hid, w2)), b2, nil, []byte{0}))
		learn = G.Nodes{w1, b1, w2, b2}
		weights = G.Nodes{w1, w2}
	default:
		w := vec("w", params[:d])
		b := vec("b", params[d:])
		logits = G.Must(G.BroadcastAdd(G.Must(G.Mul(x, w)), b, nil, []byte{0}))
		learn = G.Nodes{w, b}
		weights = G.Nodes{w}
	}
	loss := G.Must(G.Mean(G.Must(G.Sub(G.Must(G.Softplus(logits)), G.Must(G.HadamardProd(y, logits))))))
	if cfg.ProxMu > 0 {
		// μ/2·Σ‖w − w_global‖² over every learnable, with w_global constant.
		off := 0
		for _, node := range learn {
			size := node.Shape().TotalSize()
			anchor := G.NewConstant(tensor.New(tensor.WithShape(node.Shape()...), tensor.WithBacking(append([]float64(nil), params[off:off+size]...))))
			off += size
			diff := G.Must(G.Sub(node, anchor))
			sq := G.Must(G.Sum(G.Must(G.HadamardProd(diff, diff))))
			loss = G.Must(G.Add(loss, G.Must(G.Mul(sq, G.NewConstant(cfg.ProxMu/2)))))
		}
	}
	if cfg.WeightDecay > 0 {
		// λ/2·Σ‖w‖² over the weights; the biases are not shrunk.
		for _, node := range weights {
			sq := G.Must(G.Sum(G.Must(G.HadamardProd(node, node))))
			loss = G.Must(G.Add(loss, G.Must(G.Mul(sq, G.NewConstant(cfg.WeightDecay/2)))))
		}
	}
	if _, err := G.Grad(loss, learn...); err != nil {
		return nil, fmt.Errorf("fl: gradient: %w", err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(learn...))
	defer vm.Close()
	var solver G.Solver
	switch {
	case cfg.Optimizer == "adam":
		solver = G.NewAdamSolver(G.WithLearnRate(cfg.LearningRate))
	case cfg.Momentum > 0:
		solver = G.NewMomentum(G.WithLearnRate(cfg.LearningRate), G.WithMomentum(cfg.Momentum))
	default:
		solver = G.NewVanillaSolver(G.WithLearnRate(cfg.LearningRate))
	}

	rng := datasets.NewRand(cfg.Seed, "minibatch")
	order := rng.Perm(rows)
	pos := 0
	xb := make([]float64, bs*d)
	yb := make([]float64, bs)
	for s := 0; s < steps; s++ {
		for i := 0; i < bs; i++ {
			if pos == rows {
				order = rng.Perm(rows)
				pos = 0
			}
			r := order[pos]
			pos++
			copy(xb[i*d:(i+1)*d], data.X[r])
			yb[i] = data.Y[r]
		}
		if err := G.Let(x, tensor.New(tensor.WithShape(bs, d), tensor.WithBacking(xb))); err != nil {
			return nil, err
		}
		if err := G.Let(y, tensor.New(tensor.WithShape(bs), tensor.WithBacking(yb))); err != nil {
			return nil, err
		}
		if err := vm.RunAll(); err != nil {
			return nil, fmt.Errorf("fl: training step %d: %w", s, err)
		}
		if err := solver.Step(G.NodesToValueGrads(learn)); err != nil {
			return nil, fmt.Errorf("fl: solver step %d: %w", s, err)
		}
		vm.Reset()
	}
	out := make([]float64, 0, n)
	for _, node := range learn {
		out = append(out, node.Value().Data().([]float64)...)
	}
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("fl: training diverged (parameter %d is %v); lower the learning rate", i, v)
		}
	}
	return out, nil
}
