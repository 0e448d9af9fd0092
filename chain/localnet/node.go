package localnet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fedledger/fedledger/chain/node"
)

// Node is one validator of a local network: a node.Node with its index,
// and the waits tests need.
type Node struct {
	*node.Node
	Index int

	mu      sync.Mutex
	started time.Time
	held    []func() // frees the stopped node's ports, see Stop
}

// dialSettle is how long a node must have run before Stop: CometBFT dials
// persistent peers after a random delay of up to 3 s, and a dial that lands
// after Stop leaves a connection its peer keeps, refusing the restarted node
// as a "duplicate ID" until the connection times out. It matters only to
// nodes stopped and started again in one process, as tests do.
const dialSettle = 3500 * time.Millisecond

// Start starts the node (again) on its home.
func (n *Node) Start() error {
	n.release()
	if err := n.Node.Start(); err != nil {
		return err
	}
	n.mu.Lock()
	n.started = time.Now()
	n.mu.Unlock()
	return nil
}

// Stop stops the node once it has run for dialSettle; its home stays, so
// Start resumes it. The wait holds no lock.
func (n *Node) Stop() error {
	if !n.Running() {
		return nil
	}
	n.mu.Lock()
	wait := dialSettle - time.Since(n.started)
	n.mu.Unlock()
	if wait > 0 {
		time.Sleep(wait)
	}
	if err := n.Node.Stop(); err != nil {
		return err
	}
	// Keep the ports until Start, so that no other process on the machine
	// (another package's tests, a bench beside them) takes them; a held
	// port refuses connections, as a stopped node's does.
	n.mu.Lock()
	for _, a := range []string{n.Config().P2P.ListenAddress, n.Config().RPC.ListenAddress} {
		if free := holdPort(a); free != nil {
			n.held = append(n.held, free)
		}
	}
	n.mu.Unlock()
	return nil
}

// release frees the ports Stop held.
func (n *Node) release() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, free := range n.held {
		free()
	}
	n.held = nil
}

// poll calls ready every 50 ms until it reports true or ctx ends; the
// error then says what the last call saw.
func (n *Node) poll(ctx context.Context, what string, ready func() (bool, string)) error {
	for {
		ok, last := ready()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localnet: node %d: %s: %s: %w", n.Index, what, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitReady waits until the node has committed a block and is not catching up.
func (n *Node) WaitReady(ctx context.Context) error {
	c, err := n.Client()
	if err != nil {
		return err
	}
	return n.poll(ctx, "not ready", func() (bool, string) {
		st, err := c.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		return !st.SyncInfo.CatchingUp && st.SyncInfo.LatestBlockHeight >= 1,
			fmt.Sprintf("height %d, catching up %v", st.SyncInfo.LatestBlockHeight, st.SyncInfo.CatchingUp)
	})
}

// WaitHeight waits until the node has committed height h.
func (n *Node) WaitHeight(ctx context.Context, h int64) error {
	c, err := n.Client()
	if err != nil {
		return err
	}
	return n.poll(ctx, fmt.Sprintf("did not reach height %d", h), func() (bool, string) {
		st, err := c.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		return st.SyncInfo.LatestBlockHeight >= h, fmt.Sprintf("at height %d", st.SyncInfo.LatestBlockHeight)
	})
}

// WaitPeers waits until the node is connected to at least peers peers.
func (n *Node) WaitPeers(ctx context.Context, peers int) error {
	c, err := n.Client()
	if err != nil {
		return err
	}
	return n.poll(ctx, fmt.Sprintf("want %d peers", peers), func() (bool, string) {
		ni, err := c.NetInfo(ctx)
		if err != nil {
			return false, err.Error()
		}
		return ni.NPeers >= peers, fmt.Sprintf("has %d", ni.NPeers)
	})
}
