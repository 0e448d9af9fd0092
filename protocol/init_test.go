package protocol

import (
	"fmt"
	"slices"
	"testing"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// TestDrawInitialModel pins the drawn weights (a golden vector: any change
// would fork a chain replaying old tasks), their bounds, and the zero biases.
func TestDrawInitialModel(t *testing.T) {
	spec := pb.ModelSpec{Arch: pb.ArchMLP, InputDim: 3, HiddenDim: 2, InitSeed: 42}
	w, err := DrawInitialModel(spec, 16)
	if err != nil {
		t.Fatal(err)
	}
	// 3×2 weights, 2 biases, 2 output weights, 1 bias.
	want := "[25821 31812 470 -15481 -5580 -1393 0 0 73456 41041 0]"
	if got := fmt.Sprint(w); got != want {
		t.Errorf("drawn model %s, want %s", got, want)
	}
	a1, a2 := int64(Isqrt(6<<32/5)), int64(Isqrt(6<<32/3))
	for i, v := range w {
		bound := a1
		switch i {
		case 8, 9:
			bound = a2
		case 6, 7, 10:
			continue
		}
		if v < -bound || v > bound {
			t.Errorf("weight %d = %d outside ±%d", i, v, bound)
		}
	}
	if w[6] != 0 || w[7] != 0 || w[10] != 0 {
		t.Errorf("biases not zero: %v", w)
	}
	again, _ := DrawInitialModel(spec, 16)
	if !slices.Equal(w, again) {
		t.Error("two draws differ")
	}
	for _, n := range []uint64{0, 1, 2, 3, 4, 15, 16, 17, 1<<62 + 12345, 1<<64 - 1} {
		r := Isqrt(n)
		if r*r > n || (r+1)*(r+1) <= n && r+1 != 1<<32 {
			t.Errorf("Isqrt(%d) = %d", n, r)
		}
	}
}
