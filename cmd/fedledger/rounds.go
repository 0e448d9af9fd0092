package main

import (
	"context"
	"encoding/hex"
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
change with its reasons.

Examples:
  fedledger rounds list --node http://127.0.0.1:26657 --task 1
  fedledger rounds list --node http://127.0.0.1:26657 --task 1 --follow
  fedledger rounds show --node http://127.0.0.1:26657 --task 1 --round 3 --output json`

type submissionView struct {
	Hospital     string  `json:"hospital"`
	UpdateHash   string  `json:"update_hash"`
	Samples      uint64  `json:"samples"`
	Accuracy     float64 `json:"accuracy"`
	Loss         float64 `json:"loss"`
	CommitHeight int64   `json:"commit_height"`
	Revealed     bool    `json:"revealed"`
	RevealHeight int64   `json:"reveal_height,omitempty"`
	Weight       *uint64 `json:"rule_weight,omitempty"`
}

type roundView struct {
	Task           uint64 `json:"task"`
	Round          uint32 `json:"round"`
	Phase          string `json:"phase"`
	Opened         int64  `json:"opened_height"`
	CommitDeadline int64  `json:"commit_deadline"`
	RevealDeadline int64  `json:"reveal_deadline,omitempty"`
	Closed         int64  `json:"closed_height,omitempty"`
	Outcome        string `json:"outcome,omitempty"`
	Aggregated     uint32 `json:"aggregated"`
	// InputAccuracy is the mean, over the hospitals that committed, of the
	// test accuracy each reported for the round's input model.
	InputAccuracy float64          `json:"input_model_mean_accuracy"`
	InputModel    string           `json:"input_model_hash"`
	OutputModel   string           `json:"output_model_hash,omitempty"`
	Submissions   []submissionView `json:"submissions"`
	Reputation    []repView        `json:"reputation,omitempty"`
}

type repView struct {
	Hospital string   `json:"hospital"`
	Delta    float64  `json:"delta"`
	Score    float64  `json:"score"`
	Flagged  bool     `json:"flagged"`
	Reasons  []string `json:"reasons,omitempty"`
}

func viewRound(r *pb.Round, names map[string]string) roundView {
	v := roundView{Task: r.TaskId, Round: r.Round, Opened: r.OpenedHeight, CommitDeadline: r.CommitDeadline,
		RevealDeadline: r.RevealDeadline, Closed: r.ClosedHeight, Outcome: r.Outcome, Aggregated: r.NumAggregated,
		InputModel: hex.EncodeToString(r.InputModelHash), OutputModel: hex.EncodeToString(r.OutputModelHash),
		Phase: strings.ToLower(strings.TrimPrefix(r.Phase.String(), "PHASE_"))}
	v.Submissions = []submissionView{}
	k := 0
	for _, s := range r.Submissions {
		sv := submissionView{Hospital: names[string(s.Hospital)], UpdateHash: hex.EncodeToString(s.UpdateHash),
			Samples: s.NumSamples, Accuracy: float64(s.Metrics.AccuracyPpm) / 1e6, Loss: float64(s.Metrics.LossPpm) / 1e6,
			CommitHeight: s.CommitHeight, Revealed: s.Revealed, RevealHeight: s.RevealHeight}
		if s.Revealed && k < len(r.Weights) {
			w := r.Weights[k]
			sv.Weight = &w
			k++
		}
		v.Submissions = append(v.Submissions, sv)
		v.InputAccuracy += sv.Accuracy / float64(len(r.Submissions))
	}
	for _, c := range r.Reputation {
		v.Reputation = append(v.Reputation, repView{Hospital: names[string(c.Hospital)], Delta: float64(c.DeltaPpm) / 1e6,
			Score: float64(c.ScorePpm) / 1e6, Flagged: c.Flagged, Reasons: c.Reasons})
	}
	return v
}

func newRoundsCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(roundsHelp, "\nExamples:\n")
	cmd := group("rounds", "List and show the rounds of a task (reviewers)", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a subcommand: fedledger rounds list|show --task ID")
	cmd.AddCommand(newRoundsSubCmd(g, "list", "One line per round of a task"), newRoundsSubCmd(g, "show", "One round of a task in full (--round R)"))
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
		var views []roundView
		for r := first; r <= last; r++ {
			rd, err := c.Round(ctx, *task, r)
			if err != nil {
				return err
			}
			views = append(views, viewRound(rd, names))
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
			if f := viewFinal(t, names); f != nil {
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

func printRoundLine(w io.Writer, v roundView) {
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
func followRounds(ctx context.Context, c *fl.Client, names map[string]string, task uint64, w, errw io.Writer, asJSON bool) error {
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
			v := viewRound(rd, names)
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
