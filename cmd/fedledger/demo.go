package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/sim"
)

const demoHelp = `Usage: fedledger demo [flags]

Runs a whole federation in one process: an in-process network of CometBFT
validators on loopback, one trainer per hospital (local Gorgonia training on
data that never leaves the hospital), and a researcher who launches one task.
Prints one line per round (hospitals revealed, global model hash, each
hospital's test accuracy, their mean) and a summary.

Data: the UCI heart disease files of four hospitals, from --data or
$FEDLEDGER_DATA (the folder that holds heart-disease/). Without them the demo
says so and uses a seeded synthetic cohort of the same shape.

Examples:
  fedledger demo --data ../shared/datasets
  fedledger demo --data ../shared/datasets --rounds 5 --seed 7 --report run.json
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
	var fed *datasets.Federation
	if dir == "" {
		fmt.Fprintf(stdout, "no data directory given (--data or $%s): using the synthetic cohort (seed %d)\n", datasets.EnvData, *seed)
		fed = datasets.Synthetic(*seed)
	} else {
		var err error
		fed, err = datasets.LoadHeart(dir, *seed)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "data: UCI heart disease from %s\n", dir)
	}
	fmt.Fprint(stdout, fed.Summary())

	cfg := def
	cfg.Data = fed
	cfg.Rounds = *rounds
	cfg.Validators = *validators
	cfg.Seed = *seed
	cfg.Home = *home
	cfg.BlockInterval = *blockInterval
	cfg.Out = stdout
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
	if *report != "" {
		if err := rep.WriteJSON(*report); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", *report)
	}
	return nil
}
