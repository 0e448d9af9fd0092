package aggregator

import (
	"fmt"
	"testing"
)

// BenchmarkRules times every rule over n updates of d parameters (int32-
// range values), reporting the update bytes processed per second (4 bytes
// per value, as updates travel in int32).
//
//	go test ./aggregator -run xxx -bench Rules -benchtime 3x
func BenchmarkRules(b *testing.B) {
	for _, d := range []int{10_000, 1_000_000} {
		for _, n := range []int{10, 50, 100} {
			r := splitmix(uint64(n*d + 1))
			updates := randomUpdates(&r, n, d, 1<<20, 1000)
			for _, name := range Rules {
				if d == 1_000_000 && n == 100 && (name == "median" || name == "trimmed_mean") {
					continue // minutes per op
				}
				rule, _ := RuleByName(name)
				b.Run(fmt.Sprintf("%s/n=%d/d=%d", name, n, d), func(b *testing.B) {
					b.SetBytes(int64(4 * n * d))
					for i := 0; i < b.N; i++ {
						if _, err := rule.Aggregate(updates); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkRound times a whole round of the robust default (huber with
// reputation: near-duplicates, norms, cosine to the aggregate), and of the
// median before it, over n updates of d parameters, as FinalizeBlock runs it.
//
//	go test ./aggregator -run xxx -bench Round -benchtime 3x
func BenchmarkRound(b *testing.B) {
	for _, n := range []int{10, 50} {
		d := 1_000_000
		r := splitmix(uint64(n*d + 7))
		updates := randomUpdates(&r, n, d, 1<<20, 1000)
		members := make([]Member, n)
		for i, u := range updates {
			members[i] = Member{Committed: true, Revealed: true, Weight: u.Weight, Update: u.Values, Score: 1_000_000}
		}
		for _, name := range []string{"huber", "median"} {
			rule, _ := RuleByName(name)
			b.Run(fmt.Sprintf("%s+reputation/n=%d/d=%d", name, n, d), func(b *testing.B) {
				b.SetBytes(int64(4 * n * d))
				for i := 0; i < b.N; i++ {
					if _, err := RunRound(members, rule, true, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkKernels times the inner loops of a robust round on one block of
// StreamBlock values (int32-range, as updates travel): the statistics pass
// (norm and sketch), the dot product with the aggregate, norm clipping, and
// one coordinate's median and Huber estimate over 50 updates.
//
//	go test ./aggregator -run xxx -bench Kernels
func BenchmarkKernels(b *testing.B) {
	r := splitmix(11)
	ups := randomUpdates(&r, 2, StreamBlock, 1<<20, 1)
	x, y := ups[0].Values, ups[1].Values
	out := make([]int64, len(x))
	sk := make([]int64, (len(x)+sketchBlock-1)/sketchBlock)
	b.Run("blockStats", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			blockStats(x, sk)
		}
	})
	b.Run("blockDot", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			blockDot(x, y)
		}
	})
	b.Run("scaleInto", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			scaleInto(out, x, 1_000_003, 3_000_017)
		}
	})
	tab := make([]int32, len(x))
	b.Run("sketchTable", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			sketchTable(uint64(i), 0, tab)
		}
	})
	csk := make([]int64, AlikeSketch)
	b.Run("addSketch", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for i := 0; i < b.N; i++ {
			addSketch(csk, x, tab)
		}
	})
	cols := randomUpdates(&r, 1, 50*1024, 1<<20, 1)[0].Values
	sc := newHuberScratch(50)
	b.Run("median/n=50", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := i % 1024
			orderStats(cols[c*50:(c+1)*50], sc.s, sc.t, 25)
		}
	})
	b.Run("huber/n=50", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := i % 1024
			huberColumn(cols[c*50:(c+1)*50], sc)
		}
	})
	// A whole block of columnBlock coordinates of 50 updates, gathered and
	// estimated, by selection and by network (sortnet.go; in Go where the
	// CPU has no AVX2); ns/col is per coordinate.
	ups = randomUpdates(&r, 50, columnBlock, 1<<20, 1)
	blockOut := make([]int64, columnBlock)
	for _, way := range []struct {
		name  string
		block func([]Update, clip, int, int, []int64)
	}{{"huberBlock/select", huberBlockSelect}, {"huberBlock/net", huberBlockNet}} {
		b.Run(way.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				way.block(ups, clip{}, 0, columnBlock, blockOut)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/columnBlock, "ns/col")
		})
	}
}
