package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/fl/history"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

const taskHelp = `Researchers launch training tasks; anyone lists and shows them; admins
reinstate a hospital the chain's reputation flagged.

Examples:
  fedledger task create --home ./net/keys/researcher --node http://127.0.0.1:26657 --rounds 10
  fedledger task list --node http://127.0.0.1:26657 --output json
  fedledger task show --node http://127.0.0.1:26657 --task 1`

const taskCreateHelp = `Launches a training task, signed by the researcher's key in --home. Every
flag can also be a key of the TOML file given with --file (same name, without
--); flags given on the command line win. The spec is checked before anything
is sent: unknown hospitals, impossible windows or a bad rule are refused here.
The task's initial model is drawn by the chain from --seed.

task.toml:
  name = "heart-logreg"
  hospitals = "cleveland,hungary,switzerland,va"
  rounds = 15
  model = "logreg"
  inputs = 13
  server-opt = "fedadagrad"

Examples:
  fedledger task create --home ./net/keys/researcher --node http://127.0.0.1:26657 --rounds 10
  fedledger task create --home ./net/keys/researcher --file task.toml
  fedledger task create --home ./net/keys/researcher --rule huber --reputation
  fedledger task create --home ./net/keys/researcher --model mlp --hidden 30000 --encoding topk --topk-ppm 10000`

const taskListHelp = `Lists every task on chain: status, round, rule, model, invited hospitals
and current model hash.

Examples:
  fedledger task list --node http://127.0.0.1:26657
  fedledger task list --node http://127.0.0.1:26657 --output json`

const taskShowHelp = `Shows one task: its status and current model, who created it, and every
setting it runs with: the hospitals' training recipe, the rule and its
parameters, reputation, the server optimizer, the commit and reveal windows,
the least number of hospitals a round needs, fixed-point precision and
update compression.

Examples:
  fedledger task show --node http://127.0.0.1:26657 --task 1
  fedledger task show --node http://127.0.0.1:26657 --task 1 --output json`

const taskReinstateHelp = `Clears the flag the chain's reputation put on a hospital in a task, so it
may submit again (admins only; the reason is kept on chain).

Examples:
  fedledger task reinstate --home ./net/keys/admin --task 1 --hospital va --reason "key rotated"`

// taskSpecFlags are the create flags; the TOML file uses the same names.
type taskSpecFlags struct {
	Name            string  `toml:"name"`
	Hospitals       string  `toml:"hospitals"`
	Rounds          int     `toml:"rounds"`
	Model           string  `toml:"model"`
	Inputs          int     `toml:"inputs"`
	Hidden          int     `toml:"hidden"`
	Rule            string  `toml:"rule"`
	ServerOpt       string  `toml:"server-opt"`
	CommitWindow    int     `toml:"commit-window"`
	RevealWindow    int     `toml:"reveal-window"`
	MinParticipants int     `toml:"min-participants"`
	Optimizer       string  `toml:"optimizer"`
	LR              float64 `toml:"lr"`
	Momentum        float64 `toml:"momentum"`
	Steps           int     `toml:"steps"`
	Epochs          int     `toml:"epochs"`
	Batch           int     `toml:"batch"`
	ProxMu          float64 `toml:"prox-mu"`
	WeightDecay     float64 `toml:"weight-decay"`
	FracBits        int     `toml:"frac-bits"`
	Seed            uint64  `toml:"seed"`
	Reputation      bool    `toml:"reputation"`
	Feedback        bool    `toml:"feedback"`
	DataScope       string  `toml:"data-scope"`
	Schema          string  `toml:"schema"`
	KrumF           int     `toml:"krum-f"`
	TrimBeta        float64 `toml:"trim-beta"`
	Encoding        string  `toml:"encoding"`
	TopkPpm         uint    `toml:"topk-ppm"`
}

func defaultTaskFlags() taskSpecFlags {
	return taskSpecFlags{Name: "task", Hospitals: "all", Rounds: 10, Model: "logreg", Inputs: 13, Hidden: 8,
		Rule: "fedavg", ServerOpt: "fedavg", CommitWindow: 100, RevealWindow: 100, Optimizer: "sgd",
		LR: 0.05, Momentum: 0.9, Steps: 50, Batch: 8, FracBits: 16, Seed: 1,
		Encoding: "int32", TopkPpm: 10_000, Feedback: true}
}

func (f *taskSpecFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Name, "name", f.Name, "task name")
	fs.StringVar(&f.Hospitals, "hospitals", f.Hospitals, "comma-separated hospital names to invite, or all")
	fs.IntVar(&f.Rounds, "rounds", f.Rounds, "rounds")
	fs.StringVar(&f.Model, "model", f.Model, "logreg or mlp")
	fs.IntVar(&f.Inputs, "inputs", f.Inputs, "model inputs (the data's feature count)")
	fs.IntVar(&f.Hidden, "hidden", f.Hidden, "mlp hidden units")
	fs.StringVar(&f.Rule, "rule", f.Rule, "aggregation rule: "+strings.Join(aggregator.Rules, ", "))
	fs.StringVar(&f.ServerOpt, "server-opt", f.ServerOpt, "fedavg, fedavgm, fedadagrad, fedadam or fedyogi")
	fs.IntVar(&f.CommitWindow, "commit-window", f.CommitWindow, "commit window in blocks")
	fs.IntVar(&f.RevealWindow, "reveal-window", f.RevealWindow, "reveal window in blocks")
	fs.IntVar(&f.MinParticipants, "min-participants", f.MinParticipants, "reveals a round needs (default: half the invited, rounded up)")
	fs.StringVar(&f.Optimizer, "optimizer", f.Optimizer, "hospitals' local optimizer: sgd or adam")
	fs.Float64Var(&f.LR, "lr", f.LR, "local learning rate")
	fs.Float64Var(&f.Momentum, "momentum", f.Momentum, "local SGD momentum")
	fs.IntVar(&f.Steps, "steps", f.Steps, "local mini-batch steps per round (0: use --epochs)")
	fs.IntVar(&f.Epochs, "epochs", f.Epochs, "local epochs per round when --steps is 0")
	fs.IntVar(&f.Batch, "batch", f.Batch, "local batch size")
	fs.Float64Var(&f.ProxMu, "prox-mu", f.ProxMu, "FedProx proximal coefficient (0: off)")
	fs.Float64Var(&f.WeightDecay, "weight-decay", f.WeightDecay, "L2 penalty λ/2·‖w‖² on the model's weights, not its biases, in the local loss (0: off)")
	fs.IntVar(&f.FracBits, "frac-bits", f.FracBits, "fixed-point fractional bits of models and updates")
	fs.Uint64Var(&f.Seed, "seed", f.Seed, "seed of the initial weights")
	fs.BoolVar(&f.Reputation, "reputation", f.Reputation, "score hospitals on chain and exclude those flagged")
	fs.BoolVar(&f.Feedback, "feedback", f.Feedback, "with --reputation: validation feedback, each hospital scores the previous round's updates on its own rows and the chain penalises an update most of them found harmful (docs/robustness.md); --feedback=false leaves the cosine test instead")
	fs.StringVar(&f.Schema, "schema", f.Schema, "a JSON file declaring how hospitals' tables become the model's inputs: {\"label\", \"positive\", \"columns\": [...], \"categorical\": [{\"column\", \"levels\": [...]}]}; --inputs follows from it")
	fs.StringVar(&f.DataScope, "data-scope", f.DataScope, "train only on anchored, consented data: each hospital names the record anchoring its dataset and its research grant to you over this dataset (train --data-anchor)")
	fs.IntVar(&f.KrumF, "krum-f", f.KrumF, "multikrum: Byzantine updates tolerated (0: the most n allows)")
	fs.Float64Var(&f.TrimBeta, "trim-beta", f.TrimBeta, "trimmed_mean: share trimmed at each end (0: 0.2)")
	fs.StringVar(&f.Encoding, "encoding", f.Encoding, "update encoding: int32, int16 or int8 (per-tensor scales), or topk (int8, --topk-ppm of the coordinates)")
	fs.UintVar(&f.TopkPpm, "topk-ppm", f.TopkPpm, "topk: share of coordinates each update keeps, in millionths")
}

// spec turns the flags into a task spec: local's checks, then the
// hospitals against the chain's list.
func (f taskSpecFlags) spec(participants []pb.Participant) (pb.TaskSpec, error) {
	spec, err := f.local()
	if err != nil {
		return pb.TaskSpec{}, err
	}
	return f.hospitals(spec, participants)
}

// local turns the flags into a task spec without its hospitals, checking
// everything that can be checked without the chain, so that a bad flag is
// reported before any node is asked.
func (f taskSpecFlags) local() (pb.TaskSpec, error) {
	bad := func(format string, a ...any) (pb.TaskSpec, error) {
		return pb.TaskSpec{}, usagef(format, a...)
	}
	if f.Rounds < 1 || f.Rounds > protocol.MaxRounds {
		return bad("--rounds %d: want 1 to %d", f.Rounds, protocol.MaxRounds)
	}
	if f.CommitWindow < 1 || f.RevealWindow < 1 || f.CommitWindow > protocol.MaxWindow || f.RevealWindow > protocol.MaxWindow {
		return bad("--commit-window and --reveal-window must be 1 to %d blocks", protocol.MaxWindow)
	}
	rp := pb.RuleParams{F: uint32(max(f.KrumF, 0)), BetaMicro: uint64(f.TrimBeta * 1e6)}
	if _, err := aggregator.NewRule(f.Rule, aggregator.RuleParams{F: int(rp.F), BetaMicro: rp.BetaMicro}); err != nil {
		return bad("--rule: %v", err)
	}
	so, ok := protocol.ServerOpts()[f.ServerOpt]
	if !ok {
		return bad("--server-opt %q: want fedavg, fedavgm, fedadagrad, fedadam or fedyogi", f.ServerOpt)
	}
	if f.FracBits < 4 || f.FracBits > 24 {
		return bad("--frac-bits %d: want 4 to 24", f.FracBits)
	}
	var schema *pb.DataSchema
	if f.Schema != "" {
		bz, err := os.ReadFile(f.Schema)
		if err != nil {
			return pb.TaskSpec{}, err
		}
		schema = &pb.DataSchema{}
		dec := json.NewDecoder(bytes.NewReader(bz))
		dec.DisallowUnknownFields()
		if err := dec.Decode(schema); err != nil {
			return bad("--schema %s: %v (want {\"label\": ..., \"columns\": [...], \"categorical\": [{\"column\": ..., \"levels\": [...]}]})", f.Schema, err)
		}
		n, err := protocol.SchemaInputs(schema)
		if err != nil {
			return bad("--schema %s: %v", f.Schema, err)
		}
		f.Inputs = n
	}
	if f.Inputs < 1 {
		return bad("--inputs %d: want at least 1", f.Inputs)
	}
	model := pb.ModelSpec{Arch: f.Model, InputDim: uint32(f.Inputs), InitSeed: f.Seed}
	if f.Model == pb.ArchMLP {
		model.HiddenDim = uint32(f.Hidden)
	}
	if _, err := model.NumParams(); err != nil {
		return bad("--model: %v", err)
	}
	tc := fl.TrainConfig{Optimizer: f.Optimizer, LearningRate: f.LR, Momentum: f.Momentum, Steps: f.Steps, Epochs: f.Epochs, BatchSize: f.Batch, ProxMu: f.ProxMu, WeightDecay: f.WeightDecay}
	if err := tc.Validate(); err != nil {
		return bad("local training: %v", err)
	}
	comp, err := protocol.ParseEncoding(f.Encoding, uint32(f.TopkPpm))
	if err != nil {
		return bad("--encoding: %v", err)
	}
	return pb.TaskSpec{Compression: comp, Name: f.Name, Model: model, Training: tc.Hints(), Rule: f.Rule, Rounds: uint32(f.Rounds),
		CommitWindow: uint32(f.CommitWindow), RevealWindow: uint32(f.RevealWindow),
		FracBits: uint32(f.FracBits), ServerOpt: so, RuleParams: rp, Reputation: f.Reputation, Feedback: f.Reputation && f.Feedback, DataScope: f.DataScope, Schema: schema}, nil
}

// hospitals fills in the invited hospitals and the quorum, checked against
// the chain's participants.
func (f taskSpecFlags) hospitals(spec pb.TaskSpec, participants []pb.Participant) (pb.TaskSpec, error) {
	bad := func(format string, a ...any) (pb.TaskSpec, error) {
		return pb.TaskSpec{}, usagef(format, a...)
	}
	byName := map[string][]byte{}
	var all []string
	for _, p := range participants {
		if p.Role == pb.ROLE_HOSPITAL {
			byName[p.Name] = p.PubKey
			all = append(all, p.Name)
		}
	}
	names := all
	if f.Hospitals != "all" {
		names = strings.Split(f.Hospitals, ",")
	}
	var keys [][]byte
	for _, n := range names {
		k, ok := byName[strings.TrimSpace(n)]
		if !ok {
			return bad("--hospitals: %q is not a hospital of this chain (hospitals: %s)", n, strings.Join(all, ", "))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return bad("--hospitals: no hospital to invite")
	}
	minP := f.MinParticipants
	if minP == 0 {
		minP = (len(keys) + 1) / 2
	}
	if minP < 1 || minP > len(keys) {
		return bad("--min-participants %d: want 1 to the %d invited hospitals", minP, len(keys))
	}
	spec.Hospitals, spec.MinParticipants = keys, uint32(minP)
	return spec, nil
}

func newTaskCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(taskHelp, "\nExamples:\n")
	cmd := group("task", "Create, list and show training tasks (researchers)", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a subcommand: fedledger task create|list|show|reinstate|cancel")
	cmd.AddCommand(newTaskCreateCmd(g), newTaskListCmd(g, "list"), newTaskListCmd(g, "show"), newTaskReinstateCmd(g), newTaskCancelCmd(g))
	return cmd
}

func newTaskCreateCmd(g *globals) *cobra.Command {
	cmd := leaf("create", "Launch a training task (researchers); flags or --file task.toml", taskCreateHelp)
	fs := cmd.Flags()
	f := defaultTaskFlags()
	file := fs.String("file", "", "TOML file with the task's settings")
	f.register(fs)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if *file != "" {
			if err := loadTaskFile(*file, &f, fs); err != nil {
				return err
			}
		}
		if g.home == "" {
			return usagef("--home DIR (the researcher's key home) is required")
		}
		if _, err := f.local(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
		defer cancel()
		c, parts, err := dialAs(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		spec, err := f.spec(parts)
		if err != nil {
			return err
		}
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CreateTask{CreateTask: &pb.CreateTask{Spec: spec}}})
		if err != nil {
			return err
		}
		id, ok := inc.Attr("task_created", "task_id")
		if !ok {
			return fmt.Errorf("the chain took the task at height %d, but its events carry no task id (tx %X); find it with 'fedledger task list'", inc.Height, inc.Hash)
		}
		if g.json() {
			return writeJSON(stdout, map[string]any{"task_id": id, "height": inc.Height, "tx": hex.EncodeToString(inc.Hash)})
		}
		fmt.Fprintf(stdout, "task %s created at height %d (%d hospitals, %d rounds)\n", id, inc.Height, len(spec.Hospitals), spec.Rounds)
		return nil
	}
	return cmd
}

func newTaskReinstateCmd(g *globals) *cobra.Command {
	cmd := leaf("reinstate", "Clear a flagged hospital in a task (admins)", taskReinstateHelp)
	fs := cmd.Flags()
	id := fs.Uint64("task", 0, "task id")
	hospital := fs.String("hospital", "", "the flagged hospital's name")
	reason := fs.String("reason", "", "why (kept on chain)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if g.home == "" || *id == 0 || *hospital == "" {
			return usagef("--home, --task and --hospital are required")
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
		defer cancel()
		c, parts, err := dialAs(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		var pub []byte
		for _, p := range parts {
			if p.Name == *hospital {
				pub = p.PubKey
			}
		}
		if pub == nil {
			return usagef("--hospital %q is not a participant of this chain", *hospital)
		}
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_Reinstate{Reinstate: &pb.Reinstate{TaskId: *id, Hospital: pub, Reason: *reason}}})
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(stdout, map[string]any{"task_id": *id, "hospital": *hospital, "height": inc.Height, "tx": hex.EncodeToString(inc.Hash)})
		}
		fmt.Fprintf(stdout, "%s reinstated in task %d at height %d\n", *hospital, *id, inc.Height)
		return nil
	}
	return cmd
}

func newTaskListCmd(g *globals, sub string) *cobra.Command {
	short, help := "List every task on chain", taskListHelp
	if sub == "show" {
		short, help = "Show one task (--task ID)", taskShowHelp
	}
	cmd := leaf(sub, short, help)
	fs := cmd.Flags()
	id := new(uint64)
	if sub == "show" {
		id = fs.Uint64("task", 0, "task id")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
		defer cancel()
		c, names, err := dialReader(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		var tasks []pb.Task
		if sub == "list" {
			if tasks, err = c.Tasks(ctx); err != nil {
				return err
			}
		} else {
			if *id == 0 {
				return usagef("--task ID is required")
			}
			t, err := c.Task(ctx, *id)
			if err != nil {
				return err
			}
			tasks = []pb.Task{*t}
		}
		views := make([]history.Task, len(tasks))
		for i := range tasks {
			views[i] = history.ViewTask(&tasks[i], names)
		}
		if g.json() {
			if sub == "show" {
				return writeJSON(stdout, views[0])
			}
			return writeJSON(stdout, views)
		}
		if len(views) == 0 {
			fmt.Fprintln(stdout, "no tasks")
		}
		for _, v := range views {
			fmt.Fprintf(stdout, "task %d %q: %s, round %d of %d, %s + %s, %s, hospitals %s, model %s\n", v.ID, v.Name, v.Status,
				v.CurrentRound, v.Rounds, v.Rule, v.ServerOpt, v.Model, strings.Join(v.Hospitals, ","), v.ModelHash[:16])
			if sub == "show" {
				printSettings(stdout, v)
			}
		}
		return nil
	}
	return cmd
}

// loadTaskFile reads TOML into f; flags set on the command line win.
func loadTaskFile(path string, f *taskSpecFlags, fs *pflag.FlagSet) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--file: %w", err)
	}
	fromFile := defaultTaskFlags()
	dec := toml.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fromFile); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return usagef("--file %s: unknown setting: %s", path, sm.String())
		}
		return usagef("--file %s: %v", path, err)
	}
	// Flags given on the command line win over the file.
	apply := pflag.NewFlagSet("", pflag.ContinueOnError)
	fromFile.register(apply)
	fs.Visit(func(fl *pflag.Flag) {
		if apply.Lookup(fl.Name) != nil {
			_ = apply.Set(fl.Name, fl.Value.String())
		}
	})
	*f = fromFile
	return nil
}

func dialReader(ctx context.Context, g *globals, stderr io.Writer) (*fl.Client, history.Names, error) {
	c, err := g.dial(ctx, nil, stderr)
	if err != nil {
		return nil, nil, err
	}
	names, err := history.LoadNames(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return c, names, nil
}

// dialAs connects to --node as the key in --home and lists the participants.
func dialAs(ctx context.Context, g *globals, stderr io.Writer) (*fl.Client, []pb.Participant, error) {
	_, key, err := fl.ReadKeyFile(filepath.Join(g.home, "key.json"))
	if err != nil {
		return nil, nil, err
	}
	c, err := g.dial(ctx, key, stderr)
	if err != nil {
		return nil, nil, err
	}
	parts, err := c.Participants(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, parts, nil
}

// printSettings prints what task show adds to a task's line.
func printSettings(w io.Writer, v history.Task) {
	s, tc := v.Settings, fl.FromHints(v.Settings.Training)
	local := fmt.Sprintf("%d epoch(s)", tc.Epochs)
	if tc.Steps > 0 {
		local = fmt.Sprintf("%d steps", tc.Steps)
	}
	fmt.Fprintf(w, "  created by %s at height %d", v.Creator, v.Created)
	if v.Finished > 0 {
		fmt.Fprintf(w, ", finished at %d", v.Finished)
	}
	fmt.Fprintf(w, "; model of round %d: %s\n", v.ModelRound, v.ModelHash)
	fmt.Fprintf(w, "  hospitals train: %s, learning rate %g, momentum %g, batch %d, %s", tc.Optimizer, tc.LearningRate, tc.Momentum, tc.BatchSize, local)
	if tc.ProxMu > 0 {
		fmt.Fprintf(w, ", FedProx mu %g", tc.ProxMu)
	}
	if tc.WeightDecay > 0 {
		fmt.Fprintf(w, ", weight decay %g", tc.WeightDecay)
	}
	fmt.Fprintln(w)
	rp := s.RuleParams
	fmt.Fprintf(w, "  rule %s (f %d, m %d, beta %g, clip %d, iterations %d), reputation %v, validation feedback %v\n", v.Rule, rp.F, rp.M, float64(rp.BetaMicro)/1e6, rp.Clip, rp.Iters, v.Reputation, v.Feedback)
	if v.CancelNote != "" {
		fmt.Fprintf(w, "  %s\n", v.CancelNote)
	}
	if f := v.Final; f != nil {
		fmt.Fprintf(w, "  final model (round %d): mean local test accuracy %.3f, reported by %d of %d hospitals\n", v.ModelRound, f.MeanAccuracy, f.Reported, f.Invited)
	}
	if sc := v.Schema; sc != nil {
		cols := append([]string(nil), sc.Columns...)
		for _, c := range sc.Categorical {
			for i := range cols {
				if cols[i] == c.Column {
					cols[i] += "{" + strings.Join(c.Levels, "|") + "}"
				}
			}
		}
		fmt.Fprintf(w, "  schema: label %s, inputs %s\n", sc.Label, strings.Join(cols, ", "))
	}
	if v.DataScope != "" {
		fmt.Fprintf(w, "  data: anchored and consented only (each hospital's research grant over dataset %q)\n", v.DataScope)
	}
	so := s.ServerOpt
	fmt.Fprintf(w, "  server optimizer %s (lr %g, beta1 %g, beta2 %g, tau %g)\n", v.ServerOpt, float64(so.LrMicro)/1e6, float64(so.Beta1Micro)/1e6, float64(so.Beta2Micro)/1e6, float64(so.TauMicro)/1e6)
	fmt.Fprintf(w, "  rounds need %d hospitals; commit window %d blocks, reveal window %d; fixed point 2^-%d; updates %s\n",
		s.MinParticipants, s.CommitWindow, s.RevealWindow, s.FracBits, s.Compression)
}

func newTaskCancelCmd(g *globals) *cobra.Command {
	cmd := leaf("cancel", "Cancel a running task (its creator or an admin)", `Ends a running task at once: its open round closes without aggregating,
no round opens after it, and the task shows who cancelled it, when and why.
Trainers stop working on it and say so.

Examples:
  fedledger task cancel --home ./net/keys/researcher --task 1 --reason "wrong model size"`)
	fs := cmd.Flags()
	id := fs.Uint64("task", 0, "task id")
	reason := fs.String("reason", "", "why (kept on chain)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *id == 0 || *reason == "" {
			return usagef("--home, --task and --reason are required")
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
		defer cancel()
		c, _, err := dialAs(ctx, g, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		inc, err := c.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CancelTask{CancelTask: &pb.CancelTask{TaskId: *id, Reason: *reason}}})
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"task_id": *id, "height": inc.Height, "tx": hex.EncodeToString(inc.Hash)})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "task %d cancelled at height %d\n", *id, inc.Height)
		return nil
	}
	return cmd
}
