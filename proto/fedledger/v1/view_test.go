package fedledgerv1

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

func viewSeeds(t testing.TB) [][]byte {
	var out [][]byte
	add := func(v Vector, err error) {
		if err != nil {
			t.Fatal(err)
		}
		bz, err := v.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bz)
	}
	add(NewVector(16, WIDTH_INT32, []int64{1, -2, 3, math.MaxInt32, math.MinInt32}))
	add(NewVector(0, WIDTH_INT64, []int64{math.MinInt64, 0, math.MaxInt64}))
	add(NewVector(3, WIDTH_INT8, []int64{-128, 127}))
	add(NewCompressedVector(10, WIDTH_INT16, 9, []uint32{0, 4, 8}, []int64{-5, 7, 300}, []uint32{4, 5}, []int64{3, 1 << 20}))
	add(NewCompressedVector(10, WIDTH_INT8, 6, nil, []int64{1, 2, 3, 4, 5, 6}, []uint32{2, 4}, []int64{7, 9}))
	add(NewVector(0, WIDTH_INT32, nil))
	return out
}

// TestViewVectorAgrees: on canonical encodings ViewVector gives what
// DecodeVector gives, without copying the data.
func TestViewVectorAgrees(t *testing.T) {
	for i, bz := range viewSeeds(t) {
		got, err := ViewVector(bz)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		want, err := DecodeVector(bz)
		if err != nil {
			t.Fatal(err)
		}
		if !equalVectors(got, want) {
			t.Fatalf("seed %d: view %+v, decode %+v", i, got, want)
		}
		if len(got.Data) > 0 && &got.Data[0] != &bz[bytes.Index(bz, got.Data)] {
			t.Fatalf("seed %d: data copied", i)
		}
	}
	// Not canonical: refused, though DecodeVector takes them.
	v, _ := NewVector(16, WIDTH_INT32, []int64{1, 2})
	bz, _ := v.Marshal()
	for name, bad := range map[string][]byte{
		"fields out of order": append(append([]byte{}, bz[2:]...), bz[:2]...),
		"zero field written":  append([]byte{0x40, 0x00}, bz...),
		"long varint":         append([]byte{0x08, 0x90, 0x00}, bz[2:]...),
		"unknown field":       append(append([]byte{}, bz...), 0x50, 0x01),
	} {
		if _, err := ViewVector(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func equalVectors(a, b Vector) bool {
	norm := func(v Vector) Vector {
		if len(v.Data) == 0 {
			v.Data = nil
		}
		if len(v.Indices) == 0 {
			v.Indices = nil
		}
		if len(v.Segments) == 0 {
			v.Segments = nil
		}
		if len(v.Scales) == 0 {
			v.Scales = nil
		}
		return v
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// FuzzViewVector: whatever ViewVector accepts, DecodeVector accepts alike,
// and it is the canonical encoding of what they decode.
func FuzzViewVector(f *testing.F) {
	for _, bz := range viewSeeds(f) {
		f.Add(bz)
	}
	f.Fuzz(func(t *testing.T, bz []byte) {
		got, err := ViewVector(bz)
		if err != nil {
			return
		}
		want, err := DecodeVector(bz)
		if err != nil {
			t.Fatalf("ViewVector took what DecodeVector refuses: %v", err)
		}
		if !equalVectors(got, want) {
			t.Fatalf("view %+v, decode %+v", got, want)
		}
		again, _ := want.Marshal()
		if !bytes.Equal(again, bz) {
			t.Fatalf("accepted a non-canonical encoding:\n%x\n%x", bz, again)
		}
	})
}

// TestRecordsMatchMarshal: the in-place records are byte for byte what
// Marshal writes for the same content, and the views read them back.
func TestRecordsMatchMarshal(t *testing.T) {
	for _, tc := range []struct {
		task  uint64
		round uint32
		frac  uint32
		width Width
		n     int
	}{{1, 1, 16, WIDTH_INT32, 5}, {0, 0, 0, WIDTH_INT64, 0}, {1 << 40, 1 << 30, 30, WIDTH_INT8, 300}, {7, 2, 1, WIDTH_INT16, 1}} {
		values := make([]int64, tc.n)
		lo, hi := tc.width.Bounds()
		for j := range values {
			values[j] = []int64{lo, hi, 0, -1, 1}[j%5]
		}
		rec := NewModelRecord(tc.task, tc.round, tc.frac, tc.width, tc.n)
		rec.Weights.Put(0, values)
		hash := rec.Seal()
		vec, err := NewVector(tc.frac, tc.width, values)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := (&GlobalModel{TaskId: tc.task, Round: tc.round, Weights: vec, Hash: vec.Hash()}).Marshal()
		if !bytes.Equal(rec.Bytes, want) || !bytes.Equal(hash, vec.Hash()) {
			t.Fatalf("%+v: record\n%x\nMarshal\n%x", tc, rec.Bytes, want)
		}
		m, err := ViewGlobalModel(rec.Bytes)
		if err != nil || m.TaskId != tc.task || m.Round != tc.round || !equalVectors(m.Weights, vec) {
			t.Fatalf("%+v: view %+v, %v", tc, m, err)
		}
		for _, withV := range []bool{false, true} {
			bz, ms, vs := NewServerOptRecord(tc.frac, tc.n, withV)
			ms.Put(0, values)
			mv, _ := NewVector(tc.frac, WIDTH_INT64, values)
			vv := Vector{Width: WIDTH_INT64}
			if withV {
				vs.Put(0, values)
				vv, _ = NewVector(2*tc.frac, WIDTH_INT64, values)
			}
			want, _ := (&ServerOptState{M: mv, V: vv}).Marshal()
			if !bytes.Equal(bz, want) {
				t.Fatalf("%+v withV=%v: record\n%x\nMarshal\n%x", tc, withV, bz, want)
			}
			st, err := ViewServerOptState(bz)
			if err != nil || !equalVectors(st.M, mv) || !equalVectors(st.V, vv) {
				t.Fatalf("%+v: view %+v, %v", tc, st, err)
			}
		}
	}
}

// FuzzViewTx: ViewTx accepts exactly the canonical encodings (those that
// Marshal gives back unchanged), and reads them as Unmarshal does.
func FuzzViewTx(f *testing.F) {
	tx := Tx{ChainId: "c", Signer: bytes.Repeat([]byte{7}, 32), Nonce: 300, Body: []byte{1, 2, 3}, Signature: bytes.Repeat([]byte{9}, 64)}
	bz, _ := tx.Marshal()
	f.Add(bz)
	f.Add(bz[:len(bz)-66])
	f.Add(append([]byte{0x18, 0x00}, bz...))
	f.Fuzz(func(t *testing.T, bz []byte) {
		got, err := ViewTx(bz)
		var want Tx
		uerr := want.Unmarshal(bz)
		again, _ := want.Marshal()
		canonical := uerr == nil && bytes.Equal(again, bz)
		if (err == nil) != canonical {
			t.Fatalf("ViewTx error %v, canonical %v (unmarshal %v)", err, canonical, uerr)
		}
		if err != nil {
			return
		}
		if got.ChainId != want.ChainId || got.Nonce != want.Nonce || !bytes.Equal(got.Signer, want.Signer) ||
			!bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Signature, want.Signature) {
			t.Fatalf("view %+v, unmarshal %+v", got, want)
		}
	})
}
