package aggregator

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSelectK: after selectK(a, k), a[k] is the k-th smallest value and
// the values around it are on the right sides, for random slices with and
// without ties and extreme values, every k.
func TestSelectK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		n := 1 + rng.IntN(70)
		a := make([]int64, n)
		for i := range a {
			switch trial % 3 {
			case 0:
				a[i] = rng.Int64()
			case 1:
				a[i] = int64(rng.IntN(4)) // many ties
			default:
				a[i] = []int64{math.MinInt64, math.MaxInt64, 0, -1, 1}[rng.IntN(5)]
			}
		}
		sorted := slices.Sorted(slices.Values(a))
		k := rng.IntN(n)
		b := slices.Clone(a)
		selectK(b, k)
		if b[k] != sorted[k] {
			t.Fatalf("n=%d k=%d: got %d, want %d", n, k, b[k], sorted[k])
		}
		for i := range b {
			if (i < k && b[i] > b[k]) || (i > k && b[i] < b[k]) {
				t.Fatalf("n=%d k=%d: b[%d]=%d on the wrong side of %d", n, k, i, b[i], b[k])
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(b)), sorted) {
			t.Fatal("selectK changed the multiset")
		}
	}
}

// TestMedianTrimmedMeanMatchSorting: the selection-based rules give what
// sorting every coordinate gives.
func TestMedianTrimmedMeanMatchSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 10, 11, 50} {
		d := 5000
		ups := make([]Update, n)
		for i := range ups {
			ups[i].Weight = 1
			ups[i].Values = make([]int64, d)
			for j := range ups[i].Values {
				ups[i].Values[j] = int64(rng.IntN(200)) - 100
			}
		}
		med, err := Median(ups)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := TrimmedMean(ups, 200_000)
		if err != nil {
			t.Fatal(err)
		}
		k := n * 200_000 / 1_000_000
		for j := 0; j < d; j++ {
			col := make([]int64, n)
			for i := range ups {
				col[i] = ups[i].Values[j]
			}
			slices.Sort(col)
			want := col[n/2]
			if n%2 == 0 {
				want = mean2(col[n/2-1], col[n/2])
			}
			if med[j] != want {
				t.Fatalf("n=%d coord %d: median %d, sorting gives %d", n, j, med[j], want)
			}
			var acc int128
			for _, v := range col[k : n-k] {
				acc = acc.add(mul64(v, 1))
			}
			if w := acc.divRound(uint64(n - 2*k)); tm[j] != w {
				t.Fatalf("n=%d coord %d: trimmed mean %d, sorting gives %d", n, j, tm[j], w)
			}
		}
	}
}
