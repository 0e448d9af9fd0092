package chain

import (
	"context"
	"errors"
	"fmt"
	"sync"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/fedledger/fedledger/chain/module"
	"github.com/fedledger/fedledger/protocol"
)

// Version is the app's software version, reported by Info.
const Version = "0.1.0"

// AppVersion is the version of the state machine's rules. It changes when
// the same blocks would produce a different state.
// 14: the rule "huber" (aggregator.ClippedHuber) is accepted.
// 15: with reputation, alike updates are counted once (aggregator, alike.go).
const AppVersion uint64 = 15

var _ abci.Application = (*App)(nil)

// Config configures an App.
type Config struct {
	// Dir is the directory of the app's state store (created if missing).
	Dir string
	// InMemory keeps the state in memory instead of Dir (like CometBFT's
	// memdb): for tools that replay blocks into a throwaway app, such as
	// an audit, and for tests and fuzzing. Nothing survives Close.
	InMemory bool
	// Logger receives the app's logs; nil discards them.
	Logger log.Logger
}

// DefaultConfig returns a Config that keeps state in dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, Logger: log.NewNopLogger()}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Dir == "" && !c.InMemory {
		return errors.New("chain: Config.Dir is empty; give the directory for the app's state")
	}
	return nil
}

// App is the fedledger ABCI 2.0 application.
//
// FinalizeBlock executes a block against staged state and returns the new
// app hash; Commit writes everything staged in one atomic batch. CheckTx runs
// the same checks against its own staged copy of the last committed state.
// Queries read only committed state.
//
// Locks: consMu orders the consensus calls (InitChain, FinalizeBlock,
// Commit); checkMu guards CheckTx's state; stateMu guards the committed
// store, and only Commit and Close take it for writing, briefly. So the
// aggregation inside FinalizeBlock holds no lock that CheckTx or Query wait
// for (run the app under proxy.NewConnSyncLocalClientCreator, or any
// creator, to get that concurrency). Lock order: consMu, checkMu, stateMu.
type App struct {
	abci.BaseApplication // proposals, vote extensions, snapshots: defaults

	consMu  sync.Mutex
	checkMu sync.Mutex
	stateMu sync.RWMutex
	store   *store
	logger  log.Logger
	router  *router
	// beforeAggregate, when set (tests), runs inside FinalizeBlock just
	// before a round's aggregation.
	beforeAggregate func()

	genesis     *overlay // InitChain's writes, committed with block 1
	pending     *overlay // FinalizeBlock's writes (over genesis, if any), until Commit
	pendingHash []byte
	pendingH    int64
	checkState  *overlay // CheckTx's view: last commit plus accepted mempool txs
	closed      bool
}

// lockAll takes every lock in the documented order (consMu, checkMu,
// stateMu, the last for writing if write) and returns the unlock.
func (a *App) lockAll(write bool) func() {
	a.consMu.Lock()
	a.checkMu.Lock()
	if write {
		a.stateMu.Lock()
	} else {
		a.stateMu.RLock()
	}
	return func() {
		if write {
			a.stateMu.Unlock()
		} else {
			a.stateMu.RUnlock()
		}
		a.checkMu.Unlock()
		a.consMu.Unlock()
	}
}

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("chain: app is closed")

// NewApp opens (or creates) the app's state in cfg.Dir.
func NewApp(cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	r, err := newRouter(Modules())
	if err != nil {
		return nil, err
	}
	s, err := openStore(cfg.Dir, cfg.InMemory, cfg.Logger)
	if err != nil {
		return nil, err
	}
	a := &App{store: s, logger: cfg.Logger, router: r}
	a.checkState = newOverlay(s)
	return a, nil
}

// Close closes the app's store. The app must not be used afterwards.
func (a *App) Close() error {
	defer a.lockAll(true)()
	if a.closed {
		return nil
	}
	a.closed = true
	return a.store.close()
}

// LastCommit returns the height and app hash of the last commit.
func (a *App) LastCommit() (int64, []byte) {
	a.stateMu.RLock() // valid after Close too: the last values stay in memory
	defer a.stateMu.RUnlock()
	return a.store.height, append([]byte(nil), a.store.appHash...)
}

// Info reports the last committed height and app hash, so that CometBFT's
// handshake replays exactly the blocks the app has not committed.
func (a *App) Info(_ context.Context, _ *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.stateMu.RLock()
	defer a.stateMu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	resp := &abci.ResponseInfo{
		Data:       "fedledger",
		Version:    Version,
		AppVersion: AppVersion,
	}
	if a.store.height > 0 {
		resp.LastBlockHeight = a.store.height
		resp.LastBlockAppHash = a.store.appHash
	}
	return resp, nil
}

// InitChain stores the genesis participants; they are committed with block 1.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	defer a.lockAll(false)()
	if a.closed {
		return nil, ErrClosed
	}
	g, err := ParseGenesis(req.AppStateBytes)
	if err != nil {
		return nil, err
	}
	if req.ChainId == "" {
		return nil, errors.New("genesis: chain_id is empty")
	}
	a.genesis = newOverlay(a.store)
	c := &module.Context{State: module.State{Store: a.genesis}, ChainID: req.ChainId}
	for _, p := range g.participants() {
		c.State.Save(module.ParticipantKey(p.PubKey), &p)
	}
	for _, m := range a.router.modules {
		if err := m.InitGenesis(c, g.Modules[m.Name()]); err != nil {
			return nil, fmt.Errorf("genesis app_state: section %q: %w", m.Name(), err)
		}
	}
	c.State.Set(keyMetaChainID, []byte(req.ChainId))
	a.checkState = newOverlay(a.genesis)
	a.logger.Info("init chain", "chain_id", req.ChainId, "participants", len(g.Participants))
	return &abci.ResponseInitChain{AppHash: a.store.root(a.genesis.writes)}, nil
}

func (a *App) chainID(o *overlay) (string, error) {
	bz, err := o.Get(keyMetaChainID)
	if err != nil {
		return "", err
	}
	return string(bz), nil
}

// CheckTx runs every check FinalizeBlock would run, against the last
// committed state plus the transactions CheckTx already accepted.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	a.checkMu.Lock()
	defer a.checkMu.Unlock()
	a.stateMu.RLock()
	defer a.stateMu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	id, err := a.chainID(a.checkState)
	if err != nil {
		return nil, err
	}
	c := &module.Context{State: module.State{Store: a.checkState}, Height: a.store.height + 1, ChainID: id, Check: true}
	if err := a.deliverTx(c, req.Tx); err != nil {
		code := protocol.CodeOf(err)
		if code == protocol.CodeInternal {
			a.logger.Error("check tx failed", "err", err)
		}
		return &abci.ResponseCheckTx{Code: code, Codespace: protocol.Codespace, Log: err.Error()}, nil
	}
	return &abci.ResponseCheckTx{Code: protocol.CodeOK}, nil
}

// FinalizeBlock executes the block's transactions, then advances every
// running task's round, and returns the app hash of the staged state.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	a.consMu.Lock()
	defer a.consMu.Unlock()
	a.stateMu.RLock() // reads committed state; writes go to a.pending
	defer a.stateMu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	if want := a.store.height + 1; req.Height != want {
		return nil, fmt.Errorf("chain: FinalizeBlock at height %d, but the last commit is %d", req.Height, a.store.height)
	}
	// Each FinalizeBlock starts from the last commit (plus genesis before
	// block 1), so a repeated call for the same height starts over.
	var base kvReader = a.store
	if a.genesis != nil {
		base = a.genesis
	}
	a.pending = newOverlay(base)
	id, err := a.chainID(a.pending)
	if err != nil {
		return nil, err
	}
	c := &module.Context{State: module.State{Store: a.pending}, Height: req.Height, ChainID: id, BeforeAggregate: a.beforeAggregate}
	results := make([]*abci.ExecTxResult, len(req.Txs))
	for i, tx := range req.Txs {
		c.Events = nil
		err := a.deliverTx(c, tx)
		code := protocol.CodeOf(err)
		if code == protocol.CodeInternal {
			return nil, fmt.Errorf("chain: height %d tx %d: %w", req.Height, i, err)
		}
		r := &abci.ExecTxResult{Code: code, Events: c.Events}
		if err != nil {
			r.Codespace = protocol.Codespace
			r.Log = err.Error()
			r.Events = nil
		}
		results[i] = r
	}
	c.Events = nil
	if err := a.router.endBlock(c); err != nil {
		return nil, fmt.Errorf("chain: height %d end of block: %w", req.Height, err)
	}
	a.pendingH = req.Height
	a.pendingHash = a.store.root(a.stagedWrites())
	return &abci.ResponseFinalizeBlock{TxResults: results, Events: c.Events, AppHash: a.pendingHash}, nil
}

// Commit persists the staged state in one atomic batch and resets CheckTx's view.
func (a *App) Commit(_ context.Context, _ *abci.RequestCommit) (*abci.ResponseCommit, error) {
	defer a.lockAll(true)()
	if a.closed {
		return nil, ErrClosed
	}
	if a.pending == nil || a.pendingH != a.store.height+1 {
		return nil, fmt.Errorf("chain: Commit without a finalized block (last commit %d)", a.store.height)
	}
	if err := a.store.commit(a.stagedWrites(), a.pendingH, a.pendingHash); err != nil {
		return nil, err
	}
	a.genesis, a.pending = nil, nil
	a.checkState = newOverlay(a.store)
	return &abci.ResponseCommit{}, nil
}

// stagedWrites merges genesis and block writes.
func (a *App) stagedWrites() map[string][]byte {
	if a.genesis == nil {
		return a.pending.writes
	}
	w := make(map[string][]byte, len(a.genesis.writes)+len(a.pending.writes))
	for k, v := range a.genesis.writes {
		w[k] = v
	}
	for k, v := range a.pending.writes {
		w[k] = v
	}
	return w
}
