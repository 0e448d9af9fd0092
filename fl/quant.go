package fl

import (
	"fmt"
	"math"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Quantize maps floats to fixed point: round(x·2^fracBits), halves away from
// zero, clamped to the width's range. NaN becomes 0.
func Quantize(x []float64, fracBits uint32, width pb.Width) []int64 {
	lo, hi := width.Bounds()
	scale := math.Ldexp(1, int(fracBits))
	out := make([]int64, len(x))
	for i, v := range x {
		q := math.Round(v * scale)
		switch {
		case math.IsNaN(q):
			q = 0
		case q <= float64(lo):
			out[i] = lo
			continue
		case q >= float64(hi):
			out[i] = hi
			continue
		}
		out[i] = int64(q)
	}
	return out
}

// Dequantize maps fixed point back to floats (exactly, for |q| < 2^53).
func Dequantize(q []int64, fracBits uint32) []float64 {
	out := make([]float64, len(q))
	for i, v := range q {
		out[i] = math.Ldexp(float64(v), -int(fracBits))
	}
	return out
}

// ModelParams returns a global model's parameters as floats.
func ModelParams(m *pb.GlobalModel) ([]float64, error) {
	vals, err := m.Weights.Values()
	if err != nil {
		return nil, fmt.Errorf("fl: global model of round %d: %w", m.Round, err)
	}
	return Dequantize(vals, m.Weights.FracBits), nil
}

// EncodeUpdate quantizes Δ = local − global and returns the encoded Vector
// a hospital commits to and reveals.
func EncodeUpdate(local, global []float64, fracBits uint32, width pb.Width) ([]byte, error) {
	if len(local) != len(global) {
		return nil, fmt.Errorf("fl: local model has %d parameters, global %d", len(local), len(global))
	}
	delta := make([]float64, len(local))
	for i := range local {
		delta[i] = local[i] - global[i]
	}
	v, err := pb.NewVector(fracBits, width, Quantize(delta, fracBits, width))
	if err != nil {
		return nil, err
	}
	return v.Marshal()
}
