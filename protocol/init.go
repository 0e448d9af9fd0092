package protocol

import (
	"math/bits"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// DrawInitialModel is the one initial model of a task whose spec leaves
// initial_model empty: the chain stores it as the round-0 model, and the
// hospital side starts from the same integers. At scale 2^-fracBits, in
// the flat order of pb.ModelSpec.NumParams:
//
//   - logistic regression: all zeros (its loss is convex; zeros is the
//     usual start and what FLamby uses);
//   - MLP: Glorot-uniform weights from model.init_seed, biases 0. Weight
//     matrices with fan-in i and fan-out o are uniform on [-a, a] with
//     a = ⌊√(6·2^(2·fracBits)/(i+o))⌋, drawn from splitmix64 (value mod
//     2a+1).
//
// Integers only, so every node on every CPU draws the same model.
func DrawInitialModel(m pb.ModelSpec, fracBits uint32) ([]int64, error) {
	n, err := m.NumParams()
	if err != nil {
		return nil, err
	}
	if m.Arch == pb.ArchLogReg {
		return make([]int64, n), nil
	}
	out := make([]int64, 0, n)
	state := m.InitSeed
	next := func() uint64 { // splitmix64
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	weights := func(count, fanIn, fanOut uint64) {
		a := Isqrt(6 << (2 * fracBits) / (fanIn + fanOut))
		for range count {
			out = append(out, int64(next()%(2*a+1))-int64(a))
		}
	}
	zeros := func(count uint64) { out = append(out, make([]int64, count)...) }
	in, hid := uint64(m.InputDim), uint64(m.HiddenDim)
	weights(in*hid, in, hid)
	zeros(hid)
	weights(hid, hid, 1)
	zeros(1)
	return out, nil
}

// Isqrt is ⌊√n⌋.
func Isqrt(n uint64) uint64 {
	if n < 2 {
		return n
	}
	x := uint64(1) << ((bits.Len64(n) + 1) / 2) // ≥ √n
	for {
		y := (x + n/x) / 2
		if y >= x {
			return x
		}
		x = y
	}
}
