package fl

import (
	"bytes"
	"math"
	"slices"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestEncodeTaskUpdate checks each compression: what comes back after the
// chain's integer dequantization is within half a quantization step of Δ
// (per tensor for int8/int16), and top-k keeps exactly the largest |Δ|.
func TestEncodeTaskUpdate(t *testing.T) {
	model := pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: 5} // tensors: 5 weights, 1 bias
	global := []float64{0.5, -0.5, 0, 1, 2, 0}
	local := []float64{0.6, -0.9, 0.001, 1, 1.75, -0.03}
	delta := make([]float64, len(local))
	for i := range delta {
		delta[i] = local[i] - global[i]
	}
	for _, tc := range []struct {
		name    string
		comp    pb.Compression
		maxErr  float64 // bound on |decoded − Δ| for kept coordinates
		keep    []int   // kept coordinates (nil: all)
		maxSize int
	}{
		{"int32", pb.Compression{}, 0.5 / 65536, nil, 40},
		{"int16", pb.Compression{Width: pb.WIDTH_INT16}, 0.4 / 32767 * 0.5, nil, 40},
		{"int8", pb.Compression{Width: pb.WIDTH_INT8}, 0.4 / 127 * 0.5, nil, 30},
		{"top-50% int8", pb.Compression{Width: pb.WIDTH_INT8, TopkPpm: 500_000}, 0.4 / 127 * 0.5, []int{0, 1, 4}, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &pb.TaskSpec{Model: model, FracBits: 16, InitialModel: pb.Vector{Len: 6}, Compression: tc.comp}
			bz, err := EncodeTaskUpdate(spec, local, global)
			if err != nil {
				t.Fatal(err)
			}
			if len(bz) > tc.maxSize {
				t.Errorf("%d bytes, want at most %d", len(bz), tc.maxSize)
			}
			got, err := DecodeUpdate(bz)
			if err != nil {
				t.Fatal(err)
			}
			for i := range delta {
				kept := tc.keep == nil || slices.Contains(tc.keep, i)
				switch {
				case kept && math.Abs(got[i]-delta[i]) > tc.maxErr+1.0/65536:
					t.Errorf("coordinate %d: %v, Δ %v", i, got[i], delta[i])
				case !kept && got[i] != 0:
					t.Errorf("coordinate %d not in the top-k but %v", i, got[i])
				}
			}
		})
	}
}

func TestTopKTies(t *testing.T) {
	if got := topK([]float64{1, -3, 3, 0, -1}, 2); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("top 2 = %v, want [1 2]", got)
	}
	if got := topK([]float64{1, -1, 1}, 2); !slices.Equal(got, []uint32{0, 1}) {
		t.Errorf("ties go to the lower index: %v", got)
	}
}

func TestSplitChunks(t *testing.T) {
	b := []byte("0123456789")
	for n := 2; n <= 10; n++ {
		parts := SplitChunks(b, n)
		if len(parts) != n || !bytes.Equal(bytes.Join(parts, nil), b) {
			t.Fatalf("n=%d: %q", n, parts)
		}
		for _, p := range parts {
			if len(p) < len(b)/n || len(p) > len(b)/n+1 {
				t.Errorf("n=%d: uneven part %q", n, p)
			}
		}
	}
}
