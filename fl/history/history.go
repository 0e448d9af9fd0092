package history

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// Reader is what a history is loaded through: fl.Client answers it.
type Reader interface {
	Task(ctx context.Context, id uint64) (*pb.Task, error)
	Round(ctx context.Context, task uint64, round uint32) (*pb.Round, error)
	Participants(ctx context.Context) ([]pb.Participant, error)
}

// Names maps a participant's public key (as a string of its bytes) to its
// registered name.
type Names map[string]string

// Name is the registered name of key, or its hex if it has none.
func (n Names) Name(key []byte) string {
	if s, ok := n[string(key)]; ok && s != "" {
		return s
	}
	return hex.EncodeToString(key)
}

// LoadNames reads the registered participants' names.
func LoadNames(ctx context.Context, r Reader) (Names, error) {
	parts, err := r.Participants(ctx)
	if err != nil {
		return nil, err
	}
	names := Names{}
	for _, p := range parts {
		names[string(p.PubKey)] = p.Name
	}
	return names, nil
}

// History is a task and its rounds so far.
type History struct {
	Task   Task    `json:"task"`
	Rounds []Round `json:"rounds"`
}

// Load reads task id and each of its rounds up to its current one.
func Load(ctx context.Context, r Reader, names Names, id uint64) (*History, error) {
	t, err := r.Task(ctx, id)
	if err != nil {
		return nil, err
	}
	h := &History{Task: ViewTask(t, names), Rounds: []Round{}}
	for n := uint32(1); n <= t.CurrentRound; n++ {
		rd, err := r.Round(ctx, id, n)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", n, err)
		}
		h.Rounds = append(h.Rounds, ViewRound(rd, names))
	}
	return h, nil
}

// Task is a task as reviewers read it.
type Task struct {
	ID           uint64         `json:"id"`
	Name         string         `json:"name"`
	Status       string         `json:"status"`
	CurrentRound uint32         `json:"current_round"`
	Rounds       uint32         `json:"rounds"`
	Rule         string         `json:"rule"`
	ServerOpt    string         `json:"server_opt"`
	Reputation   bool           `json:"reputation"`
	Feedback     bool           `json:"feedback"`
	Model        string         `json:"model"`
	Hospitals    []string       `json:"hospitals"`
	ModelHash    string         `json:"model_hash"`
	ModelRound   uint32         `json:"model_round"`
	Created      int64          `json:"created_height"`
	Finished     int64          `json:"finished_height,omitempty"`
	Creator      string         `json:"creator"`
	DataScope    string         `json:"data_scope,omitempty"`
	CancelNote   string         `json:"cancel_note,omitempty"`
	Final        *Final         `json:"final,omitempty"`
	Schema       *pb.DataSchema `json:"schema,omitempty"`
	Settings     Settings       `json:"settings"`
}

// Final is the hospitals' reports on a finished task's final model.
type Final struct {
	MeanAccuracy float64            `json:"mean_accuracy"`
	Accuracy     map[string]float64 `json:"accuracy"`
	Reported     int                `json:"reported"`
	Invited      int                `json:"invited"`
}

// Settings are a task's settings as stored.
type Settings struct {
	Training        pb.TrainingHints `json:"training"` // as stored (micro units); 0 = the trainer's default
	RuleParams      pb.RuleParams    `json:"rule_params"`
	ServerOpt       pb.ServerOpt     `json:"server_opt"`
	MinParticipants uint32           `json:"min_participants"`
	CommitWindow    uint32           `json:"commit_window"`
	RevealWindow    uint32           `json:"reveal_window"`
	FracBits        uint32           `json:"frac_bits"`
	Compression     string           `json:"compression"`
}

// ViewFinal is the final-model reports of t, or nil if none came yet.
func ViewFinal(t *pb.Task, names Names) *Final {
	if len(t.FinalMetrics) == 0 {
		return nil
	}
	f := &Final{Accuracy: map[string]float64{}, Reported: len(t.FinalMetrics), Invited: len(t.Spec.Hospitals)}
	for _, m := range t.FinalMetrics {
		a := float64(m.Metrics.AccuracyPpm) / 1e6
		f.Accuracy[names.Name(m.Hospital)] = a
		f.MeanAccuracy += a / float64(len(t.FinalMetrics))
	}
	return f
}

// ViewTask is t as reviewers read it.
func ViewTask(t *pb.Task, names Names) Task {
	v := Task{ID: t.Id, Name: t.Spec.Name, CurrentRound: t.CurrentRound, Rounds: t.Spec.Rounds, Rule: t.Spec.Rule,
		ServerOpt: t.Spec.ServerOpt.Name, Reputation: t.Spec.Reputation, Feedback: t.Spec.Feedback, Model: fmt.Sprintf("%s(%d", t.Spec.Model.Arch, t.Spec.Model.InputDim),
		ModelHash: hex.EncodeToString(t.ModelHash), ModelRound: t.ModelRound, Created: t.CreatedHeight, Finished: t.FinishedHeight}
	if t.Spec.Model.Arch == pb.ArchMLP {
		v.Model += "," + strconv.Itoa(int(t.Spec.Model.HiddenDim))
	}
	v.Model += ")"
	if v.Rule == "" {
		v.Rule = "fedavg"
	}
	if v.ServerOpt == "" {
		v.ServerOpt = "fedavg"
	}
	v.Status = StatusName(t.Status)
	v.CancelNote = t.CancelNote
	v.Final = ViewFinal(t, names)
	v.DataScope, v.Schema = t.Spec.DataScope, t.Spec.Schema
	v.Creator = names.Name(t.Creator)
	sp := &t.Spec
	v.Settings = Settings{Training: sp.Training, RuleParams: sp.RuleParams, ServerOpt: sp.ServerOpt,
		MinParticipants: sp.MinParticipants, CommitWindow: sp.CommitWindow, RevealWindow: sp.RevealWindow,
		FracBits: sp.FracBits, Compression: CompressionName(sp.Compression)}
	v.Hospitals = []string{}
	for _, h := range t.Spec.Hospitals {
		v.Hospitals = append(v.Hospitals, names.Name(h))
	}
	return v
}

// StatusName is a task status as printed: running, done or cancelled.
func StatusName(s pb.TaskStatus) string {
	switch s {
	case pb.TASK_STATUS_RUNNING:
		return "running"
	case pb.TASK_STATUS_DONE:
		return "done"
	case pb.TASK_STATUS_CANCELLED:
		return "cancelled"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "TASK_STATUS_"))
}

// CompressionName names a task's update encoding.
func CompressionName(c pb.Compression) string {
	name := "int32"
	if c.Width != pb.WIDTH_UNSPECIFIED {
		name = strings.ToLower(strings.TrimPrefix(c.Width.String(), "WIDTH_"))
	}
	if c.TopkPpm > 0 {
		name += fmt.Sprintf(", top-k keeping %d ppm of the coordinates", c.TopkPpm)
	}
	return name
}

// Submission is one hospital's part in a round.
type Submission struct {
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

// Round is one round as reviewers read it.
type Round struct {
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
	InputAccuracy float64            `json:"input_model_mean_accuracy"`
	InputModel    string             `json:"input_model_hash"`
	OutputModel   string             `json:"output_model_hash,omitempty"`
	Submissions   []Submission       `json:"submissions"`
	Reputation    []ReputationChange `json:"reputation,omitempty"`
}

// ReputationChange is one hospital's reputation move in a round.
type ReputationChange struct {
	Hospital string   `json:"hospital"`
	Delta    float64  `json:"delta"`
	Score    float64  `json:"score"`
	Flagged  bool     `json:"flagged"`
	Reasons  []string `json:"reasons,omitempty"`
}

// ViewRound is r as reviewers read it.
func ViewRound(r *pb.Round, names Names) Round {
	v := Round{Task: r.TaskId, Round: r.Round, Opened: r.OpenedHeight, CommitDeadline: r.CommitDeadline,
		RevealDeadline: r.RevealDeadline, Closed: r.ClosedHeight, Outcome: r.Outcome, Aggregated: r.NumAggregated,
		InputModel: hex.EncodeToString(r.InputModelHash), OutputModel: hex.EncodeToString(r.OutputModelHash),
		Phase: strings.ToLower(strings.TrimPrefix(r.Phase.String(), "PHASE_"))}
	v.Submissions = []Submission{}
	k := 0
	for _, s := range r.Submissions {
		sv := Submission{Hospital: names.Name(s.Hospital), UpdateHash: hex.EncodeToString(s.UpdateHash),
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
		v.Reputation = append(v.Reputation, ReputationChange{Hospital: names.Name(c.Hospital), Delta: float64(c.DeltaPpm) / 1e6,
			Score: float64(c.ScorePpm) / 1e6, Flagged: c.Flagged, Reasons: c.Reasons})
	}
	return v
}
