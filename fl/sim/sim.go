package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Config describes one simulated federation.
type Config struct {
	// Data is the federation's data; required.
	Data *datasets.Federation
	// Validators is the number of CometBFT validators.
	Validators int
	// Rounds of the task.
	Rounds int
	// Seed fixes keys, the initial model and local training.
	Seed uint64
	// Home keeps the chain data; empty means a temporary directory that is removed.
	Home string
	// Model is the architecture; an empty Arch means logistic regression over the data's features.
	Model pb.ModelSpec
	// Train is every hospital's local training recipe.
	Train fl.TrainConfig
	// Rule is the aggregation rule (default fedavg).
	Rule string
	// ServerOpt is the optimizer the chain applies to each aggregate.
	ServerOpt pb.ServerOpt
	// RuleParams tune Rule; Reputation turns on-chain reputation on.
	RuleParams pb.RuleParams
	Reputation bool
	// Feedback turns validation feedback on (it needs Reputation): each
	// hospital scores the previous round's updates on its own rows.
	Feedback bool
	// LyingScorers makes the attackers lie in their verdicts (with
	// Feedback): the honest updates harmful, their own helpful.
	LyingScorers bool
	// LieTarget makes the lies targeted (with LyingScorers): the
	// attackers call their allies' updates helpful and the first honest
	// hospital's harmful, and score every other update honestly.
	LieTarget bool
	// ClaimSamples, when non-zero, is the training-row count every
	// attacker claims; 0 claims the whole federation's (sample-weighted
	// FedAvg then gives its update real weight).
	ClaimSamples uint64
	// Observers are hospitals that are not invited and do not train, but
	// whose test rows score every round's model beside the federation's
	// (bench attacks scores FedAvg over the honest hospitals alone on every
	// hospital's rows this way). Their names must differ from Data's.
	Observers []datasets.Hospital
	// Attacks makes hospitals malicious: attack name → how many. The last
	// hospitals (in the data's order) are the attackers.
	Attacks map[string]int
	// FracBits is the fixed-point scale of models and updates.
	FracBits uint32
	// Compression is the task's update encoding (int8/int16, top-k).
	Compression pb.Compression
	// ChunkSize is the trainers' largest reveal tx body (0: fl.DefaultChunkSize).
	ChunkSize int
	// CommitWindow and RevealWindow are the round windows, in blocks.
	CommitWindow, RevealWindow uint32
	// BlockInterval is the pause between blocks.
	BlockInterval time.Duration
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// Logger receives CometBFT's logs; nil discards them.
	Logger log.Logger
	// OnEvent, when set, is told of every trainer step.
	OnEvent func(fl.Event)
	// ExportModel, when set, is where the final global model is written as
	// a model file (fl.ExportModel), read through a light client that
	// trusts the network's genesis.
	ExportModel string
	// Serve, when set, runs from the moment the network serves until the
	// run ends (the demo serves its explorer in it); its error, other than
	// the end of its context, is the run's.
	Serve func(ctx context.Context, net *localnet.Network) error
	// Hold, when set, runs after the task's report, before the network
	// stops (the demo keeps the network up in it until interrupted).
	Hold func(ctx context.Context, net *localnet.Network, rep *Report) error
	// AfterRound, when set, runs after each round is reported, with the
	// network (tests use it to stop and restart nodes mid-task).
	AfterRound func(ctx context.Context, r RoundResult, net *localnet.Network) error
}

// DefaultConfig is 4 validators, 15 rounds of logistic regression with
// local SGD, and fast blocks.
func DefaultConfig() Config {
	return Config{
		Validators: 4,
		Rounds:     15,
		Seed:       42,
		Train: fl.TrainConfig{
			Optimizer: "sgd", LearningRate: 0.05, Momentum: 0.9, Steps: 50, BatchSize: 8,
		},
		FracBits:      16,
		CommitWindow:  100,
		RevealWindow:  100,
		BlockInterval: 50 * time.Millisecond,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Data == nil || len(c.Data.Hospitals) == 0:
		return errors.New("sim: no data; load a federation first")
	case c.Validators < 1 || c.Validators > 64:
		return fmt.Errorf("sim: %d validators; want 1 to 64", c.Validators)
	case c.Rounds < 1 || c.Rounds > protocol.MaxRounds:
		return fmt.Errorf("sim: %d rounds; want 1 to %d", c.Rounds, protocol.MaxRounds)
	case c.FracBits < 4 || c.FracBits > 24:
		return fmt.Errorf("sim: frac bits %d; want 4 to 24", c.FracBits)
	case c.Feedback && !c.Reputation:
		return errors.New("sim: feedback needs reputation")
	case c.LieTarget && !c.LyingScorers:
		return errors.New("sim: a lie target needs lying scorers")
	case c.CommitWindow == 0 || c.RevealWindow == 0:
		return errors.New("sim: commit and reveal windows must be at least 1 block")
	}
	if name := observerClash(c.Data, c.Observers); name != "" {
		return fmt.Errorf("sim: observer %q is also one of the federation's hospitals", name)
	}
	return c.Train.Validate()
}

// RoundResult is one closed round as the demo reports it.
type RoundResult struct {
	Round        uint32             `json:"round"`
	Revealed     int                `json:"revealed"`
	Invited      int                `json:"invited"`
	Outcome      string             `json:"outcome"`
	ModelHash    string             `json:"model_hash"`
	Accuracy     map[string]float64 `json:"accuracy"`
	MeanAccuracy float64            `json:"mean_accuracy"`
	// MeanLoss is the hospitals' mean test log-loss (each hospital's mean
	// over its rows, then the mean over hospitals).
	MeanLoss float64 `json:"mean_loss"`
	Height   int64   `json:"height"`
	// Seconds is the wall time from the previous round's close (or the
	// task's creation) to this round's close.
	Seconds float64 `json:"seconds"`
	// ChainBytes is the size of the blocks the round took, from the block
	// after the previous close to the block that closed it.
	ChainBytes int64 `json:"chain_bytes"`
	// LatencyMs is the time from the block with the last reveal being
	// committed to the next global model being queryable (aggregation and
	// state commit), as seen by polls every 5 and 10 ms, so within about
	// 10 ms; 0 for a skipped round.
	LatencyMs float64 `json:"latency_ms"`
}

// Final is the end state of the task.
type Final struct {
	MeanAccuracy float64            `json:"mean_accuracy"`
	MeanLoss     float64            `json:"mean_loss"`
	Accuracy     map[string]float64 `json:"accuracy"`
	ModelHash    string             `json:"model_hash"`
	AppHash      string             `json:"app_hash"`
	Height       int64              `json:"height"`
	Validators   int                `json:"validators_agreeing"`
}

// Report is the outcome of a run.
type Report struct {
	Dataset   string        `json:"dataset"`
	Synthetic bool          `json:"synthetic"`
	Seed      uint64        `json:"seed"`
	ChainID   string        `json:"chain_id"`
	TaskID    uint64        `json:"task_id"`
	Hospitals []string      `json:"hospitals"`
	Rounds    []RoundResult `json:"rounds"`
	Final     Final         `json:"final"`
	// Malicious maps each attacker to its attack; Flagged each hospital the
	// chain flagged to the round it was flagged in.
	Malicious map[string]string `json:"malicious,omitempty"`
	Flagged   map[string]uint32 `json:"flagged,omitempty"`
	// Evidence lists, per hospital, every reputation penalty the chain
	// gave it, as "round N: reason".
	Evidence map[string][]string `json:"evidence,omitempty"`
	// CountedOnce counts, per hospital, the rounds in which its update was
	// alike to an earlier one and counted once (aggregator.AlikeReason).
	CountedOnce map[string]int `json:"counted_once,omitempty"`
	Seconds     float64        `json:"seconds"`
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	bz, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(bz, '\n'), 0o644); err != nil {
		return fmt.Errorf("sim: write report: %w", err)
	}
	return os.Rename(tmp, path)
}

// Key derives a participant's demo key from the seed and its name.
func Key(seed uint64, name string) ed25519.PrivateKey {
	h := sha256.New()
	h.Write([]byte("fedledger demo key\x00"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(name))
	return ed25519.NewKeyFromSeed(h.Sum(nil))
}

// observerClash returns the first observer named like one of fed's
// hospitals, or "".
func observerClash(fed *datasets.Federation, obs []datasets.Hospital) string {
	names := map[string]bool{}
	for _, h := range fed.Hospitals {
		names[h.Name] = true
	}
	for _, o := range obs {
		if names[o.Name] {
			return o.Name
		}
	}
	return ""
}

func totalTrain(fed *datasets.Federation) int {
	n := 0
	for _, h := range fed.Hospitals {
		n += h.Train.Len()
	}
	return n
}
