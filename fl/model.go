package fl

import (
	"fmt"
	"math"

	"github.com/fedledger/fedledger/datasets"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// InitParams returns a task's initial parameters as floats: the one
// deterministic draw the chain makes for a task that leaves its initial
// model empty (protocol.DrawInitialModel), at scale 2^-fracBits. Zeros
// for logistic regression; integer Glorot weights for an MLP.
func InitParams(spec pb.ModelSpec, fracBits uint32) ([]float64, error) {
	q, err := protocol.DrawInitialModel(spec, fracBits)
	if err != nil {
		return nil, err
	}
	return Dequantize(q, fracBits), nil
}

// Logit returns the model's logit for one row, in plain Go (the inference
// path; training runs on Gorgonia).
func Logit(spec pb.ModelSpec, params, x []float64) float64 {
	d := int(spec.InputDim)
	switch spec.Arch {
	case pb.ArchMLP:
		h := int(spec.HiddenDim)
		w1, b1 := params[:d*h], params[d*h:d*h+h]
		w2, b2 := params[d*h+h:d*h+2*h], params[d*h+2*h]
		z := b2
		for k := 0; k < h; k++ {
			a := b1[k]
			for j := 0; j < d; j++ {
				a += x[j] * w1[j*h+k]
			}
			if a > 0 {
				z += a * w2[k]
			}
		}
		return z
	default:
		z := params[d]
		for j := 0; j < d; j++ {
			z += x[j] * params[j]
		}
		return z
	}
}

// Metrics are a model's results on a table.
type Metrics struct {
	N        int
	Accuracy float64 // at threshold 0.5
	Loss     float64 // mean binary cross-entropy
}

// Evaluate scores the model on t.
func Evaluate(spec pb.ModelSpec, params []float64, t datasets.Table) (Metrics, error) {
	n, err := spec.NumParams()
	if err != nil {
		return Metrics{}, err
	}
	if len(params) != n {
		return Metrics{}, fmt.Errorf("fl: %d parameters for a model of %d", len(params), n)
	}
	m := Metrics{N: t.Len()}
	if m.N == 0 {
		return m, nil
	}
	correct := 0
	for i, x := range t.X {
		z := Logit(spec, params, x)
		y := t.Y[i]
		if (z >= 0) == (y == 1) {
			correct++
		}
		// log(1+e^z) - y z, computed stably.
		m.Loss += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - y*z
	}
	m.Accuracy = float64(correct) / float64(m.N)
	m.Loss /= float64(m.N)
	return m, nil
}

// ToProto converts metrics to the chain's integer form (millionths).
func (m Metrics) ToProto() pb.Metrics {
	return pb.Metrics{
		NumExamples: uint64(m.N),
		AccuracyPpm: uint64(math.Round(m.Accuracy * 1e6)),
		LossPpm:     uint64(math.Round(math.Min(m.Loss, 1e6) * 1e6)),
	}
}
