package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/fl"
)

const modelHelp = `Takes a trained model out of the chain: the global model record exactly as
committed, its Merkle proof against the app hash of its height (verified by
the light client from the trust root), and its weights as numbers, in one
JSON file (docs/model-file.md). fedledger predict scores rows with it.

Examples:
  fedledger model export --node http://127.0.0.1:26657 --genesis ./net/keys/researcher/genesis.json --task 1 --out model.json
  fedledger model export --task 1 --round 3 --out round3.json`

func newModelCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(modelHelp, "\nExamples:\n")
	cmd := group("model", "Export a task's trained model", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a subcommand: fedledger model export")
	cmd.AddCommand(newModelExportCmd(g))
	return cmd
}

func newModelExportCmd(g *globals) *cobra.Command {
	cmd := leaf("export", "Write a task's global model (weights, spec, hash, proof) to a file", modelHelp)
	fs := cmd.Flags()
	task := fs.Uint64("task", 0, "task id")
	round := fs.Uint32("round", 0, "the model after this round (default: the task's current model)")
	out := fs.String("out", "", "file to write")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *task == 0 || *out == "" {
			return usagef("--task and --out are required")
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
		defer cancel()
		c, err := g.dial(ctx, nil, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		f, err := fl.ExportModel(ctx, c, *task, *round)
		if err != nil {
			return err
		}
		if err := fl.WriteModelFile(*out, f); err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"task": f.Task, "round": f.Round, "model_hash": f.ModelHash, "height": f.Height, "verified": f.Verified, "out": *out})
		}
		how := "verified against the app hash the light client verified"
		if !f.Verified {
			how = "NOT verified: no trust root (give --genesis or --trust-height/--trust-hash)"
		}
		fmt.Fprintf(cmd.OutOrStdout(), "task %d, model after round %d (%d weights, hash %s…): %s at height %d; written to %s\n", f.Task, f.Round, len(f.Params), f.ModelHash[:16], how, f.Height, *out)
		return nil
	}
	return cmd
}

const predictHelp = `Scores rows with a model file (fedledger model export, demo --export-model):
a hospital's test rows, loaded and scaled exactly as its trainer does
(--dataset, --data, --site, --seed, as for train), or a CSV. With labels it
reports accuracy, loss, AUC and a calibration table (predicted probability
in tenths against the share of positives). The file's proof is checked
before anything is scored.

Examples:
  fedledger predict --model model.json --data ../shared/datasets --site cleveland
  fedledger predict --model model.json --dataset csv:new-patients.csv --label target --output json`

func newPredictCmd(g *globals) *cobra.Command {
	cmd := leaf("predict", "Score rows with an exported model: accuracy, AUC, calibration", predictHelp)
	fs := cmd.Flags()
	model := fs.String("model", "", "model file")
	data := fs.String("data", "", "data directory holding heart-disease/ (default $FEDLEDGER_DATA)")
	dataset := fs.String("dataset", "heart", "heart or csv:PATH")
	site := fs.String("site", "", "heart: whose test rows (cleveland, hungary, switzerland, va)")
	label := fs.String("label", "", "csv: the binary label column")
	missing := fs.String("missing", "drop", "csv: drop rows with a missing feature, or impute")
	seed := fs.Uint64("seed", 42, "seed of the train/test split (the trainer's)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *model == "" {
			return usagef("--model is required")
		}
		if *dataset == "heart" && *site == "" {
			return usagef("--site names the hospital whose test rows to score")
		}
		f, err := fl.ReadModelFile(*model)
		if err != nil {
			return err
		}
		hosp, err := loadHospital(*dataset, *data, *site, *site, *label, *missing, *seed, f.Schema)
		if err != nil {
			return err
		}
		if n := f.Model.InputDim; int(n) != len(hosp.Test.X[0]) {
			return usagef("the model takes %d inputs and the rows have %d", n, len(hosp.Test.X[0]))
		}
		s, err := fl.Score(f.Model, f.Params, hosp.Test)
		if err != nil {
			return err
		}
		if g.json() {
			var auc any = s.AUC
			if math.IsNaN(s.AUC) {
				auc = nil
			}
			return writeJSON(cmd.OutOrStdout(), map[string]any{"model_hash": f.ModelHash, "task": f.Task, "round": f.Round, "rows": s.N,
				"accuracy": s.Accuracy, "loss": s.Loss, "auc": auc, "calibration": s.Calibration})
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "model %s… (task %d, round %d) on %d test rows of %s\n", f.ModelHash[:16], f.Task, f.Round, s.N, hosp.Name)
		fmt.Fprintf(w, "accuracy %.3f  loss %.4f  AUC %.3f\n", s.Accuracy, s.Loss, s.AUC)
		fmt.Fprintf(w, "calibration: predicted   rows  mean predicted  share positive\n")
		for _, b := range s.Calibration {
			if b.N > 0 {
				fmt.Fprintf(w, "             %.1f–%.1f  %5d  %14.3f  %14.3f\n", b.Lo, b.Hi, b.N, b.MeanPredicted, b.FracPositive)
			}
		}
		return nil
	}
	return cmd
}
