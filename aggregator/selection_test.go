package aggregator

import (
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// testColumn returns n values of one of four kinds, by kind mod 4: any
// int64, many ties (0 to 3), a narrow range, or only extremes and values
// next to 0.
func testColumn(rng *rand.Rand, n, kind int) []int64 {
	a := make([]int64, n)
	for i := range a {
		switch kind % 4 {
		case 0:
			a[i] = rng.Int64()
		case 1:
			a[i] = int64(rng.IntN(4))
		case 2:
			a[i] = int64(rng.IntN(40)) - 20
		default:
			a[i] = []int64{math.MinInt64, math.MaxInt64, 0, -1, 1}[rng.IntN(5)]
		}
	}
	return a
}

// sortedMedian sorts col and returns its median, the mean of the two
// middle values (rounded as mean2 does) for an even count.
func sortedMedian(col []int64) int64 {
	slices.Sort(col)
	n := len(col)
	if n%2 == 0 {
		return mean2(col[n/2-1], col[n/2])
	}
	return col[n/2]
}

// TestSelectK: after selectK(a, k), a[k] is the k-th smallest value and
// the values around it are on the right sides, for random slices with and
// without ties and extreme values, every k.
func TestSelectK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 2000; trial++ {
		n := 1 + rng.IntN(70)
		a := testColumn(rng, n, trial)
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

// TestOrderStats: orderStats(a, s, t, k) returns the k-th and (k−1)-th
// smallest values of a and leaves a as it was, for random slices with and
// without ties and extreme values, lengths below and above the insertion
// sort's, every k.
func TestOrderStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 20000; trial++ {
		n := 1 + rng.IntN(120)
		a := testColumn(rng, n, trial)
		orig := slices.Clone(a)
		sorted := slices.Sorted(slices.Values(a))
		k := rng.IntN(n)
		prev, kth := orderStats(a, make([]int64, n), make([]int64, n), k)
		if kth != sorted[k] || prev != sorted[max(k-1, 0)] {
			t.Fatalf("n=%d k=%d: got (%d, %d), want (%d, %d)", n, k, prev, kth, sorted[max(k-1, 0)], sorted[k])
		}
		if !slices.Equal(a, orig) {
			t.Fatalf("n=%d k=%d: orderStats changed its input", n, k)
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
			if want := sortedMedian(col); med[j] != want {
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

// nearDuplicatesRef is NearDuplicates measured on every pair, as it was
// before the sketch pruning.
func nearDuplicatesRef(updates []Update, relMicro uint64) [][2]int {
	var pairs [][2]int
	for i := range updates {
		for k := i + 1; k < len(updates); k++ {
			mx := max(norm(updates[i].Values), norm(updates[k].Values))
			if mx == 0 {
				continue
			}
			d := isqrt128u(sqDist(updates[i].Values, updates[k].Values))
			dh, dl := bits.Mul64(d, 1_000_000)
			rh, rl := bits.Mul64(mx, relMicro)
			if dh < rh || (dh == rh && dl <= rl) {
				pairs = append(pairs, [2]int{i, k})
			}
		}
	}
	return pairs
}

// TestNearDuplicatesPruningExact: the pruned NearDuplicates finds exactly
// the pairs that measuring every pair finds: copies with noise at, just
// inside and just outside the threshold, honest-looking updates, zero and
// extreme values.
func TestNearDuplicatesPruningExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	found := 0
	defer func() {
		if found == 0 {
			t.Error("no trial had a near-duplicate pair: the test checks nothing")
		}
		t.Logf("%d near-duplicate pairs found", found)
	}()
	for trial := 0; trial < 60; trial++ {
		n, d := 2+rng.IntN(12), 1+rng.IntN(3000)
		scale := int64(1) << (4 + rng.IntN(27))
		ups := make([]Update, n)
		for i := range ups {
			ups[i] = Update{Weight: 1, Values: make([]int64, d)}
			if i > 0 && rng.IntN(3) == 0 { // a noisy copy of an earlier one
				src := ups[rng.IntN(i)].Values
				noise := int64(1) << rng.IntN(12)
				for j := range src {
					ups[i].Values[j] = src[j] + rng.Int64N(2*noise+1) - noise
				}
				continue
			}
			if rng.IntN(10) == 0 {
				continue // zero update
			}
			for j := range ups[i].Values {
				ups[i].Values[j] = rng.Int64N(2*scale+1) - scale
			}
			if trial%15 == 14 { // extreme values: no pruning, same answer
				ups[i].Values[0] = math.MaxInt64 - int64(rng.IntN(3))
			}
		}
		for _, rel := range []uint64{SybilDistance, 1_000, 200_000} {
			got, err := NearDuplicates(ups, rel)
			if err != nil {
				t.Fatal(err)
			}
			found += len(got)
			if want := nearDuplicatesRef(ups, rel); !slices.Equal(got, want) {
				t.Fatalf("trial %d rel %d: pruned %v, every pair %v", trial, rel, got, want)
			}
		}
	}
}

// TestNormEdges: norm equals the exact square root of the sum of squares
// for vectors of int32 extremes (where a 64-bit partial sum could wrap)
// and of large values (the saturating path).
func TestNormEdges(t *testing.T) {
	ref := func(v []int64) uint64 {
		var s uint128
		for _, x := range v {
			a := absU(x)
			hi, lo := bits.Mul64(a, a)
			s = s.add(uint128{hi, lo})
		}
		return isqrt128u(s)
	}
	for _, v := range [][]int64{
		{math.MinInt32, math.MinInt32, math.MinInt32, math.MinInt32, math.MinInt32},
		{math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32, 7, math.MinInt32, math.MinInt32},
		{1, 2, math.MaxInt64, math.MinInt64, 3},
		{math.MinInt32, math.MinInt32, math.MinInt32, math.MinInt32 - 1},
		{},
	} {
		if got, want := norm(v), ref(v); got != want {
			t.Errorf("norm(%v) = %d, want %d", v, got, want)
		}
	}
}

// TestScaleIntoExact: scaleInto's division by a reciprocal gives exactly
// x·max/n rounded half away from zero (math/big), on products below 2⁶⁴
// and above, with n from 1 up.
func TestScaleIntoExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ref := func(x, max int64, n uint64) int64 {
		p := new(big.Int).Mul(big.NewInt(x), big.NewInt(max))
		p.Abs(p)
		q, r := new(big.Int).QuoRem(p, new(big.Int).SetUint64(n), new(big.Int))
		if r.Lsh(r, 1).Cmp(new(big.Int).SetUint64(n)) >= 0 {
			q.Add(q, big.NewInt(1))
		}
		if x < 0 {
			q.Neg(q)
		}
		return q.Int64()
	}
	// Exact multiples of n, where ⌊p·recip/2⁶⁴⌋ falls one short (p = 3,
	// n = 3: recip = (2⁶⁴−1)/3, p·recip = 2⁶⁴−1).
	for _, n := range []uint64{3, 7, 1<<32 + 1, math.MaxInt64} {
		v := []int64{int64(n), -int64(n), 1, -1}
		for _, max := range []int64{1, int64(min(n, 3))} {
			out := make([]int64, len(v))
			scaleInto(out, v, max, n)
			for i, x := range v {
				if want := ref(x, max, n); out[i] != want {
					t.Fatalf("scaleInto(%d·%d/%d) = %d, want %d", x, max, n, out[i], want)
				}
			}
		}
	}
	for trial := range 3000 {
		var n uint64
		switch trial % 4 {
		case 0:
			n = 1 + rng.Uint64N(1000)
		case 1:
			n = 1 + rng.Uint64N(1<<40)
		case 2:
			n = 1 + rng.Uint64N(math.MaxInt64)
		default:
			n = []uint64{1, 2, 3, math.MaxInt64, 1 << 32, 1<<32 + 1}[rng.IntN(6)]
		}
		max := int64(1 + rng.Uint64N(n))
		v := make([]int64, 20)
		for i := range v {
			x := int64(rng.Uint64N(n + 1))
			if i%5 == 0 {
				x = int64(n) // the largest |x| allowed
			}
			if rng.IntN(2) == 0 {
				x = -x
			}
			v[i] = x
		}
		out := make([]int64, len(v))
		scaleInto(out, v, max, n)
		for i, x := range v {
			if want := ref(x, max, n); out[i] != want {
				t.Fatalf("scaleInto(%d·%d/%d) = %d, want %d", x, max, n, out[i], want)
			}
		}
	}
}

// TestMean2 holds mean2's fast path (a + b in 64 bits) and its 128-bit
// path to the exact half-away-from-zero mean, at the overflow edges and at
// random.
func TestMean2(t *testing.T) {
	ref := func(a, b int64) int64 {
		s := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
		neg := s.Sign() < 0
		s.Abs(s)
		s.Add(s, big.NewInt(1))
		s.Rsh(s, 1)
		if neg {
			s.Neg(s)
		}
		return s.Int64()
	}
	edges := []int64{math.MinInt64, math.MinInt64 + 1, -3, -2, -1, 0, 1, 2, 3, math.MaxInt64 - 1, math.MaxInt64}
	for _, a := range edges {
		for _, b := range edges {
			if got, want := mean2(a, b), ref(a, b); got != want {
				t.Fatalf("mean2(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for range 100000 {
		a, b := int64(rng.Uint64()), int64(rng.Uint64())
		if rng.IntN(2) == 0 {
			a, b = a>>40, b>>40
		}
		if got, want := mean2(a, b), ref(a, b); got != want {
			t.Fatalf("mean2(%d, %d) = %d, want %d", a, b, got, want)
		}
	}
}

// TestScaleIntoOutsideContract: arguments no caller passes still give an
// answer, not a panic: max ≤ 0 or n = 0 copy, a factor above 1 scales, a
// quotient beyond int64 saturates.
func TestScaleIntoOutsideContract(t *testing.T) {
	v := []int64{math.MinInt64, -5, 0, 7, math.MaxInt64}
	for _, c := range []struct {
		max  int64
		n    uint64
		want []int64
	}{
		{0, 10, v},
		{-3, 10, v},
		{5, 0, v},
		{10, 3, []int64{math.MinInt64 + 1, -17, 0, 23, math.MaxInt64}},
		{math.MaxInt64, 1, []int64{math.MinInt64 + 1, math.MinInt64 + 1, 0, math.MaxInt64, math.MaxInt64}},
	} {
		out := make([]int64, len(v))
		scaleInto(out, v, c.max, c.n)
		if !slices.Equal(out, c.want) {
			t.Errorf("scaleInto(v, %d, %d) = %v, want %v", c.max, c.n, out, c.want)
		}
	}
}
