package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtbytes "github.com/cometbft/cometbft/libs/bytes"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/chain"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// RPC is what the audit reads from a node.
type RPC interface {
	Genesis(ctx context.Context) (*ctypes.ResultGenesis, error)
	Status(ctx context.Context) (*ctypes.ResultStatus, error)
	Block(ctx context.Context, height *int64) (*ctypes.ResultBlock, error)
	ABCIQueryWithOptions(ctx context.Context, path string, data cmtbytes.HexBytes, opts rpcclient.ABCIQueryOptions) (*ctypes.ResultABCIQuery, error)
}

// RoundResult is the verdict on one round.
type RoundResult struct {
	Round     uint32 `json:"round"`
	OK        bool   `json:"ok"`
	Problem   string `json:"problem,omitempty"`
	ModelHash string `json:"model_hash,omitempty"`
	Closed    int64  `json:"closed_height"`
}

// Report is the audit of one task.
type Report struct {
	Task    uint64        `json:"task"`
	ChainID string        `json:"chain_id"`
	Blocks  int64         `json:"blocks_replayed"`
	Rounds  []RoundResult `json:"rounds"`
	// Chain is a problem with the blocks themselves (signatures, links,
	// transactions, app hashes), if any, and the height it was found at.
	Chain       string `json:"chain_problem,omitempty"`
	ChainHeight int64  `json:"chain_problem_height,omitempty"`
	// Reputation is "OK" when the node's reputation scores equal the
	// replay's, a problem otherwise, and empty for a task without reputation.
	Reputation string `json:"reputation,omitempty"`
	// GenesisHash is GenesisHash of the genesis the replay started from;
	// GenesisSource says where it came from (the node, or a trusted file).
	GenesisHash   string `json:"genesis_hash"`
	GenesisSource string `json:"genesis_source"`
}

// Options tune an audit. The zero value takes the genesis from the node.
type Options struct {
	// Genesis, when set, is the genesis the replay starts from (a file the
	// auditor trusts); the node's must be the same.
	Genesis *types.GenesisDoc
	// GenesisHash, when set, is the hash (GenesisHash) the genesis must
	// have: a pin the auditor got from a source it trusts.
	GenesisHash string
	// Progress, when set, is told of every block replayed, with the
	// height to reach.
	Progress func(height, top int64)
}

// ErrGenesis means the genesis is not the one the auditor trusts.
var ErrGenesis = errors.New("audit: genesis")

// GenesisHash is the hex SHA-256 of a genesis document's canonical JSON
// (CometBFT's encoding of the document): what --trust-genesis pins.
func GenesisHash(g *types.GenesisDoc) (string, error) {
	bz, err := cmtjson.Marshal(g)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(bz)
	return hex.EncodeToString(sum[:]), nil
}

// OK reports whether every round and the chain checked out.
func (r *Report) OK() bool {
	if r.Chain != "" || len(r.Rounds) == 0 || (r.Reputation != "" && r.Reputation != "OK") {
		return false
	}
	for _, rr := range r.Rounds {
		if !rr.OK {
			return false
		}
	}
	return true
}

// ErrTask means the task cannot be audited (it does not exist, or has no
// closed round yet).
var ErrTask = errors.New("audit: task")

// Run audits task id through rpc.
func Run(ctx context.Context, rpc RPC, id uint64) (*Report, error) {
	return RunWith(ctx, rpc, id, Options{})
}

// RunWith audits task id through rpc with opts.
func RunWith(ctx context.Context, rpc RPC, id uint64, opts Options) (*Report, error) {
	gen, err := rpc.Genesis(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: genesis: %w", err)
	}
	gd, source := gen.Genesis, "the node"
	nodeHash, err := GenesisHash(gd)
	if err != nil {
		return nil, err
	}
	if opts.Genesis != nil {
		trusted, err := GenesisHash(opts.Genesis)
		if err != nil {
			return nil, err
		}
		if trusted != nodeHash {
			return nil, fmt.Errorf("%w: the node serves genesis %s, not the trusted file's %s: it belongs to another network, or lies", ErrGenesis, nodeHash, trusted)
		}
		gd, source = opts.Genesis, "a trusted file"
	}
	if opts.GenesisHash != "" {
		if opts.GenesisHash != nodeHash {
			return nil, fmt.Errorf("%w: the node serves genesis %s, not the pinned %s", ErrGenesis, nodeHash, opts.GenesisHash)
		}
		source = "the node, matching the pinned hash"
	}
	rep := &Report{Task: id, ChainID: gd.ChainID, GenesisHash: nodeHash, GenesisSource: source}
	vals := make([]*types.Validator, len(gd.Validators))
	for i, v := range gd.Validators {
		vals[i] = types.NewValidator(v.PubKey, v.Power)
	}
	app, err := chain.NewApp(chain.Config{InMemory: true}) // a throwaway replay
	if err != nil {
		return nil, err
	}
	defer app.Close()
	initResp, err := app.InitChain(ctx, &abci.RequestInitChain{ChainId: gd.ChainID, AppStateBytes: gd.AppState, InitialHeight: gd.InitialHeight})
	if err != nil {
		return nil, fmt.Errorf("audit: genesis app_state: %w", err)
	}
	au := &auditor{rpc: rpc, app: app, rep: rep, valSet: types.NewValidatorSet(vals), chainID: gd.ChainID,
		expectAppHash: initResp.AppHash, appHashAt: map[int64][]byte{}, progress: opts.Progress}
	st, err := rpc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: status: %w", err)
	}
	if err := au.advanceTo(ctx, st.SyncInfo.LatestBlockHeight); err != nil {
		return nil, err
	}

	// The task as the replay sees it.
	var task pb.Task
	if err := au.replayed(ctx, protocol.TaskPath(id), &task); err != nil {
		if rep.Chain != "" {
			return rep, nil
		}
		return nil, fmt.Errorf("%w %d: %v", ErrTask, id, err)
	}
	for r := uint32(1); r <= task.CurrentRound; r++ {
		var rd pb.Round
		if err := au.replayed(ctx, protocol.RoundPath(id, r), &rd); err != nil {
			return nil, fmt.Errorf("audit: replayed round %d: %w", r, err)
		}
		if rd.Phase != pb.PHASE_CLOSED {
			if rep.Chain != "" {
				// The replay stopped inside this round.
				rep.Rounds = append(rep.Rounds, RoundResult{Round: r, Problem: "cannot be verified: " + rep.Chain})
			}
			break // still open: nothing more to verify
		}
		rr := RoundResult{Round: r, Closed: rd.ClosedHeight, ModelHash: fmt.Sprintf("%x", rd.OutputModelHash)}
		rr.Problem = au.checkRound(ctx, &rd, id)
		rr.OK = rr.Problem == ""
		rep.Rounds = append(rep.Rounds, rr)
	}
	if len(rep.Rounds) == 0 && rep.Chain == "" {
		return rep, fmt.Errorf("%w %d has no closed round yet", ErrTask, id)
	}
	if task.Spec.Reputation && rep.Chain == "" {
		// The scores the node keeps must be the ones the replay computed.
		var r pb.Reputation
		path := protocol.ReputationPath(id)
		if err := au.replayed(ctx, path, &r); err != nil {
			return nil, fmt.Errorf("audit: replayed reputation: %w", err)
		}
		want, _ := r.Marshal()
		if p := au.checkAnswer(ctx, path, want); p != "" {
			rep.Reputation = p
		} else {
			rep.Reputation = "OK"
		}
	}
	return rep, nil
}

// auditor replays blocks and remembers the app hash each header vouches for.
type auditor struct {
	rpc           RPC
	app           *chain.App
	rep           *Report
	valSet        *types.ValidatorSet
	chainID       string
	expectAppHash []byte
	prev          *types.Block
	next          int64            // next header to fetch
	appHashAt     map[int64][]byte // state after height h → app hash in header h+1
	progress      func(height, top int64)
}

// advanceTo fetches and checks headers up to top, replaying every block
// below it. A problem stops the replay and is recorded in the report.
func (au *auditor) advanceTo(ctx context.Context, top int64) error {
	if au.next == 0 {
		au.next = 1
	}
	for ; au.next <= top && au.rep.Chain == ""; au.next++ {
		h := au.next
		res, err := au.rpc.Block(ctx, &h)
		// A node answers "no block" (not an error) for a height its status
		// already reports but its store has yet to save: ask again.
		for try := 0; err == nil && (res == nil || res.Block == nil) && try < 50; try++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			res, err = au.rpc.Block(ctx, &h)
		}
		if err != nil {
			return fmt.Errorf("audit: block %d: %w", h, err)
		}
		if res == nil || res.Block == nil {
			st, err := au.rpc.Status(ctx)
			if err != nil {
				return fmt.Errorf("audit: the node answers no block %d, and no status: %w", h, err)
			}
			return fmt.Errorf("audit: node %s of chain %s answers no block %d; it holds blocks %d to %d (a pruned node cannot be audited from genesis: ask one that keeps every block)",
				st.NodeInfo.Moniker, st.NodeInfo.Network, h, st.SyncInfo.EarliestBlockHeight, st.SyncInfo.LatestBlockHeight)
		}
		b := res.Block
		if problem := checkBlock(b, au.prev, au.valSet, au.chainID, au.expectAppHash); problem != "" {
			au.rep.Chain, au.rep.ChainHeight = problem, h
			return nil
		}
		au.appHashAt[h-1] = b.AppHash
		fin, err := au.app.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: h, Txs: b.Txs.ToSliceOfBytes(), Time: b.Time, ProposerAddress: b.ProposerAddress})
		if err != nil {
			au.rep.Chain, au.rep.ChainHeight = fmt.Sprintf("replay of block %d failed: %v", h, err), h
			return nil
		}
		if _, err := au.app.Commit(ctx, &abci.RequestCommit{}); err != nil {
			return err
		}
		au.expectAppHash = fin.AppHash
		au.rep.Blocks = h
		au.prev = b
		if au.progress != nil {
			au.progress(h, top)
		}
	}
	return nil
}

// replayed reads the replay's state (as of the last replayed block).
func (au *auditor) replayed(ctx context.Context, path string, out interface{ Unmarshal([]byte) error }) error {
	r, err := au.app.Query(ctx, &abci.RequestQuery{Path: path})
	if err != nil {
		return err
	}
	if r.Code != 0 {
		return fmt.Errorf("%s", r.Log)
	}
	return out.Unmarshal(r.Value)
}

// checkRound compares the node's answers for a round and its model with the
// replay, and verifies their proofs.
func (au *auditor) checkRound(ctx context.Context, rd *pb.Round, id uint64) string {
	if au.rep.Chain != "" && au.rep.ChainHeight <= rd.ClosedHeight+1 {
		return fmt.Sprintf("cannot be verified: %s", au.rep.Chain)
	}
	want, err := rd.Marshal()
	if err != nil {
		return err.Error()
	}
	if p := au.checkAnswer(ctx, protocol.RoundPath(id, rd.Round), want); p != "" {
		return p
	}
	if rd.Outcome == "aggregated" {
		var m pb.GlobalModel
		mpath := protocol.ModelPath(id, rd.Round)
		if err := au.replayed(ctx, mpath, &m); err != nil {
			return fmt.Sprintf("replay has no model: %v", err)
		}
		if !bytes.Equal(m.Weights.Hash(), rd.OutputModelHash) {
			return fmt.Sprintf("replayed model hashes to %X, the round records %X", m.Weights.Hash(), rd.OutputModelHash)
		}
		mb, _ := m.Marshal()
		if p := au.checkAnswer(ctx, mpath, mb); p != "" {
			return p
		}
	}
	return ""
}

// checkAnswer queries the node with a proof and checks that the answer is
// the replay's and that the proof holds against the audited header's app hash.
func (au *auditor) checkAnswer(ctx context.Context, path string, want []byte) string {
	res, err := au.rpc.ABCIQueryWithOptions(ctx, path, nil, rpcclient.ABCIQueryOptions{Prove: true})
	if err != nil {
		return fmt.Sprintf("node did not answer %s: %v", path, err)
	}
	r := res.Response
	if r.Code != 0 {
		return fmt.Sprintf("node answers %s with code %d: %s", path, r.Code, r.Log)
	}
	if !bytes.Equal(r.Value, want) {
		return fmt.Sprintf("node's answer for %s differs from the replay (%s)", path, describeDiff(r.Value, want))
	}
	// The node answers from its latest state; audit the headers up to the
	// one that carries that state's app hash.
	if _, ok := au.appHashAt[r.Height]; !ok {
		if err := au.waitHeader(ctx, r.Height+1); err != nil {
			return err.Error()
		}
	}
	appHash, ok := au.appHashAt[r.Height]
	if !ok {
		return fmt.Sprintf("no audited header vouches for height %d: %s", r.Height, au.rep.Chain)
	}
	if err := chain.VerifyProof(&r, appHash); err != nil {
		return fmt.Sprintf("proof of %s does not hold against the app hash of height %d: %v", path, r.Height, err)
	}
	return ""
}

// waitHeader waits for the node to have header h, then audits up to it.
func (au *auditor) waitHeader(ctx context.Context, h int64) error {
	for {
		st, err := au.rpc.Status(ctx)
		if err != nil {
			return fmt.Errorf("audit: status: %w", err)
		}
		if st.SyncInfo.LatestBlockHeight >= h {
			return au.advanceTo(ctx, h)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkBlock verifies a block against the previous one and the genesis
// validators, and its app hash against the replay.
func checkBlock(b, prev *types.Block, valSet *types.ValidatorSet, chainID string, expectAppHash []byte) string {
	if got := b.Txs.Hash(); !bytes.Equal(got, b.DataHash) {
		return fmt.Sprintf("block %d: its transactions hash to %X, its header commits to %X (a transaction was altered)", b.Height, got, b.DataHash)
	}
	if err := b.ValidateBasic(); err != nil {
		return fmt.Sprintf("block %d is malformed: %v", b.Height, err)
	}
	if !bytes.Equal(b.ValidatorsHash, valSet.Hash()) {
		return fmt.Sprintf("block %d: validators hash %X is not the genesis validator set's %X", b.Height, b.ValidatorsHash, valSet.Hash())
	}
	if prev != nil {
		id := types.BlockID{Hash: prev.Hash(), PartSetHeader: b.LastBlockID.PartSetHeader}
		if !bytes.Equal(b.LastBlockID.Hash, prev.Hash()) {
			return fmt.Sprintf("block %d does not follow block %d: it names %X, block %d hashes to %X", b.Height, prev.Height, b.LastBlockID.Hash, prev.Height, prev.Hash())
		}
		if err := valSet.VerifyCommitLight(chainID, id, prev.Height, b.LastCommit); err != nil {
			return fmt.Sprintf("block %d: the commit of block %d is not signed by 2/3 of the validators: %v", b.Height, prev.Height, err)
		}
	}
	if !bytes.Equal(b.AppHash, expectAppHash) {
		return fmt.Sprintf("block %d: header app hash %X, the replay computes %X", b.Height, b.AppHash, expectAppHash)
	}
	return ""
}

func describeDiff(got, want []byte) string {
	var g, w pb.Round
	if g.Unmarshal(got) == nil && w.Unmarshal(want) == nil && g.Round == w.Round {
		if !bytes.Equal(g.OutputModelHash, w.OutputModelHash) {
			return fmt.Sprintf("output model hash %X, replay %X", g.OutputModelHash, w.OutputModelHash)
		}
	}
	return fmt.Sprintf("%d bytes vs %d", len(got), len(want))
}

// JSON renders the report.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
