package fl

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtbytes "github.com/cometbft/cometbft/libs/bytes"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

// dropRPC is a fake node (a unit-test double for the client's RPC): it
// includes every broadcast tx in the next "block" except those whose
// nonce is in drop, which it accepts and then loses, as a mempool recheck
// under load may.
type dropRPC struct {
	mu       sync.Mutex
	drop     map[uint64]bool
	included map[string]int64 // tx hash → height
	height   int64
	nonces   []uint64 // nonces broadcast, in order
}

func (r *dropRPC) Status(context.Context) (*ctypes.ResultStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := &ctypes.ResultStatus{}
	st.SyncInfo.LatestBlockHeight = r.height + 1
	st.NodeInfo.Network = "c"
	return st, nil
}

func (r *dropRPC) ABCIQueryWithOptions(context.Context, string, cmtbytes.HexBytes, rpcclient.ABCIQueryOptions) (*ctypes.ResultABCIQuery, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &ctypes.ResultABCIQuery{Response: abci.ResponseQuery{Code: 101, Log: "not found", Height: r.height + 1}}, nil
}

func (r *dropRPC) BroadcastTxSync(_ context.Context, tx types.Tx) (*ctypes.ResultBroadcastTx, error) {
	t, _, err := pb.DecodeTx(tx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nonces = append(r.nonces, t.Nonce)
	if !r.drop[t.Nonce] {
		r.height++
		h := sha256.Sum256(tx)
		r.included[string(h[:])] = r.height
	}
	delete(r.drop, t.Nonce) // only the first broadcast of that nonce is lost
	return &ctypes.ResultBroadcastTx{}, nil
}

func (r *dropRPC) Block(context.Context, *int64) (*ctypes.ResultBlock, error) {
	return nil, errors.New("dropRPC keeps no blocks")
}

func (r *dropRPC) Tx(_ context.Context, hash []byte, _ bool) (*ctypes.ResultTx, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.included[string(hash)]
	if !ok {
		return nil, errors.New("tx not found")
	}
	return &ctypes.ResultTx{Hash: hash, Height: h}, nil
}

// TestSubmitAllResendsDroppedAtOnce: when a later pipelined tx is in a
// block but an earlier one never arrives, SubmitAll sends the lost message
// again with a fresh nonce right away, instead of waiting ResendAfter
// (which could miss a reveal window), and every message ends up included.
func TestSubmitAllResendsDroppedAtOnce(t *testing.T) {
	rpc := &dropRPC{drop: map[uint64]bool{2: true}, included: map[string]int64{}}
	c, err := NewClient(context.Background(), rpc, ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	c.PollInterval, c.ResendAfter = time.Millisecond, time.Minute
	var msgs []*pb.Msg
	for i := range 3 {
		msgs = append(msgs, &pb.Msg{Sum: &pb.Msg_RevealChunk{RevealChunk: &pb.RevealChunk{TaskId: 1, Round: 1, Index: uint32(i)}}})
	}
	done := make(chan []Result)
	go func() { done <- c.SubmitAll(context.Background(), msgs) }()
	var res []Result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("SubmitAll waited for the dropped tx instead of resending it")
	}
	for i, r := range res {
		if r.Err != nil || r.Included == nil {
			t.Errorf("message %d: %+v", i, r)
		}
	}
	// Nonces 1-3 pipelined; 2 was lost, and its message went again as 4.
	if want := []uint64{1, 2, 3, 4}; !slices.Equal(rpc.nonces, want) {
		t.Errorf("broadcast nonces %v, want %v", rpc.nonces, want)
	}
}
