package fedledgerv1

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Zero-copy access to large vectors. A model update or a global model can
// be tens of megabytes; decoding one with Unmarshal copies its data, and
// encoding one with Marshal builds it twice. ViewVector reads a vector in
// place, and the Append*Record functions lay out a record whose dense data
// the caller then writes in place.

// ViewVector decodes a Vector without copying: the result's Data and
// Indices alias bz. It accepts only the canonical encoding (what Marshal
// writes: fields in order, each once, no zero scalar, minimal varints,
// packed repeated fields, no unknown field), so that it agrees with
// DecodeVector on every input it accepts, and validates the result.
func ViewVector(bz []byte) (Vector, error) {
	var v Vector
	last := uint64(0)
	for len(bz) > 0 {
		key, n := canonicalUvarint(bz)
		if n <= 0 {
			return Vector{}, fmt.Errorf("%w: bad field key", ErrVector)
		}
		bz = bz[n:]
		field, wt := key>>3, key&7
		if field <= last {
			return Vector{}, fmt.Errorf("%w: field %d out of order (not the canonical encoding)", ErrVector, field)
		}
		last = field
		var x uint64
		var b []byte
		switch wt {
		case 0:
			if x, n = canonicalUvarint(bz); n <= 0 || x == 0 {
				return Vector{}, fmt.Errorf("%w: field %d: bad or zero varint (not the canonical encoding)", ErrVector, field)
			}
		case 2:
			l, m := canonicalUvarint(bz)
			if m <= 0 || l == 0 || l > uint64(len(bz)-m) {
				return Vector{}, fmt.Errorf("%w: field %d: bad or empty length", ErrVector, field)
			}
			b, n = bz[m:m+int(l)], m+int(l)
		default:
			return Vector{}, fmt.Errorf("%w: field %d has wire type %d", ErrVector, field, wt)
		}
		bz = bz[n:]
		want := uint64(0)
		switch field {
		case 1:
			if x > math.MaxUint32 {
				return Vector{}, fmt.Errorf("%w: frac_bits %d", ErrVector, x)
			}
			v.FracBits = uint32(x)
		case 2:
			if x > math.MaxInt32 {
				return Vector{}, fmt.Errorf("%w: width %d", ErrVector, x)
			}
			v.Width = Width(x)
		case 3:
			if x > math.MaxUint32 {
				return Vector{}, fmt.Errorf("%w: len %d", ErrVector, x)
			}
			v.Len = uint32(x)
		case 4:
			v.Data, want = b, 2
		case 5:
			for len(b) > 0 {
				s, m := canonicalUvarint(b)
				if m <= 0 || s > math.MaxUint32 {
					return Vector{}, fmt.Errorf("%w: bad segment", ErrVector)
				}
				v.Segments, b = append(v.Segments, uint32(s)), b[m:]
			}
			want = 2
		case 6:
			for len(b) > 0 {
				s, m := canonicalUvarint(b)
				if m <= 0 {
					return Vector{}, fmt.Errorf("%w: bad scale", ErrVector)
				}
				v.Scales, b = append(v.Scales, int64(s)), b[m:]
			}
			want = 2
		case 7:
			if x != 1 {
				return Vector{}, fmt.Errorf("%w: sparse %d", ErrVector, x)
			}
			v.Sparse = true
		case 8:
			if x > math.MaxUint32 {
				return Vector{}, fmt.Errorf("%w: nnz %d", ErrVector, x)
			}
			v.Nnz = uint32(x)
		case 9:
			v.Indices, want = b, 2
		default:
			return Vector{}, fmt.Errorf("%w: unknown field %d", ErrVector, field)
		}
		if wt != want {
			return Vector{}, fmt.Errorf("%w: field %d has wire type %d", ErrVector, field, wt)
		}
	}
	if err := v.Validate(); err != nil {
		return Vector{}, err
	}
	return v, nil
}

// canonicalUvarint reads a minimal uvarint (no trailing zero groups);
// n ≤ 0 when there is none.
func canonicalUvarint(b []byte) (uint64, int) {
	x, n := binary.Uvarint(b)
	if n <= 0 || (n > 1 && b[n-1] == 0) {
		return 0, 0
	}
	return x, n
}

// ViewGlobalModel decodes a stored GlobalModel without copying its
// weights (see ViewVector); only the canonical encoding is accepted.
func ViewGlobalModel(bz []byte) (GlobalModel, error) {
	var m GlobalModel
	fields, err := viewFields(bz, "0022", false)
	if err != nil {
		return m, err
	}
	m.TaskId, m.Round = fields[1].x, uint32(fields[2].x)
	if fields[2].x > math.MaxUint32 {
		return m, fmt.Errorf("%w: round %d", ErrVector, fields[2].x)
	}
	if m.Weights, err = ViewVector(fields[3].b); err != nil {
		return m, err
	}
	m.Hash = fields[4].b
	return m, nil
}

// ViewServerOptState decodes a stored ServerOptState without copying its
// moments (see ViewVector).
func ViewServerOptState(bz []byte) (ServerOptState, error) {
	var s ServerOptState
	fields, err := viewFields(bz, "22", false)
	if err != nil {
		return s, err
	}
	if s.M, err = ViewVector(fields[1].b); err != nil {
		return s, err
	}
	if s.V, err = ViewVector(fields[2].b); err != nil {
		return s, err
	}
	return s, nil
}

type viewField struct {
	x uint64
	b []byte
}

// viewFields splits a canonical encoding whose fields 1..len(types) are
// each a varint ('0') or a length-delimited value ('2'), as types says, in
// order, each at most once. With scalars set every field is a scalar, so
// a zero varint or an empty value (which the canonical encoding omits) is
// refused too; embedded messages may be empty.
func viewFields(bz []byte, types string, scalars bool) ([]viewField, error) {
	out := make([]viewField, len(types)+1)
	last := uint64(0)
	for len(bz) > 0 {
		key, n := canonicalUvarint(bz)
		if n <= 0 || key>>3 <= last || key>>3 > uint64(len(types)) {
			return nil, fmt.Errorf("%w: bad, unknown or out-of-order field key", ErrVector)
		}
		bz = bz[n:]
		last = key >> 3
		if want := uint64(types[last-1] - '0'); key&7 != want {
			return nil, fmt.Errorf("%w: field %d has wire type %d", ErrVector, last, key&7)
		}
		switch key & 7 {
		case 0:
			x, m := canonicalUvarint(bz)
			if m <= 0 || (scalars && x == 0) {
				return nil, fmt.Errorf("%w: field %d: bad or zero varint", ErrVector, last)
			}
			out[last].x, bz = x, bz[m:]
		case 2:
			l, m := canonicalUvarint(bz)
			if m <= 0 || l > uint64(len(bz)-m) || (scalars && l == 0) {
				return nil, fmt.Errorf("%w: field %d: bad or empty length", ErrVector, last)
			}
			out[last].b, bz = bz[m:m+int(l)], bz[m+int(l):]
		}
	}
	return out, nil
}

// ViewTx decodes a Tx envelope without copying: Signer, Body and Signature
// alias bz. Only the canonical encoding is accepted (see ViewVector), so
// a transaction has one encoding and one hash.
func ViewTx(bz []byte) (Tx, error) {
	f, err := viewFields(bz, "22022", true)
	if err != nil {
		return Tx{}, err
	}
	return Tx{ChainId: string(f[1].b), Signer: f[2].b, Nonce: f[3].x, Body: f[4].b, Signature: f[5].b}, nil
}

// DenseSlot is where a dense vector's data sits inside a record laid out
// by AppendModelRecord or AppendServerOptRecord.
type DenseSlot struct {
	Data     []byte // the data bytes, in place: write the values here
	Width    Width
	vecStart int // the vector's encoding within the record
	vecEnd   int
}

// Put writes values from coordinate lo on, each of which must fit the
// width (little-endian, as NewVector packs them).
func (s DenseSlot) Put(lo int, values []int64) {
	switch es := s.Width.ElemSize(); es {
	case 1:
		for j, x := range values {
			s.Data[lo+j] = byte(int8(x))
		}
	case 2:
		for j, x := range values {
			binary.LittleEndian.PutUint16(s.Data[2*(lo+j):], uint16(int16(x)))
		}
	case 4:
		for j, x := range values {
			binary.LittleEndian.PutUint32(s.Data[4*(lo+j):], uint32(int32(x)))
		}
	default:
		for j, x := range values {
			binary.LittleEndian.PutUint64(s.Data[8*(lo+j):], uint64(x))
		}
	}
}

// appendDenseVector appends field as an embedded dense, unscaled Vector of
// n values whose data is left zero, and returns where that data is.
func appendDenseVector(b []byte, field uint64, fracBits uint32, width Width, n int) ([]byte, DenseSlot) {
	size := width.ElemSize() * n
	body := 0
	if fracBits != 0 {
		body += 1 + sovTx(uint64(fracBits))
	}
	if width != 0 {
		body += 1 + sovTx(uint64(width))
	}
	if n != 0 {
		body += 1 + sovTx(uint64(n))
	}
	if size != 0 {
		body += 1 + sovTx(uint64(size)) + size
	}
	b = binary.AppendUvarint(b, field<<3|2)
	b = binary.AppendUvarint(b, uint64(body))
	start := len(b)
	if fracBits != 0 {
		b = binary.AppendUvarint(append(b, 1<<3), uint64(fracBits))
	}
	if width != 0 {
		b = binary.AppendUvarint(append(b, 2<<3), uint64(width))
	}
	if n != 0 {
		b = binary.AppendUvarint(append(b, 3<<3), uint64(n))
	}
	if size != 0 {
		b = binary.AppendUvarint(append(b, 4<<3|2), uint64(size))
		b = append(b, make([]byte, size)...)
	}
	return b, DenseSlot{Data: b[len(b)-size:], Width: width, vecStart: start, vecEnd: len(b)}
}

// ModelRecord is a GlobalModel's encoding laid out for its weights to be
// written in place: write them with Weights.Put, then call Seal.
type ModelRecord struct {
	Bytes   []byte
	Weights DenseSlot
}

// NewModelRecord lays out the encoding of GlobalModel{TaskId: task, Round:
// round, Weights: a dense vector of n values, Hash} in one allocation.
func NewModelRecord(task uint64, round uint32, fracBits uint32, width Width, n int) ModelRecord {
	size := width.ElemSize()*n + 96 // every field's key and varints fit in 96 bytes
	b := make([]byte, 0, size)
	if task != 0 {
		b = binary.AppendUvarint(append(b, 1<<3), task)
	}
	if round != 0 {
		b = binary.AppendUvarint(append(b, 2<<3), uint64(round))
	}
	b, slot := appendDenseVector(b, 3, fracBits, width, n)
	b = append(b, 4<<3|2, sha256.Size)
	b = append(b, make([]byte, sha256.Size)...)
	return ModelRecord{Bytes: b, Weights: slot}
}

// Seal writes the weights' hash (Vector.Hash) into the record and returns
// it; the record then equals GlobalModel.Marshal of the same model.
func (r ModelRecord) Seal() []byte {
	h := sha256.Sum256(r.Bytes[r.Weights.vecStart:r.Weights.vecEnd])
	hash := r.Bytes[len(r.Bytes)-sha256.Size:]
	copy(hash, h[:])
	return hash
}

// NewServerOptRecord lays out the encoding of ServerOptState{M: n int64
// values at fracBits, V: n int64 values at 2·fracBits} in one allocation;
// with withV false V is the empty Vector{Width: WIDTH_INT64}.
func NewServerOptRecord(fracBits uint32, n int, withV bool) (bz []byte, m, v DenseSlot) {
	b := make([]byte, 0, 16*n+96)
	b, m = appendDenseVector(b, 1, fracBits, WIDTH_INT64, n)
	if withV {
		b, v = appendDenseVector(b, 2, 2*fracBits, WIDTH_INT64, n)
	} else {
		b, v = appendDenseVector(b, 2, 0, WIDTH_INT64, 0)
	}
	return b, m, v
}
