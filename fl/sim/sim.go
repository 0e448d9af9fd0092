package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"golang.org/x/sync/errgroup"

	"github.com/fedledger/fedledger/chain"
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
	case c.CommitWindow == 0 || c.RevealWindow == 0:
		return errors.New("sim: commit and reveal windows must be at least 1 block")
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
	Height       int64              `json:"height"`
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
	Seconds   float64           `json:"seconds"`
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

// Run runs the federation's task to its end and reports every round.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	start := time.Now()
	fed := cfg.Data
	spec := cfg.Model
	if spec.Arch == "" {
		spec = pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: uint32(fed.NumFeatures())}
	}
	if spec.InitSeed == 0 {
		spec.InitSeed = cfg.Seed
	}
	if int(spec.InputDim) != fed.NumFeatures() {
		return nil, fmt.Errorf("sim: model takes %d inputs, the data has %d features", spec.InputDim, fed.NumFeatures())
	}

	// Participants and genesis.
	names := []string{"admin", "researcher", "reviewer"}
	roles := []string{"admin", "researcher", "reviewer"}
	var hospitals []string
	for _, h := range fed.Hospitals {
		names = append(names, h.Name)
		roles = append(roles, "hospital")
		hospitals = append(hospitals, h.Name)
	}
	var gen chain.GenesisState
	for i, n := range names {
		gen.Participants = append(gen.Participants, chain.GenesisParticipant{Name: n, PubKey: Key(cfg.Seed, n).Public().(ed25519.PublicKey), Role: roles[i]})
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		return nil, err
	}

	dir := cfg.Home
	if dir == "" {
		tmp, err := os.MkdirTemp("", "fedledger-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("sim: home %s is not empty; remove it or choose another directory", dir)
	}
	ncfg := localnet.DefaultConfig()
	ncfg.Validators = cfg.Validators
	ncfg.Dir = filepath.Join(dir, "chain")
	ncfg.ChainID = fmt.Sprintf("fedledger-demo-%d", cfg.Seed)
	ncfg.AppState = appState
	ncfg.BlockInterval = cfg.BlockInterval
	ncfg.Logger = cfg.Logger
	fmt.Fprintf(out, "starting %d CometBFT validators on %s (chain %s, home %s)\n", cfg.Validators, ncfg.Host, ncfg.ChainID, dir)
	net, err := localnet.Start(ctx, ncfg)
	if err != nil {
		return nil, err
	}
	defer net.Stop()
	nodes := net.Nodes()

	// The researcher creates the task.
	researcher, err := fl.Dial(ctx, nodes[0].RPCAddress(), Key(cfg.Seed, "researcher"))
	if err == nil {
		researcher.PollInterval = 10 * time.Millisecond // the watcher times rounds
	}
	if err != nil {
		return nil, err
	}
	task := pb.TaskSpec{
		Name: fed.Name + "-demo", Model: spec, Training: cfg.Train.Hints(), Rule: cfg.Rule, ServerOpt: cfg.ServerOpt,
		RuleParams: cfg.RuleParams, Reputation: cfg.Reputation,
		Rounds: uint32(cfg.Rounds), MinParticipants: uint32((len(hospitals) + 1) / 2),
		CommitWindow: cfg.CommitWindow, RevealWindow: cfg.RevealWindow,
		FracBits: cfg.FracBits, Compression: cfg.Compression, // the chain draws the initial model
	}
	for _, n := range hospitals {
		task.Hospitals = append(task.Hospitals, Key(cfg.Seed, n).Public().(ed25519.PublicKey))
	}
	inc, err := researcher.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CreateTask{CreateTask: &pb.CreateTask{Spec: task}}})
	if err != nil {
		return nil, fmt.Errorf("sim: create task: %w", err)
	}
	idStr, _ := inc.Attr("task_created", "task_id")
	taskID, err := strconv.ParseUint(idStr, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("sim: create task: no task id in the tx's events")
	}
	rule := cfg.Rule
	if rule == "" {
		rule = "fedavg"
	}
	if cfg.Reputation {
		rule += " with reputation"
	}
	if cfg.ServerOpt.Name != "" && cfg.ServerOpt.Name != "fedavg" {
		rule += " + server " + cfg.ServerOpt.Name
	}
	fmt.Fprintf(out, "task %d created at height %d: %s, %d hospitals, %d rounds, %s\n", taskID, inc.Height, spec.Arch, len(hospitals), cfg.Rounds, rule)
	m0, err := researcher.Model(ctx, taskID, 0)
	if err != nil {
		return nil, err
	}
	init, err := fl.ModelParams(m0)
	if err != nil {
		return nil, err
	}

	// Attackers: the last hospitals, attack by attack in Attacks' order.
	// Each claims as many samples as the whole federation has, so that
	// sample-weighted FedAvg gives its update real weight.
	rep := &Report{Dataset: fed.Name, Synthetic: fed.Synthetic, Seed: cfg.Seed, ChainID: ncfg.ChainID, TaskID: taskID, Hospitals: hospitals,
		Malicious: map[string]string{}, Flagged: map[string]uint32{}}
	attacks := map[string]*Attack{}
	next := len(fed.Hospitals)
	for _, name := range Attacks {
		count := cfg.Attacks[name]
		var group *Colluders
		if Collusive(name) && count > 0 {
			group = NewColluders(count, len(fed.Hospitals))
		}
		for k := 0; k < count; k++ {
			next--
			if next < 0 {
				return nil, fmt.Errorf("sim: more attackers than the %d hospitals", len(fed.Hospitals))
			}
			h := fed.Hospitals[next].Name
			attacks[h] = &Attack{Name: name, Colluders: group, Seed: cfg.Seed, ClaimSamples: uint64(totalTrain(fed))}
			rep.Malicious[h] = name
		}
	}
	// Trainers, one per hospital, each on its own validator's RPC.
	g, gctx := errgroup.WithContext(ctx)
	for i, h := range fed.Hospitals {
		client, err := fl.Dial(ctx, nodes[i%len(nodes)].RPCAddress(), Key(cfg.Seed, h.Name))
		if err != nil {
			return nil, err
		}
		atk := attacks[h.Name]
		tr := &fl.Trainer{Name: h.Name, Client: client, Data: atk.PrepareData(h), Train: &cfg.Train, Seed: cfg.Seed, OnEvent: cfg.OnEvent, ChunkSize: cfg.ChunkSize}
		if atk != nil {
			tr.Hook = hook{a: atk, name: h.Name}
		}
		g.Go(func() error { return tr.Run(gctx, taskID) })
	}

	watch := func() error {
		header := fmt.Sprintf("%5s  %8s  %-10s", "round", "revealed", "model")
		for _, n := range hospitals {
			header += fmt.Sprintf("  %11s", n)
		}
		fmt.Fprintln(out, header+"         mean   secs  chain kB  agg ms")
		hctx, stopHeights := context.WithCancel(gctx)
		defer stopHeights()
		heights, err := watchHeights(hctx, nodes[0])
		if err != nil {
			return err
		}
		blocks, err := nodes[0].Client()
		if err != nil {
			return err
		}
		params := init
		prevClose, prevHeight := time.Now(), inc.Height
		for r := uint32(1); r <= uint32(cfg.Rounds); r++ {
			rd, err := researcher.WaitRound(gctx, taskID, r, pb.PHASE_CLOSED)
			if err != nil {
				return err
			}
			closed := time.Now()
			timing := roundTiming{seconds: closed.Sub(prevClose).Seconds()}
			if timing.chainBytes, err = blockBytes(gctx, blocks, prevHeight+1, rd.ClosedHeight); err != nil {
				return err
			}
			if seen, ok := heights.firstSeen(rd.ClosedHeight); ok && rd.Outcome == "aggregated" {
				// Both times come from 5 and 10 ms polls: clamp the jitter.
				timing.latencyMs = max(0, float64(closed.Sub(seen).Microseconds())/1000)
			}
			prevClose, prevHeight = closed, rd.ClosedHeight
			if rd.Outcome == "aggregated" {
				m, err := researcher.Model(gctx, taskID, r)
				if err != nil {
					return err
				}
				if params, err = fl.ModelParams(m); err != nil {
					return err
				}
			}
			res := RoundResult{Round: r, Revealed: int(rd.NumAggregated), Invited: len(hospitals), Outcome: rd.Outcome,
				ModelHash: hex.EncodeToString(rd.OutputModelHash), Accuracy: map[string]float64{}, Height: rd.ClosedHeight,
				Seconds: timing.seconds, ChainBytes: timing.chainBytes, LatencyMs: timing.latencyMs}
			line := fmt.Sprintf("%5d  %8s  %-10s", r, fmt.Sprintf("%d/%d", res.Revealed, res.Invited), res.ModelHash[:10])
			var sum float64
			for _, h := range fed.Hospitals {
				m, err := fl.Evaluate(spec, params, h.Test)
				if err != nil {
					return err
				}
				res.Accuracy[h.Name] = m.Accuracy
				sum += m.Accuracy
				line += fmt.Sprintf("  %11.3f", m.Accuracy)
			}
			res.MeanAccuracy = sum / float64(len(fed.Hospitals))
			line += fmt.Sprintf("  %11.3f  %5.1f  %8.1f  %6.0f", res.MeanAccuracy, res.Seconds, float64(res.ChainBytes)/1e3, res.LatencyMs)
			if rd.Outcome != "aggregated" {
				line += "  (" + rd.Outcome + ")"
			}
			fmt.Fprintln(out, line)
			rep.Rounds = append(rep.Rounds, res)
			if cfg.AfterRound != nil {
				if err := cfg.AfterRound(gctx, res, net); err != nil {
					return err
				}
			}
		}
		return nil
	}
	g.Go(watch)
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Final state: every running validator must hold the same blocks up to
	// the one after the task finished, whose header carries the app hash.
	t, err := researcher.Task(ctx, taskID)
	if err != nil {
		return nil, err
	}
	last := rep.Rounds[len(rep.Rounds)-1]
	rep.Final = Final{MeanAccuracy: last.MeanAccuracy, Accuracy: last.Accuracy, ModelHash: hex.EncodeToString(t.ModelHash), Height: t.FinishedHeight}
	if cfg.Reputation {
		var r pb.Reputation
		if _, err := researcher.Query(ctx, fmt.Sprintf("/reputation/%d", taskID), &r); err != nil {
			return nil, err
		}
		byKey := map[string]string{}
		for _, h := range hospitals {
			byKey[string(Key(cfg.Seed, h).Public().(ed25519.PublicKey))] = h
		}
		for _, sc := range r.Scores {
			if sc.Flagged {
				rep.Flagged[byKey[string(sc.Hospital)]] = sc.FlaggedRound
			}
		}
	}
	appHash, err := net.Agree(ctx, t.FinishedHeight)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	for _, n := range nodes {
		if n.Running() {
			rep.Final.Validators++
		}
	}
	rep.Final.AppHash = hex.EncodeToString(appHash)
	rep.Seconds = time.Since(start).Seconds()
	fmt.Fprintf(out, "task %d finished at height %d: mean test accuracy %.3f\n", taskID, t.FinishedHeight, rep.Final.MeanAccuracy)
	fmt.Fprintf(out, "global model %s\n", rep.Final.ModelHash)
	fmt.Fprintf(out, "app hash     %s (same on all %d validators)\n", rep.Final.AppHash, rep.Final.Validators)
	fmt.Fprintf(out, "done in %.1fs\n", rep.Seconds)
	return rep, nil
}

func totalTrain(fed *datasets.Federation) int {
	n := 0
	for _, h := range fed.Hospitals {
		n += h.Train.Len()
	}
	return n
}

type roundTiming struct {
	seconds    float64
	chainBytes int64
	latencyMs  float64
}

// heightClock records when each height was first seen committed.
type heightClock struct {
	mu   sync.Mutex
	seen map[int64]time.Time
}

func (h *heightClock) firstSeen(height int64) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.seen[height]
	return t, ok
}

// watchHeights polls the node's latest height every 5 ms until ctx ends.
func watchHeights(ctx context.Context, n *localnet.Node) (*heightClock, error) {
	c, err := n.Client()
	if err != nil {
		return nil, err
	}
	hc := &heightClock{seen: map[int64]time.Time{}}
	go func() {
		var last int64
		for ctx.Err() == nil {
			if st, err := c.Status(ctx); err == nil {
				now := time.Now()
				hc.mu.Lock()
				for h := last + 1; h <= st.SyncInfo.LatestBlockHeight; h++ {
					if last > 0 { // heights before the first poll have no time
						hc.seen[h] = now
					}
				}
				hc.mu.Unlock()
				last = max(last, st.SyncInfo.LatestBlockHeight)
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return hc, nil
}

// blockBytes sums the sizes of blocks from to to.
func blockBytes(ctx context.Context, c *rpchttp.HTTP, from, to int64) (int64, error) {
	metas, err := localnet.BlockMetas(ctx, c, from, to)
	if err != nil {
		return 0, fmt.Errorf("sim: %w", err)
	}
	var sum int64
	for _, m := range metas {
		sum += int64(m.BlockSize)
	}
	return sum, nil
}
