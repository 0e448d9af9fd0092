package bench

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// MethodStats are a method's results over seeds: each seed's mean over
// hospitals, then their mean, standard deviation and 95 % interval
// (Student's t), and the paired difference to FedAvg on the same seeds.
type MethodStats struct {
	Method string  `json:"method"`
	Seeds  int     `json:"seeds"`
	Mean   float64 `json:"mean"`
	SD     float64 `json:"sd"`
	Lo     float64 `json:"ci95_lo"`
	Hi     float64 `json:"ci95_hi"`
	// DiffFedAvg is the mean of (this − fedavg) over the seeds both ran,
	// with its 95 % interval; absent for fedavg itself or without it.
	DiffFedAvg *Interval `json:"diff_fedavg,omitempty"`
}

// Interval is a mean with its 95 % interval.
type Interval struct {
	Mean float64 `json:"mean"`
	Lo   float64 `json:"ci95_lo"`
	Hi   float64 `json:"ci95_hi"`
}

// tQuantile975 is Student's t 0.975 quantile for df = 1..30 degrees of
// freedom (beyond, the normal 1.96).
var tQuantile975 = []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// interval returns the mean, sd and 95 % interval of xs.
func interval(xs []float64) (mean, sd, lo, hi float64) {
	n := float64(len(xs))
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, 0, math.NaN(), math.NaN()
	}
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	sd = math.Sqrt(sd / (n - 1))
	t := 1.96
	if df := len(xs) - 1; df <= len(tQuantile975) {
		t = tQuantile975[df-1]
	}
	half := t * sd / math.Sqrt(n)
	return mean, sd, mean - half, mean + half
}

// SeedStats summarizes rows per method over seeds (see MethodStats), in
// the order methods first appear.
func SeedStats(rows []Row) []MethodStats {
	type key struct {
		m    string
		seed uint64
	}
	sum, n := map[key]float64{}, map[key]int{}
	var methods []string
	seeds := map[string][]uint64{}
	for _, r := range rows {
		k := key{r.Method, r.Seed}
		if n[k] == 0 {
			if len(seeds[r.Method]) == 0 {
				methods = append(methods, r.Method)
			}
			seeds[r.Method] = append(seeds[r.Method], r.Seed)
		}
		sum[k] += r.Accuracy
		n[k]++
	}
	perSeed := func(m string, s uint64) float64 { return sum[key{m, s}] / float64(n[key{m, s}]) }
	var out []MethodStats
	for _, m := range methods {
		ss := append([]uint64(nil), seeds[m]...)
		sort.Slice(ss, func(a, b int) bool { return ss[a] < ss[b] })
		var xs, diffs []float64
		for _, s := range ss {
			xs = append(xs, perSeed(m, s))
			if m != "fedavg" && n[key{"fedavg", s}] > 0 {
				diffs = append(diffs, perSeed(m, s)-perSeed("fedavg", s))
			}
		}
		st := MethodStats{Method: m, Seeds: len(xs)}
		st.Mean, st.SD, st.Lo, st.Hi = interval(xs)
		if len(diffs) > 0 {
			d := &Interval{}
			d.Mean, _, d.Lo, d.Hi = interval(diffs)
			st.DiffFedAvg = d
		}
		out = append(out, st)
	}
	return out
}

// FormatSeedStats prints SeedStats as a table.
func FormatSeedStats(stats []MethodStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %5s %7s %6s %17s %26s\n", "method", "seeds", "mean", "sd", "95% interval", "paired diff to fedavg")
	ci := func(lo, hi float64) string {
		if math.IsNaN(lo) {
			return "-"
		}
		return fmt.Sprintf("[%.3f, %.3f]", lo, hi)
	}
	for _, s := range stats {
		diff := ""
		if d := s.DiffFedAvg; d != nil {
			diff = fmt.Sprintf("%+.3f %s", d.Mean, ci(d.Lo, d.Hi))
		}
		fmt.Fprintf(&b, "%-18s %5d %7.3f %6.3f %17s %26s\n", s.Method, s.Seeds, s.Mean, s.SD, ci(s.Lo, s.Hi), diff)
	}
	return b.String()
}
