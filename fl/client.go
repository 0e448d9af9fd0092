package fl

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/bytes"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
	"github.com/fedledger/fedledger/protocol"
)

// RPC is the part of CometBFT's RPC client that fedledger uses; the HTTP
// client of github.com/cometbft/cometbft/rpc/client/http implements it.
type RPC interface {
	Status(ctx context.Context) (*ctypes.ResultStatus, error)
	ABCIQueryWithOptions(ctx context.Context, path string, data bytes.HexBytes, opts rpcclient.ABCIQueryOptions) (*ctypes.ResultABCIQuery, error)
	BroadcastTxSync(ctx context.Context, tx types.Tx) (*ctypes.ResultBroadcastTx, error)
	Tx(ctx context.Context, hash []byte, prove bool) (*ctypes.ResultTx, error)
	// Block is read by trainers of tasks with feedback, for the previous
	// round's reveals (each checked against its commitment on chain).
	Block(ctx context.Context, height *int64) (*ctypes.ResultBlock, error)
}

// Errors of the client.
var (
	// ErrNotFound is returned by queries for state that does not exist.
	ErrNotFound = errors.New("fl: not found on chain")
	// ErrUnavailable wraps failures to reach the node; retrying may help.
	ErrUnavailable = errors.New("fl: node unavailable")
)

// Client signs and submits transactions for one key, and reads chain state.
// Submit is safe for concurrent use; it sends one transaction at a time.
type Client struct {
	rpc     RPC
	key     ed25519.PrivateKey
	chainID string

	// PollInterval is how often the client polls for inclusion and state.
	PollInterval time.Duration
	// ResendAfter is how long a broadcast tx may stay unconfirmed before the
	// client sends it again (the mempool is not durable).
	ResendAfter time.Duration
	// MaxAttempts bounds how many times one tx is broadcast.
	MaxAttempts int
	// Verifier, when set, vouches for the app hashes that every provable
	// answer (task, round, model, reputation, participant, params) is
	// checked against; an answer that fails is refused with ErrLyingNode.
	// Lists (tasks, participants) carry no proof and are not checked.
	Verifier Verifier
	// OnWait, when set, is told each time Submit sends a tx again because
	// no block included it within ResendAfter, so that a caller can say
	// what it waits for while the network makes no blocks.
	OnWait func(err error)
	// SharedKey says that other processes sign with this key too (a
	// hospital's record server and its operators' commands). A tx refused
	// for a stale nonce is then signed again with the chain's next nonce
	// (up to MaxAttempts times), and a tx counts as included only when a
	// node's tx index shows it, never because the key's nonce moved on.
	SharedKey bool

	nodes []string // the node addresses Dial was given, for messages

	mu        sync.Mutex
	nonce     uint64 // last nonce the chain accepted from this key
	onFailure func()
}

// unavailable wraps an RPC failure.
func (c *Client) unavailable(format string, args ...any) error {
	if c.onFailure != nil {
		c.onFailure()
	}
	return fmt.Errorf("%w: "+format, append([]any{ErrUnavailable}, args...)...)
}

// Dial connects as key to a node's RPC address (http://host:port), or to
// the first reachable of several given as "a,b,c" (Failover: a call that
// cannot reach its node goes to the next).
func Dial(ctx context.Context, addr string, key ed25519.PrivateKey) (*Client, error) {
	var nodes []RPC
	var transports []*http.Transport
	for _, a := range strings.Split(addr, ",") {
		a = strings.TrimSpace(a)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		rpc, err := rpchttp.NewWithClient(a, "/websocket", &http.Client{Transport: tr, Timeout: 30 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("fl: node address %q: %w", a, err)
		}
		nodes, transports = append(nodes, rpc), append(transports, tr)
	}
	var rpc RPC = nodes[0]
	if len(nodes) > 1 {
		rpc = NewFailover(nodes...)
	}
	c, err := NewClient(ctx, rpc, key)
	if err != nil {
		return nil, err
	}
	for _, a := range strings.Split(addr, ",") {
		c.nodes = append(c.nodes, strings.TrimSpace(a))
	}
	// After a failure, drop kept-alive connections: a node restarted in the
	// same process leaves its old connections open, served by the old node.
	c.onFailure = func() {
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
	}
	return c, nil
}

// NewClient reads the chain-id and the key's last nonce through rpc. A nil
// key gives a read-only client.
func NewClient(ctx context.Context, rpc RPC, key ed25519.PrivateKey) (*Client, error) {
	st, err := rpc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	// Before its first block a node has not committed the genesis state.
	for st.SyncInfo.LatestBlockHeight < 1 {
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, fmt.Errorf("%w: the node has not produced its first block", ErrUnavailable)
		}
		if st, err = rpc.Status(ctx); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	c := &Client{
		rpc: rpc, key: key, chainID: st.NodeInfo.Network,
		PollInterval: 50 * time.Millisecond, ResendAfter: 10 * time.Second, MaxAttempts: 5,
	}
	if key == nil {
		return c, nil // read-only: queries work, Submit does not
	}
	// A node stores block 1 a moment before its app commits the genesis
	// state with it; until then every participant reads as unknown, so a
	// "not found" answered at height 0 is asked again.
	var p pb.Participant
	for {
		h, err := c.Query(ctx, protocol.ParticipantPath(c.PubKey()), &p)
		if err == nil {
			c.nonce = p.Nonce
			return c, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if h >= 1 {
			return c, nil // not a participant (yet): nonce 0
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, fmt.Errorf("%w: the node's app has not committed the genesis state", ErrUnavailable)
		}
	}
}

// LatestHeight is the latest block height of the node calls go to.
func (c *Client) LatestHeight(ctx context.Context) (int64, error) {
	st, err := c.rpc.Status(ctx)
	if err != nil {
		return 0, c.unavailable("status: %v", err)
	}
	return st.SyncInfo.LatestBlockHeight, nil
}

// StateHeight is the height of the state the node's app answers queries
// from (its last commit; the block store may already hold the next block).
func (c *Client) StateHeight(ctx context.Context) (int64, error) {
	res, err := c.rpc.ABCIQueryWithOptions(ctx, protocol.PathParams, nil, rpcclient.ABCIQueryOptions{})
	if err != nil {
		return 0, c.unavailable("query %s: %v", protocol.PathParams, err)
	}
	return res.Response.Height, nil
}

// PubKey is the client's public key (nil for a read-only client).
func (c *Client) PubKey() ed25519.PublicKey {
	if c.key == nil {
		return nil
	}
	return c.key.Public().(ed25519.PublicKey)
}

// Salt is the secret salt of this key's commitment to update in a round:
// an HMAC-SHA256 under the key's seed, so a restarted trainer reveals with
// the salt it committed with, and no one without the key can guess it.
func (c *Client) Salt(task uint64, round uint32, update []byte) []byte {
	if c.key == nil {
		return nil
	}
	m := hmac.New(sha256.New, c.key.Seed())
	m.Write([]byte("fedledger/salt/v1"))
	m.Write([]byte(c.chainID))
	m.Write(binary.BigEndian.AppendUint64(nil, task))
	m.Write(binary.BigEndian.AppendUint32(nil, round))
	u := sha256.Sum256(update)
	m.Write(u[:])
	return m.Sum(nil)
}

// Commitment is the update_hash this key commits to update with in a
// round (protocol.Commitment, bound to the key and its salt).
func (c *Client) Commitment(task uint64, round uint32, update []byte) []byte {
	return protocol.UpdateCommitment(c.chainID, task, round, c.PubKey(), c.Salt(task, round, update), update)
}

// ChainID is the chain-id of the node the client talks to.
func (c *Client) ChainID() string { return c.chainID }

// Included is a transaction the chain executed successfully.
type Included struct {
	Hash []byte
	// Height is the block that included the tx, or, when the node had not
	// indexed it, the height at which the chain showed it executed.
	Height int64
	// Events are empty when the node had not indexed the tx.
	Events []abci.Event // what the tx emitted
}

// Attr returns the value of attribute key of the first event of type typ.
func (inc *Included) Attr(typ, key string) (string, bool) {
	for _, ev := range inc.Events {
		if ev.Type != typ {
			continue
		}
		for _, a := range ev.Attributes {
			if a.Key == key {
				return a.Value, true
			}
		}
	}
	return "", false
}

// Submit signs msg with the next nonce, broadcasts it, and waits until a
// block includes it. A tx that CheckTx refuses, or that the block executes
// with an error, returns an error wrapping the chain's sentinel (see
// protocol.ErrorOf). A tx not included within ResendAfter is broadcast again,
// up to MaxAttempts times.
func (c *Client) Submit(ctx context.Context, msg *pb.Msg) (*Included, error) {
	if c.key == nil {
		return nil, errors.New("fl: a read-only client cannot submit; give it a key")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		nonce uint64
		bz    []byte
		hash  []byte
	)
	sign := func() error {
		nonce = c.nonce + 1
		var err error
		if bz, err = pb.SignTx(c.key, c.chainID, nonce, msg); err != nil {
			return err
		}
		h := sha256.Sum256(bz)
		hash = h[:]
		return nil
	}
	if err := sign(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if inc, err := c.findIncluded(ctx, hash, nonce, attempt > 1); inc != nil || err != nil {
			return inc, err
		}
		// A node that is catching up checks txs against old state: it would
		// accept what the chain refuses, and never get it included.
		if err := c.waitSynced(ctx); err != nil {
			return nil, err
		}
		res, err := c.rpc.BroadcastTxSync(ctx, bz)
		switch {
		case err != nil && strings.Contains(err.Error(), "already exists in cache"):
			// Sent before; wait for it below.
		case err != nil:
			if c.onFailure != nil {
				c.onFailure()
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if attempt >= c.MaxAttempts {
				return nil, c.unavailable("broadcast %s: %v", msg.Kind(), err)
			}
			if err := sleep(ctx, c.ResendAfter/4); err != nil {
				return nil, err
			}
			continue
		case res.Code == protocol.CodeBadNonce && c.SharedKey && attempt < c.MaxAttempts:
			// Another process used the nonce: take the chain's, sign again,
			// unless an earlier broadcast of this very tx made it in.
			if attempt > 1 {
				if err := sleep(ctx, indexGrace); err != nil {
					return nil, err
				}
				if inc, err := c.findIncluded(ctx, hash, nonce, false); inc != nil || err != nil {
					return inc, err
				}
			}
			var p pb.Participant
			if _, err := c.Query(ctx, protocol.ParticipantPath(c.PubKey()), &p); err != nil {
				return nil, err
			}
			c.nonce = max(c.nonce, p.Nonce)
			if err := sign(); err != nil {
				return nil, err
			}
			continue
		case res.Code != protocol.CodeOK:
			return c.refused(ctx, msg, hash, nonce, protocol.ErrorOf(res.Code, res.Log))
		}
		sent := time.Now()
		for time.Since(sent) < c.ResendAfter {
			if err := sleep(ctx, c.PollInterval); err != nil {
				return nil, err
			}
			// The tx index lags the block a little: trust the nonce only
			// when the index still has nothing after a grace period.
			if inc, err := c.findIncluded(ctx, hash, nonce, time.Since(sent) > indexGrace); inc != nil || err != nil {
				return inc, err
			}
		}
		if attempt >= c.MaxAttempts {
			return nil, fmt.Errorf("%w: %s %X not included after %d broadcasts: the network makes no blocks (lost quorum?) or the node dropped it", ErrUnavailable, msg.Kind(), hash[:6], attempt)
		}
		if c.OnWait != nil {
			c.OnWait(fmt.Errorf("%w: %s %X not included after %s; sending it again (%d of %d)", ErrUnavailable, msg.Kind(), hash[:6], c.ResendAfter, attempt+1, c.MaxAttempts))
		}
	}
}

// Result is the outcome of one message of SubmitAll.
type Result struct {
	Included *Included
	Err      error
}

// SubmitAll submits msgs in order, pipelined: it signs them with
// consecutive nonces, broadcasts them all, and waits for them together, so
// that the chunks of a large update fill blocks instead of taking a block
// each. Any message not included within ResendAfter (dropped, or refused
// at CheckTx) is then submitted on its own with Submit. It returns one
// Result per message.
func (c *Client) SubmitAll(ctx context.Context, msgs []*pb.Msg) []Result {
	out := make([]Result, len(msgs))
	if c.key == nil {
		for i := range out {
			out[i].Err = errors.New("fl: a read-only client cannot submit; give it a key")
		}
		return out
	}
	c.pipeline(ctx, msgs, out)
	for i, m := range msgs {
		if out[i].Included != nil || out[i].Err != nil {
			continue
		}
		if ctx.Err() != nil {
			out[i].Err = ctx.Err()
			continue
		}
		out[i].Included, out[i].Err = c.Submit(ctx, m)
	}
	return out
}

// pipeline is SubmitAll's first pass: broadcast everything, then collect
// what made it into blocks. It leaves a Result empty for Submit to retry.
func (c *Client) pipeline(ctx context.Context, msgs []*pb.Msg, out []Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.waitSynced(ctx); err != nil {
		return
	}
	base := c.nonce
	hashes := make([][]byte, 0, len(msgs))
	for i, m := range msgs {
		bz, err := pb.SignTx(c.key, c.chainID, base+uint64(i)+1, m)
		if err != nil {
			out[i].Err = err
			return
		}
		res, err := c.rpc.BroadcastTxSync(ctx, bz)
		if err != nil || res.Code != protocol.CodeOK {
			break // the rest go one by one
		}
		h := sha256.Sum256(bz)
		hashes = append(hashes, h[:])
	}
	// A tx still missing once a later one was found in an earlier poll can
	// never be included (its nonce is stale: the mempool dropped it, say on
	// a recheck under load); it is left for Submit at once, not after
	// ResendAfter. The indexer writes blocks in order, so a later poll
	// would have found it if it were in.
	pending := len(hashes)
	done := make([]bool, len(hashes))
	found := -1 // highest index found in an earlier poll
	for sent := time.Now(); pending > 0 && time.Since(sent) < c.ResendAfter; {
		if sleep(ctx, c.PollInterval) != nil {
			return
		}
		prevFound := found
		for i, h := range hashes {
			if done[i] {
				continue
			}
			res, err := c.rpc.Tx(ctx, h, false)
			if err != nil {
				if i < prevFound {
					done[i], pending = true, pending-1 // dropped: Submit sends it again
				}
				continue
			}
			done[i], pending = true, pending-1
			found = max(found, i)
			out[i].Included, out[i].Err = c.included(res, base+uint64(i)+1)
		}
	}
}

// refused handles a CheckTx refusal. A stale nonce may mean this very tx
// was executed while the node could not tell (it was down or catching up):
// then the tx counts as included. Otherwise the client takes the chain's
// nonce, so that the next Submit signs with a fresh one.
func (c *Client) refused(ctx context.Context, msg *pb.Msg, hash []byte, nonce uint64, err error) (*Included, error) {
	if errors.Is(err, protocol.ErrBadNonce) {
		if inc, ferr := c.findIncluded(ctx, hash, nonce, true); inc != nil || ferr != nil {
			return inc, ferr
		}
	}
	return nil, fmt.Errorf("fl: %s refused: %w", msg.Kind(), err)
}

// waitSynced waits until the node is not catching up.
func (c *Client) waitSynced(ctx context.Context) error {
	start := time.Now()
	for {
		st, err := c.rpc.Status(ctx)
		if err == nil && st.NodeInfo.Network != c.chainID {
			// Another network's node at this address (a misconfigured
			// list, or a port taken over): never send it our txs.
			err = fmt.Errorf("node %s serves chain %q, not %q", c.nodeName(), st.NodeInfo.Network, c.chainID)
		}
		if err == nil && !st.SyncInfo.CatchingUp {
			return nil
		}
		if err != nil && c.onFailure != nil {
			c.onFailure()
		}
		if time.Since(start) > c.ResendAfter {
			if err != nil {
				return fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			return fmt.Errorf("%w: the node is still catching up", ErrUnavailable)
		}
		if err := sleep(ctx, c.PollInterval); err != nil {
			return err
		}
	}
}

// indexGrace is how long the client waits for the tx index before it
// trusts the signer's nonce as proof of inclusion.
const indexGrace = 2 * time.Second

// findIncluded reports whether the tx with this hash and nonce was executed:
// from the node's tx index, or, since a node that stopped abruptly may not
// have indexed its last blocks, from the signer's nonce on chain (only a
// successful tx advances it). It returns nil, nil when the tx is not in.
func (c *Client) findIncluded(ctx context.Context, hash []byte, nonce uint64, byNonce bool) (*Included, error) {
	if res, err := c.rpc.Tx(ctx, hash, false); err == nil {
		return c.included(res, nonce)
	}
	if !byNonce || c.SharedKey {
		return nil, nil
	}
	var p pb.Participant
	h, err := c.Query(ctx, protocol.ParticipantPath(c.PubKey()), &p)
	if err == nil && p.Nonce >= nonce {
		c.nonce = p.Nonce
		return &Included{Hash: hash, Height: h}, nil
	}
	return nil, nil
}

func (c *Client) included(res *ctypes.ResultTx, nonce uint64) (*Included, error) {
	if res.TxResult.Code != protocol.CodeOK {
		return nil, fmt.Errorf("fl: tx %X failed in block %d: %w", res.Hash, res.Height, protocol.ErrorOf(res.TxResult.Code, res.TxResult.Log))
	}
	c.nonce = max(c.nonce, nonce) // txs of SubmitAll may be found out of order
	return &Included{Hash: res.Hash, Height: res.Height, Events: res.TxResult.Events}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
