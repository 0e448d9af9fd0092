package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl/bench"
	"github.com/fedledger/fedledger/fl/sim"
	"github.com/fedledger/fedledger/protocol"
)

const benchHelp = `Benchmarks, each through real in-process CometBFT networks where a chain is
involved. Progress goes to stderr with --output json.

Examples:
  fedledger bench heart --data ../shared/datasets --out heart.csv
  fedledger bench heart --data ../shared/datasets --seeds 42 --rounds 5 --methods fedavg,fedadam
  fedledger bench attacks --dataset wdbc --data ../shared/datasets --hospitals 10 --malicious 3 --rounds 10 --seeds 42 --out attacks.csv
  fedledger bench aggregate --params 1000000 --updates 20 --output json
  fedledger bench chain --validators 4 --update-bytes 100000 --updates 200 --output json
  fedledger bench large --data ../shared/datasets --params 1000000 --hospitals 10 --rounds 3`

const benchHeartHelp = `Runs FLamby's Fed-Heart-Disease benchmark on the UCI heart disease data of
four hospitals: for each seed, local-only training at each hospital, pooled
training, and every federated method (fedavg, fedprox, fedavgm, fedadagrad,
fedadam, fedyogi) with every round through a real in-process CometBFT network.
Writes one CSV row per (method, seed, hospital): method,seed,hospital,accuracy
(test accuracy at threshold 0.5 on that hospital's test split), and prints
the table of means beside FLamby's published numbers, then per method the
mean over seeds, its sd and 95% interval, and the paired difference to
fedavg (--output json: the rows). A run in which a round left a hospital
out, or the validators disagreed, is refused.

--protocol flamby is FLamby's own: its fixed split (flamby_split.json), each
hospital's test rows scaled with its own statistics for every method (the
pooled model trains on rows scaled with the pooled statistics, as FLamby's
does), and FLamby's recipes as extra rows flamby-fedavg, flamby-fedprox,
flamby-fedadagrad, flamby-fedadam, flamby-fedyogi, and the recipe --tune
chose on validation rows as row tuned (docs/evaluation.md).

Examples:
  fedledger bench heart --data ../shared/datasets --out heart.csv
  fedledger bench heart --data ../shared/datasets --protocol flamby
  fedledger bench heart --data ../shared/datasets --tune --validators 1
  fedledger bench heart --data ../shared/datasets --seeds 42 --rounds 5 --methods fedavg,fedadam`

const benchAttacksHelp = `Runs every attack (label-flip, sign-flip, scale, noise, free-rider,
free-rider-echo, sybil, alie, ipm, commit-no-reveal, on-off, mpaf,
sybil-noisy, min-max, min-sum, fang, fang-apart, adaptive; see
docs/robustness.md) with --malicious hospitals against the default robust rule (huber: Huber's
estimate of the updates clipped to the median norm, with on-chain reputation
and validation feedback) and plain FedAvg, each through a real in-process CometBFT
network, for every seed. The runs with every hospital honest are rows too
(attack "none"): their flags are false alarms.

Each seed also runs FedAvg over the honest hospitals alone (the attackers'
rows never trained on), scored on every hospital's test rows: what FedAvg
reaches when a defence excludes the attackers from the first round.

Each row: attack, rule, seed, accuracy, the same rule's clean accuracy,
clean FedAvg's, attackers flagged (and by round 5) of how many, honest
hospitals flagged of how many, rounds until every attacker was flagged,
who was flagged when, honest-only FedAvg's accuracy, and the honest and
the attackers' hospital-rounds counted once (an update alike to an earlier
one: no penalty, only no second vote). --out writes them as CSV; the
table gives means over seeds with 95 % intervals, and each row's paired
differences to clean FedAvg and to honest-only FedAvg. Under the table,
each robust rule is held to the acceptance lines of docs/robustness.md (no
honest hospital flagged in a clean run, within 1 point of FedAvg clean and
2 points under attack, at most 1 % of honest hospital-runs flagged, 95 %
of attackers flagged by round 5, attacks built to evade flagged or
harmless): holds or FAILS, with the rows that fail. The 2-point line also
gives honest-only FedAvg against clean FedAvg: where that is itself more
than 2 points under, excluding exactly the attackers cannot meet the line.
--output json prints {"rows": [...], "criteria": [...]}: the rows and the
lines.
--from prints the table and the lines again from earlier --out files, one
or several (the rows of all of them together), and runs nothing.

Examples:
  fedledger bench attacks --dataset wdbc --data ../shared/datasets --hospitals 10 --malicious 3 --rounds 10 --seeds 42 --out attacks.csv
  fedledger bench attacks --from seeds1-5.csv --from seeds6-10.csv`

const benchAggregateHelp = `Times every aggregation rule over --updates updates of --params parameters
and, on the same buffers in the same run, the machine's plain memory copy;
prints each rule's seconds, bytes of updates per second, and the ratio.
huber+reputation is a whole round of the robust default as FinalizeBlock
runs it: the rule with the reputation evidence (norms, near-duplicates,
cosines to the aggregate). The first line (in JSON, "kernel") says whether
median, trimmed_mean and huber sort by vector network (a CPU with AVX2, 2
to 128 updates) or select; the results are the same either way.

Examples:
  fedledger bench aggregate --params 1000000 --updates 20 --output json
  fedledger bench aggregate --params 1000000 --updates 50 --rules median,huber+reputation`

const benchChainHelp = `Measures update throughput through the ledger: --updates RevealUpdate
transactions of --update-bytes each through fedledger's app on an in-process
network of --validators validators, then key=value transactions of the same
sizes through CometBFT's kvstore example app on the same kind of network;
prints MB/s of each and their ratio. Both networks use the settings testnet
and demo write (docs/performance.md); --cometbft-defaults uses CometBFT's
stock limits instead (5 MB/s per peer, 1 kB packets, 21 MB blocks).

Examples:
  fedledger bench chain --validators 4 --update-bytes 100000 --updates 200 --output json`

const benchLargeHelp = `Runs a task with a model of --params parameters (an MLP sized to get there)
over --hospitals hospitals on an in-process network of --validators
validators, once per --encodings entry: int32 (dense), int16 or int8 (per-
tensor scales), topk (int8 keeping --topk-ppm millionths of the coordinates).
Updates above 512 KiB go as chunk transactions. Prints per encoding the
update size, seconds per round, bytes of blocks per round and the time from
the last reveal's block to the next model being queryable.

Examples:
  fedledger bench large --data ../shared/datasets --params 1000000 --hospitals 10 --rounds 3`

func newBenchCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(benchHelp, "\nExamples:\n")
	cmd := group("bench", "Benchmarks: heart (FLamby's table), attacks, aggregate, chain, large, records", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a benchmark: fedledger bench heart|attacks|aggregate|chain|large|records")
	cmd.Annotations = map[string]string{"noun": "benchmark"}
	cmd.AddCommand(newBenchHeartCmd(g), newBenchAttacksCmd(g), newBenchAggregateCmd(g), newBenchChainCmd(g), newBenchLargeCmd(g), newBenchRecordsCmd(g), newBenchGatewayCmd(g))
	return cmd
}

func newBenchHeartCmd(g *globals) *cobra.Command {
	cmd := leaf("heart", "FLamby's Fed-Heart-Disease table, every federated round through the chain", benchHeartHelp)
	fs := cmd.Flags()
	def := bench.DefaultHeartConfig()
	data := fs.String("data", "", "data directory holding heart-disease/ (default $"+datasets.EnvData+")")
	seeds := fs.String("seeds", "42,43,44,45,46", "comma-separated seeds")
	rounds := fs.Int("rounds", def.Rounds, "federated rounds")
	validators := fs.Int("validators", def.Validators, "CometBFT validators")
	methods := fs.String("methods", "", "comma-separated methods to run (default all: local,pooled,fedavg,fedprox,fedavgm,fedadagrad,fedadam,fedyogi, and with --protocol flamby also flamby-fedavg,flamby-fedprox,flamby-fedadagrad,flamby-fedadam,flamby-fedyogi,tuned, which --protocol random runs only when named)")
	out := fs.String("out", "", "CSV file to write (default: no file)")
	tune := fs.Bool("tune", false, "choose a recipe instead: run bench.HeartGrid on FLamby's split with 20% of each hospital's training rows held out, over the tuning seeds (never the reporting seeds), and rank the recipes by validation log-loss")
	protocol := fs.String("protocol", bench.ProtocolRandom, "random: a new split per seed; flamby: FLamby's fixed split and scaling, with FLamby's recipes as rows flamby-*")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		_ = stderr
		cfg := def
		if *protocol != bench.ProtocolRandom && *protocol != bench.ProtocolFLamby {
			return usagef("--protocol %q: want %s or %s", *protocol, bench.ProtocolRandom, bench.ProtocolFLamby)
		}
		cfg.Protocol = *protocol
		cfg.Rounds = *rounds
		cfg.Validators = *validators
		cfg.Out = progress(cmd, g)
		var err error
		if cfg.Seeds, err = parseSeeds(*seeds); err != nil {
			return err
		}
		if *methods != "" {
			known := map[string]bool{"local": true, "pooled": true}
			for _, m := range append(bench.FederatedMethods(), append(bench.FLambyMethods(), bench.TunedHeartMethod())...) {
				known[m.Name] = true
			}
			for _, m := range strings.Split(*methods, ",") {
				m = strings.TrimSpace(m)
				if !known[m] {
					return usagef("--methods: unknown method %q", m)
				}
				cfg.Methods = append(cfg.Methods, m)
			}
		}
		if *rounds < 1 || *validators < 1 {
			return usagef("--rounds and --validators must be at least 1")
		}
		if err := checkOutDir(*out); err != nil {
			return err
		}
		cfg.DataDir = *data
		if cfg.DataDir == "" {
			cfg.DataDir = os.Getenv(datasets.EnvData)
		}
		if cfg.DataDir == "" {
			return usagef("give --data DIR (the folder holding heart-disease/) or set $%s", datasets.EnvData)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		t0 := time.Now()
		if *tune {
			choices, err := bench.TuneHeart(ctx, cfg, bench.HeartGrid(), bench.TuneSeeds)
			if err != nil {
				return err
			}
			if g.json() {
				return writeJSON(stdout, choices)
			}
			fmt.Fprintf(stdout, "\nrecipes by validation log-loss (FLamby's split, %.0f%% of training rows held out, seeds %v):\n", 100*bench.ValidationShare, bench.TuneSeeds)
			for _, c := range choices {
				fmt.Fprintf(stdout, "log-loss %.4f  accuracy %.3f  round %2d of %d  %s\n", c.Loss, c.Mean, c.Method.Rounds, cfg.Rounds, c.Method.Name)
			}
			return nil
		}
		rows, err := bench.Heart(ctx, cfg)
		if err != nil {
			return err
		}
		if *out != "" {
			if err := writeFileAtomic(*out, func(w io.Writer) error { return bench.WriteCSV(w, rows) }); err != nil {
				return err
			}
		}
		if g.json() {
			return writeJSON(stdout, rows)
		}
		sums, hospitals := bench.Summarize(rows)
		fmt.Fprint(stdout, "\n"+bench.FormatTable(sums, hospitals, len(cfg.Seeds)))
		fmt.Fprint(stdout, "\n"+bench.FormatSeedStats(bench.SeedStats(rows)))
		fmt.Fprintf(stdout, "%d rows in %.0fs\n", len(rows), time.Since(t0).Seconds())
		if *out != "" {
			fmt.Fprintf(stdout, "rows written to %s\n", *out)
		}
		return nil
	}
	return cmd
}

func newBenchAttacksCmd(g *globals) *cobra.Command {
	cmd := leaf("attacks", "Malicious hospitals against the robust rule and FedAvg", benchAttacksHelp)
	fs := cmd.Flags()
	def := bench.DefaultAttackConfig()
	dataset := fs.String("dataset", "wdbc", "wdbc, heart, synthetic (the seeded cohort, --hospitals sites), diabetes (Debian's python3-sklearn) or csv:PATH")
	data := fs.String("data", "", "data directory (default $"+datasets.EnvData+")")
	label := fs.String("label", "", "csv: the binary label column")
	partition := fs.String("partition", "dirichlet:1.0", "dirichlet:ALPHA, iid or natural")
	hospitals := fs.Int("hospitals", 10, "hospitals (synthetic, wdbc, diabetes and csv)")
	malicious := fs.Int("malicious", def.Malicious, "malicious hospitals in each attacked run")
	rounds := fs.Int("rounds", def.Rounds, "rounds")
	seeds := fs.String("seeds", "42", "comma-separated seeds")
	validators := fs.Int("validators", def.Validators, "CometBFT validators")
	attacks := fs.String("attacks", "", "comma-separated attacks (default all)")
	rules := fs.String("rules", bench.RobustRule+",fedavg", "comma-separated rules; every rule but fedavg runs with reputation")
	feedback := fs.Bool("feedback", true, "validation feedback for the rules with reputation: each hospital scores the previous round's updates on its own rows (--feedback=false: the cosine test instead)")
	liars := fs.Bool("lying-scorers", false, "the attackers lie in their verdicts (honest updates harmful, their own helpful); needs feedback")
	lieTarget := fs.Bool("lie-target", false, "with --lying-scorers: lie only where it matters (allies helpful, the first honest hospital harmful, every other verdict honest)")
	claim := fs.Uint64("claim-samples", 0, "training rows every attacker claims (default: the whole federation's, so that FedAvg weighs it; feedback judges an update whatever it claims)")
	out := fs.String("out", "", "CSV file to write")
	from := fs.StringArray("from", nil, "run nothing: read the rows of earlier --out files (repeatable, rows of every file together) and print their table and acceptance lines")
	runFlag := map[string]bool{} // the flags of a run, which --from has none of
	fs.VisitAll(func(f *pflag.Flag) { runFlag[f.Name] = f.Name != "from" && f.Name != "out" })
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if len(*from) > 0 {
			var runFlags []string
			fs.Visit(func(f *pflag.Flag) {
				if runFlag[f.Name] {
					runFlags = append(runFlags, "--"+f.Name)
				}
			})
			if len(runFlags) > 0 {
				return usagef("--from runs nothing, so %s would have no effect: drop it, or drop --from to run", strings.Join(runFlags, ", "))
			}
			if err := checkOutDir(*out); err != nil {
				return err
			}
			rows, err := readAttackFiles(*from)
			if err != nil {
				return err
			}
			return printAttacks(stdout, g, rows, *out, "")
		}
		if *claim > protocol.MaxSamples {
			return usagef("--claim-samples %d: the chain takes at most %d", *claim, uint64(protocol.MaxSamples))
		}
		if *liars && !*feedback {
			return usagef("--lying-scorers needs feedback (not --feedback=false)")
		}
		if *lieTarget && !*liars {
			return usagef("--lie-target needs --lying-scorers")
		}
		cfg := def
		cfg.Malicious, cfg.Rounds, cfg.Validators, cfg.Out = *malicious, *rounds, *validators, progress(cmd, g)
		cfg.Feedback, cfg.LyingScorers, cfg.LieTarget, cfg.ClaimSamples = *feedback, *liars, *lieTarget, *claim
		var err error
		if cfg.Seeds, err = parseSeeds(*seeds); err != nil {
			return err
		}
		if *attacks != "" {
			names := strings.Split(*attacks, ",")
			if slices.Contains(names, "none") {
				return usagef("--attacks: %q is not an attack: every run has the clean runs (attack none) as rows; name only the attacks to run beside them (known: %s)", "none", strings.Join(sim.Attacks, ", "))
			}
			for _, n := range names {
				if strings.Contains(n, ":") {
					return usagef("--attacks %s: give attack names only; --malicious sets how many hospitals run each", n)
				}
			}
			m, err := sim.ParseAttacks(names)
			if err != nil {
				return usagef("--attacks: %v", err)
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
				return usagef("--rules: %v", err)
			}
			cfg.Rules = append(cfg.Rules, r)
		}
		if *rounds < 1 || *validators < 1 || *malicious < 1 {
			return usagef("--rounds, --validators and --malicious must be at least 1")
		}
		if *hospitals < 2 {
			return usagef("--hospitals %d: want at least 2 (an attacked federation needs an honest hospital)", *hospitals)
		}
		if err := checkOutDir(*out); err != nil {
			return err
		}
		dir := *data
		if dir == "" {
			dir = os.Getenv(datasets.EnvData)
		}
		part := *partition
		if *dataset == "synthetic" && !changed(fs, "partition") {
			part = "" // split by its own sites
		}
		cfg.Source = datasets.Source{Dataset: *dataset, Dir: dir, Label: *label, Hospitals: *hospitals, Partition: part}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		t0 := time.Now()
		rows, err := bench.Attacks(ctx, cfg)
		if err != nil {
			return err
		}
		return printAttacks(stdout, g, rows, *out, fmt.Sprintf("%d runs in %.0fs\n", len(rows), time.Since(t0).Seconds()))
	}
	return cmd
}

// readAttackFiles reads the rows of every file, in order. A run (attack,
// rule and seed) that two rows give is refused: the table would count it
// twice.
func readAttackFiles(paths []string) ([]bench.AttackRow, error) {
	var rows []bench.AttackRow
	type run struct {
		attack, rule string
		seed         uint64
	}
	seen := map[run]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("--from: %w", err)
		}
		r, err := bench.ReadAttackCSV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--from %s: %w", p, err)
		}
		for i, row := range r {
			at := fmt.Sprintf("%s row %d", p, i+1)
			k := run{row.Attack, row.Rule, row.Seed}
			if first, dup := seen[k]; dup {
				return nil, fmt.Errorf("--from: %s and %s are both %s under %s, seed %d: give each run once", first, at, row.Attack, row.Rule, row.Seed)
			}
			seen[k] = at
		}
		rows = append(rows, r...)
	}
	if len(rows) == 0 {
		return nil, usagef("--from: no rows in %s", strings.Join(paths, ", "))
	}
	return rows, nil
}

// attacksJSON is what --output json prints: the rows, and the acceptance
// lines judged over them.
type attacksJSON struct {
	Rows     []bench.AttackRow `json:"rows"`
	Criteria []bench.Criterion `json:"criteria"`
}

// printAttacks writes rows to out (when set) and prints them: as JSON (the
// rows and the acceptance lines), or as the table, the acceptance lines
// and the footer.
func printAttacks(stdout io.Writer, g *globals, rows []bench.AttackRow, out, footer string) error {
	if out != "" {
		if err := writeFileAtomic(out, func(w io.Writer) error { return bench.WriteAttackCSV(w, rows) }); err != nil {
			return err
		}
	}
	if g.json() {
		return writeJSON(stdout, attacksJSON{Rows: rows, Criteria: bench.Criteria(rows)})
	}
	fmt.Fprint(stdout, "\n"+bench.FormatAttackTable(rows))
	if c := bench.FormatCriteria(bench.Criteria(rows)); c != "" {
		fmt.Fprint(stdout, "\n"+c)
	}
	fmt.Fprint(stdout, footer)
	if out != "" {
		fmt.Fprintf(stdout, "rows written to %s\n", out)
	}
	return nil
}

func checkOutDir(out string) error {
	if out == "" {
		return nil
	}
	if st, err := os.Stat(filepath.Dir(out)); err != nil || !st.IsDir() {
		return usagef("--out %s: folder %s does not exist", out, filepath.Dir(out))
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
			return nil, usagef("--seeds: %q is not a number", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func newBenchAggregateCmd(g *globals) *cobra.Command {
	cmd := leaf("aggregate", "Time every aggregation rule beside a memory copy", benchAggregateHelp)
	fs := cmd.Flags()
	params := fs.Int("params", 1_000_000, "parameters per update")
	updates := fs.Int("updates", 20, "updates")
	rules := fs.String("rules", strings.Join(bench.AggregateRules(), ","), "comma-separated rules; NAME"+bench.ReputationSuffix+" times a whole round of NAME with reputation evidence")
	reps := fs.Int("reps", 3, "repetitions (best is kept)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		_ = stderr
		if *params < 1 || *updates < 1 || *reps < 1 || *params*(*updates) > 1<<28 {
			return usagef("--params and --updates must be at least 1 and their product at most 2^28")
		}
		list := strings.Split(*rules, ",")
		for _, r := range list {
			if _, err := aggregator.RuleByName(strings.TrimSuffix(r, bench.ReputationSuffix)); err != nil {
				return usagef("--rules: %v", err)
			}
		}
		res, err := bench.Aggregate(*params, *updates, list, *reps)
		if err != nil {
			return err
		}
		kernel := "selection"
		if aggregator.SortsByNetwork(*updates) {
			kernel = "sorting network"
		}
		if g.json() {
			return writeJSON(stdout, map[string]any{"params": *params, "updates": *updates, "kernel": kernel, "rules": res})
		}
		fmt.Fprintf(stdout, "%d updates of %d parameters (%.0f MB as int64); median, trimmed_mean and huber by %s\n", *updates, *params, float64(8**params**updates)/1e6, kernel)
		fmt.Fprintf(stdout, "%-18s %10s %14s %14s %7s\n", "rule", "seconds", "MB/s", "memcpy MB/s", "ratio")
		for _, r := range res {
			fmt.Fprintf(stdout, "%-18s %10.4f %14.0f %14.0f %7.2f\n", r.Rule, r.Seconds, r.BytesPerSecond/1e6, r.MemcpyBytesPerSecond/1e6, r.Ratio)
		}
		return nil
	}
	return cmd
}

func newBenchChainCmd(g *globals) *cobra.Command {
	cmd := leaf("chain", "Update throughput through fedledger vs CometBFT's kvstore", benchChainHelp)
	fs := cmd.Flags()
	def := bench.DefaultChainConfig()
	validators := fs.Int("validators", def.Validators, "validators in each network")
	updateBytes := fs.Int("update-bytes", def.UpdateBytes, "bytes of each update transaction")
	updates := fs.Int("updates", def.Updates, "update transactions per network")
	senders := fs.Int("senders", def.Senders, "clients broadcasting at once")
	stock := fs.Bool("cometbft-defaults", false, "run both networks with CometBFT's stock limits")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		_ = stderr
		cfg := def
		cfg.Validators, cfg.UpdateBytes, cfg.Updates, cfg.Senders = *validators, *updateBytes, *updates, *senders
		if *stock {
			cfg.Network = localnet.NetworkSettings{}
		}
		cfg.Progress = stderr
		if err := cfg.Validate(); err != nil {
			return usagef("%v", err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		r, err := bench.Chain(ctx, cfg)
		if err != nil {
			return err
		}
		if g.json() {
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
	return cmd
}

func newBenchLargeCmd(g *globals) *cobra.Command {
	cmd := leaf("large", "A 10^6-parameter task per update encoding", benchLargeHelp)
	fs := cmd.Flags()
	def := bench.DefaultLargeConfig()
	data := fs.String("data", "", "datasets directory (default $FEDLEDGER_DATA, else ../shared/datasets found upward)")
	dataset := fs.String("dataset", def.Source.Dataset, "wdbc or heart")
	hospitals := fs.Int("hospitals", def.Source.Hospitals, "hospitals (wdbc)")
	params := fs.Int("params", def.Params, "model parameters (approximately)")
	rounds := fs.Int("rounds", def.Rounds, "rounds per run")
	validators := fs.Int("validators", def.Validators, "validators")
	encodings := fs.String("encodings", strings.Join(def.Encodings, ","), "comma-separated: int32, int16, int8, topk")
	topk := fs.Uint("topk-ppm", uint(def.TopkPpm), "share of coordinates topk keeps, in millionths")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		_ = stderr
		if *dataset != "wdbc" && *dataset != "heart" {
			return usagef("--dataset %q: bench large runs on wdbc or heart", *dataset)
		}
		cfg := def
		cfg.Source = datasets.Source{Dataset: *dataset, Dir: datasets.FindDir(*data), Hospitals: *hospitals, Partition: def.Source.Partition}
		cfg.Params, cfg.Rounds, cfg.Validators, cfg.TopkPpm = *params, *rounds, *validators, uint32(*topk)
		cfg.Encodings = strings.Split(*encodings, ",")
		for _, e := range cfg.Encodings {
			if _, err := protocol.ParseEncoding(e, cfg.TopkPpm); err != nil {
				return usagef("--encodings: %v", err)
			}
		}
		if *params < 100 || *params > 1<<24 || *rounds < 1 || *validators < 1 {
			return usagef("--params must be 100 to 16777216, --rounds and --validators at least 1")
		}
		cfg.Out = stderr
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		res, err := bench.Large(ctx, cfg)
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(stdout, map[string]any{"hospitals": *hospitals, "validators": *validators, "runs": res})
		}
		fmt.Fprintf(stdout, "%d hospitals, %d validators, %d parameters, %d rounds each\n", *hospitals, *validators, res[0].Params, *rounds)
		fmt.Fprintf(stdout, "%-8s %12s %10s %14s %10s %9s\n", "encoding", "update MB", "s/round", "chain MB/round", "agg ms", "accuracy")
		for _, r := range res {
			fmt.Fprintf(stdout, "%-8s %12.3f %10.1f %14.2f %10.0f %9.3f\n", r.Encoding, float64(r.UpdateBytes)/1e6, r.SecondsPerRound, r.ChainBytesPerRound/1e6, r.LatencyMs, r.Accuracy)
		}
		return nil
	}
	return cmd
}
