package fedledgerv1

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxFracBits is the largest fixed-point scale a vector may declare (a task's
// models and updates use at most 30; squared quantities twice that).
const MaxFracBits = 62

// ErrVector marks a malformed fixed-point vector.
var ErrVector = errors.New("malformed vector")

// NewVector packs values into a Vector of the given width. It fails when a
// value does not fit the width.
func NewVector(fracBits uint32, width Width, values []int64) (Vector, error) {
	if fracBits > MaxFracBits {
		return Vector{}, fmt.Errorf("%w: frac_bits %d > %d", ErrVector, fracBits, MaxFracBits)
	}
	switch width {
	case WIDTH_INT32:
		data := make([]byte, 4*len(values))
		for i, v := range values {
			if v < math.MinInt32 || v > math.MaxInt32 {
				return Vector{}, fmt.Errorf("%w: value %d at index %d does not fit int32", ErrVector, v, i)
			}
			binary.LittleEndian.PutUint32(data[4*i:], uint32(int32(v)))
		}
		return Vector{FracBits: fracBits, Width: width, Len: uint32(len(values)), Data: data}, nil
	case WIDTH_INT64:
		data := make([]byte, 8*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint64(data[8*i:], uint64(v))
		}
		return Vector{FracBits: fracBits, Width: width, Len: uint32(len(values)), Data: data}, nil
	}
	return Vector{}, fmt.Errorf("%w: unknown width %v", ErrVector, width)
}

// ElemSize is the byte size of one value of the width, or 0 if unknown.
func (w Width) ElemSize() int {
	switch w {
	case WIDTH_INT32:
		return 4
	case WIDTH_INT64:
		return 8
	}
	return 0
}

// Bounds returns the smallest and largest value the width holds.
func (w Width) Bounds() (int64, int64) {
	if w == WIDTH_INT32 {
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// Validate checks that the vector is well formed.
func (m *Vector) Validate() error {
	es := m.Width.ElemSize()
	if es == 0 {
		return fmt.Errorf("%w: unknown width %v", ErrVector, m.Width)
	}
	if m.FracBits > MaxFracBits {
		return fmt.Errorf("%w: frac_bits %d > %d", ErrVector, m.FracBits, MaxFracBits)
	}
	if uint64(len(m.Data)) != uint64(m.Len)*uint64(es) {
		return fmt.Errorf("%w: %d data bytes for %d values of %d bytes", ErrVector, len(m.Data), m.Len, es)
	}
	return nil
}

// Values unpacks the vector into int64s.
func (m *Vector) Values() ([]int64, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	out := make([]int64, m.Len)
	switch m.Width {
	case WIDTH_INT32:
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(m.Data[4*i:])))
		}
	case WIDTH_INT64:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(m.Data[8*i:]))
		}
	}
	return out, nil
}

// Hash returns SHA-256 of the vector's encoding: the hash a CommitUpdate
// carries and the hash of a global model.
func (m *Vector) Hash() []byte {
	bz, err := m.Marshal()
	if err != nil {
		panic(fmt.Sprintf("fedledgerv1: marshal vector: %v", err)) // cannot fail for a Vector
	}
	h := sha256.Sum256(bz)
	return h[:]
}

// DecodeVector decodes and validates an encoded Vector.
func DecodeVector(bz []byte) (Vector, error) {
	var v Vector
	if err := v.Unmarshal(bz); err != nil {
		return Vector{}, fmt.Errorf("%w: %v", ErrVector, err)
	}
	if err := v.Validate(); err != nil {
		return Vector{}, err
	}
	return v, nil
}

// Architectures a ModelSpec may name.
const (
	ArchLogReg = "logreg"
	ArchMLP    = "mlp"
)

// MaxParams bounds the size of a model the chain accepts.
const MaxParams = 1 << 24

// NumParams returns the number of parameters of the model, in the flat
// order every party uses: for "logreg" the input_dim weights then the bias;
// for "mlp" the input_dim×hidden_dim weights (row-major, input by hidden),
// the hidden biases, the hidden_dim output weights, then the output bias.
func (m *ModelSpec) NumParams() (int, error) {
	if m.InputDim == 0 {
		return 0, fmt.Errorf("model: input_dim must be at least 1")
	}
	var n uint64
	switch m.Arch {
	case ArchLogReg:
		n = uint64(m.InputDim) + 1
	case ArchMLP:
		if m.HiddenDim == 0 {
			return 0, fmt.Errorf("model: mlp needs hidden_dim of at least 1")
		}
		n = uint64(m.InputDim)*uint64(m.HiddenDim) + 2*uint64(m.HiddenDim) + 1
	default:
		return 0, fmt.Errorf("model: unknown arch %q (known: %s, %s)", m.Arch, ArchLogReg, ArchMLP)
	}
	if n > MaxParams {
		return 0, fmt.Errorf("model: %d parameters, more than the limit %d", n, MaxParams)
	}
	return int(n), nil
}
