package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/history"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

const roundsHelp = `For reviewers: what happened in each round of a task, as the chain recorded
it. list prints one line per round, with the mean test accuracy the
hospitals reported for the round's input model (the model of the round
before: a round's own model is scored in the next one); show prints one
round in full: every
hospital's commitment (update hash, sample count, its metrics of the round's
global model), whether and when it revealed, the weight the rule gave it, the
outcome, the input and output model hashes, and each hospital's reputation
change with its reasons. plot draws a chart (PNG, SVG or PDF) of the
accuracy, loss or reputation of every hospital over the rounds; export
writes the whole history as CSV (a row per round and hospital) or JSON.

Examples:
  fedledger rounds list --node http://127.0.0.1:26657 --task 1
  fedledger rounds list --node http://127.0.0.1:26657 --task 1 --follow
  fedledger rounds show --node http://127.0.0.1:26657 --task 1 --round 3 --output json
  fedledger rounds plot --node http://127.0.0.1:26657 --task 1 --out accuracy.png
  fedledger rounds plot --node http://127.0.0.1:26657 --task 1 --metric reputation --out rep.svg
  fedledger rounds export --node http://127.0.0.1:26657 --task 1 --out history.csv`

func newRoundsCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(roundsHelp, "\nExamples:\n")
	cmd := group("rounds", "List and show the rounds of a task (reviewers)", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a subcommand: fedledger rounds list|show|plot|export --task ID")
	cmd.AddCommand(newRoundsSubCmd(g, "list", "One line per round of a task"), newRoundsSubCmd(g, "show", "One round of a task in full (--round R)"),
		newRoundsPlotCmd(g), newRoundsExportCmd(g))
	return cmd
}

func newRoundsSubCmd(g *globals, sub, short string) *cobra.Command {
	cmd := leaf(sub, short, roundsHelp)
	fs := cmd.Flags()
	task := fs.Uint64("task", 0, "task id")
	round := new(uint)
	follow := new(bool)
	if sub == "show" {
		round = fs.Uint("round", 0, "round")
	} else {
		follow = fs.Bool("follow", false, "keep listing rounds as they close, until the task ends (JSON: one object per line)")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if *task == 0 {
			return usagef("--task ID is required")
		}
		if sub == "show" && *round == 0 {
			return usagef("--round R is required")
		}
		if *follow {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, names, err := dialReader(ctx, g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return followRounds(ctx, c, names, *task, stdout, cmd.ErrOrStderr(), g.json())
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		c, names, err := dialReader(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		t, err := c.Task(ctx, *task)
		if err != nil {
			return err
		}
		first, last := uint32(1), t.CurrentRound
		if sub == "show" {
			if uint32(*round) > t.CurrentRound {
				return fmt.Errorf("task %d has no round %d yet (it is at round %d)", *task, *round, t.CurrentRound)
			}
			first, last = uint32(*round), uint32(*round)
		}
		var views []history.Round
		for r := first; r <= last; r++ {
			rd, err := c.Round(ctx, *task, r)
			if err != nil {
				return err
			}
			views = append(views, history.ViewRound(rd, names))
		}
		if g.json() {
			if sub == "show" {
				return writeJSON(stdout, views[0])
			}
			return writeJSON(stdout, views)
		}
		if sub == "list" {
			printRoundHeader(stdout)
			for _, v := range views {
				printRoundLine(stdout, v)
			}
			if f := history.ViewFinal(t, names); f != nil {
				fmt.Fprintf(stdout, "final model (round %d): mean local test accuracy %.3f, reported by %d of %d hospitals\n", t.ModelRound, f.MeanAccuracy, f.Reported, f.Invited)
			}
			return nil
		}
		v := views[0]
		fmt.Fprintf(stdout, "task %d round %d: %s; opened at %d, commit deadline %d, reveal deadline %d, closed at %d\n",
			v.Task, v.Round, v.Phase, v.Opened, v.CommitDeadline, v.RevealDeadline, v.Closed)
		fmt.Fprintf(stdout, "outcome: %s (%d updates aggregated)\ninput model:  %s\noutput model: %s\n", v.Outcome, v.Aggregated, v.InputModel, v.OutputModel)
		for _, s := range v.Submissions {
			rev := "not revealed"
			if s.Revealed {
				rev = fmt.Sprintf("revealed at %d", s.RevealHeight)
			}
			if s.Weight != nil {
				rev += fmt.Sprintf(", rule weight %d", *s.Weight)
			}
			fmt.Fprintf(stdout, "  %-12s committed at %d, %d samples, accuracy %.3f, update %s..., %s\n", s.Hospital, s.CommitHeight, s.Samples, s.Accuracy, s.UpdateHash[:16], rev)
		}
		if len(v.Reputation) > 0 {
			fmt.Fprintln(stdout, "reputation:")
			for _, c := range v.Reputation {
				flag := ""
				if c.Flagged {
					flag = " FLAGGED"
				}
				fmt.Fprintf(stdout, "  %-12s %+.2f -> %.2f%s  %s\n", c.Hospital, c.Delta, c.Score, flag, strings.Join(c.Reasons, "; "))
			}
		}
		return nil
	}
	return cmd
}

func printRoundHeader(w io.Writer) {
	fmt.Fprintf(w, "%5s  %-7s  %8s  %10s  %9s  %-10s  %s\n", "round", "phase", "revealed", "closed at", "input acc", "model", "outcome")
}

func printRoundLine(w io.Writer, v history.Round) {
	revealed := 0
	for _, s := range v.Submissions {
		if s.Revealed {
			revealed++
		}
	}
	model := v.OutputModel
	if len(model) > 10 {
		model = model[:10]
	}
	acc := "-"
	if len(v.Submissions) > 0 {
		acc = fmt.Sprintf("%.3f", v.InputAccuracy)
	}
	fmt.Fprintf(w, "%5d  %-7s  %8s  %10d  %9s  %-10s  %s\n", v.Round, v.Phase, fmt.Sprintf("%d/%d", revealed, len(v.Submissions)), v.Closed, acc, model, v.Outcome)
}

// followRounds lists each round of a task once it closes, until the task
// ends (its last round listed) or ctx does; a node that cannot be reached
// is waited for, and said so once.
func followRounds(ctx context.Context, c *fl.Client, names history.Names, task uint64, w, errw io.Writer, asJSON bool) error {
	if !asJSON {
		printRoundHeader(w)
	}
	next, waiting := uint32(1), false
	for {
		t, err := c.Task(ctx, task)
		if errors.Is(err, fl.ErrUnavailable) && ctx.Err() == nil {
			if !waiting {
				fmt.Fprintf(errw, "waiting for the node: %v\n", err)
				waiting = true
			}
			if err := sleepCtx(ctx, 2*time.Second); err != nil {
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
		waiting = false
		for next <= t.CurrentRound {
			rd, err := c.Round(ctx, task, next)
			if err != nil {
				return err
			}
			if rd.Phase != pb.PHASE_CLOSED {
				break
			}
			v := history.ViewRound(rd, names)
			if asJSON {
				bz, _ := json.Marshal(v)
				fmt.Fprintf(w, "%s\n", bz)
			} else {
				printRoundLine(w, v)
			}
			next++
		}
		if t.Status != pb.TASK_STATUS_RUNNING && next > t.CurrentRound {
			return nil
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil // stopped by the user
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func newRoundsPlotCmd(g *globals) *cobra.Command {
	cmd := leaf("plot", "Chart a task's accuracy, loss or reputation over its rounds (PNG, SVG, PDF)", roundsHelp)
	task := cmd.Flags().Uint64("task", 0, "task id")
	out := cmd.Flags().String("out", "", "image file to write: .png, .svg or .pdf")
	metric := cmd.Flags().String("metric", history.MetricAccuracy, "accuracy, loss or reputation")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *task == 0 || *out == "" {
			return usagef("--task ID and --out FILE are required")
		}
		format, err := history.ChartFormat(*out)
		if err != nil {
			return usagef("--out %v", err)
		}
		if *metric != history.MetricAccuracy && *metric != history.MetricLoss && *metric != history.MetricReputation {
			return usagef("--metric %q: want accuracy, loss or reputation", *metric)
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		h, err := loadHistory(ctx, g, cmd.ErrOrStderr(), *task)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := history.Chart(&buf, h, *metric, format); err != nil {
			if errors.Is(err, history.ErrNothingToPlot) {
				return fmt.Errorf("task %d has no %s to plot yet (%d rounds; the first metrics come with round 1's commitments)", *task, *metric, len(h.Rounds))
			}
			return err
		}
		if err := writeFileAtomic(*out, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"task": *task, "metric": *metric, "rounds": len(h.Rounds), "file": *out})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s of task %d over %d rounds written to %s\n", *metric, *task, len(h.Rounds), *out)
		return nil
	}
	return cmd
}

func newRoundsExportCmd(g *globals) *cobra.Command {
	cmd := leaf("export", "Write a task's whole round history as CSV or JSON", roundsHelp)
	task := cmd.Flags().Uint64("task", 0, "task id")
	out := cmd.Flags().String("out", "", "file to write; .csv gives CSV, anything else JSON (default: CSV to stdout)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *task == 0 {
			return usagef("--task ID is required")
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		h, err := loadHistory(ctx, g, cmd.ErrOrStderr(), *task)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		asCSV := *out == "" && !g.json() || strings.HasSuffix(strings.ToLower(*out), ".csv")
		if asCSV {
			err = history.WriteCSV(&buf, h)
		} else {
			err = writeJSON(&buf, h)
		}
		if err != nil {
			return err
		}
		if *out == "" {
			_, err := cmd.OutOrStdout().Write(buf.Bytes())
			return err
		}
		if err := writeFileAtomic(*out, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"task": *task, "rounds": len(h.Rounds), "file": *out})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "history of task %d (%d rounds) written to %s\n", *task, len(h.Rounds), *out)
		return nil
	}
	return cmd
}

// loadHistory reads a task's history from --node.
func loadHistory(ctx context.Context, g *globals, stderr io.Writer, task uint64) (*history.History, error) {
	c, names, err := dialReader(ctx, g, stderr)
	if err != nil {
		return nil, err
	}
	return history.Load(ctx, c, names, task)
}
