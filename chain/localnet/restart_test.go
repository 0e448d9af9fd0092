package localnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fedledger/fedledger/chain"
)

func testNetwork(t *testing.T) *Network {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	st, _ := json.Marshal(chain.GenesisState{Participants: []chain.GenesisParticipant{{Name: "admin", PubKey: pub, Role: "admin"}}})
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.AppState = st
	nw, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nw.Stop() })
	return nw
}

// TestRestartNode stops a validator (the last one, then the first one, whose
// peers must dial it back, then the first one again while another process
// takes its ports), lets the others go on without it, starts it again, and
// checks it catches up to the same blocks and app hash.
func TestRestartNode(t *testing.T) {
	nw := testNetwork(t)
	for _, step := range []struct {
		node  int
		taken bool // another process binds the node's ports while it is down
	}{{3, false}, {0, false}, {0, true}} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		n, other := nw.Nodes()[step.node], nw.Nodes()[(step.node+1)%4]
		h0, _ := n.App().LastCommit()
		if err := n.Stop(); err != nil {
			t.Fatal(err)
		}
		if step.taken {
			n.release()
			for _, a := range []string{n.Config().P2P.ListenAddress, n.Config().RPC.ListenAddress} {
				l, err := net.Listen("tcp", strings.TrimPrefix(a, "tcp://"))
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
		}
		if err := other.WaitHeight(ctx, h0+10); err != nil {
			t.Fatalf("network stalled without node %d: %v", step.node, err)
		}
		moved := n.Moved()
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		// Where the test takes the ports, the node must move; elsewhere it
		// may move too, when another process on the machine took them.
		if got := n.Moved() - moved; step.taken && got != 1 {
			t.Fatalf("node %d moved %d times; its ports were taken", step.node, got)
		}
		t0 := time.Now()
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := n.WaitHeight(ctx, h0+12); err != nil {
			t.Fatal(err)
		}
		if err := n.WaitPeers(ctx, 3); err != nil {
			t.Fatal(err)
		}
		t.Logf("node %d caught up and peered %v after its restart (ports taken by the test: %v; moved: %d)", step.node, time.Since(t0), step.taken, n.Moved()-moved)
		h, appHash := n.App().LastCommit()
		want, err := nw.Agree(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(appHash, want) {
			t.Fatalf("node %d app hash at %d is %X, the chain's %X", step.node, h, appHash, want)
		}
		cancel()
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Dir = "x"
	good.AppState = []byte(`{"participants":[{"name":"a","pub_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","role":"admin"}]}`)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"validators": func(c *Config) { c.Validators = 0 },
		"dir":        func(c *Config) { c.Dir = "" },
		"chain id":   func(c *Config) { c.ChainID = "" },
		"app state":  func(c *Config) { c.AppState = []byte(`{"participants":[]}`) },
		"host":       func(c *Config) { c.Host = "10.0.0.1" },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: bad config accepted", name)
		}
	}
}
