package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
	"github.com/fedledger/fedledger/protocol"
)

const demoHelp = `Usage: fedledger demo [flags]

Runs a whole federation in one process: an in-process network of CometBFT
validators on loopback, one trainer per hospital (local Gorgonia training on
data that never leaves the hospital), and a researcher who launches one task.
Prints one line per round (hospitals revealed, global model hash, each
hospital's test accuracy, their mean) and a summary.

Data (--dataset):
  heart      the UCI heart disease files of four hospitals (the default), from
             --data or $FEDLEDGER_DATA (the folder that holds heart-disease/);
             without them the demo says so and uses a seeded synthetic cohort
  wdbc       Wisconsin breast cancer, split over --hospitals (default
             --partition dirichlet:1.0)
  csv:PATH   your own table: a header row, a binary --label column, an optional
             --site column (natural split), numeric features

Examples:
  fedledger demo --data ../shared/datasets
  fedledger demo --data ../shared/datasets --rounds 5 --seed 7 --report run.json
  fedledger demo --data ../shared/datasets --dataset wdbc --hospitals 10 --partition dirichlet:0.5
  fedledger demo --dataset csv:patients.csv --label outcome --site hospital
  fedledger demo --server-opt fedadagrad --data ../shared/datasets
  fedledger demo --data ../shared/datasets --dataset wdbc --hospitals 10 --rule median --attack sybil:3
  fedledger demo --home /tmp/fl-chain     # keep the chain data for inspection`

func runDemo(args []string, stdout, stderr io.Writer) error {
	def := sim.DefaultConfig()
	fs := newFlagSet("demo", demoHelp, stdout)
	data := fs.String("data", "", "data directory holding heart-disease/ (default $"+datasets.EnvData+")")
	rounds := fs.Int("rounds", def.Rounds, "training rounds")
	validators := fs.Int("validators", def.Validators, "CometBFT validators")
	seed := fs.Uint64("seed", def.Seed, "seed of keys, data split, initial model and local training")
	home := fs.String("home", "", "keep the chain data in this (empty or new) directory; default a temporary one that is removed")
	report := fs.String("report", "", "write a JSON report of every round to this file")
	blockInterval := fs.Duration("block-interval", def.BlockInterval, "pause between blocks")
	verbose := fs.Bool("v", false, "print every trainer step")
	dataset := fs.String("dataset", "heart", "heart, wdbc or csv:PATH")
	label := fs.String("label", "", "csv: the binary label column")
	site := fs.String("site", "", "csv: the column naming each row's hospital (natural split)")
	missing := fs.String("missing", "drop", "csv: rows with a missing feature: drop, or impute the column mean")
	positive := fs.String("positive", "", "csv: the label value that means 1 (default: 1, or the second value in sorted order)")
	hospitals := fs.Int("hospitals", 4, "wdbc and csv: number of hospitals to split the rows over")
	partition := fs.String("partition", "", "wdbc and csv: natural, iid or dirichlet:ALPHA (default dirichlet:1.0 for wdbc; natural with --site, else iid)")
	serverOpt := fs.String("server-opt", "fedavg", "optimizer the chain applies to each aggregate: fedavg, fedavgm, fedadagrad, fedadam, fedyogi")
	rule := fs.String("rule", "fedavg", "aggregation rule: fedavg, median, trimmed_mean, multikrum, normclip, centeredclip")
	reputation := fs.Bool("reputation", false, "score hospitals on chain and exclude those flagged (default on for every rule but fedavg)")
	var attacks multiFlag
	fs.Var(&attacks, "attack", "make COUNT hospitals malicious: NAME:COUNT, repeatable ("+strings.Join(sim.Attacks, ", ")+")")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("%w: --rounds %d: want at least 1", errUsage, *rounds)
	}
	if *validators < 1 || *validators > 64 {
		return fmt.Errorf("%w: --validators %d: want 1 to 64", errUsage, *validators)
	}
	if *blockInterval < 0 {
		return fmt.Errorf("%w: --block-interval must not be negative", errUsage)
	}
	if *report != "" {
		// Fail now, not after the run, if the report's folder is missing.
		if st, err := os.Stat(filepath.Dir(*report)); err != nil || !st.IsDir() {
			return fmt.Errorf("%w: --report %s: folder %s does not exist", errUsage, *report, filepath.Dir(*report))
		}
	}

	dir := *data
	if dir == "" {
		dir = os.Getenv(datasets.EnvData)
	}
	if *dataset != "heart" && *dataset != "wdbc" && !strings.HasPrefix(*dataset, "csv:") {
		return fmt.Errorf("%w: --dataset %q: want heart, wdbc or csv:PATH", errUsage, *dataset)
	}
	if strings.HasPrefix(*dataset, "csv:") && *label == "" {
		return fmt.Errorf("%w: --dataset csv:PATH needs --label COLUMN", errUsage)
	}
	so, ok := protocol.ServerOpts()[*serverOpt]
	if !ok {
		return fmt.Errorf("%w: --server-opt %q: want one of fedavg, fedavgm, fedadagrad, fedadam, fedyogi", errUsage, *serverOpt)
	}
	if _, err := aggregator.RuleByName(*rule); err != nil {
		return fmt.Errorf("%w: --rule: %v", errUsage, err)
	}
	atk, err := sim.ParseAttacks(attacks)
	if err != nil {
		return fmt.Errorf("%w: --attack: %v", errUsage, err)
	}
	repOn := *reputation || *rule != "fedavg"
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "reputation" {
			repOn = *reputation
		}
	})
	src := datasets.Source{Dataset: *dataset, Dir: dir, Label: *label, Site: *site, Missing: *missing,
		Positive: *positive, Hospitals: *hospitals, Partition: *partition}
	fed, note, err := src.Open(*seed)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, note)
	fmt.Fprint(stdout, fed.Summary())

	cfg := def
	cfg.Data = fed
	cfg.Rounds = *rounds
	cfg.Validators = *validators
	cfg.Seed = *seed
	cfg.Home = *home
	cfg.BlockInterval = *blockInterval
	cfg.Out = stdout
	cfg.ServerOpt = so
	cfg.Rule, cfg.Reputation, cfg.Attacks = *rule, repOn, atk
	if *verbose {
		cfg.OnEvent = func(e fl.Event) {
			switch {
			case e.Err != nil:
				fmt.Fprintf(stdout, "  %-12s round %d %s: %v\n", e.Hospital, e.Round, e.Stage, e.Err)
			case e.Stage == "committed":
				fmt.Fprintf(stdout, "  %-12s round %d committed at height %d (global model: test accuracy %.3f, loss %.3f)\n", e.Hospital, e.Round, e.Height, e.Metrics.Accuracy, e.Metrics.Loss)
			default:
				fmt.Fprintf(stdout, "  %-12s round %d %s at height %d\n", e.Hospital, e.Round, e.Stage, e.Height)
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	rep, err := sim.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if len(rep.Malicious) > 0 || len(rep.Flagged) > 0 {
		fmt.Fprintln(stdout, "hospitals:")
		for _, h := range rep.Hospitals {
			role := "honest"
			if a, bad := rep.Malicious[h]; bad {
				role = "malicious (" + a + ")"
			}
			status := "not flagged"
			if r, ok := rep.Flagged[h]; ok {
				status = fmt.Sprintf("flagged at round %d", r)
			}
			fmt.Fprintf(stdout, "  %-12s %-28s %s\n", h, role, status)
		}
	}
	if *report != "" {
		if err := rep.WriteJSON(*report); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", *report)
	}
	return nil
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
