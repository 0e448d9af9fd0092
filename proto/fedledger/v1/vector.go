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

// Limits of a Vector's compression fields.
const (
	// MaxSegments bounds the scale segments of a vector.
	MaxSegments = 4096
	// MaxScale bounds a segment's scale, so that q·scale fits an int64 for
	// every width that may carry scales.
	MaxScale = 1 << 32
)

// NewVector packs values into a dense Vector of the given width, scale 1.
// It fails when a value does not fit the width.
func NewVector(fracBits uint32, width Width, values []int64) (Vector, error) {
	return NewCompressedVector(fracBits, width, len(values), nil, values, nil, nil)
}

// NewCompressedVector packs a vector of n values. With indices nil it is
// dense and q holds all n integers; otherwise it is sparse, indices
// (strictly increasing, below n) are its coordinates and q their integers.
// segments and scales (both nil, or one scale per segment, segments
// summing to n) give per-segment scales. The result is validated.
func NewCompressedVector(fracBits uint32, width Width, n int, indices []uint32, q []int64, segments []uint32, scales []int64) (Vector, error) {
	es := width.ElemSize()
	if es == 0 {
		return Vector{}, fmt.Errorf("%w: unknown width %v", ErrVector, width)
	}
	if n < 0 || n > math.MaxUint32 {
		return Vector{}, fmt.Errorf("%w: length %d", ErrVector, n)
	}
	v := Vector{FracBits: fracBits, Width: width, Len: uint32(n), Segments: segments, Scales: scales}
	if indices != nil {
		if len(indices) != len(q) {
			return Vector{}, fmt.Errorf("%w: %d indices for %d values", ErrVector, len(indices), len(q))
		}
		v.Sparse, v.Nnz = true, uint32(len(indices))
		prev := int64(-1)
		for _, ix := range indices {
			if int64(ix) <= prev {
				return Vector{}, fmt.Errorf("%w: index %d after %d; indices must increase", ErrVector, ix, prev)
			}
			v.Indices = binary.AppendUvarint(v.Indices, uint64(int64(ix)-prev-1))
			prev = int64(ix)
		}
	} else if len(q) != n {
		return Vector{}, fmt.Errorf("%w: %d values for a dense vector of length %d", ErrVector, len(q), n)
	}
	lo, hi := width.Bounds()
	v.Data = make([]byte, es*len(q))
	for i, x := range q {
		if x < lo || x > hi {
			return Vector{}, fmt.Errorf("%w: value %d at index %d does not fit %v", ErrVector, x, i, width)
		}
		switch es {
		case 1:
			v.Data[i] = byte(int8(x))
		case 2:
			binary.LittleEndian.PutUint16(v.Data[2*i:], uint16(int16(x)))
		case 4:
			binary.LittleEndian.PutUint32(v.Data[4*i:], uint32(int32(x)))
		default:
			binary.LittleEndian.PutUint64(v.Data[8*i:], uint64(x))
		}
	}
	if err := v.Validate(); err != nil {
		return Vector{}, err
	}
	return v, nil
}

// ElemSize is the byte size of one value of the width, or 0 if unknown.
func (w Width) ElemSize() int {
	switch w {
	case WIDTH_INT8:
		return 1
	case WIDTH_INT16:
		return 2
	case WIDTH_INT32:
		return 4
	case WIDTH_INT64:
		return 8
	}
	return 0
}

// Bounds returns the smallest and largest value the width holds.
func (w Width) Bounds() (int64, int64) {
	switch w {
	case WIDTH_INT8:
		return math.MinInt8, math.MaxInt8
	case WIDTH_INT16:
		return math.MinInt16, math.MaxInt16
	case WIDTH_INT32:
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
	if m.Len > MaxParams {
		return fmt.Errorf("%w: length %d exceeds the model limit %d", ErrVector, m.Len, MaxParams)
	}
	if len(m.Segments) != len(m.Scales) {
		return fmt.Errorf("%w: %d segments but %d scales", ErrVector, len(m.Segments), len(m.Scales))
	}
	if len(m.Segments) > 0 {
		if es > 4 {
			return fmt.Errorf("%w: scales are for widths of at most 32 bits, not %v", ErrVector, m.Width)
		}
		if len(m.Segments) > MaxSegments {
			return fmt.Errorf("%w: %d segments, more than %d", ErrVector, len(m.Segments), MaxSegments)
		}
		var sum uint64
		for i, n := range m.Segments {
			if n == 0 {
				return fmt.Errorf("%w: segment %d is empty", ErrVector, i)
			}
			if sc := m.Scales[i]; sc < 1 || sc > MaxScale {
				return fmt.Errorf("%w: scale %d of segment %d is outside 1 to 2^32", ErrVector, sc, i)
			}
			sum += uint64(n)
		}
		if sum != uint64(m.Len) {
			return fmt.Errorf("%w: segments cover %d values, the vector has %d", ErrVector, sum, m.Len)
		}
	}
	count := uint64(m.Len)
	if m.Sparse {
		if m.Nnz > m.Len {
			return fmt.Errorf("%w: %d coordinates in a vector of length %d", ErrVector, m.Nnz, m.Len)
		}
		count = uint64(m.Nnz)
	} else if m.Nnz != 0 || len(m.Indices) != 0 {
		return fmt.Errorf("%w: a dense vector has no nnz or indices", ErrVector)
	}
	// The data must be there before anything is sized by the declared
	// counts: a few bytes may not make a node allocate for millions.
	if uint64(len(m.Data)) != count*uint64(es) {
		return fmt.Errorf("%w: %d data bytes for %d values of %d bytes", ErrVector, len(m.Data), count, es)
	}
	if m.Sparse {
		if _, err := m.indices(); err != nil {
			return err
		}
	}
	return nil
}

// SparseIndices decodes the coordinates of a sparse vector and checks them.
func (m *Vector) SparseIndices() ([]uint32, error) { return m.indices() }

// indices decodes the coordinates of a sparse vector and checks them.
func (m *Vector) indices() ([]uint32, error) {
	out := make([]uint32, 0, min(uint64(m.Nnz), uint64(len(m.Indices)))) // a uvarint takes a byte at least
	b := m.Indices
	next := uint64(0)
	for len(b) > 0 {
		gap, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad uvarint in indices", ErrVector)
		}
		b = b[n:]
		if gap >= uint64(m.Len) || next+gap >= uint64(m.Len) {
			return nil, fmt.Errorf("%w: index beyond length %d", ErrVector, m.Len)
		}
		if uint64(len(out)) == uint64(m.Nnz) {
			return nil, fmt.Errorf("%w: more than nnz=%d indices", ErrVector, m.Nnz)
		}
		out = append(out, uint32(next+gap))
		next += gap + 1
	}
	if uint64(len(out)) != uint64(m.Nnz) {
		return nil, fmt.Errorf("%w: %d indices, nnz says %d", ErrVector, len(out), m.Nnz)
	}
	return out, nil
}

// q returns the i-th packed integer.
func (m *Vector) q(i int) int64 { return m.Width.At(m.Data, i) }

// At returns the i-th integer packed in data at width w (little-endian, as
// NewVector packs them).
func (w Width) At(data []byte, i int) int64 {
	switch w {
	case WIDTH_INT8:
		return int64(int8(data[i]))
	case WIDTH_INT16:
		return int64(int16(binary.LittleEndian.Uint16(data[2*i:])))
	case WIDTH_INT32:
		return int64(int32(binary.LittleEndian.Uint32(data[4*i:])))
	}
	return int64(binary.LittleEndian.Uint64(data[8*i:]))
}

// Values unpacks the vector into len int64s at scale 2^-frac_bits: the
// integers times their segment's scale, zeros where a sparse vector has
// no coordinate. Integer arithmetic only, so every node gets the same.
func (m *Vector) Values() ([]int64, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	out := make([]int64, m.Len)
	scaleAt := m.scaler()
	if !m.Sparse {
		if len(m.Scales) == 0 && m.Width == WIDTH_INT32 {
			for i := range out {
				out[i] = int64(int32(binary.LittleEndian.Uint32(m.Data[4*i:])))
			}
			return out, nil
		}
		for i := range out {
			out[i] = m.q(i) * scaleAt(uint32(i))
		}
		return out, nil
	}
	idx, _ := m.indices() // checked by Validate
	for k, i := range idx {
		out[i] = m.q(k) * scaleAt(i)
	}
	return out, nil
}

// scaler returns the scale of coordinate i, for i visited in increasing order.
func (m *Vector) scaler() func(i uint32) int64 {
	if len(m.Scales) == 0 {
		return func(uint32) int64 { return 1 }
	}
	seg, end := 0, m.Segments[0]
	return func(i uint32) int64 {
		for i >= end {
			seg++
			end += m.Segments[seg]
		}
		return m.Scales[seg]
	}
}

// EncodedSize is the number of values the vector carries on the wire
// (len when dense, nnz when sparse).
func (m *Vector) EncodedSize() int {
	if m.Sparse {
		return int(m.Nnz)
	}
	return int(m.Len)
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
