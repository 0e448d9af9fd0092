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
// between the moment it is picked and the moment the node listens on it.
const (
	portLow  = 20000
	portHigh = 32000
)

var (
	portMu   sync.Mutex
	nextPort = portLow + (os.Getpid()*97)%(portHigh-portLow)
)

func freePort(host string) (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for tries := 0; tries < portHigh-portLow; tries++ {
		p := nextPort
		nextPort++
		if nextPort >= portHigh {
			nextPort = portLow
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("localnet: no free port on %s between %d and %d", host, portLow, portHigh)
}
