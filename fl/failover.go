package fl

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"

	"github.com/cometbft/cometbft/libs/bytes"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
)

// Failover is an RPC over several nodes: calls go to the current node, and
// a call that cannot reach it (a transport error, not an answer the node
// gave) is tried on the next node, round the list once. The node that
// answered stays current. Safe for concurrent use.
type Failover struct {
	mu    sync.Mutex
	nodes []RPC
	cur   int
	// OnSwitch, when set, is told the index of the node now current.
	OnSwitch func(i int)
}

var _ RPC = (*Failover)(nil)

// NewFailover returns an RPC over nodes, starting with the first.
func NewFailover(nodes ...RPC) *Failover { return &Failover{nodes: nodes} }

// unreachable reports whether err means the node could not be reached
// (connection refused, reset, timed out), as opposed to an answer.
func unreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// call runs f on the current node, then on the others while they cannot
// be reached.
func (f *Failover) call(ctx context.Context, fn func(RPC) error) error {
	f.mu.Lock()
	start := f.cur
	f.mu.Unlock()
	var err error
	for k := range f.nodes {
		i := (start + k) % len(f.nodes)
		if err = fn(f.nodes[i]); err == nil || !unreachable(err) || ctx.Err() != nil {
			if k > 0 && err == nil {
				f.mu.Lock()
				f.cur = i
				f.mu.Unlock()
				if f.OnSwitch != nil {
					f.OnSwitch(i)
				}
			}
			return err
		}
	}
	return err
}

// Status of the first reachable node.
func (f *Failover) Status(ctx context.Context) (r *ctypes.ResultStatus, err error) {
	err = f.call(ctx, func(n RPC) error { r, err = n.Status(ctx); return err })
	return r, err
}

// ABCIQueryWithOptions on the first reachable node.
func (f *Failover) ABCIQueryWithOptions(ctx context.Context, path string, data bytes.HexBytes, opts rpcclient.ABCIQueryOptions) (r *ctypes.ResultABCIQuery, err error) {
	err = f.call(ctx, func(n RPC) error { r, err = n.ABCIQueryWithOptions(ctx, path, data, opts); return err })
	return r, err
}

// Current is the index of the node calls go to first.
func (f *Failover) Current() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// Skip makes the next node current: the client calls it when the current
// node's answer was a lie, so that the next call asks another node.
func (f *Failover) Skip() {
	f.mu.Lock()
	f.cur = (f.cur + 1) % len(f.nodes)
	i := f.cur
	f.mu.Unlock()
	if f.OnSwitch != nil {
		f.OnSwitch(i)
	}
}

// BroadcastTxSync to the first reachable node.
func (f *Failover) BroadcastTxSync(ctx context.Context, tx types.Tx) (r *ctypes.ResultBroadcastTx, err error) {
	err = f.call(ctx, func(n RPC) error { r, err = n.BroadcastTxSync(ctx, tx); return err })
	return r, err
}

// Tx from the first reachable node.
func (f *Failover) Tx(ctx context.Context, hash []byte, prove bool) (r *ctypes.ResultTx, err error) {
	err = f.call(ctx, func(n RPC) error { r, err = n.Tx(ctx, hash, prove); return err })
	return r, err
}

// Block from the first reachable node.
func (f *Failover) Block(ctx context.Context, height *int64) (r *ctypes.ResultBlock, err error) {
	err = f.call(ctx, func(n RPC) error { r, err = n.Block(ctx, height); return err })
	return r, err
}
