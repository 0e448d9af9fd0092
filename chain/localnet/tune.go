package localnet

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
)

// Tune sets what a network on one machine's loopback needs: short
// consensus timeouts (a round trip takes microseconds here, not the
// hundreds of milliseconds between hospitals), quick peer dials, no
// metrics, and blockInterval as timeout_commit. Homes for real machines
// keep CometBFT's timeouts (package node).
func Tune(c *cmtcfg.Config, blockInterval time.Duration) {
	c.P2P.AllowDuplicateIP = true
	c.P2P.HandshakeTimeout = 5 * time.Second
	c.P2P.DialTimeout = 3 * time.Second
	c.P2P.PersistentPeersMaxDialPeriod = 2 * time.Second
	c.P2P.FlushThrottleTimeout = 10 * time.Millisecond
	c.Instrumentation.Prometheus = false
	c.Consensus.TimeoutPropose = 1000 * time.Millisecond
	c.Consensus.TimeoutProposeDelta = 200 * time.Millisecond
	c.Consensus.TimeoutPrevote = 200 * time.Millisecond
	c.Consensus.TimeoutPrevoteDelta = 100 * time.Millisecond
	c.Consensus.TimeoutPrecommit = 200 * time.Millisecond
	c.Consensus.TimeoutPrecommitDelta = 100 * time.Millisecond
	c.Consensus.TimeoutCommit = blockInterval
	c.Consensus.PeerGossipSleepDuration = 10 * time.Millisecond
	c.RPC.TimeoutBroadcastTxCommit = 10 * time.Second
	c.LogLevel = "error"
}

// Ports are picked below Linux's ephemeral range (32768 and up), so that
// the outgoing connections of this or another process cannot take a port
// between the moment it is picked and the moment the node listens on it;
// and below 26000, which the command line's multi-process tests keep for
// the fixed ports of their testnets.
const (
	portLow  = 20000
	portHigh = 26000
)

// portWindow is the share of the range a process picks from first: the
// window its pid selects. Two processes whose pids fall in different
// windows never pick the same port, so a port a stopped node leaves free is
// not taken by another process's network (another package's tests, a
// bench beside them) before the node starts again on it.
const portWindow = 500

var (
	portMu      sync.Mutex
	windowStart = portLow + (os.Getpid()%((portHigh-portLow)/portWindow))*portWindow
	cursor      int // the next port of the window to try, from windowStart
)

// freePort returns a port that is free on host now: the next one of this
// process's window, or, when the whole window is taken, the first free one
// of the range after it.
func freePort(host string) (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	free := func(p int) bool {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	for i := 0; i < portWindow; i++ {
		p := windowStart + (cursor+i)%portWindow
		if free(p) {
			cursor = (cursor + i + 1) % portWindow
			return p, nil
		}
	}
	span := portHigh - portLow
	for i := 0; i < span; i++ {
		if p := portLow + (windowStart-portLow+portWindow+i)%span; free(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("localnet: no free port on %s between %d and %d", host, portLow, portHigh)
}
