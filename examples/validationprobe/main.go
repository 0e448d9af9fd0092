package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"sort"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}

func coordMedian(ups [][]float64, skip int) []float64 {
	d := len(ups[0])
	out := make([]float64, d)
	col := make([]float64, 0, len(ups))
	for j := 0; j < d; j++ {
		col = col[:0]
		for i, u := range ups {
			if i != skip {
				col = append(col, u[j])
			}
		}
		out[j] = median(col)
	}
	return out
}

func add(w, d []float64) []float64 {
	out := make([]float64, len(w))
	for i := range w {
		out[i] = w[i] + d[i]
	}
	return out
}

func main() {
	ds := flag.String("dataset", "diabetes", "heart, wdbc, diabetes or csv:PATH")
	data := flag.String("data", "", "data directory (default $FEDLEDGER_DATA or ../shared/datasets)")
	part := flag.String("partition", "dirichlet:0.5", "natural, iid or dirichlet:ALPHA")
	attack := flag.String("attack", "sign-flip", "a non-colluding attack of fl/sim")
	mal := flag.Int("malicious", 3, "malicious hospitals (the last ones)")
	rounds := flag.Int("rounds", 8, "rounds")
	seed := flag.Uint64("seed", 42, "seed")
	cmp := flag.String("cmp", "loo", "what an update is compared with: loo (the median of the other updates), stay (not moving) or flip (the update's opposite, w − Δ)")
	metric := flag.String("metric", "loss", "how a scorer compares: loss (mean log-loss) or auc (ranking only: blind to an intercept, so to a hospital's share of positives)")
	liars := flag.Bool("liars", false, "malicious hospitals score too, and lie: every honest update harmful (+1), every malicious one helpful (-1)")
	flag.Parse()
	if *attack == "" || sim.Collusive(*attack) {
		log.Fatalf("--attack %q: give a non-colluding attack", *attack)
	}
	src := datasets.Source{Dataset: *ds, Dir: datasets.FindDir(*data), Hospitals: 10, Partition: *part}
	fed, _, err := src.Open(*seed)
	if err != nil {
		log.Fatal(err)
	}
	// val's Train rows are the training rows less the validation rows,
	// which are its Test rows.
	val, err := fed.HoldOut(0.2, *seed)
	if err != nil {
		log.Fatal(err)
	}
	n := len(val.Hospitals)
	spec := pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: uint32(fed.NumFeatures())}
	np, _ := spec.NumParams()
	w := make([]float64, np)
	cfg := fl.DefaultTrainConfig()
	bad := map[int]*sim.Attack{}
	for k := 0; k < *mal; k++ {
		bad[n-1-k] = &sim.Attack{Name: *attack, Seed: *seed}
	}
	harmHonest, harmBad := []float64{}, []float64{}
	cum, cum5 := make([]float64, n), make([]float64, n) // summed robust z of the trimmed scores
	for r := 1; r <= *rounds; r++ {
		ups := make([][]float64, n)
		for i, h := range val.Hospitals {
			data := h.Train
			if a := bad[i]; a != nil {
				data = a.PrepareData(h).Train
			}
			c := cfg
			c.Seed = *seed*1000 + uint64(r*10+i)
			local, err := fl.Train(spec, w, data, c)
			if err != nil {
				log.Fatal(err)
			}
			delta := make([]float64, np)
			for j := range delta {
				delta[j] = local[j] - w[j]
			}
			if a := bad[i]; a != nil {
				delta, err = a.Transform(context.Background(), h.Name, sim.Step{Task: 1, Round: uint32(r), Delta: delta, PrevStep: make([]float64, np), Global: w})
				if err != nil {
					log.Fatal(err)
				}
			}
			ups[i] = delta
		}
		// scores
		line := fmt.Sprintf("r%d", r)
		trimmed := make([]float64, n) // per update: the scorers' loss differences, f trimmed from each end
		for j := range ups {
			var ref []float64
			switch *cmp {
			case "loo":
				ref = add(w, coordMedian(ups, j))
			case "flip":
				neg := make([]float64, len(ups[j]))
				for k, v := range ups[j] {
					neg[k] = -v
				}
				ref = add(w, neg)
			default:
				ref = w
			}
			cand := add(w, ups[j])
			harm, tot := 0, 0
			var diffs []float64
			var all []float64 // every scorer's, liars' included (with --liars)
			for i, h := range val.Hospitals {
				if i == j {
					continue
				}
				if bad[i] != nil {
					if *liars {
						lie := 1.0
						if bad[j] != nil {
							lie = -1
						}
						all = append(all, lie)
					}
					continue
				}
				var d float64 // > 0: the update makes this scorer's rows worse
				if *metric == "auc" {
					a, _ := fl.Score(spec, cand, h.Test)
					b, _ := fl.Score(spec, ref, h.Test)
					d = b.AUC - a.AUC
				} else {
					a, _ := fl.Evaluate(spec, cand, h.Test)
					b, _ := fl.Evaluate(spec, ref, h.Test)
					d = a.Loss - b.Loss
				}
				diffs = append(diffs, d)
				all = append(all, d)
				tot++
				if d > 0 {
					harm++
				}
			}
			sort.Float64s(all)
			trimmed[j] = mean(all[*mal : len(all)-*mal])
			frac := float64(harm) / float64(tot)
			tag := "h"
			if bad[j] != nil {
				tag = "M"
				harmBad = append(harmBad, frac)
			} else {
				harmHonest = append(harmHonest, frac)
			}
			line += fmt.Sprintf(" %s%.2f/%+.3f", tag, frac, median(diffs))
		}
		// Within the round, each update's trimmed score as a robust z
		// against the round's (median and MAD), summed over rounds.
		med := median(trimmed)
		dev := make([]float64, n)
		for j, t := range trimmed {
			dev[j] = math.Abs(t - med)
		}
		mad := 1.4826 * median(dev)
		for j, t := range trimmed {
			z := 0.0
			if mad > 0 {
				z = (t - med) / mad
			}
			cum[j] += z
			if r <= 5 {
				cum5[j] = cum[j]
			}
		}
		fmt.Println(line)
		w = add(w, coordMedian(ups, -1))
	}
	acc := 0.0
	for _, h := range fed.Hospitals {
		m, _ := fl.Evaluate(spec, w, h.Test)
		acc += m.Accuracy / float64(len(fed.Hospitals))
	}
	mx := 0.0
	for _, v := range harmHonest {
		mx = math.Max(mx, v)
	}
	mn := 1.0
	for _, v := range harmBad {
		mn = math.Min(mn, v)
	}
	hiH, loM := math.Inf(-1), math.Inf(1)
	for j := range cum5 {
		if bad[j] != nil {
			loM = math.Min(loM, cum5[j])
		} else {
			hiH = math.Max(hiH, cum5[j])
		}
	}
	fmt.Printf("summed robust z of the trimmed scores over rounds 1-5: honest max %+.1f, malicious min %+.1f\n", hiH, loM)
	fmt.Printf("final accuracy %.3f; share of honest scorers saying worse: honest updates mean %.2f max %.2f, malicious mean %.2f min %.2f\n", acc, mean(harmHonest), mx, mean(harmBad), mn)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	return s / float64(len(xs))
}
