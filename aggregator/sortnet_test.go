package aggregator

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestNetSorts: netFor(n) sorts n values for every n the network path
// takes. By the 0–1 principle a comparator network sorts every input if it
// sorts every input of zeros and ones, which is checked exhaustively up to
// 18 values; above that, random inputs of every kind (ties, extremes) are
// sorted by the vector code and by sortRows4Go alike.
func TestNetSorts(t *testing.T) {
	for n := 2; n <= maxNet; n++ {
		net := netFor(n)
		for _, c := range net {
			i, j := int(c&0xffff)/32, int(c>>16)/32
			if c&31 != 0 || c>>16&31 != 0 || i >= j || j >= n {
				t.Fatalf("n=%d: comparator (%d, %d) packed %#x", n, i, j, c)
			}
		}
		if n <= 18 {
			for x := range uint32(1) << n {
				y := x // bit i is row i
				for _, c := range net {
					i, j := c&0xffff/32, c>>16/32
					bi, bj := y>>i&1, y>>j&1
					y = y&^(1<<i|1<<j) | (bi&bj)<<i | (bi|bj)<<j
				}
				if ones := (uint32(1)<<n - 1) &^ (uint32(1)<<(n-popcount(x)) - 1); y != ones {
					t.Fatalf("n=%d: 0–1 input %b sorted to %b", n, x, y)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 2; n <= maxNet; n++ {
		for trial := range 40 {
			rows := testRows(rng, n, trial)
			vec, ref := slices.Clone(rows), slices.Clone(rows)
			sortRows4(vec, n)
			sortRows4Go(ref, netFor(n))
			if !slices.Equal(vec, ref) {
				t.Fatalf("n=%d: sortRows4 %v, sortRows4Go %v", n, vec, ref)
			}
			for l := range 4 {
				lane := make([]int64, n)
				for i := range lane {
					lane[i] = vec[4*i+l]
				}
				if !slices.IsSorted(lane) {
					t.Fatalf("n=%d lane %d not sorted: %v", n, l, lane)
				}
			}
		}
	}
}

// TestLaneLoops: the vector loops of huberGroup compute what their Go
// versions say, on rows of every kind (the wrapping of values near ±2⁶³
// included), for every run count and span a group of up to maxNet rows
// uses.
func TestLaneLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for n := 1; n <= maxNet; n++ {
		for trial := range 8 {
			rows := testRows(rng, n, trial)
			m := [4]int64{rows[0], rng.Int64(), 0, math.MinInt64}
			for span := range n {
				runs := n - span
				var vec, ref [4]int64
				madRuns4(rows, &m, runs, span, &vec)
				madRuns4Go(rows, &m, runs, span, &ref)
				if vec != ref {
					t.Fatalf("n=%d span %d: madRuns4 %v, madRuns4Go %v", n, span, vec, ref)
				}
			}
			mc := [8]int64{m[0], m[1], m[2], m[3], int64(rng.IntN(100)), rng.Int64(), math.MaxInt64, 0}
			var vec, ref [8]int64
			clipSum4(rows, &mc, &vec)
			clipSum4Go(rows, &mc, &ref)
			if vec != ref {
				t.Fatalf("n=%d: clipSum4 %v, clipSum4Go %v", n, vec, ref)
			}
		}
	}
}

// testRows returns n rows of four lanes, lane l a testColumn of kind
// kind+l.
func testRows(rng *rand.Rand, n, kind int) []int64 {
	rows := make([]int64, 4*n)
	for l := range 4 {
		for i, v := range testColumn(rng, n, kind+l) {
			rows[4*i+l] = v
		}
	}
	return rows
}

func popcount(x uint32) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

// TestHuberNetMatchesSelection: Huber's estimate by network equals the
// selection's, bit for bit, for every count the network takes, on columns
// of every kind (full int64 range, ties, narrow, extremes, a narrow range
// next to ±2⁶³), with and without clipping, and a last group of fewer than
// four columns.
func TestHuberNetMatchesSelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const d = 4*3 + 1
	for n := 2; n <= maxNet; n++ {
		for trial := range 12 {
			updates := make([]Update, n)
			for i := range updates {
				updates[i] = Update{Values: make([]int64, d), Weight: 1}
			}
			for j := range d {
				var col []int64
				switch k := trial + j; k % 6 {
				case 4:
					col = make([]int64, n)
					for i := range col {
						col[i] = math.MaxInt64 - int64(rng.IntN(1000))
					}
				case 5:
					col = make([]int64, n)
					for i := range col {
						col[i] = math.MinInt64 + int64(rng.IntN(1<<20))
					}
				default:
					col = testColumn(rng, n, k)
				}
				for i, v := range col {
					updates[i].Values[j] = v
				}
			}
			for _, c := range []clip{{}, {max: 1 << 40, norms: Norms(updates)}} {
				net, sel := make([]int64, d), make([]int64, d)
				huberBlockNet(updates, c, 0, d, net)
				huberBlockSelect(updates, c, 0, d, sel)
				if !slices.Equal(net, sel) {
					t.Fatalf("n=%d trial %d clip %d: network %v, selection %v", n, trial, c.max, net, sel)
				}
			}
		}
	}
}

// TestMedianNetMatchesSelection: the median and the trimmed mean (every
// trim from none to the most) by network equal the selection's for every
// count the network takes, on columns of every kind, with a last group of
// fewer than four columns.
func TestMedianNetMatchesSelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const d = 4*2 + 3
	for n := 2; n <= maxNet; n++ {
		updates := make([]Update, n)
		for i := range updates {
			updates[i] = Update{Values: make([]int64, d), Weight: 1}
		}
		for j := range d {
			for i, v := range testColumn(rng, n, j) {
				updates[i].Values[j] = v
			}
		}
		med := make([]int64, d)
		medianBlockNet(updates, 0, d, med)
		for _, beta := range []uint64{0, 100_000, 300_000, 499_999} {
			k := trimCount(n, beta)
			net, sel := make([]int64, d), make([]int64, d)
			trimmedBlockNet(updates, k, 0, d, net)
			trimmedBlockSelect(updates, k, 0, d, sel)
			if !slices.Equal(net, sel) {
				t.Fatalf("n=%d trim %d: trimmed mean by network %v, by selection %v", n, k, net, sel)
			}
		}
		for j := range d {
			col := make([]int64, n)
			for i := range col {
				col[i] = updates[i].Values[j]
			}
			if want := sortedMedian(col); med[j] != want {
				t.Fatalf("n=%d column %d: network %d, sorted %d", n, j, med[j], want)
			}
		}
	}
}

// FuzzHuberNet: for any column of 2 to maxNet values, Huber's estimate by
// network equals the selection's.
func FuzzHuberNet(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3})
	f.Add([]byte{49, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x80, 7})
	f.Add([]byte{62, 0x10, 0xf0, 0x01, 0x80, 0x33})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		n := 2 + int(data[0])%(maxNet-1)
		vals := data[1:]
		updates := make([]Update, n)
		for i := range updates {
			var v int64
			if len(vals) >= 8 && vals[0]&1 == 1 {
				v = int64(binary.LittleEndian.Uint64(vals))
				vals = vals[8:]
			} else if len(vals) > 0 {
				v = int64(int8(vals[0])) << (vals[0] >> 2 & 63)
				vals = vals[1:]
			}
			updates[i] = Update{Values: []int64{v, -v}, Weight: 1}
		}
		net, sel := make([]int64, 2), make([]int64, 2)
		huberBlockNet(updates, clip{}, 0, 2, net)
		huberBlockSelect(updates, clip{}, 0, 2, sel)
		if !slices.Equal(net, sel) {
			t.Fatalf("n=%d: network %v, selection %v", n, net, sel)
		}
	})
}
