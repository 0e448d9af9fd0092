package fedledgerv1

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
)

// TestCompressedVectorValues pins the meaning of every encoding: the
// values each decodes to, and its exact wire size.
func TestCompressedVectorValues(t *testing.T) {
	for _, tc := range []struct {
		name     string
		width    Width
		n        int
		indices  []uint32
		q        []int64
		segments []uint32
		scales   []int64
		want     []int64
		dataLen  int
	}{
		{"int32 dense", WIDTH_INT32, 3, nil, []int64{1, -2, 1 << 30}, nil, nil, []int64{1, -2, 1 << 30}, 12},
		{"int64 dense", WIDTH_INT64, 2, nil, []int64{-1 << 62, 7}, nil, nil, []int64{-1 << 62, 7}, 16},
		{"int8 per-tensor scales", WIDTH_INT8, 5, nil, []int64{-128, 0, 127, 1, -1}, []uint32{3, 2}, []int64{1000, 7},
			[]int64{-128000, 0, 127000, 7, -7}, 5},
		{"int16 one scale", WIDTH_INT16, 2, nil, []int64{-32768, 32767}, []uint32{2}, []int64{1 << 32},
			[]int64{-32768 << 32, 32767 << 32}, 4},
		{"int8 sparse scaled", WIDTH_INT8, 8, []uint32{0, 4, 7}, []int64{-3, 2, 127}, []uint32{5, 3}, []int64{10, 100},
			[]int64{-30, 0, 0, 0, 20, 0, 0, 12700}, 3},
		{"int32 sparse, empty", WIDTH_INT32, 4, []uint32{}, []int64{}, nil, nil, []int64{0, 0, 0, 0}, 0},
		{"int32 extremes times 2^32", WIDTH_INT32, 2, nil, []int64{-1 << 31, 1<<31 - 1}, []uint32{2}, []int64{1 << 32},
			[]int64{-1 << 63, (1<<31 - 1) << 32}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewCompressedVector(16, tc.width, tc.n, tc.indices, tc.q, tc.segments, tc.scales)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Data) != tc.dataLen {
				t.Errorf("data is %d bytes, want %d", len(v.Data), tc.dataLen)
			}
			bz, err := v.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeVector(bz)
			if err != nil {
				t.Fatal(err)
			}
			got, err := back.Values()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVectorRejects(t *testing.T) {
	ok := func() Vector {
		v, err := NewCompressedVector(8, WIDTH_INT8, 6, []uint32{1, 5}, []int64{1, 2}, []uint32{6}, []int64{2})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for name, mod := range map[string]func(*Vector){
		"scales without segments": func(v *Vector) { v.Segments = nil },
		"zero scale":              func(v *Vector) { v.Scales[0] = 0 },
		"negative scale":          func(v *Vector) { v.Scales[0] = -1 },
		"scale above 2^32":        func(v *Vector) { v.Scales[0] = 1<<32 + 1 },
		"segments short":          func(v *Vector) { v.Segments[0] = 5 },
		"empty segment":           func(v *Vector) { v.Segments = []uint32{6, 0}; v.Scales = []int64{1, 1} },
		"scales on int64":         func(v *Vector) { v.Width = WIDTH_INT64; v.Data = make([]byte, 16) },
		"nnz above len":           func(v *Vector) { v.Nnz = 7 },
		"nnz disagrees":           func(v *Vector) { v.Nnz = 1; v.Data = v.Data[:1] },
		"index out of range":      func(v *Vector) { v.Indices = []byte{1, 5} },
		"bad uvarint":             func(v *Vector) { v.Indices = []byte{0x80} },
		"data short":              func(v *Vector) { v.Data = v.Data[:1] },
		"dense with indices":      func(v *Vector) { v.Sparse = false },
		"too long":                func(v *Vector) { v.Len = MaxParams + 1; v.Segments[0] = MaxParams + 1 },
		"unknown width":           func(v *Vector) { v.Width = 9 },
	} {
		v := ok()
		mod(&v)
		if err := v.Validate(); !errors.Is(err, ErrVector) {
			t.Errorf("%s: Validate = %v, want ErrVector", name, err)
		}
	}
	if _, err := NewCompressedVector(0, WIDTH_INT8, 2, nil, []int64{128, 0}, nil, nil); err == nil {
		t.Error("int8 accepted 128")
	}
	if _, err := NewCompressedVector(0, WIDTH_INT8, 4, []uint32{2, 2}, []int64{1, 1}, nil, nil); err == nil {
		t.Error("repeated index accepted")
	}
}

func ExampleNewCompressedVector() {
	// Five values of two tensors, int8 with one scale per tensor, keeping
	// the top 3 coordinates: q·scale at scale 2^-8.
	v, _ := NewCompressedVector(8, WIDTH_INT8, 5, []uint32{0, 2, 4}, []int64{-100, 127, 64}, []uint32{3, 2}, []int64{2, 1})
	vals, _ := v.Values()
	bz, _ := v.Marshal()
	fmt.Println(vals, len(bz), "bytes")
	// Output: [-200 0 254 0 64] 28 bytes
}

// TestDecodeAllocatesOnlyWhatItCarries: a few bytes that declare a huge
// sparse or dense vector are refused before anything is sized by the
// declared counts (a 22-byte vector used to allocate 64 MiB first).
func TestDecodeAllocatesOnlyWhatItCarries(t *testing.T) {
	for name, v := range map[string]Vector{
		"sparse": {Width: WIDTH_INT8, Len: MaxParams, Sparse: true, Nnz: MaxParams, Indices: []byte{0}},
		"dense":  {Width: WIDTH_INT64, Len: MaxParams},
	} {
		bz, err := v.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err = DecodeVector(bz)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: %d-byte vector accepted", name, len(bz))
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: decoding %d bytes allocated %d bytes before refusing", name, len(bz), grew)
		}
	}
}
