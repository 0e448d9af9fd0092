package bench

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// FLamby is FLamby's published mean test accuracy on Fed-Heart-Disease
// (NeurIPS 2022, 5 seeds, logistic regression), by method.
var FLamby = map[string]float64{
	"pooled": 0.735, "local (best)": 0.722, "fedavg": 0.685, "fedprox": 0.685,
	"scaffold": 0.684, "cyclic": 0.718, "fedadam": 0.726, "fedyogi": 0.731, "fedadagrad": 0.731,
}

// Method is one federated recipe: local training and the chain's server optimizer.
type Method struct {
	Name      string
	Train     fl.TrainConfig
	ServerOpt pb.ServerOpt
	// Rounds, when not 0, stops the method after that many rounds instead
	// of the benchmark's (a recipe chosen with early stopping).
	Rounds int
}

// rounds is how many rounds m runs in a benchmark of n rounds.
func (m Method) rounds(n int) int {
	if m.Rounds > 0 {
		return m.Rounds
	}
	return n
}

// FederatedMethods are the recipes the heart benchmark runs through the chain.
func FederatedMethods() []Method {
	client := sim.DefaultConfig().Train
	prox := client
	prox.ProxMu = 0.1
	so := protocol.ServerOpts()
	return []Method{
		{Name: "fedavg", Train: client},
		{Name: "fedprox", Train: prox},
		{Name: "fedavgm", Train: client, ServerOpt: so["fedavgm"]},
		{Name: "fedadagrad", Train: client, ServerOpt: so["fedadagrad"]},
		{Name: "fedadam", Train: client, ServerOpt: so["fedadam"]},
		{Name: "fedyogi", Train: client, ServerOpt: so["fedyogi"]},
	}
}

// FLambyMethods are FLamby's own Fed-Heart-Disease recipes
// (flamby/config_heart_disease.json in owkin/FLamby): SGD clients taking
// 100 local steps of batch 4 per round, learning rate 10⁻⁴ (FedProx: 10⁻³
// and μ = 0.01), and the server optimizers' learning rates and betas as
// FLamby sets them. One substitute: FLamby's τ = 10⁻⁸ is below the
// chain's fixed-point resolution (2⁻¹⁶ ≈ 1.5·10⁻⁵), so these rows use
// τ = 16·10⁻⁶, one fixed-point unit.
func FLambyMethods() []Method {
	client := func(lr, mu float64) fl.TrainConfig {
		return fl.TrainConfig{Optimizer: "sgd", LearningRate: lr, Steps: 100, BatchSize: 4, ProxMu: mu}
	}
	adaptive := func(name string, lrMicro uint64) pb.ServerOpt {
		return pb.ServerOpt{Name: name, LrMicro: lrMicro, Beta1Micro: 900_000, Beta2Micro: 999_000, TauMicro: 16}
	}
	return []Method{
		{Name: "flamby-fedavg", Train: client(1e-4, 0)},
		{Name: "flamby-fedprox", Train: client(1e-3, 0.01)},
		{Name: "flamby-fedadagrad", Train: client(1e-4, 0), ServerOpt: adaptive("fedadagrad", 10_000_000)},
		{Name: "flamby-fedadam", Train: client(1e-4, 0), ServerOpt: adaptive("fedadam", 10_000)},
		{Name: "flamby-fedyogi", Train: client(1e-4, 0), ServerOpt: adaptive("fedyogi", 10_000)},
	}
}

// Protocols of the heart benchmark.
const (
	// ProtocolRandom draws a new stratified 66/34 split per hospital from
	// each seed (a robustness table, not FLamby's).
	ProtocolRandom = "random"
	// ProtocolFLamby is FLamby's: its one fixed split, each hospital's rows
	// scaled with its own training statistics (the pooled model trains on
	// rows scaled with the pooled training statistics, as FLamby's does,
	// and is scored as every method is), and seeds that change only
	// training; FLamby's recipes run as their own rows beside fedledger's.
	ProtocolFLamby = "flamby"
)

// HeartConfig configures the Fed-Heart-Disease benchmark.
type HeartConfig struct {
	// Protocol is ProtocolRandom (the default) or ProtocolFLamby.
	Protocol   string
	DataDir    string
	Seeds      []uint64
	Rounds     int
	Validators int
	// Methods filters the methods run (by name; "local", "pooled" included); empty runs all.
	Methods []string
	// Centralized is the recipe of local-only and pooled training.
	Centralized fl.TrainConfig
	Out         io.Writer
}

// DefaultHeartConfig is FLamby's protocol: 5 seeds, 15 rounds.
func DefaultHeartConfig() HeartConfig {
	return HeartConfig{
		Seeds: []uint64{42, 43, 44, 45, 46}, Rounds: 15, Validators: 4,
		Centralized: fl.TrainConfig{Optimizer: "adam", LearningRate: 0.001, Epochs: 50, BatchSize: 4},
	}
}

// Row is one measurement: a method's test accuracy at one hospital for one seed.
type Row struct {
	Method   string
	Seed     uint64
	Hospital string
	Accuracy float64
}

func (c HeartConfig) wants(name string) bool {
	if len(c.Methods) == 0 {
		return true
	}
	for _, m := range c.Methods {
		if m == name || (m == "local" && strings.HasPrefix(name, "local-")) {
			return true
		}
	}
	return false
}

// Heart runs the benchmark and returns its rows.
func Heart(ctx context.Context, cfg HeartConfig) ([]Row, error) {
	if len(cfg.Seeds) == 0 {
		return nil, errors.New("bench: no seeds")
	}
	if cfg.Rounds < 1 {
		return nil, fmt.Errorf("bench: %d rounds", cfg.Rounds)
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	var rows []Row
	spec := pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: uint32(len(datasets.HeartFeatures))}
	methods := FederatedMethods()
	var fixed *datasets.Federation
	switch cfg.Protocol {
	case "", ProtocolRandom:
		// FLamby's recipes and the tuned one only when named: on random
		// splits they are a robustness check, not the table's rows.
		for _, m := range append(FLambyMethods(), TunedHeartMethod()) {
			if len(cfg.Methods) > 0 && cfg.wants(m.Name) {
				methods = append(methods, m)
			}
		}
	case ProtocolFLamby:
		var err error
		if fixed, err = datasets.LoadHeartFLamby(cfg.DataDir); err != nil {
			return nil, err
		}
		methods = append(append(methods, FLambyMethods()...), TunedHeartMethod())
	default:
		return nil, fmt.Errorf("bench: protocol %q unknown (known: %s, %s)", cfg.Protocol, ProtocolRandom, ProtocolFLamby)
	}
	chainRuns := 0
	for _, meth := range methods {
		if cfg.wants(meth.Name) {
			chainRuns++
		}
	}
	prog := newProgress(len(cfg.Seeds) * chainRuns)
	for _, seed := range cfg.Seeds {
		fed := fixed
		if fed == nil {
			var err error
			if fed, err = datasets.LoadHeart(cfg.DataDir, seed); err != nil {
				return nil, err
			}
		}
		// Local-only: a model per hospital, tested at every hospital.
		for _, h := range fed.Hospitals {
			name := "local-" + h.Name
			if !cfg.wants(name) {
				continue
			}
			tc := cfg.Centralized
			tc.Seed = seed
			p0, _ := fl.InitParams(spec, protocol.DefaultFracBits)
			p, err := fl.Train(spec, p0, h.Train, tc)
			if err != nil {
				return nil, err
			}
			for _, t := range fed.Hospitals {
				m, _ := fl.Evaluate(spec, p, t.Test)
				rows = append(rows, Row{name, seed, t.Name, m.Accuracy})
			}
		}
		if cfg.wants("pooled") {
			var train datasets.Table
			var tests []datasets.Hospital
			var err error
			if fixed != nil {
				train, tests, err = datasets.LoadHeartFLambyPooled(cfg.DataDir)
			} else {
				train, tests, err = datasets.LoadHeartPooled(cfg.DataDir, seed)
			}
			if err != nil {
				return nil, err
			}
			tc := cfg.Centralized
			tc.Seed = seed
			p0, _ := fl.InitParams(spec, protocol.DefaultFracBits)
			p, err := fl.Train(spec, p0, train, tc)
			if err != nil {
				return nil, err
			}
			for _, t := range tests {
				m, _ := fl.Evaluate(spec, p, t.Test)
				rows = append(rows, Row{"pooled", seed, t.Name, m.Accuracy})
			}
		}
		for _, meth := range methods {
			if !cfg.wants(meth.Name) {
				continue
			}
			sc := sim.DefaultConfig()
			sc.Data = fed
			sc.Seed = seed
			sc.Rounds = meth.rounds(cfg.Rounds)
			sc.Validators = cfg.Validators
			sc.Train = meth.Train
			sc.ServerOpt = meth.ServerOpt
			t0 := time.Now()
			rep, err := sim.Run(ctx, sc)
			if err != nil {
				return nil, fmt.Errorf("bench: %s seed %d: %w", meth.Name, seed, err)
			}
			// sim.Run fails when the validators disagree; a round that
			// left a hospital out is not the method's result either.
			for _, r := range rep.Rounds {
				if r.Outcome != "aggregated" || r.Revealed != r.Invited {
					return nil, fmt.Errorf("bench: %s seed %d: round %d %s with %d of %d hospitals: refusing to report a run that did not aggregate every hospital", meth.Name, seed, r.Round, r.Outcome, r.Revealed, r.Invited)
				}
			}
			for _, h := range fed.Hospitals {
				rows = append(rows, Row{meth.Name, seed, h.Name, rep.Final.Accuracy[h.Name]})
			}
			fmt.Fprintf(out, "%s seed %d %-10s mean accuracy %.3f  (%d rounds on chain, model %s, %.1fs)\n",
				prog.step(), seed, meth.Name, rep.Final.MeanAccuracy, sc.Rounds, rep.Final.ModelHash[:12], time.Since(t0).Seconds())
		}
	}
	return rows, nil
}

// WriteCSV writes rows with the header method,seed,hospital,accuracy.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"method", "seed", "hospital", "accuracy"}); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Method, strconv.FormatUint(r.Seed, 10), r.Hospital, strconv.FormatFloat(r.Accuracy, 'f', 6, 64)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Summary is a method's mean accuracy per hospital and over hospitals.
type Summary struct {
	Method     string
	ByHospital map[string]float64
	Mean       float64
}

// Summarize averages rows over seeds, per method and hospital, the way
// FLamby reports: the mean over hospitals of the per-hospital means.
func Summarize(rows []Row) ([]Summary, []string) {
	type key struct{ m, h string }
	sum, n := map[key]float64{}, map[key]int{}
	var methods, hospitals []string
	seenM, seenH := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		k := key{r.Method, r.Hospital}
		sum[k] += r.Accuracy
		n[k]++
		if !seenM[r.Method] {
			seenM[r.Method] = true
			methods = append(methods, r.Method)
		}
		if !seenH[r.Hospital] {
			seenH[r.Hospital] = true
			hospitals = append(hospitals, r.Hospital)
		}
	}
	var out []Summary
	for _, m := range methods {
		s := Summary{Method: m, ByHospital: map[string]float64{}}
		for _, h := range hospitals {
			k := key{m, h}
			if n[k] > 0 {
				s.ByHospital[h] = sum[k] / float64(n[k])
				s.Mean += s.ByHospital[h]
			}
		}
		s.Mean /= float64(len(hospitals))
		out = append(out, s)
	}
	return out, hospitals
}

// FormatTable prints the summaries with FLamby's numbers beside them.
func FormatTable(sums []Summary, hospitals []string, seeds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s", "method")
	for _, h := range hospitals {
		fmt.Fprintf(&b, " %11s", h)
	}
	fmt.Fprintf(&b, " %8s %8s\n", "mean", "FLamby")
	bestLocal := ""
	for _, s := range sums {
		if strings.HasPrefix(s.Method, "local-") {
			if bestLocal == "" || s.Mean > meanOf(sums, bestLocal) {
				bestLocal = s.Method
			}
		}
	}
	sorted := append([]Summary(nil), sums...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i].Method) < rank(sorted[j].Method) })
	for _, s := range sorted {
		fmt.Fprintf(&b, "%-18s", s.Method)
		for _, h := range hospitals {
			fmt.Fprintf(&b, " %11.3f", s.ByHospital[h])
		}
		ref := "-"
		if v, ok := FLamby[s.Method]; ok {
			ref = fmt.Sprintf("%.3f", v)
		} else if s.Method == bestLocal {
			ref = fmt.Sprintf("%.3f", FLamby["local (best)"])
		}
		fmt.Fprintf(&b, " %8.3f %8s\n", s.Mean, ref)
	}
	fmt.Fprintf(&b, "mean test accuracy over %d seeds: per hospital, then over hospitals, as FLamby reports\n(with --protocol random each seed also draws its own split; Switzerland's 16 test rows are noisy).\n", seeds)
	return b.String()
}

func meanOf(sums []Summary, m string) float64 {
	for _, s := range sums {
		if s.Method == m {
			return s.Mean
		}
	}
	return 0
}

func rank(m string) int {
	order := []string{"pooled", "local-", "fedavg", "fedprox", "fedavgm", "fedadagrad", "fedadam", "fedyogi"}
	for i, p := range order {
		if m == p || (p == "local-" && strings.HasPrefix(m, p)) {
			return i
		}
	}
	return len(order)
}
