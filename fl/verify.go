package fl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/merkle"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	lighthttp "github.com/cometbft/cometbft/light/provider/http"
	lightdb "github.com/cometbft/cometbft/light/store/db"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/protocol"
)

// ErrLyingNode is returned when a node's answer is not what the chain
// committed: a proof that does not hold, a record from another key, or a
// header its validators did not sign. The client does not use the answer.
var ErrLyingNode = errors.New("fl: the node's answer is not what the chain committed")

// Verifier vouches for app hashes: AppHash returns the app hash of the
// state after block height, as committed in the header of block height+1,
// once that header is verified. Client.Query checks every provable answer's
// Merkle proof against it.
type Verifier interface {
	AppHash(ctx context.Context, height int64) ([]byte, error)
}

// checkAnswer checks a proven answer to q against the verifier.
func checkAnswer(ctx context.Context, v Verifier, q protocol.Query, path string, r *abci.ResponseQuery) error {
	if !protocol.AnswerKeyMatches(q, r.Key) {
		return fmt.Errorf("%w: it answered %s with the record at state key %q", ErrLyingNode, path, r.Key)
	}
	if r.ProofOps == nil {
		return fmt.Errorf("%w: it answered %s without the proof that was asked for", ErrLyingNode, path)
	}
	appHash, err := v.AppHash(ctx, r.Height)
	if err != nil {
		return err
	}
	kp := merkle.KeyPath{}.AppendKey(r.Key, merkle.KeyEncodingHex)
	if err := merkle.DefaultProofRuntime().VerifyValue(r.ProofOps, appHash, kp.String(), r.Value); err != nil {
		return fmt.Errorf("%w: its answer to %s does not match the app hash %X that the validators signed for height %d: %v", ErrLyingNode, path, appHash, r.Height, err)
	}
	return nil
}

// TrustRoot is what a LightVerifier trusts to begin with: a header the user
// got from a source they trust (Height and Hash, as `--trust-height` and
// `--trust-hash`), or else the chain's genesis, whose validators must have
// signed its first block.
type TrustRoot struct {
	Height  int64
	Hash    []byte
	Genesis *types.GenesisDoc
	// Period is the trusting period: a trusted header older than this can
	// no longer vouch for newer ones (CometBFT's light client rule).
	// Zero means DefaultTrustPeriod.
	Period time.Duration
}

// DefaultTrustPeriod is the trusting period of CometBFT's own light
// client command: one week.
const DefaultTrustPeriod = 168 * time.Hour

// Validate reports a trust root that names neither a header nor a genesis.
func (t TrustRoot) Validate() error {
	switch {
	case t.Height < 0 || t.Period < 0:
		return errors.New("trust height and period must not be negative")
	case t.Height > 0 && len(t.Hash) != 32:
		return fmt.Errorf("trust hash has %d bytes; give the 32-byte header hash (64 hex digits) of block %d", len(t.Hash), t.Height)
	case t.Height == 0 && len(t.Hash) > 0:
		return errors.New("a trust hash needs the height of its block (--trust-height)")
	case t.Height == 0 && t.Genesis == nil:
		return errors.New("no trust root: give the chain's genesis file or a trusted header's height and hash")
	}
	return nil
}

// LightVerifier verifies headers with CometBFT's light client: from its
// trust root it checks each header it needs by the validators' signatures
// (skipping verification, cross-checked against the witnesses), so a node
// cannot vouch for a state the validators did not commit. Safe for
// concurrent use.
type LightVerifier struct {
	chainID   string
	period    time.Duration
	nodes     []string // primary first, then witnesses
	latest    func(ctx context.Context) (int64, error)
	mu        sync.Mutex
	store     dbm.DB // trusted light blocks, in memory
	client    *light.Client
	status    map[string]*rpchttp.HTTP // witnesses' RPC, for waitWitnesses
	waitEvery time.Duration
	// verifying serializes calls into the light client, which is not safe
	// for concurrent use: two verifications of one new height at once made
	// the second start from the height the first had just trusted, and
	// fail as if the node had lied.
	verifying sync.Mutex

	// MaxWait bounds how long AppHash waits for the header it needs before
	// it returns ErrUnavailable (a caller that retries says what it waits
	// for); NewLightVerifier sets 10 s.
	MaxWait time.Duration
}

var _ Verifier = (*LightVerifier)(nil)

// NewLightVerifier starts a light client on chainID, trusting root, that
// reads headers from the primary node and cross-checks them with the
// witnesses (RPC addresses; with none, the primary is its own witness and
// only the signatures protect the client). latest reports the primary's
// latest height, so that the verifier asks for a header only once it exists.
func NewLightVerifier(ctx context.Context, chainID string, root TrustRoot, latest func(context.Context) (int64, error), primary string, witnesses ...string) (*LightVerifier, error) {
	if err := root.Validate(); err != nil {
		return nil, err
	}
	if root.Period == 0 {
		root.Period = DefaultTrustPeriod
	}
	v := &LightVerifier{
		chainID: chainID, period: root.Period, latest: latest,
		nodes: append([]string{primary}, witnesses...), store: dbm.NewMemDB(),
		waitEvery: 100 * time.Millisecond, MaxWait: 10 * time.Second,
	}
	opts := light.TrustOptions{Period: root.Period, Height: root.Height, Hash: root.Hash}
	if root.Height == 0 {
		h, hash, err := v.trustGenesis(ctx, root.Genesis)
		if err != nil {
			return nil, err
		}
		opts.Height, opts.Hash = h, hash
	}
	if err := v.waitFor(ctx, opts.Height, 0); err != nil {
		return nil, err
	}
	primaryP, witnessP, err := v.providers()
	if err != nil {
		return nil, err
	}
	c, err := light.NewClient(ctx, chainID, opts, primaryP, witnessP, lightdb.New(v.store, ""), light.Logger(log.NewNopLogger()))
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", primary, lightErr(fmt.Errorf("light client from the trusted header at height %d: %w", opts.Height, err)))
	}
	v.client = c
	return v, nil
}

// providers dials the nodes' light block providers.
func (v *LightVerifier) providers() (provider.Provider, []provider.Provider, error) {
	var ps []provider.Provider
	for _, n := range v.nodes {
		p, err := lighthttp.New(v.chainID, n)
		if err != nil {
			return nil, nil, fmt.Errorf("fl: light client provider %s: %w", n, err)
		}
		ps = append(ps, p)
	}
	if len(ps) == 1 {
		return ps[0], ps, nil
	}
	return ps[0], ps[1:], nil
}

// trustGenesis returns the height and hash of the chain's first header,
// after checking that genesis's validators signed it.
func (v *LightVerifier) trustGenesis(ctx context.Context, g *types.GenesisDoc) (int64, []byte, error) {
	if g.ChainID != v.chainID {
		return 0, nil, fmt.Errorf("%w: node %s serves chain %q; the trusted genesis is chain %q", ErrLyingNode, v.nodes[0], v.chainID, g.ChainID)
	}
	first := g.InitialHeight
	if first < 1 {
		first = 1
	}
	if err := v.waitFor(ctx, first, 0); err != nil {
		return 0, nil, err
	}
	p, err := lighthttp.New(v.chainID, v.nodes[0])
	if err != nil {
		return 0, nil, err
	}
	lb, err := p.LightBlock(ctx, first)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: header %d from %s: %v", ErrUnavailable, first, v.nodes[0], err)
	}
	vals := make([]*types.Validator, len(g.Validators))
	for i, gv := range g.Validators {
		vals[i] = types.NewValidator(gv.PubKey, gv.Power)
	}
	set := types.NewValidatorSet(vals)
	if !bytes.Equal(lb.ValidatorsHash, set.Hash()) {
		return 0, nil, fmt.Errorf("%w: node %s's block %d names validators %X; genesis names %X", ErrLyingNode, v.nodes[0], first, lb.ValidatorsHash, set.Hash())
	}
	if err := set.VerifyCommitLight(v.chainID, lb.Commit.BlockID, first, lb.Commit); err != nil {
		return 0, nil, fmt.Errorf("%w: node %s's block %d is not signed by genesis's validators: %v", ErrLyingNode, v.nodes[0], first, err)
	}
	if time.Since(lb.Time) > v.period {
		return 0, nil, fmt.Errorf("the chain's first block is %s old, past the trusting period %s: give --trust-height and --trust-hash of a recent block from a source you trust, or a longer --trust-period", time.Since(lb.Time).Round(time.Hour), v.period)
	}
	return first, lb.Hash(), nil
}

// waitFor waits until the primary has committed block h, for at most
// limit (0: until ctx ends).
func (v *LightVerifier) waitFor(ctx context.Context, h int64, limit time.Duration) error {
	start := time.Now()
	for {
		got, err := v.latest(ctx)
		if err == nil && got >= h {
			return nil
		}
		if limit > 0 && time.Since(start) >= limit {
			return fmt.Errorf("%w: no block %d from %s after %s, to verify the answer with (the network makes no blocks, or the node is behind)", ErrUnavailable, h, v.primary(), limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for block %d from %s: %v", ErrUnavailable, h, v.primary(), ctx.Err())
		case <-time.After(v.waitEvery):
		}
	}
}

// witnessWait bounds how long AppHash waits for the witnesses to have the
// header it verifies. CometBFT's light client treats a witness one block
// behind the primary as possibly attacked and sleeps 2·drift + lag (30 s
// by default) before asking it again; a witness still applying a large
// block is the usual cause, and a moment's wait avoids the stall.
const witnessWait = 3 * time.Second

// waitWitnesses waits until every witness reports height h or more, or
// limit passes (a witness that is down or far behind is the light
// client's to judge).
func (v *LightVerifier) waitWitnesses(ctx context.Context, h int64, limit time.Duration) {
	v.mu.Lock()
	var rpcs []*rpchttp.HTTP
	for _, n := range v.nodes[1:] {
		rpc, ok := v.status[n]
		if !ok {
			var err error
			if rpc, err = rpchttp.NewWithClient(n, "/websocket", &http.Client{Timeout: limit, Transport: http.DefaultTransport.(*http.Transport).Clone()}); err != nil {
				continue
			}
			if v.status == nil {
				v.status = map[string]*rpchttp.HTTP{}
			}
			v.status[n] = rpc
		}
		rpcs = append(rpcs, rpc)
	}
	v.mu.Unlock()
	deadline := time.Now().Add(limit)
	for _, rpc := range rpcs {
		for time.Now().Before(deadline) {
			st, err := rpc.Status(ctx)
			if err != nil || st.SyncInfo.LatestBlockHeight >= h {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(v.waitEvery / 4):
			}
		}
	}
}

// primary is the node the light client reads headers from first.
func (v *LightVerifier) primary() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.nodes[0]
}

// AppHash returns the verified app hash of the state after block height.
func (v *LightVerifier) AppHash(ctx context.Context, height int64) ([]byte, error) {
	if err := v.waitFor(ctx, height+1, v.MaxWait); err != nil {
		return nil, err
	}
	v.waitWitnesses(ctx, height+1, witnessWait)
	v.mu.Lock()
	if v.client == nil {
		if err := v.reopen(); err != nil {
			v.mu.Unlock()
			return nil, err
		}
	}
	c := v.client
	v.mu.Unlock()
	// The light client retries a node that does not answer for up to half
	// a minute, without looking at ctx: give it MaxWait, then report the
	// node unavailable (the caller retries and says so) and start the next
	// call from another node.
	type result struct {
		lb  *types.LightBlock
		err error
	}
	done := make(chan result, 1)
	go func() {
		v.verifying.Lock()
		defer v.verifying.Unlock()
		lb, err := c.VerifyLightBlockAtHeight(ctx, height+1, time.Now())
		done <- result{lb, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(v.MaxWait):
		r.err = fmt.Errorf("%w: verifying header %d took over %s", ErrUnavailable, height+1, v.MaxWait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.err != nil {
		err := lightErr(r.err)
		if !errors.Is(err, ErrLyingNode) {
			// A node that could not be reached, or is behind, may have
			// cost the light client its providers: start again from the
			// trusted store, with the next node as primary.
			v.mu.Lock()
			if v.client == c {
				v.client = nil
				v.nodes = append(v.nodes[1:], v.nodes[0])
			}
			v.mu.Unlock()
		}
		return nil, err
	}
	lb := r.lb
	return lb.AppHash, nil
}

// reopen restarts the light client from the headers it already trusts.
func (v *LightVerifier) reopen() error {
	primaryP, witnessP, err := v.providers()
	if err != nil {
		return err
	}
	c, err := light.NewClientFromTrustedStore(v.chainID, v.period, primaryP, witnessP, lightdb.New(v.store, ""), light.Logger(log.NewNopLogger()))
	if err != nil {
		return fmt.Errorf("%w: light client: %v", ErrUnavailable, err)
	}
	v.client = c
	return nil
}

// lightErr classes a light client error: a header that fails
// verification or conflicts with a witness's is a lie; the rest are
// failures to reach a node.
func lightErr(err error) error {
	var inv light.ErrInvalidHeader
	var ver light.ErrVerificationFailed
	var conf light.ErrConflictingHeaders
	var bad provider.ErrBadLightBlock
	switch {
	case errors.As(err, &inv), errors.As(err, &ver), errors.As(err, &conf), errors.As(err, &bad),
		errors.Is(err, light.ErrLightClientAttack):
		return fmt.Errorf("%w: %v", ErrLyingNode, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: light client: %v", ErrUnavailable, err)
}
