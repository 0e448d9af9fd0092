package localnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/p2p"

	"github.com/fedledger/fedledger/chain/node"
)

// Node is one validator of a local network: a node.Node with its index,
// and the waits tests need.
type Node struct {
	*node.Node
	Index int
	net   *Network // for the other nodes' addresses, see move

	mu      sync.Mutex
	started time.Time
	held    []func() // frees the stopped node's ports, see Stop
	moved   int      // see Moved
}

// dialSettle is how long a node must have run before Stop: CometBFT dials
// persistent peers after a random delay of up to 3 s, and a dial that lands
// after Stop leaves a connection its peer keeps, refusing the restarted node
// as a "duplicate ID" until the connection times out. It matters only to
// nodes stopped and started again in one process, as tests do.
const dialSettle = 3500 * time.Millisecond

// Start starts the node (again) on its home. If another process took one
// of its ports while it was stopped (Stop cannot hold a port that still has
// connections in TIME_WAIT), it moves to free ports, dials every other node
// itself (they dial the address it left), and says so in Moved.
func (n *Node) Start() error {
	n.release()
	err := n.Node.Start()
	if err != nil && n.net != nil && isPortTaken(err) {
		if merr := n.move(); merr != nil {
			return errors.Join(err, merr)
		}
		err = n.Node.Start()
	}
	if err != nil {
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

// isPortTaken reports whether a start failed because a port was in use.
func isPortTaken(err error) bool { return strings.Contains(err.Error(), "address already in use") }

// move gives the stopped node free P2P and RPC ports, a new node ID, and
// makes it dial every other node of the network. The new ID matters: a
// peer that redialled the node while it was stopping may still hold that
// connection (CometBFT does not close a connection accepted during Stop),
// and would refuse the node's old ID as a duplicate until it times out.
// The validator key, which is what consensus knows, stays.
func (n *Node) move() error {
	c := n.Config()
	host, _, err := net.SplitHostPort(strings.TrimPrefix(c.P2P.ListenAddress, "tcp://"))
	if err != nil {
		return fmt.Errorf("localnet: node %d: %w", n.Index, err)
	}
	p2pPort, err := freePort(host)
	if err != nil {
		return err
	}
	rpcPort, err := freePort(host)
	if err != nil {
		return err
	}
	var peers []string
	for _, o := range n.net.nodes {
		if o == n {
			continue
		}
		key, err := p2p.LoadNodeKey(o.Config().NodeKeyFile())
		if err != nil {
			return fmt.Errorf("localnet: node %d: %w", o.Index, err)
		}
		peers = append(peers, string(key.ID())+"@"+strings.TrimPrefix(o.Config().P2P.ListenAddress, "tcp://"))
	}
	// Everything is known: now change the node, key first.
	if err := os.Remove(c.NodeKeyFile()); err != nil {
		return fmt.Errorf("localnet: node %d: new node key: %w", n.Index, err)
	}
	if _, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile()); err != nil {
		return fmt.Errorf("localnet: node %d: new node key: %w", n.Index, err)
	}
	c.P2P.ListenAddress = "tcp://" + net.JoinHostPort(host, strconv.Itoa(p2pPort))
	c.RPC.ListenAddress = "tcp://" + net.JoinHostPort(host, strconv.Itoa(rpcPort))
	c.P2P.PersistentPeers = strings.Join(peers, ",")
	n.mu.Lock()
	n.moved++
	n.mu.Unlock()
	return nil
}

// Moved reports how many times Start found a port taken and moved the
// node to other ports (its RPCAddress changes with it).
func (n *Node) Moved() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.moved
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
