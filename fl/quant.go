package fl

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
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

// EncodeTaskUpdate encodes Δ = local − global the way the task's
// compression asks:
//   - top-k (topk_ppm > 0) keeps the chain's TopK(spec) coordinates of
//     largest |Δ| (ties to the lower index) and sends them sparse;
//   - int8 and int16 quantize each tensor with its own scale, the smallest
//     integer s (at the task's scale) with max|Δ|·2^frac_bits/s within the
//     width, rounding to nearest;
//   - otherwise values are int32 at the task's scale, as EncodeUpdate.
//
// Top-k and quantization drop information: what is not sent is lost
// (no error feedback across rounds).
func EncodeTaskUpdate(spec *pb.TaskSpec, local, global []float64) ([]byte, error) {
	v, err := TaskUpdateVector(spec, local, global)
	if err != nil {
		return nil, err
	}
	return v.Marshal()
}

// TaskUpdateVector is EncodeTaskUpdate before marshalling.
func TaskUpdateVector(spec *pb.TaskSpec, local, global []float64) (pb.Vector, error) {
	if len(local) != len(global) || len(local) != int(spec.InitialModel.Len) {
		return pb.Vector{}, fmt.Errorf("fl: local model has %d parameters, global %d, the task %d", len(local), len(global), spec.InitialModel.Len)
	}
	delta := make([]float64, len(local))
	for i := range local {
		delta[i] = local[i] - global[i]
		if math.IsNaN(delta[i]) {
			delta[i] = 0
		}
	}
	comp := spec.Compression
	width := comp.Width
	if width == pb.WIDTH_UNSPECIFIED {
		width = pb.WIDTH_INT32
	}
	var idx []uint32
	if comp.TopkPpm > 0 {
		idx = topK(delta, int(protocol.TopK(spec)))
	}
	q := delta // the carried values
	if idx != nil {
		q = make([]float64, len(idx))
		for k, i := range idx {
			q[k] = delta[i]
		}
	}
	count := len(q)
	if width != pb.WIDTH_INT8 && width != pb.WIDTH_INT16 {
		return pb.NewCompressedVector(spec.FracBits, width, len(delta), idx, Quantize(q, spec.FracBits, width), nil, nil)
	}
	segs, err := protocol.TensorSizes(spec.Model)
	if err != nil {
		return pb.Vector{}, err
	}
	_, qmax := width.Bounds()
	unit := math.Ldexp(1, int(spec.FracBits))
	scales := make([]int64, len(segs))
	// Per segment: max |Δ| over the carried coordinates, then the scale.
	maxAbs := make([]float64, len(segs))
	segOf := make([]int, count) // segment of carried value k
	seg, end := 0, int(segs[0])
	for k := 0; k < count; k++ {
		i := k
		if idx != nil {
			i = int(idx[k])
		}
		for i >= end {
			seg++
			end += int(segs[seg])
		}
		segOf[k] = seg
		maxAbs[seg] = math.Max(maxAbs[seg], math.Abs(q[k]))
	}
	for s := range scales {
		sc := math.Ceil(maxAbs[s] * unit / float64(qmax))
		scales[s] = int64(math.Min(math.Max(sc, 1), pb.MaxScale))
	}
	ints := make([]int64, count)
	for k, x := range q {
		r := math.Round(x * unit / float64(scales[segOf[k]]))
		ints[k] = int64(math.Max(math.Min(r, float64(qmax)), float64(-qmax)))
	}
	return pb.NewCompressedVector(spec.FracBits, width, len(delta), idx, ints, segs, scales)
}

// topK returns the indices of the k entries of largest magnitude (ties to
// the lower index), in increasing order.
func topK(x []float64, k int) []uint32 {
	k = min(k, len(x))
	order := make([]uint32, len(x))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		if c := cmp.Compare(math.Abs(x[b]), math.Abs(x[a])); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := order[:k:k]
	slices.Sort(out)
	return out
}

// DecodeUpdate returns the values an encoded update stands for, as floats.
func DecodeUpdate(bz []byte) ([]float64, error) {
	v, err := pb.DecodeVector(bz)
	if err != nil {
		return nil, err
	}
	vals, err := v.Values()
	if err != nil {
		return nil, err
	}
	return Dequantize(vals, v.FracBits), nil
}

// SplitChunks cuts an encoded update into n runs of nearly equal length
// (run i is bytes [i·len/n, (i+1)·len/n)), the chunks of a chunked reveal.
func SplitChunks(update []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = update[i*len(update)/n : (i+1)*len(update)/n]
	}
	return out
}
