package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/explorer"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
	"github.com/fedledger/fedledger/protocol"
)

const demoHelp = `Runs a whole federation in one process: an in-process network of CometBFT
validators on loopback, one trainer per hospital (local Gorgonia training on
data that never leaves the hospital), and a researcher who launches one task.
Prints one line per round (hospitals revealed, global model hash, each
hospital's test accuracy, their mean) and a summary; with --output json the
lines go to stderr and the report of every round to stdout. --home keeps the
chain data (empty or new folder); by default it goes to a temporary folder
that is removed.

Data (--dataset):
  heart      the UCI heart disease files of four hospitals (the default), from
             --data or $FEDLEDGER_DATA (the folder that holds heart-disease/);
             without them the demo says so and uses a seeded synthetic cohort
  synthetic  that seeded cohort: logistic ground truth, each site's features
             shifted; four hospitals, or --hospitals of them (the first four
             are always the same)
  wdbc       Wisconsin breast cancer, split over --hospitals (default
             --partition dirichlet:1.0)
  diabetes   Efron et al.'s 442 diabetes patients, label: progression above
             the median; from Debian's python3-sklearn (or --data/diabetes/),
             split as wdbc
  csv:PATH   your own table: a header row, a binary --label column, an optional
             --site column (natural split), numeric features

Examples:
  fedledger demo --data ../shared/datasets
  fedledger demo --data ../shared/datasets --rounds 5 --seed 7 --report run.json
  fedledger demo --data ../shared/datasets --dataset wdbc --hospitals 10 --partition dirichlet:0.5
  fedledger demo --dataset csv:patients.csv --label outcome --site hospital
  fedledger demo --server-opt fedadagrad --data ../shared/datasets
  fedledger demo --data ../shared/datasets --dataset wdbc --hospitals 10 --rule median --attack sybil:3
  fedledger demo --data ../shared/datasets --explorer 127.0.0.1:8080   # then open http://127.0.0.1:8080/
  fedledger demo --home /tmp/fl-chain     # keep the chain data (CometBFT homes) for inspection
  fedledger demo --data ../shared/datasets --output json > run.json`

func newDemoCmd(g *globals) *cobra.Command {
	def := sim.DefaultConfig()
	cmd := leaf("demo", "Run a federated task end to end on an in-process 4-validator network", demoHelp)
	fs := cmd.Flags()
	data := fs.String("data", "", "data directory holding heart-disease/ (default $"+datasets.EnvData+")")
	rounds := fs.Int("rounds", def.Rounds, "training rounds")
	validators := fs.Int("validators", def.Validators, "CometBFT validators")
	seed := fs.Uint64("seed", def.Seed, "seed of keys, data split, initial model and local training")
	report := fs.String("report", "", "write a JSON report of every round to this file")
	exportModel := fs.String("export-model", "", "write the final model to this file (fedledger predict scores rows with it; docs/model-file.md)")
	blockInterval := fs.Duration("block-interval", def.BlockInterval, "pause between blocks")
	verbose := fs.BoolP("verbose", "v", false, "print every trainer step")
	dataset := fs.String("dataset", "heart", "heart, synthetic, wdbc, diabetes (Debian's python3-sklearn) or csv:PATH")
	label := fs.String("label", "", "csv: the binary label column")
	site := fs.String("site", "", "csv: the column naming each row's hospital (natural split)")
	missing := fs.String("missing", "drop", "csv: rows with a missing feature: drop, or impute the column mean")
	positive := fs.String("positive", "", "csv: the label value that means 1 (default: 1, or the second value in sorted order)")
	hospitals := fs.Int("hospitals", 4, "synthetic, wdbc, diabetes and csv: number of hospitals (to split the rows over)")
	partition := fs.String("partition", "", "wdbc, diabetes and csv: natural, iid or dirichlet:ALPHA (default dirichlet:1.0 for wdbc and diabetes; natural with --site, else iid)")
	serverOpt := fs.String("server-opt", "fedavg", "optimizer the chain applies to each aggregate: fedavg, fedavgm, fedadagrad, fedadam, fedyogi")
	rule := fs.String("rule", "fedavg", "aggregation rule: "+strings.Join(aggregator.Rules, ", ")+" (huber is the robust default of bench attacks)")
	reputation := fs.Bool("reputation", false, "score hospitals on chain and exclude those flagged (default on for every rule but fedavg)")
	feedback := fs.Bool("feedback", true, "with reputation: validation feedback, each hospital scores the previous round's updates on its own rows and the chain penalises an update most of them found harmful (docs/robustness.md); --feedback=false leaves the cosine test instead")
	liars := fs.Bool("lying-scorers", false, "with --feedback and --attack: the attackers lie in their verdicts")
	explorerAddr := fs.String("explorer", "", "serve the web explorer on this address (e.g. 127.0.0.1:8080) while the task runs, and keep the network and the explorer up after it, until Ctrl-C")
	attacks := fs.StringArray("attack", nil, "make COUNT hospitals malicious: NAME:COUNT, repeatable ("+strings.Join(sim.Attacks, ", ")+")")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *rounds < 1 {
			return usagef("--rounds %d: want at least 1", *rounds)
		}
		if *validators < 1 || *validators > 64 {
			return usagef("--validators %d: want 1 to 64", *validators)
		}
		if *blockInterval < 0 {
			return usagef("--block-interval must not be negative")
		}
		if *report != "" {
			// Fail now, not after the run, if the report's folder is missing.
			if st, err := os.Stat(filepath.Dir(*report)); err != nil || !st.IsDir() {
				return usagef("--report %s: folder %s does not exist", *report, filepath.Dir(*report))
			}
		}
		dir := *data
		if dir == "" {
			dir = os.Getenv(datasets.EnvData)
		}
		if !slices.Contains([]string{"heart", "synthetic", "wdbc", "diabetes"}, *dataset) && !strings.HasPrefix(*dataset, "csv:") {
			return usagef("--dataset %q: want heart, synthetic, wdbc, diabetes or csv:PATH", *dataset)
		}
		if strings.HasPrefix(*dataset, "csv:") && *label == "" {
			return usagef("--dataset csv:PATH needs --label COLUMN")
		}
		if *dataset == "heart" {
			warnIgnored(cmd, fs, "the heart data come split by the study's own four hospitals", "hospitals", "partition")
		}
		if *dataset == "synthetic" && *partition != "" && *partition != "natural" {
			return usagef("--partition %s: the synthetic cohort comes split by its own sites; size it with --hospitals", *partition)
		}
		if !strings.HasPrefix(*dataset, "csv:") {
			warnIgnored(cmd, fs, "csv:PATH data only", "label", "site", "missing", "positive")
		}
		so, err := protocol.ServerOpt(*serverOpt)
		if err != nil {
			return usagef("--server-opt %q: %v", *serverOpt, err)
		}
		if _, err := aggregator.RuleByName(*rule); err != nil {
			return usagef("--rule: %v", err)
		}
		atk, err := sim.ParseAttacks(*attacks)
		if err != nil {
			return usagef("--attack: %v", err)
		}
		repOn := *rule != "fedavg"
		if changed(fs, "reputation") {
			repOn = *reputation
		}
		if changed(fs, "feedback") && *feedback && !repOn {
			return usagef("--feedback needs reputation (a robust --rule, or --reputation)")
		}
		if *liars && !(*feedback && repOn) {
			return usagef("--lying-scorers needs validation feedback (a robust --rule, or --reputation; not --feedback=false)")
		}
		out := progress(cmd, g)
		src := datasets.Source{Dataset: *dataset, Dir: dir, Label: *label, Site: *site, Missing: *missing,
			Positive: *positive, Hospitals: *hospitals, Partition: *partition}
		fed, note, err := src.Open(*seed)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, note)
		fmt.Fprint(out, fed.Summary())

		summarize := demoSummary(cmd, g, out, *report)
		cfg := def
		cfg.Data = fed
		cfg.Rounds = *rounds
		cfg.Validators = *validators
		cfg.ExportModel = *exportModel
		cfg.Seed = *seed
		cfg.Home = g.home
		cfg.BlockInterval = *blockInterval
		cfg.Out = out
		cfg.ServerOpt = so
		cfg.Rule, cfg.Reputation, cfg.Attacks = *rule, repOn, atk
		cfg.Feedback, cfg.LyingScorers = repOn && *feedback, *liars
		if *verbose {
			cfg.OnEvent = func(e fl.Event) {
				switch {
				case e.Err != nil:
					fmt.Fprintf(out, "  %-12s round %d %s: %v\n", e.Hospital, e.Round, e.Stage, e.Err)
				case e.Stage == "committed":
					fmt.Fprintf(out, "  %-12s round %d committed at height %d (global model: test accuracy %.3f, loss %.3f)\n", e.Hospital, e.Round, e.Height, e.Metrics.Accuracy, e.Metrics.Loss)
				default:
					fmt.Fprintf(out, "  %-12s round %d %s at height %d\n", e.Hospital, e.Round, e.Stage, e.Height)
				}
			}
		}

		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if *explorerAddr == "" {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 30*time.Minute)
			defer cancel()
		} else {
			ln, err := listenExplorer(*explorerAddr)
			if err != nil {
				return usagef("--explorer: %v", err)
			}
			cfg.Serve = func(ctx context.Context, net *localnet.Network) error {
				c, doc, err := sim.VerifiedClient(ctx, net)
				if err != nil {
					ln.Close()
					return err
				}
				ecfg := explorer.DefaultConfig()
				node := net.Nodes()[0].RPCAddress()
				ecfg.Client, ecfg.Node, ecfg.Genesis = c, node, doc
				if ecfg.AuditRPC, err = auditRPC(node, 30*time.Second); err != nil {
					ln.Close()
					return err
				}
				return serveExplorer(ctx, ecfg, ln, out, false)
			}
			cfg.Hold = func(ctx context.Context, _ *localnet.Network, rep *sim.Report) error {
				if err := summarize(rep); err != nil {
					return err
				}
				fmt.Fprintf(out, "the network and the explorer stay up at http://%s/ until Ctrl-C\n", ln.Addr())
				<-ctx.Done()
				return nil
			}
		}
		rep, err := sim.Run(ctx, cfg)
		if err != nil {
			return err
		}
		if cfg.Hold != nil {
			return nil // summarized before the wait
		}
		return summarize(rep)
	}
	return cmd
}

// demoSummary prints what the demo adds to the run's own lines: each
// hospital's role and flag, the report file, the JSON report.
func demoSummary(cmd *cobra.Command, g *globals, out io.Writer, report string) func(*sim.Report) error {
	return func(rep *sim.Report) error {
		if len(rep.Malicious) > 0 || len(rep.Flagged) > 0 {
			fmt.Fprintln(out, "hospitals:")
			for _, h := range rep.Hospitals {
				role := "honest"
				if a, bad := rep.Malicious[h]; bad {
					role = "malicious (" + a + ")"
				}
				status := "not flagged"
				if r, ok := rep.Flagged[h]; ok {
					status = fmt.Sprintf("flagged at round %d", r)
				}
				fmt.Fprintf(out, "  %-12s %-28s %s\n", h, role, status)
				if _, ok := rep.Flagged[h]; ok {
					for _, why := range rep.Evidence[h] {
						fmt.Fprintf(out, "  %-12s   %s\n", "", why)
					}
				}
			}
		}
		if report != "" {
			if err := rep.WriteJSON(report); err != nil {
				return err
			}
			fmt.Fprintf(out, "report written to %s\n", report)
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), rep)
		}
		return nil
	}
}
