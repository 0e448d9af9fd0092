package sim

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cometbft/cometbft/types"
	"golang.org/x/sync/errgroup"

	"github.com/fedledger/fedledger/aggregator"
	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// Run starts the network, creates the task, runs one trainer per hospital
// until the task finishes, and reports each round: hospitals revealed,
// model hash, each hospital's test accuracy of the new global model. It
// checks at the end that every validator holds the same blocks and app
// hash.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, out: cfg.Out, fed: cfg.Data, start: time.Now()}
	if r.out == nil {
		r.out = io.Discard
	}
	r.spec = cfg.Model
	if r.spec.Arch == "" {
		r.spec = pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: uint32(r.fed.NumFeatures())}
	}
	if r.spec.InitSeed == 0 {
		r.spec.InitSeed = cfg.Seed
	}
	if int(r.spec.InputDim) != r.fed.NumFeatures() {
		return nil, fmt.Errorf("sim: model takes %d inputs, the data has %d features", r.spec.InputDim, r.fed.NumFeatures())
	}
	for _, h := range r.fed.Hospitals {
		r.hospitals = append(r.hospitals, h.Name)
	}
	r.scored = append(append([]datasets.Hospital(nil), r.fed.Hospitals...), cfg.Observers...)
	dir, cleanup, err := homeDir(cfg.Home)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := r.startNetwork(ctx, dir); err != nil {
		return nil, err
	}
	defer r.net.Stop()
	stopServe, serveErr := context.CancelFunc(func() {}), make(chan error, 1)
	if cfg.Serve != nil {
		var sctx context.Context
		sctx, stopServe = context.WithCancel(ctx)
		go func() { serveErr <- cfg.Serve(sctx, r.net) }()
	} else {
		serveErr <- nil
	}
	defer stopServe()
	if err := r.createTask(ctx); err != nil {
		return nil, err
	}
	trainers, err := r.trainers(ctx)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, tr := range trainers {
		g.Go(func() error { return tr.Run(gctx, r.taskID) })
	}
	g.Go(func() error { return r.watch(gctx) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rep, err := r.finish(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.Hold != nil {
		if err := cfg.Hold(ctx, r.net, rep); err != nil {
			return rep, err
		}
	}
	stopServe()
	if err := <-serveErr; err != nil && !errors.Is(err, context.Canceled) {
		return rep, err
	}
	return rep, nil
}

// runner is one Run: its phases share the network, the task and the report.
type runner struct {
	cfg       Config
	out       io.Writer
	fed       *datasets.Federation
	spec      pb.ModelSpec
	hospitals []string            // invited, in the data's order
	scored    []datasets.Hospital // whose test rows score each model: the federation's, then the observers
	start     time.Time

	net        *localnet.Network
	researcher *fl.Client
	taskID     uint64
	created    int64     // height of the task's creation
	init       []float64 // the round-0 model
	rep        *Report
}

// homeDir returns the folder for the chain data: home, which must be
// empty or new, or a temporary folder that cleanup removes.
func homeDir(home string) (string, func(), error) {
	if home == "" {
		tmp, err := os.MkdirTemp("", "fedledger-demo-")
		if err != nil {
			return "", nil, err
		}
		return tmp, func() { os.RemoveAll(tmp) }, nil
	}
	if entries, err := os.ReadDir(home); err == nil && len(entries) > 0 {
		return "", nil, fmt.Errorf("sim: home %s is not empty; remove it or choose another directory", home)
	}
	return home, func() {}, nil
}

// startNetwork writes the genesis participants (admin, researcher,
// reviewer, the hospitals) and starts the validators.
func (r *runner) startNetwork(ctx context.Context, dir string) error {
	names := append([]string{"admin", "researcher", "reviewer"}, r.hospitals...)
	var gen chain.GenesisState
	for i, n := range names {
		role := "hospital"
		if i < 3 {
			role = n
		}
		gen.Participants = append(gen.Participants, chain.GenesisParticipant{Name: n, PubKey: Key(r.cfg.Seed, n).Public().(ed25519.PublicKey), Role: role})
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		return err
	}
	ncfg := localnet.DefaultConfig()
	ncfg.Validators = r.cfg.Validators
	ncfg.Dir = filepath.Join(dir, "chain")
	ncfg.ChainID = fmt.Sprintf("fedledger-demo-%d", r.cfg.Seed)
	ncfg.AppState = appState
	ncfg.BlockInterval = r.cfg.BlockInterval
	ncfg.Logger = r.cfg.Logger
	fmt.Fprintf(r.out, "starting %d CometBFT validators on %s (chain %s, home %s)\n", r.cfg.Validators, ncfg.Host, ncfg.ChainID, dir)
	r.net, err = localnet.Start(ctx, ncfg)
	return err
}

// createTask has the researcher create the task and reads its round-0 model.
func (r *runner) createTask(ctx context.Context) error {
	var err error
	if r.researcher, err = fl.Dial(ctx, r.net.Nodes()[0].RPCAddress(), Key(r.cfg.Seed, "researcher")); err != nil {
		return err
	}
	r.researcher.PollInterval = 10 * time.Millisecond // the watcher times rounds
	cfg := r.cfg
	task := pb.TaskSpec{
		Name: r.fed.Name + "-demo", Model: r.spec, Training: cfg.Train.Hints(), Rule: cfg.Rule, ServerOpt: cfg.ServerOpt,
		RuleParams: cfg.RuleParams, Reputation: cfg.Reputation, Feedback: cfg.Feedback,
		Rounds: uint32(cfg.Rounds), MinParticipants: protocol.DefaultMinParticipants(len(r.hospitals)),
		CommitWindow: cfg.CommitWindow, RevealWindow: cfg.RevealWindow,
		FracBits: cfg.FracBits, Compression: cfg.Compression, // the chain draws the initial model
	}
	for _, n := range r.hospitals {
		task.Hospitals = append(task.Hospitals, Key(cfg.Seed, n).Public().(ed25519.PublicKey))
	}
	inc, err := r.researcher.Submit(ctx, &pb.Msg{Sum: &pb.Msg_CreateTask{CreateTask: &pb.CreateTask{Spec: task}}})
	if err != nil {
		return fmt.Errorf("sim: create task: %w", err)
	}
	idStr, _ := inc.Attr("task_created", "task_id")
	if r.taskID, err = strconv.ParseUint(idStr, 10, 64); err != nil {
		return fmt.Errorf("sim: create task: no task id in the tx's events")
	}
	r.created = inc.Height
	rule := cfg.Rule
	if rule == "" {
		rule = "fedavg"
	}
	if cfg.Reputation {
		rule += " with reputation"
	}
	if cfg.Feedback {
		rule += " and validation feedback"
	}
	if cfg.ServerOpt.Name != "" && cfg.ServerOpt.Name != "fedavg" {
		rule += " + server " + cfg.ServerOpt.Name
	}
	fmt.Fprintf(r.out, "task %d created at height %d: %s, %d hospitals, %d rounds, %s\n", r.taskID, inc.Height, r.spec.Arch, len(r.hospitals), cfg.Rounds, rule)
	m0, err := r.researcher.Model(ctx, r.taskID, 0)
	if err != nil {
		return err
	}
	r.init, err = fl.ModelParams(m0)
	r.rep = &Report{Dataset: r.fed.Name, Synthetic: r.fed.Synthetic, Seed: cfg.Seed, ChainID: r.net.ChainID(), TaskID: r.taskID,
		Hospitals: r.hospitals, Malicious: map[string]string{}, Flagged: map[string]uint32{}}
	return err
}

// trainers assigns the attacks and dials one trainer per hospital, each
// on its own validator's RPC first and failing over to the others in turn
// (as `train --node a,b,c` does), so that a trainer outlives its node being
// stopped or moved to other ports (localnet.Node.Moved). Nothing runs until
// every one is dialled.
func (r *runner) trainers(ctx context.Context) ([]*fl.Trainer, error) {
	// Attackers: the last hospitals, attack by attack in Attacks' order.
	// Each claims as many samples as the whole federation has, so that
	// sample-weighted FedAvg gives its update real weight, unless told
	// otherwise (Config.ClaimSamples).
	claim := r.cfg.ClaimSamples
	if claim == 0 {
		claim = uint64(totalTrain(r.fed))
	}
	attacks := map[string]*Attack{}
	next := len(r.fed.Hospitals)
	for _, name := range Attacks {
		count := r.cfg.Attacks[name]
		var group *Colluders
		if Collusive(name) && count > 0 {
			group = NewColluders(count, len(r.fed.Hospitals))
		}
		for range count {
			next--
			if next < 0 {
				return nil, fmt.Errorf("sim: more attackers than the %d hospitals", len(r.fed.Hospitals))
			}
			h := r.fed.Hospitals[next].Name
			attacks[h] = &Attack{Name: name, Colluders: group, Seed: r.cfg.Seed, ClaimSamples: claim, LieScores: r.cfg.LyingScorers}
			r.rep.Malicious[h] = name
		}
	}
	allies := map[string]bool{}
	for h := range attacks {
		allies[string(Key(r.cfg.Seed, h).Public().(ed25519.PublicKey))] = true
	}
	var target []byte
	if r.cfg.LieTarget {
		target = Key(r.cfg.Seed, r.fed.Hospitals[0].Name).Public().(ed25519.PublicKey)
	}
	for _, a := range attacks {
		a.Allies, a.LieTarget = allies, target
	}
	nodes := r.net.Nodes()
	var out []*fl.Trainer
	for i, h := range r.fed.Hospitals {
		addrs := make([]string, len(nodes))
		for k := range nodes {
			addrs[k] = nodes[(i+k)%len(nodes)].RPCAddress()
		}
		client, err := fl.Dial(ctx, strings.Join(addrs, ","), Key(r.cfg.Seed, h.Name))
		if err != nil {
			return nil, fmt.Errorf("sim: trainer of %s: %w", h.Name, err)
		}
		atk := attacks[h.Name]
		tr := &fl.Trainer{Name: h.Name, Client: client, Data: atk.PrepareData(h), Train: &r.cfg.Train, Seed: r.cfg.Seed, OnEvent: r.cfg.OnEvent, ChunkSize: r.cfg.ChunkSize}
		if atk != nil {
			tr.Hook = hook{a: atk, name: h.Name}
		}
		out = append(out, tr)
	}
	return out, nil
}

// watch waits for each round to close and prints and records it.
func (r *runner) watch(ctx context.Context) error {
	header := fmt.Sprintf("%5s  %8s  %-10s", "round", "revealed", "model")
	for _, h := range r.scored {
		header += fmt.Sprintf("  %11s", h.Name)
	}
	fmt.Fprintln(r.out, header+"         mean   secs  chain kB  agg ms")
	node0 := r.net.Nodes()[0]
	hctx, stopHeights := context.WithCancel(ctx)
	defer stopHeights()
	heights, err := watchHeights(hctx, node0)
	if err != nil {
		return err
	}
	blocks, err := node0.Client()
	if err != nil {
		return err
	}
	params := r.init
	prevClose, prevHeight := time.Now(), r.created
	for round := uint32(1); round <= uint32(r.cfg.Rounds); round++ {
		rd, err := r.researcher.WaitRound(ctx, r.taskID, round, pb.PHASE_CLOSED)
		if err != nil {
			return err
		}
		closed := time.Now()
		timing := roundTiming{seconds: closed.Sub(prevClose).Seconds()}
		if timing.chainBytes, err = blockBytes(ctx, blocks, prevHeight+1, rd.ClosedHeight); err != nil {
			return err
		}
		if seen, ok := heights.firstSeen(rd.ClosedHeight); ok && rd.Outcome == "aggregated" {
			// Both times come from 5 and 10 ms polls: clamp the jitter.
			timing.latencyMs = max(0, float64(closed.Sub(seen).Microseconds())/1000)
		}
		prevClose, prevHeight = closed, rd.ClosedHeight
		if rd.Outcome == "aggregated" {
			m, err := r.researcher.Model(ctx, r.taskID, round)
			if err != nil {
				return err
			}
			if params, err = fl.ModelParams(m); err != nil {
				return err
			}
		}
		res, err := r.score(rd, params, timing)
		if err != nil {
			return err
		}
		r.rep.Rounds = append(r.rep.Rounds, res)
		if r.cfg.AfterRound != nil {
			if err := r.cfg.AfterRound(ctx, res, r.net); err != nil {
				return err
			}
		}
	}
	return nil
}

// score evaluates a round's model on every hospital's test rows and prints
// the round's line.
func (r *runner) score(rd *pb.Round, params []float64, timing roundTiming) (RoundResult, error) {
	res := RoundResult{Round: rd.Round, Revealed: int(rd.NumAggregated), Invited: len(r.hospitals), Outcome: rd.Outcome,
		ModelHash: hex.EncodeToString(rd.OutputModelHash), Accuracy: map[string]float64{}, Height: rd.ClosedHeight,
		Seconds: timing.seconds, ChainBytes: timing.chainBytes, LatencyMs: timing.latencyMs}
	line := fmt.Sprintf("%5d  %8s  %-10s", rd.Round, fmt.Sprintf("%d/%d", res.Revealed, res.Invited), res.ModelHash[:10])
	var sum float64
	for _, h := range r.scored {
		m, err := fl.Evaluate(r.spec, params, h.Test)
		if err != nil {
			return res, err
		}
		res.Accuracy[h.Name] = m.Accuracy
		res.MeanLoss += m.Loss / float64(len(r.scored))
		sum += m.Accuracy
		line += fmt.Sprintf("  %11.3f", m.Accuracy)
	}
	res.MeanAccuracy = sum / float64(len(r.scored))
	line += fmt.Sprintf("  %11.3f  %5.1f  %8.1f  %6.0f", res.MeanAccuracy, res.Seconds, float64(res.ChainBytes)/1e3, res.LatencyMs)
	if rd.Outcome != "aggregated" {
		line += "  (" + rd.Outcome + ")"
	}
	fmt.Fprintln(r.out, line)
	return res, nil
}

// finish reads the final state and checks that every running validator
// holds the same blocks up to the one after the task finished, whose
// header carries the app hash.
func (r *runner) finish(ctx context.Context) (*Report, error) {
	rep := r.rep
	t, err := r.researcher.Task(ctx, r.taskID)
	if err != nil {
		return nil, err
	}
	last := rep.Rounds[len(rep.Rounds)-1]
	rep.Final = Final{MeanAccuracy: last.MeanAccuracy, Accuracy: last.Accuracy, MeanLoss: last.MeanLoss, ModelHash: hex.EncodeToString(t.ModelHash), Height: t.FinishedHeight}
	if r.cfg.Reputation {
		scores, err := r.researcher.Reputation(ctx, r.taskID)
		if err != nil {
			return nil, err
		}
		byKey := map[string]string{}
		for _, h := range r.hospitals {
			byKey[string(Key(r.cfg.Seed, h).Public().(ed25519.PublicKey))] = h
		}
		for _, sc := range scores.Scores {
			if sc.Flagged {
				rep.Flagged[byKey[string(sc.Hospital)]] = sc.FlaggedRound
			}
		}
		rep.Evidence, rep.CountedOnce = map[string][]string{}, map[string]int{}
		for k := uint32(1); k <= t.CurrentRound && k <= t.Spec.Rounds; k++ {
			rd, err := r.researcher.Round(ctx, r.taskID, k)
			if err != nil {
				return nil, err
			}
			for _, ch := range rd.Reputation {
				h := byKey[string(ch.Hospital)]
				for _, why := range ch.Reasons {
					if strings.HasPrefix(why, aggregator.AlikeReason) {
						rep.CountedOnce[h]++
					}
				}
				if ch.DeltaPpm >= 0 {
					continue
				}
				for _, why := range ch.Reasons {
					rep.Evidence[h] = append(rep.Evidence[h], fmt.Sprintf("round %d: %s", k, why))
				}
			}
		}
	}
	appHash, err := r.net.Agree(ctx, t.FinishedHeight)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	for _, n := range r.net.Nodes() {
		if n.Running() {
			rep.Final.Validators++
		}
	}
	rep.Final.AppHash = hex.EncodeToString(appHash)
	if r.cfg.ExportModel != "" {
		if err := r.exportModel(ctx); err != nil {
			return nil, err
		}
	}
	rep.Seconds = time.Since(r.start).Seconds()
	fmt.Fprintf(r.out, "task %d finished at height %d: mean test accuracy %.3f\n", r.taskID, t.FinishedHeight, rep.Final.MeanAccuracy)
	fmt.Fprintf(r.out, "global model %s\n", rep.Final.ModelHash)
	fmt.Fprintf(r.out, "app hash     %s (same on all %d validators)\n", rep.Final.AppHash, rep.Final.Validators)
	fmt.Fprintf(r.out, "done in %.1fs\n", rep.Seconds)
	return rep, nil
}

// exportModel writes the task's final model, verified by a light client
// that trusts the network's genesis, to cfg.ExportModel.
func (r *runner) exportModel(ctx context.Context) error {
	c, _, err := VerifiedClient(ctx, r.net)
	if err != nil {
		return err
	}
	f, err := fl.ExportModel(ctx, c, r.taskID, 0)
	if err != nil {
		return fmt.Errorf("sim: export the model: %w", err)
	}
	if err := fl.WriteModelFile(r.cfg.ExportModel, f); err != nil {
		return err
	}
	fmt.Fprintf(r.out, "model of round %d written to %s (verified against the app hash at height %d)\n", f.Round, r.cfg.ExportModel, f.Height)
	return nil
}

// VerifiedClient is a read-only client of the network's first node whose
// answers a light client verifies from the network's genesis (returned
// too), the other nodes its witnesses.
func VerifiedClient(ctx context.Context, net *localnet.Network) (*fl.Client, *types.GenesisDoc, error) {
	nodes := net.Nodes()
	doc, err := types.GenesisDocFromFile(filepath.Join(nodes[0].Home(), "config", "genesis.json"))
	if err != nil {
		return nil, nil, err
	}
	c, err := fl.Dial(ctx, nodes[0].RPCAddress(), nil)
	if err != nil {
		return nil, nil, err
	}
	var witnesses []string
	for _, n := range nodes[1:] {
		witnesses = append(witnesses, n.RPCAddress())
	}
	if c.Verifier, err = fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{Genesis: doc}, c.LatestHeight, nodes[0].RPCAddress(), witnesses...); err != nil {
		return nil, nil, err
	}
	return c, doc, nil
}
