package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"golang.org/x/sync/errgroup"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// ChainConfig sets up a chain throughput run.
type ChainConfig struct {
	// Validators in each network.
	Validators int
	// UpdateBytes is the size of each update transaction.
	UpdateBytes int
	// Updates is how many update transactions each network orders.
	Updates int
	// Senders is how many clients broadcast at once (spread over the nodes).
	Senders int
	// Network is the CometBFT limits both networks run with.
	Network localnet.NetworkSettings
	// Dir holds the node homes; empty means a temporary directory.
	Dir string
	// Progress receives a line per phase; nil discards them.
	Progress io.Writer
}

// DefaultChainConfig is 4 validators, 200 updates of 100 kB, 8 senders, the
// network settings localnet uses.
func DefaultChainConfig() ChainConfig {
	return ChainConfig{Validators: 4, UpdateBytes: 100_000, Updates: 200, Senders: 8, Network: localnet.DefaultNetwork()}
}

// Validate checks the configuration.
func (c ChainConfig) Validate() error {
	maxTx := c.Network.TxLimit()
	switch {
	case c.Validators < 1 || c.Validators > 16:
		return fmt.Errorf("bench chain: %d validators; want 1 to 16", c.Validators)
	case c.UpdateBytes < 1024:
		return fmt.Errorf("bench chain: update bytes %d; want at least 1024", c.UpdateBytes)
	case c.UpdateBytes > maxTx:
		return fmt.Errorf("bench chain: update bytes %d exceed the largest transaction the nodes take (%d); larger updates travel as chunk transactions of at most that size, so bench that size", c.UpdateBytes, maxTx)
	case c.Updates < 1 || c.Updates > 10000:
		return fmt.Errorf("bench chain: %d updates; want 1 to 10000", c.Updates)
	case c.Senders < 1:
		return fmt.Errorf("bench chain: %d senders; want at least 1", c.Senders)
	}
	return nil
}

// ChainRun is one network's throughput.
type ChainRun struct {
	App         string  `json:"app"`
	Seconds     float64 `json:"seconds"`
	TxPerSecond float64 `json:"tx_per_s"`
	MBPerSecond float64 `json:"mb_per_s"`
	Blocks      int     `json:"blocks"`
}

// ChainReport compares fedledger with CometBFT's kvstore example app.
type ChainReport struct {
	Validators     int      `json:"validators"`
	UpdateBytes    int      `json:"update_bytes"`
	Updates        int      `json:"updates"`
	FedledgerMBps  float64  `json:"fedledger_mb_per_s"`
	KVStoreMBps    float64  `json:"kvstore_mb_per_s"`
	Ratio          float64  `json:"ratio"`
	Fedledger      ChainRun `json:"fedledger"`
	KVStore        ChainRun `json:"kvstore"`
	BlockMaxBytes  int64    `json:"block_max_bytes"`
	P2PRate        int64    `json:"p2p_rate"`
	MaxPacketBytes int      `json:"max_packet_payload"`
}

// Chain measures how many update bytes per second a network of
// cfg.Validators in-process validators orders: first fedledger, where each
// update is a hospital's RevealUpdate of a round (the commitments are sent
// and included before the clock starts), then CometBFT's kvstore example
// app fed key=value transactions of exactly the same sizes, on the same
// kind of network. The clock runs from the first broadcast until a
// committed block holds the last transaction; every transaction must have
// succeeded.
func Chain(ctx context.Context, cfg ChainConfig) (*ChainReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fedledger-bench-chain-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	fed, sizes, err := chainFedledger(ctx, cfg, filepath.Join(dir, "fedledger"), progress)
	if err != nil {
		return nil, fmt.Errorf("bench chain: fedledger: %w", err)
	}
	kv, err := chainKVStore(ctx, cfg, sizes, filepath.Join(dir, "kvstore"), progress)
	if err != nil {
		return nil, fmt.Errorf("bench chain: kvstore: %w", err)
	}
	mean := 0
	for _, s := range sizes {
		mean += s
	}
	r := &ChainReport{
		Validators: cfg.Validators, UpdateBytes: mean / len(sizes), Updates: cfg.Updates,
		FedledgerMBps: fed.MBPerSecond, KVStoreMBps: kv.MBPerSecond, Ratio: fed.MBPerSecond / kv.MBPerSecond,
		Fedledger: *fed, KVStore: *kv,
		BlockMaxBytes: cfg.Network.BlockMaxBytes, P2PRate: cfg.Network.P2PRate, MaxPacketBytes: cfg.Network.MaxPacketPayload,
	}
	return r, nil
}

// chainKey is the deterministic key of a bench participant.
func chainKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("fedledger bench chain " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// revealOverhead is what a RevealUpdate tx adds to the update's values
// (envelope, signature, field tags), for sizing the model.
func revealOverhead(chainID string) (int, error) {
	probe := func(n int) (int, error) {
		v, err := pb.NewVector(16, pb.WIDTH_INT32, make([]int64, n))
		if err != nil {
			return 0, err
		}
		bz, err := v.Marshal()
		if err != nil {
			return 0, err
		}
		tx, err := pb.SignTx(chainKey("h0"), chainID, 1<<20, &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: 1, Round: 1, Update: bz, Salt: make([]byte, protocol.SaltSize)}}})
		return len(tx) - 4*n, err
	}
	return probe(100_000)
}

func chainFedledger(ctx context.Context, cfg ChainConfig, dir string, progress io.Writer) (*ChainRun, []int, error) {
	const chainID = "fedledger-bench"
	over, err := revealOverhead(chainID)
	if err != nil {
		return nil, nil, err
	}
	params := (cfg.UpdateBytes - over) / 4
	if params < 2 {
		params = 2
	}
	researcher := chainKey("researcher")
	gen := chain.GenesisState{Participants: []chain.GenesisParticipant{
		{Name: "researcher", PubKey: researcher.Public().(ed25519.PublicKey), Role: "researcher"},
	}}
	hosp := make([]ed25519.PrivateKey, cfg.Updates)
	var invited [][]byte
	for i := range hosp {
		hosp[i] = chainKey(fmt.Sprintf("h%d", i))
		pub := hosp[i].Public().(ed25519.PublicKey)
		gen.Participants = append(gen.Participants, chain.GenesisParticipant{Name: fmt.Sprintf("h%d", i), PubKey: pub, Role: "hospital"})
		invited = append(invited, pub)
	}
	// One task invites every sender: raise the caps that would refuse it
	// (the defaults allow 100 hospitals), as a consortium's genesis would.
	caps := protocol.DefaultParams()
	caps.MaxHospitals = max(caps.MaxHospitals, uint64(cfg.Updates))
	caps.MaxTaskValues = max(caps.MaxTaskValues, uint64(cfg.Updates)*uint64(params))
	section, err := json.Marshal(map[string]any{"params": caps})
	if err != nil {
		return nil, nil, err
	}
	gen.Modules = map[string]json.RawMessage{"training": section}
	appState, err := json.Marshal(gen)
	if err != nil {
		return nil, nil, err
	}
	nw, err := startBenchNet(ctx, cfg, dir, chainID, appState, nil)
	if err != nil {
		return nil, nil, err
	}
	defer nw.Stop()
	clients, err := benchClients(nw)
	if err != nil {
		return nil, nil, err
	}
	init, err := pb.NewVector(16, pb.WIDTH_INT32, make([]int64, params))
	if err != nil {
		return nil, nil, err
	}
	spec := pb.TaskSpec{
		Name: "bench-chain", Model: pb.ModelSpec{Arch: pb.ArchLogReg, InputDim: uint32(params - 1)},
		Training: pb.TrainingHints{Optimizer: "sgd", LocalEpochs: 1, BatchSize: 8, LearningRateMicro: 10_000},
		Rule:     "fedavg", Rounds: 1, MinParticipants: uint32(cfg.Updates),
		CommitWindow: 100_000, RevealWindow: 100_000, Hospitals: invited, FracBits: 16, InitialModel: init,
	}
	fmt.Fprintf(progress, "fedledger: %d validators; creating a task of %d parameters and %d hospitals\n", cfg.Validators, params, cfg.Updates)
	tx, err := pb.SignTx(researcher, chainID, 1, &pb.Msg{Sum: &pb.Msg_CreateTask{CreateTask: &pb.CreateTask{Spec: spec}}})
	if err != nil {
		return nil, nil, err
	}
	if err := sendAndSettle(ctx, clients, cfg.Senders, [][]byte{tx}); err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(7, uint64(cfg.UpdateBytes)))
	commits := make([][]byte, cfg.Updates)
	reveals := make([][]byte, cfg.Updates)
	sizes := make([]int, cfg.Updates)
	for i, k := range hosp {
		vals := make([]int64, params)
		for j := range vals {
			vals[j] = int64(rng.Int32N(1<<12)) - 1<<11
		}
		v, err := pb.NewVector(16, pb.WIDTH_INT32, vals)
		if err != nil {
			return nil, nil, err
		}
		bz, err := v.Marshal()
		if err != nil {
			return nil, nil, err
		}
		salt := sha256.Sum256(append([]byte("bench-salt/"), k.Seed()...))
		commitment := protocol.UpdateCommitment(chainID, 1, 1, k.Public().(ed25519.PublicKey), salt[:], bz)
		if commits[i], err = pb.SignTx(k, chainID, 1, &pb.Msg{Sum: &pb.Msg_CommitUpdate{CommitUpdate: &pb.CommitUpdate{
			TaskId: 1, Round: 1, UpdateHash: commitment, NumSamples: 100, Metrics: pb.Metrics{NumExamples: 10, AccuracyPpm: 500_000}}}}); err != nil {
			return nil, nil, err
		}
		if reveals[i], err = pb.SignTx(k, chainID, 2, &pb.Msg{Sum: &pb.Msg_RevealUpdate{RevealUpdate: &pb.RevealUpdate{TaskId: 1, Round: 1, Update: bz, Salt: salt[:]}}}); err != nil {
			return nil, nil, err
		}
		sizes[i] = len(reveals[i])
	}
	fmt.Fprintf(progress, "fedledger: %d commitments\n", cfg.Updates)
	if err := sendAndSettle(ctx, clients, cfg.Senders, commits); err != nil {
		return nil, nil, err
	}
	readers := make([]*fl.Client, len(clients))
	for i, c := range clients { // every node, as reveals go to all of them
		if readers[i], err = fl.NewClient(ctx, c, nil); err != nil {
			return nil, nil, err
		}
		readers[i].PollInterval = 20 * time.Millisecond
		if _, err := readers[i].WaitRound(ctx, 1, 1, pb.PHASE_REVEAL); err != nil {
			return nil, nil, err
		}
	}
	fmt.Fprintf(progress, "fedledger: %d reveals of %d bytes\n", cfg.Updates, sizes[0])
	run, err := sendAndWait(ctx, clients, cfg.Senders, reveals)
	if err != nil {
		return nil, nil, err
	}
	// Every reveal made it: the round aggregated all of them. The node
	// read may not have committed the last reveal's block yet: wait for it.
	rd, err := readers[0].WaitRound(ctx, 1, 1, pb.PHASE_CLOSED)
	if err != nil {
		return nil, nil, err
	}
	if rd.NumAggregated != uint32(cfg.Updates) {
		return nil, nil, fmt.Errorf("round aggregated %d updates, want %d (outcome %q)", rd.NumAggregated, cfg.Updates, rd.Outcome)
	}
	run.App = "fedledger"
	return run, sizes, nil
}

func chainKVStore(ctx context.Context, cfg ChainConfig, sizes []int, dir string, progress io.Writer) (*ChainRun, error) {
	pub := chainKey("researcher").Public().(ed25519.PublicKey)
	appState, err := json.Marshal(chain.GenesisState{Participants: []chain.GenesisParticipant{{Name: "r", PubKey: pub, Role: "researcher"}}})
	if err != nil {
		return nil, err
	}
	newApp := func(dir string) (abci.Application, error) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		return kvstore.NewPersistentApplication(dir), nil
	}
	nw, err := startBenchNet(ctx, cfg, dir, "kvstore-bench", appState, newApp)
	if err != nil {
		return nil, err
	}
	defer nw.Stop()
	clients, err := benchClients(nw)
	if err != nil {
		return nil, err
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(8, uint64(cfg.UpdateBytes)))
	txs := make([][]byte, len(sizes))
	for i, n := range sizes {
		tx := fmt.Appendf(nil, "update%06d=", i)
		for len(tx) < n {
			tx = append(tx, letters[rng.IntN(len(letters))])
		}
		txs[i] = tx
	}
	fmt.Fprintf(progress, "kvstore: %d validators; %d transactions of %d bytes\n", cfg.Validators, len(txs), sizes[0])
	run, err := sendAndWait(ctx, clients, cfg.Senders, txs)
	if err != nil {
		return nil, err
	}
	run.App = "kvstore"
	return run, nil
}

func startBenchNet(ctx context.Context, cfg ChainConfig, dir, chainID string, appState []byte, newApp func(string) (abci.Application, error)) (*localnet.Network, error) {
	ncfg := localnet.DefaultConfig()
	ncfg.Validators = cfg.Validators
	ncfg.Dir = dir
	ncfg.ChainID = chainID
	ncfg.AppState = appState
	ncfg.Network = cfg.Network
	ncfg.NewApp = newApp
	return localnet.Start(ctx, ncfg)
}

func benchClients(nw *localnet.Network) ([]*rpchttp.HTTP, error) {
	var out []*rpchttp.HTTP
	for _, n := range nw.Nodes() {
		c, err := n.Client()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// sendAndSettle is sendAndWait for a phase that is not timed: it also
// waits until every node has executed the blocks, so that the next phase's
// transactions are checked against that state whichever node takes them.
func sendAndSettle(ctx context.Context, clients []*rpchttp.HTTP, senders int, txs [][]byte) error {
	if _, err := sendAndWait(ctx, clients, senders, txs); err != nil {
		return err
	}
	st, err := clients[0].Status(ctx)
	if err != nil {
		return err
	}
	h := st.SyncInfo.LatestBlockHeight // at or past the phase's last block
	for _, c := range clients {
		for {
			if _, err := c.BlockResults(ctx, &h); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// sendAndWait broadcasts txs from senders goroutines (tx i to node i mod
// nodes) and waits until executed blocks hold them all; it counts the
// transactions of every block from the first broadcast on, so nothing
// else may be sent meanwhile. Every transaction must have succeeded.
func sendAndWait(ctx context.Context, clients []*rpchttp.HTTP, senders int, txs [][]byte) (*ChainRun, error) {
	st, err := clients[0].Status(ctx)
	if err != nil {
		return nil, err
	}
	from := st.SyncInfo.LatestBlockHeight + 1
	var total int
	for _, tx := range txs {
		total += len(tx)
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	next := 0
	for s := 0; s < senders; s++ {
		g.Go(func() error {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(txs) {
					return nil
				}
				res, err := clients[i%len(clients)].BroadcastTxSync(gctx, txs[i])
				if err != nil {
					return fmt.Errorf("broadcast tx %d: %w", i, err)
				}
				if res.Code != 0 {
					return fmt.Errorf("tx %d refused: code %d: %s", i, res.Code, res.Log)
				}
			}
		})
	}
	// Count transactions in committed blocks while the senders send.
	seen, h, to := 0, from, from-1
	for seen < len(txs) {
		st, err := clients[0].Status(ctx)
		if err != nil {
			return nil, err
		}
		if top := st.SyncInfo.LatestBlockHeight; top >= h {
			metas, err := localnet.BlockMetas(ctx, clients[0], h, top)
			if err != nil {
				return nil, err
			}
			for _, m := range metas {
				seen += m.NumTxs
			}
			to = top
		}
		h = to + 1
		if seen >= len(txs) {
			break
		}
		select {
		case <-gctx.Done(): // a sender failed (or ctx ended)
			if err := g.Wait(); err != nil {
				return nil, err
			}
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	// The block store has a block before the app executed it: wait until
	// the last block's results are stored.
	for {
		if _, err := clients[0].BlockResults(ctx, &to); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if seen != len(txs) {
		return nil, fmt.Errorf("blocks %d-%d hold %d transactions, %d were sent", from, to, seen, len(txs))
	}
	ok := 0
	for hh := from; hh <= to; hh++ {
		res, err := clients[0].BlockResults(ctx, &hh)
		if err != nil {
			return nil, err
		}
		for i, r := range res.TxsResults {
			if r.Code != 0 {
				return nil, fmt.Errorf("block %d tx %d failed: code %d: %s", hh, i, r.Code, r.Log)
			}
			ok++
		}
	}
	if ok != len(txs) {
		return nil, fmt.Errorf("%d of %d transactions succeeded", ok, len(txs))
	}
	return &ChainRun{
		Seconds: elapsed.Seconds(), TxPerSecond: float64(len(txs)) / elapsed.Seconds(),
		MBPerSecond: float64(total) / 1e6 / elapsed.Seconds(), Blocks: int(to - from + 1),
	}, nil
}
