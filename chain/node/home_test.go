package node_test

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/node"
)

func spec(t *testing.T, hosts ...string) node.NetworkSpec {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	st, err := json.Marshal(chain.GenesisState{Participants: []chain.GenesisParticipant{{Name: "admin", PubKey: pub, Role: "admin"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := node.NetworkSpec{Dir: t.TempDir(), ChainID: "c", AppState: st, Network: node.DefaultNetwork()}
	for i, h := range hosts {
		s.Validators = append(s.Validators, node.Endpoint{Host: h, P2PPort: 26656 + 10*i, RPCPort: 26657 + 10*i})
	}
	return s
}

// TestWriteHomesProductionTimeouts: homes for separate machines keep
// CometBFT's consensus timeouts, carry the network limits, dial the
// validators before them, and allow a shared IP only where two validators
// share a host; a second write into the same folder is refused.
func TestWriteHomesProductionTimeouts(t *testing.T) {
	s := spec(t, "10.0.0.1", "10.0.0.2", "10.0.0.2")
	homes, err := node.WriteHomes(s)
	if err != nil {
		t.Fatal(err)
	}
	def := cmtcfg.DefaultConfig()
	for i, h := range homes {
		n, err := node.Open(h, node.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := n.Config()
		if c.Consensus.TimeoutCommit != def.Consensus.TimeoutCommit || c.Consensus.TimeoutPrevote != def.Consensus.TimeoutPrevote {
			t.Errorf("node %d: timeouts commit %v prevote %v, want CometBFT's %v %v", i, c.Consensus.TimeoutCommit, c.Consensus.TimeoutPrevote, def.Consensus.TimeoutCommit, def.Consensus.TimeoutPrevote)
		}
		if c.P2P.SendRate != node.DefaultNetwork().P2PRate || c.Mempool.MaxTxBytes != node.DefaultNetwork().MaxTxBytes {
			t.Errorf("node %d: network limits not written: send rate %d, max tx %d", i, c.P2P.SendRate, c.Mempool.MaxTxBytes)
		}
		if peers := strings.Count(c.P2P.PersistentPeers, "@"); peers != i {
			t.Errorf("node %d dials %d peers, want %d", i, peers, i)
		}
		if c.P2P.AllowDuplicateIP != (i > 0) {
			t.Errorf("node %d: allow_duplicate_ip %v", i, c.P2P.AllowDuplicateIP)
		}
	}
	if _, err := node.WriteHomes(s); err == nil || !strings.Contains(err.Error(), "already holds a node home") {
		t.Errorf("second write: %v", err)
	}
}

// TestStartBadKeyFile: a node whose validator key file is broken does not
// start and says which file, instead of exiting the process as CometBFT's
// own loader does.
func TestStartBadKeyFile(t *testing.T) {
	s := spec(t, "127.0.0.1")
	homes, err := node.WriteHomes(s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(homes[0], node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(homes[0], "config", "priv_validator_key.json")
	if err := os.WriteFile(keyFile, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err == nil || !strings.Contains(err.Error(), "priv_validator_key.json") {
		n.Stop()
		t.Fatalf("start with a broken key file: %v", err)
	}
	if n.Running() {
		t.Error("node running after a failed start")
	}
	if _, err := node.Open(t.TempDir(), node.Options{}); err == nil {
		t.Error("opened a folder that is no node home")
	}
}

// TestWriteHomesHostNames: validators named by host name listen on every
// interface and are dialled by name; a host that is neither an IP nor a
// host name is refused.
func TestWriteHomesHostNames(t *testing.T) {
	homes, err := node.WriteHomes(spec(t, "val-1.cleveland.example", "10.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	n0, err := node.Open(homes[0], node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := n0.Config().P2P.ListenAddress; got != "tcp://0.0.0.0:26656" {
		t.Errorf("a named validator listens on %s, want every interface", got)
	}
	n1, err := node.Open(homes[1], node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if peers := n1.Config().P2P.PersistentPeers; !strings.Contains(peers, "@val-1.cleveland.example:26656") {
		t.Errorf("the second validator dials %q, want the first by name", peers)
	}
	for _, bad := range []string{"bad host", "-a.example", "a..b", "ümlaut.example"} {
		if _, err := node.WriteHomes(spec(t, bad)); err == nil || !strings.Contains(err.Error(), "host name") {
			t.Errorf("host %q: %v", bad, err)
		}
	}
}
