package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/bench"
	"github.com/fedledger/fedledger/fl/sim"
	"github.com/fedledger/fedledger/protocol"
)

const benchHelp = `Usage: fedledger bench heart|attacks|aggregate|chain|large [flags]

heart:

Runs FLamby's Fed-Heart-Disease benchmark on the UCI heart disease data of
four hospitals: for each seed, local-only training at each hospital, pooled
training, and every federated method (fedavg, fedprox, fedavgm, fedadagrad,
fedadam, fedyogi) with every round through a real in-process CometBFT network.
Writes one CSV row per (method, seed, hospital): method,seed,hospital,accuracy
(test accuracy at threshold 0.5 on that hospital's test split), and prints
the table of means beside FLamby's published numbers.

attacks:
Runs every attack (label-flip, sign-flip, scale, noise, free-rider,
free-rider-echo, sybil, alie, ipm, commit-no-reveal) with --malicious
hospitals against the default robust rule (median with on-chain reputation)
and plain FedAvg, each through a real in-process CometBFT network, plus the
same runs with every hospital honest. Writes rows
attack,rule,seed,accuracy,clean_accuracy,malicious_flagged,malicious_total,
honest_flagged,rounds_to_flag and prints a table.

aggregate:
Times every aggregation rule over --updates updates of --params parameters
and, on the same buffers in the same run, the machine's plain memory copy;
prints each rule's seconds, bytes of updates per second, and the ratio.

chain:
Measures update throughput through the ledger: --updates RevealUpdate
transactions of --update-bytes each through fedledger's app on an in-process
network of --validators validators, then key=value transactions of the same
sizes through CometBFT's kvstore example app on the same kind of network;
prints MB/s of each and their ratio. Both networks use the settings testnet
and demo write (docs/performance.md); --cometbft-defaults uses CometBFT's
stock limits instead (5 MB/s per peer, 1 kB packets, 4 MiB blocks).

large:
Runs a task with a model of --params parameters (an MLP sized to get there)
over --hospitals hospitals on an in-process network of --validators
validators, once per --encodings entry: int32 (dense), int16 or int8 (per-
tensor scales), topk (int8 keeping --topk-ppm millionths of the coordinates).
Updates above 512 KiB go as chunk transactions. Prints per encoding the
update size, seconds per round, bytes of blocks per round and the time from
the last reveal's block to the next model being queryable.

Examples:
  fedledger bench large --data ../shared/datasets --params 1000000 --hospitals 10 --rounds 3
  fedledger bench chain --validators 4 --update-bytes 100000 --updates 200 --output json
  fedledger bench heart --data ../shared/datasets --out heart.csv
  fedledger bench heart --data ../shared/datasets --seeds 42 --rounds 5 --methods fedavg,fedadam
  fedledger bench aggregate --params 1000000 --updates 20 --output json
  fedledger bench attacks --dataset wdbc --data ../shared/datasets --hospitals 10 --malicious 3 --rounds 10 --seeds 42 --out attacks.csv`

func runBench(args []string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand(args, benchHelp, "name a benchmark: fedledger bench heart|attacks|aggregate|chain|large", stdout)
	if done || err != nil {
		return err
	}
	if strings.HasPrefix(sub, "-") {
		return fmt.Errorf("%w: name a benchmark: fedledger bench heart|attacks|aggregate", errUsage)
	}
	switch sub {
	case "heart":
		return runBenchHeart(args, stdout)
	case "attacks":
		return runBenchAttacks(args, stdout)
	case "aggregate":
		return runBenchAggregate(args, stdout)
	case "chain":
		return runBenchChain(args, stdout, stderr)
	case "large":
		return runBenchLarge(args, stdout, stderr)
	}
	return fmt.Errorf("%w: unknown benchmark %q (known: heart, attacks, aggregate, chain, large)", errUsage, sub)
}

func runBenchHeart(args []string, stdout io.Writer) error {
	def := bench.DefaultHeartConfig()
	fs := newFlagSet("bench heart", benchHelp, stdout)
	data := fs.String("data", "", "data directory holding heart-disease/ (default $"+datasets.EnvData+")")
	seeds := fs.String("seeds", "42,43,44,45,46", "comma-separated seeds")
	rounds := fs.Int("rounds", def.Rounds, "federated rounds")
	validators := fs.Int("validators", def.Validators, "CometBFT validators")
	methods := fs.String("methods", "", "comma-separated methods to run (default all: local,pooled,fedavg,fedprox,fedavgm,fedadagrad,fedadam,fedyogi)")
	out := fs.String("out", "", "CSV file to write (default: no file)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := def
	cfg.Rounds = *rounds
	cfg.Validators = *validators
	cfg.Out = stdout
	var err error
	if cfg.Seeds, err = parseSeeds(*seeds); err != nil {
		return err
	}
	if *methods != "" {
		known := map[string]bool{"local": true, "pooled": true}
		for _, m := range bench.FederatedMethods() {
			known[m.Name] = true
		}
		for _, m := range strings.Split(*methods, ",") {
			m = strings.TrimSpace(m)
			if !known[m] {
				return fmt.Errorf("%w: --methods: unknown method %q", errUsage, m)
			}
			cfg.Methods = append(cfg.Methods, m)
		}
	}
	if *rounds < 1 || *validators < 1 {
		return fmt.Errorf("%w: --rounds and --validators must be at least 1", errUsage)
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	cfg.DataDir = *data
	if cfg.DataDir == "" {
		cfg.DataDir = os.Getenv(datasets.EnvData)
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("%w: give --data DIR (the folder holding heart-disease/) or set $%s", errUsage, datasets.EnvData)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	rows, err := bench.Heart(ctx, cfg)
	if err != nil {
		return err
	}
	sums, hospitals := bench.Summarize(rows)
	fmt.Fprint(stdout, "\n"+bench.FormatTable(sums, hospitals, len(cfg.Seeds)))
	fmt.Fprintf(stdout, "%d rows in %.0fs\n", len(rows), time.Since(t0).Seconds())
	if *out != "" {
		if err := writeFileAtomic(*out, func(w io.Writer) error { return bench.WriteCSV(w, rows) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rows written to %s\n", *out)
	}
	return nil
}

func runBenchAttacks(args []string, stdout io.Writer) error {
	def := bench.DefaultAttackConfig()
	fs := newFlagSet("bench attacks", benchHelp, stdout)
	dataset := fs.String("dataset", "wdbc", "wdbc, heart or csv:PATH")
	data := fs.String("data", "", "data directory (default $"+datasets.EnvData+")")
	label := fs.String("label", "", "csv: the binary label column")
	partition := fs.String("partition", "dirichlet:1.0", "dirichlet:ALPHA, iid or natural")
	hospitals := fs.Int("hospitals", 10, "hospitals (wdbc and csv)")
	malicious := fs.Int("malicious", def.Malicious, "malicious hospitals in each attacked run")
	rounds := fs.Int("rounds", def.Rounds, "rounds")
	seeds := fs.String("seeds", "42", "comma-separated seeds")
	validators := fs.Int("validators", def.Validators, "CometBFT validators")
	attacks := fs.String("attacks", "", "comma-separated attacks (default all)")
	rules := fs.String("rules", bench.RobustRule+",fedavg", "comma-separated rules; every rule but fedavg runs with reputation")
	out := fs.String("out", "", "CSV file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := def
	cfg.Malicious, cfg.Rounds, cfg.Validators, cfg.Out = *malicious, *rounds, *validators, stdout
	var err error
	if cfg.Seeds, err = parseSeeds(*seeds); err != nil {
		return err
	}
	if *attacks != "" {
		m, err := sim.ParseAttacks(strings.Split(*attacks, ","))
		if err != nil {
			return fmt.Errorf("%w: --attacks: %v", errUsage, err)
		}
		for _, a := range sim.Attacks {
			if m[a] > 0 {
				cfg.Attacks = append(cfg.Attacks, a)
			}
		}
	}
	cfg.Rules = nil
	for _, r := range strings.Split(*rules, ",") {
		if _, err := aggregator.RuleByName(r); err != nil {
			return fmt.Errorf("%w: --rules: %v", errUsage, err)
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	if *rounds < 1 || *validators < 1 || *malicious < 1 {
		return fmt.Errorf("%w: --rounds, --validators and --malicious must be at least 1", errUsage)
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		dir = os.Getenv(datasets.EnvData)
	}
	cfg.Source = datasets.Source{Dataset: *dataset, Dir: dir, Label: *label, Hospitals: *hospitals, Partition: *partition}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	rows, err := bench.Attacks(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, "\n"+bench.FormatAttackTable(rows))
	fmt.Fprintf(stdout, "%d runs in %.0fs\n", len(rows), time.Since(t0).Seconds())
	if *out != "" {
		if err := writeFileAtomic(*out, func(w io.Writer) error { return bench.WriteAttackCSV(w, rows) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rows written to %s\n", *out)
	}
	return nil
}

func checkOutDir(out string) error {
	if out == "" {
		return nil
	}
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: --out %s: folder %s does not exist", errUsage, out, filepath.Dir(out))
	}
	return nil
}

// writeFileAtomic writes through a temporary file renamed into place.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// parseSeeds reads a comma-separated list of seeds.
func parseSeeds(list string) ([]uint64, error) {
	var out []uint64
	for _, s := range strings.Split(list, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: --seeds: %q is not a number", errUsage, s)
		}
		out = append(out, v)
	}
	return out, nil
}

func runBenchAggregate(args []string, stdout io.Writer) error {
	fs := newFlagSet("bench aggregate", benchHelp, stdout)
	params := fs.Int("params", 1_000_000, "parameters per update")
	updates := fs.Int("updates", 20, "updates")
	rules := fs.String("rules", strings.Join(aggregator.Rules, ","), "comma-separated rules")
	reps := fs.Int("reps", 3, "repetitions (best is kept)")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *params < 1 || *updates < 1 || *reps < 1 || *params*(*updates) > 1<<28 {
		return fmt.Errorf("%w: --params and --updates must be at least 1 and their product at most 2^28", errUsage)
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	list := strings.Split(*rules, ",")
	for _, r := range list {
		if _, err := aggregator.RuleByName(r); err != nil {
			return fmt.Errorf("%w: --rules: %v", errUsage, err)
		}
	}
	res, err := bench.Aggregate(*params, *updates, list, *reps)
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(stdout, map[string]any{"params": *params, "updates": *updates, "rules": res})
	}
	fmt.Fprintf(stdout, "%d updates of %d parameters (%.0f MB as int64)\n", *updates, *params, float64(8**params**updates)/1e6)
	fmt.Fprintf(stdout, "%-14s %10s %14s %14s %7s\n", "rule", "seconds", "MB/s", "memcpy MB/s", "ratio")
	for _, r := range res {
		fmt.Fprintf(stdout, "%-14s %10.4f %14.0f %14.0f %7.2f\n", r.Rule, r.Seconds, r.BytesPerSecond/1e6, r.MemcpyBytesPerSecond/1e6, r.Ratio)
	}
	return nil
}

func runBenchChain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench chain", benchHelp, stdout)
	def := bench.DefaultChainConfig()
	validators := fs.Int("validators", def.Validators, "validators in each network")
	updateBytes := fs.Int("update-bytes", def.UpdateBytes, "bytes of each update transaction")
	updates := fs.Int("updates", def.Updates, "update transactions per network")
	senders := fs.Int("senders", def.Senders, "clients broadcasting at once")
	stock := fs.Bool("cometbft-defaults", false, "run both networks with CometBFT's stock limits")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	cfg := def
	cfg.Validators, cfg.UpdateBytes, cfg.Updates, cfg.Senders = *validators, *updateBytes, *updates, *senders
	if *stock {
		cfg.Network = localnet.NetworkSettings{}
	}
	cfg.Progress = stderr
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := bench.Chain(ctx, cfg)
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "%d validators, %d update transactions of %d bytes\n", r.Validators, r.Updates, r.UpdateBytes)
	fmt.Fprintf(stdout, "%-10s %9s %9s %9s %7s\n", "app", "seconds", "tx/s", "MB/s", "blocks")
	for _, run := range []bench.ChainRun{r.Fedledger, r.KVStore} {
		fmt.Fprintf(stdout, "%-10s %9.2f %9.1f %9.2f %7d\n", run.App, run.Seconds, run.TxPerSecond, run.MBPerSecond, run.Blocks)
	}
	fmt.Fprintf(stdout, "ratio fedledger/kvstore: %.2f\n", r.Ratio)
	return nil
}

func runBenchLarge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench large", benchHelp, stdout)
	def := bench.DefaultLargeConfig()
	data := fs.String("data", os.Getenv("FEDLEDGER_DATA"), "datasets directory (default $FEDLEDGER_DATA, else ../shared/datasets found upward)")
	dataset := fs.String("dataset", def.Source.Dataset, "wdbc or heart")
	hospitals := fs.Int("hospitals", def.Source.Hospitals, "hospitals (wdbc)")
	params := fs.Int("params", def.Params, "model parameters (approximately)")
	rounds := fs.Int("rounds", def.Rounds, "rounds per run")
	validators := fs.Int("validators", def.Validators, "validators")
	encodings := fs.String("encodings", strings.Join(def.Encodings, ","), "comma-separated: int32, int16, int8, topk")
	topk := fs.Uint("topk-ppm", uint(def.TopkPpm), "share of coordinates topk keeps, in millionths")
	output := fs.String("output", "text", "text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutput(*output); err != nil {
		return err
	}
	if *dataset != "wdbc" && *dataset != "heart" {
		return fmt.Errorf("%w: --dataset %q: bench large runs on wdbc or heart", errUsage, *dataset)
	}
	cfg := def
	cfg.Source = datasets.Source{Dataset: *dataset, Dir: datasets.FindDir(*data), Hospitals: *hospitals, Partition: def.Source.Partition}
	cfg.Params, cfg.Rounds, cfg.Validators, cfg.TopkPpm = *params, *rounds, *validators, uint32(*topk)
	cfg.Encodings = strings.Split(*encodings, ",")
	for _, e := range cfg.Encodings {
		if _, err := protocol.ParseEncoding(e, cfg.TopkPpm); err != nil {
			return fmt.Errorf("%w: --encodings: %v", errUsage, err)
		}
	}
	if *params < 100 || *params > 1<<24 || *rounds < 1 || *validators < 1 {
		return fmt.Errorf("%w: --params must be 100 to 16777216, --rounds and --validators at least 1", errUsage)
	}
	cfg.Out = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Large(ctx, cfg)
	if err != nil {
		return err
	}
	if *output == "json" {
		return writeJSON(stdout, map[string]any{"hospitals": *hospitals, "validators": *validators, "runs": res})
	}
	fmt.Fprintf(stdout, "%d hospitals, %d validators, %d parameters, %d rounds each\n", *hospitals, *validators, res[0].Params, *rounds)
	fmt.Fprintf(stdout, "%-8s %12s %10s %14s %10s %9s\n", "encoding", "update MB", "s/round", "chain MB/round", "agg ms", "accuracy")
	for _, r := range res {
		fmt.Fprintf(stdout, "%-8s %12.3f %10.1f %14.2f %10.0f %9.3f\n", r.Encoding, float64(r.UpdateBytes)/1e6, r.SecondsPerRound, r.ChainBytesPerRound/1e6, r.LatencyMs, r.Accuracy)
	}
	return nil
}

// checkOutput checks an --output value.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return fmt.Errorf("%w: --output %q: want text or json", errUsage, output)
	}
	return nil
}
