package sim

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/datasets"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

func heart(t *testing.T, seed uint64) *datasets.Federation {
	t.Helper()
	dir := datasets.FindDir("")
	if dir == "" {
		t.Fatalf("no data: set %s or keep ../shared/datasets beside the checkout", datasets.EnvData)
	}
	fed, err := datasets.LoadHeart(dir, seed)
	if err != nil {
		t.Fatal(err)
	}
	return fed
}

func testConfig(t *testing.T, seed uint64, rounds int) Config {
	cfg := DefaultConfig()
	cfg.Data = heart(t, seed)
	cfg.Seed = seed
	cfg.Rounds = rounds
	return cfg
}

// TestNetworkRunsRounds: four validators run three rounds with the four
// hospitals, every round aggregates all four updates, the model learns, and
// every validator holds the same blocks and app hash.
func TestNetworkRunsRounds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, testConfig(t, 42, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rounds) != 3 {
		t.Fatalf("%d rounds reported, want 3", len(rep.Rounds))
	}
	for _, r := range rep.Rounds {
		if r.Outcome != "aggregated" || r.Revealed != 4 {
			t.Fatalf("round %d: %q with %d revealed, want 4 aggregated", r.Round, r.Outcome, r.Revealed)
		}
	}
	if rep.Final.Validators != 4 || len(rep.Final.AppHash) != 64 {
		t.Fatalf("final: %d validators agreeing, app hash %q", rep.Final.Validators, rep.Final.AppHash)
	}
	if rep.Final.MeanAccuracy < 0.6 {
		t.Fatalf("mean test accuracy %.3f after 3 rounds; the model did not learn", rep.Final.MeanAccuracy)
	}
	if rep.Rounds[2].ModelHash != rep.Final.ModelHash {
		t.Fatalf("last round's model %s is not the task's final model %s", rep.Rounds[2].ModelHash, rep.Final.ModelHash)
	}
}

// TestSameSeedSameModel: the global model depends only on the seed, not on
// block timing; another seed gives another model.
func TestSameSeedSameModel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var hashes []string
	for _, seed := range []uint64{7, 7, 8} {
		cfg := testConfig(t, seed, 2)
		cfg.Validators = 1
		rep, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, rep.Final.ModelHash)
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("seed 7 gave models %s and %s", hashes[0], hashes[1])
	}
	if hashes[0] == hashes[2] {
		t.Fatalf("seeds 7 and 8 gave the same model %s", hashes[0])
	}
}

// TestNodeRestartCatchesUp stops a validator after round 1 and starts it
// again after round 2 closed (without it, or with its hospital's update if
// that got in before the stop). The hospital whose trainer talks to that
// node takes part again by the last round, the task completes, and all four
// validators hold the same blocks and app hash.
func TestNodeRestartCatchesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig(t, 42, 5)
	cfg.CommitWindow = 15 // round 2 waits out its window for the stopped va
	cfg.RevealWindow = 15
	// Slow blocks: stopping a node takes up to 3.5 s (localnet waits out
	// its dial settling), and the rounds must not race past the stop and
	// the restart at 139 ms blocks.
	cfg.BlockInterval = 700 * time.Millisecond
	cfg.OnEvent = func(e fl.Event) {
		if e.Hospital == "va" {
			t.Logf("%s %s round %d height %d err %v", time.Now().Format("15:04:05.000"), e.Stage, e.Round, e.Height, e.Err)
		}
	}
	var stoppedAt int64
	cfg.AfterRound = func(ctx context.Context, r RoundResult, net *localnet.Network) error {
		n := net.Nodes()[3]
		t.Logf("%s round %d closed at %d (%d revealed)", time.Now().Format("15:04:05.000"), r.Round, r.Height, r.Revealed)
		switch r.Round {
		case 1:
			stoppedAt = r.Height
			return n.Stop()
		case 2:
			if h, _ := net.Nodes()[0].App().LastCommit(); h <= stoppedAt {
				t.Errorf("chain at %d, not past the stop at %d", h, stoppedAt)
			}
			if err := n.Start(); err != nil {
				return err
			}
			return n.WaitReady(ctx)
		}
		return nil
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Final.Validators != 4 {
		t.Fatalf("%d validators agree, want 4", rep.Final.Validators)
	}
	if got := rep.Rounds[4].Revealed; got != 4 {
		t.Errorf("round 5 aggregated %d updates, want 4 (va is back)", got)
	}
}

// TestAgreeSeesRestartedAppState checks the restarted node's own app state,
// not only its blocks.
func TestAgreeSeesRestartedAppState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testConfig(t, 3, 2)
	var checked bool
	cfg.AfterRound = func(ctx context.Context, r RoundResult, net *localnet.Network) error {
		if r.Round != 1 {
			return nil
		}
		n := net.Nodes()[2]
		if err := n.Stop(); err != nil {
			return err
		}
		if err := net.Nodes()[0].WaitHeight(ctx, r.Height+5); err != nil {
			return err
		}
		if err := n.Start(); err != nil {
			return err
		}
		if err := n.WaitReady(ctx); err != nil {
			return err
		}
		h, appHash := n.App().LastCommit()
		want, err := net.Agree(ctx, h)
		if err != nil {
			return err
		}
		if !bytes.Equal(appHash, want) {
			t.Errorf("restarted node's app hash at %d is %X, the chain's is %X", h, appHash, want)
		}
		checked = true
		return nil
	}
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("restart check did not run")
	}
}

// TestCompressedChunkedRounds runs rounds with int8 top-k updates revealed
// in chunks of 16 bytes (so each hospital sends several chunk
// transactions): every round aggregates all four hospitals, the model
// learns, and the report carries round seconds and block bytes.
func TestCompressedChunkedRounds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testConfig(t, 7, 3)
	cfg.Compression = pb.Compression{Width: pb.WIDTH_INT8, TopkPpm: 500_000}
	cfg.ChunkSize = 16
	var mu sync.Mutex
	largest := 0
	cfg.OnEvent = func(e fl.Event) {
		mu.Lock()
		largest = max(largest, e.UpdateBytes)
		mu.Unlock()
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rounds {
		if r.Outcome != "aggregated" || r.Revealed != 4 {
			t.Fatalf("round %d: %q with %d revealed, want 4 aggregated", r.Round, r.Outcome, r.Revealed)
		}
		if r.Seconds <= 0 || r.ChainBytes <= 0 {
			t.Errorf("round %d: %.2f s, %d block bytes", r.Round, r.Seconds, r.ChainBytes)
		}
	}
	if largest <= 2*cfg.ChunkSize {
		t.Errorf("largest update %d bytes: not chunked in several %d-byte chunks", largest, cfg.ChunkSize)
	}
	if rep.Final.MeanAccuracy < 0.6 {
		t.Fatalf("mean test accuracy %.3f after 3 rounds of top-50%% int8 updates", rep.Final.MeanAccuracy)
	}
}

// TestQuorumLossRiddenOut: mid-task, 2 of 4 validators are stopped (no
// quorum: no blocks; later rounds must close after the restart) for longer than a trainer used to wait before giving
// up (5 broadcasts × 10 s), then started again; every trainer waits,
// saying so, and the task finishes with every hospital in every round and
// no trainer restarted. FEDLEDGER_OUTAGE (a Go duration) sets the outage;
// the default is 60 s.
func TestQuorumLossRiddenOut(t *testing.T) {
	outage := 60 * time.Second
	if s := os.Getenv("FEDLEDGER_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("FEDLEDGER_OUTAGE=%q: %v", s, err)
		}
		outage = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), outage+3*time.Minute)
	defer cancel()
	// Slow blocks and 6 rounds: the stop (a node waits 3.5 s after its
	// start before it stops, see localnet) must land mid-task.
	cfg := testConfig(t, 42, 6)
	cfg.BlockInterval = 700 * time.Millisecond
	var mu sync.Mutex
	retries := map[string]int{}
	var stoppedAt int64
	cfg.OnEvent = func(e fl.Event) {
		if e.Stage == "retrying" {
			mu.Lock()
			retries[e.Hospital]++
			mu.Unlock()
		}
	}
	restarted := make(chan error, 1)
	cfg.AfterRound = func(ctx context.Context, r RoundResult, net *localnet.Network) error {
		if r.Round != 1 {
			return nil
		}
		down := net.Nodes()[2:]
		errs := make(chan error, len(down))
		for _, n := range down {
			go func() { errs <- n.Stop() }() // together: each waits out its dial settling
		}
		for range down {
			if err := <-errs; err != nil {
				return err
			}
		}
		stoppedAt, _ = net.Nodes()[0].App().LastCommit()
		t.Logf("%s: validators 2 and 3 stopped at height %d for %v", time.Now().Format("15:04:05"), stoppedAt, outage)
		go func() {
			time.Sleep(outage)
			for _, n := range down {
				if err := n.Start(); err != nil {
					restarted <- err
					return
				}
			}
			t.Logf("%s: validators 2 and 3 started", time.Now().Format("15:04:05"))
			restarted <- nil
		}()
		return nil
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("the task did not survive the outage: %v", err)
	}
	if last := rep.Rounds[len(rep.Rounds)-1]; last.Height <= stoppedAt {
		t.Fatalf("the task finished at height %d, before the outage took effect at %d: the test proves nothing; give it more rounds", last.Height, stoppedAt)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Rounds {
		if r.Revealed != 4 {
			t.Errorf("round %d aggregated %d updates, want 4", r.Round, r.Revealed)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retries) == 0 {
		t.Error("no trainer reported waiting during the outage")
	}
	t.Logf("trainers' retry reports during the outage: %v", retries)
}

// TestObservers: an observer's test rows score every round's model, it is
// not invited, and it may not share a name with an invited hospital.
func TestObservers(t *testing.T) {
	cfg := testConfig(t, 42, 2)
	cfg.Validators = 1
	all := cfg.Data.Hospitals
	cfg.Data = &datasets.Federation{Name: cfg.Data.Name, Features: cfg.Data.Features, Hospitals: all[:3]}
	cfg.Observers = all[3:]
	clash := cfg
	clash.Observers = all[2:]
	if err := clash.Validate(); err == nil {
		t.Fatalf("observer %s, also invited, accepted", all[2].Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	last := rep.Rounds[len(rep.Rounds)-1]
	if last.Invited != 3 || last.Revealed != 3 || len(rep.Hospitals) != 3 {
		t.Fatalf("invited %d, revealed %d, hospitals %v; want the 3 of the federation", last.Invited, last.Revealed, rep.Hospitals)
	}
	var sum float64
	for _, h := range all {
		a, ok := rep.Final.Accuracy[h.Name]
		if !ok {
			t.Fatalf("%s not scored: %v", h.Name, rep.Final.Accuracy)
		}
		sum += a
	}
	if mean := sum / float64(len(all)); mean != rep.Final.MeanAccuracy {
		t.Fatalf("mean accuracy %v, want the mean over all four test sets %v", rep.Final.MeanAccuracy, mean)
	}
}
