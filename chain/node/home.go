package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/chain"
)

// Endpoint is where one validator listens: its host and its P2P and RPC ports.
type Endpoint struct {
	Host    string
	P2PPort int
	RPCPort int
}

// NetworkSpec describes the node homes of a network, for WriteHomes.
type NetworkSpec struct {
	// Dir receives one home per validator: Dir/node0, Dir/node1, ...
	Dir string
	// ChainID of the network.
	ChainID string
	// AppState is the genesis app_state (chain.GenesisState as JSON).
	AppState []byte
	// Validators lists where each validator listens; node i dials the
	// nodes before it, so every pair is connected once.
	Validators []Endpoint
	// Network holds the limits for update traffic (DefaultNetwork()).
	Network NetworkSettings
	// Tune, when set, changes each node's config before it is written.
	// Nil keeps CometBFT's production timeouts.
	Tune func(*cmtcfg.Config)
	// GenesisTime of the chain; zero means now.
	GenesisTime time.Time
}

// Validate checks the spec.
func (s NetworkSpec) Validate() error {
	switch {
	case s.Dir == "":
		return errors.New("node: NetworkSpec.Dir is empty; give a folder for the node homes")
	case s.ChainID == "":
		return errors.New("node: NetworkSpec.ChainID is empty")
	case len(s.Validators) < 1 || len(s.Validators) > 64:
		return fmt.Errorf("node: %d validators; want 1 to 64", len(s.Validators))
	}
	if _, err := chain.ParseGenesis(s.AppState); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	for i, e := range s.Validators {
		if net.ParseIP(e.Host) == nil && !hostName(e.Host) {
			return fmt.Errorf("node: validator %d: host %q is neither an IP address nor a host name", i, e.Host)
		}
		if e.P2PPort < 1 || e.P2PPort > 65535 || e.RPCPort < 1 || e.RPCPort > 65535 {
			return fmt.Errorf("node: validator %d: ports %d and %d; want 1 to 65535", i, e.P2PPort, e.RPCPort)
		}
	}
	return s.Network.Validate()
}

// hostName reports whether s is a DNS host name (RFC 1123): dot-separated
// labels of letters, digits and inner hyphens, 1 to 63 bytes each.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// HomeDir is the home of validator i under dir.
func HomeDir(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("node%d", i)) }

// WriteHomes writes a standard CometBFT home for every validator of spec
// (config.toml, genesis.json with the fedledger app_state, validator and
// node keys, persistent peers) and returns their paths. It refuses a Dir
// that already holds a home.
func WriteHomes(spec NetworkSpec) ([]string, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	hostCount := map[string]int{}
	for _, e := range spec.Validators {
		hostCount[e.Host]++
	}
	var (
		cfgs    []*cmtcfg.Config
		genVals []types.GenesisValidator
		peers   []string
	)
	for i, e := range spec.Validators {
		home := HomeDir(spec.Dir, i)
		if _, err := os.Stat(filepath.Join(home, "config")); err == nil {
			return nil, fmt.Errorf("node: %s already holds a node home; remove it or choose another folder", home)
		}
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
				return nil, err
			}
		}
		c := cmtcfg.DefaultConfig()
		c.SetRoot(home)
		c.Moniker = fmt.Sprintf("node%d", i)
		// A validator named by its host name listens on every interface
		// (a name may resolve to an address the machine does not hold
		// itself, behind NAT); its peers dial the name.
		listen := e.Host
		if net.ParseIP(e.Host) == nil {
			listen = "0.0.0.0"
		}
		c.P2P.ListenAddress = fmt.Sprintf("tcp://%s", net.JoinHostPort(listen, fmt.Sprint(e.P2PPort)))
		c.RPC.ListenAddress = fmt.Sprintf("tcp://%s", net.JoinHostPort(listen, fmt.Sprint(e.RPCPort)))
		// A consortium's validators dial each other on private addresses
		// given as persistent peers; several may share a host.
		c.P2P.AddrBookStrict = false
		c.P2P.PexReactor = false
		c.P2P.AllowDuplicateIP = hostCount[e.Host] > 1
		spec.Network.Apply(c)
		if spec.Tune != nil {
			spec.Tune(c)
		}
		pv := privval.GenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
		pv.Save()
		nodeKey, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
		if err != nil {
			return nil, fmt.Errorf("node: node key of node %d: %w", i, err)
		}
		pub, err := pv.GetPubKey()
		if err != nil {
			return nil, err
		}
		genVals = append(genVals, types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: c.Moniker})
		peers = append(peers, fmt.Sprintf("%s@%s", nodeKey.ID(), net.JoinHostPort(e.Host, fmt.Sprint(e.P2PPort))))
		cfgs = append(cfgs, c)
	}
	params := types.DefaultConsensusParams()
	if spec.Network.BlockMaxBytes > 0 {
		params.Block.MaxBytes = spec.Network.BlockMaxBytes
	}
	genTime := spec.GenesisTime
	if genTime.IsZero() {
		genTime = time.Now()
	}
	gen := types.GenesisDoc{
		ChainID:         spec.ChainID,
		GenesisTime:     genTime.UTC().Truncate(time.Second),
		ConsensusParams: params,
		Validators:      genVals,
		AppState:        spec.AppState,
	}
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("node: genesis: %w", err)
	}
	homes := make([]string, len(cfgs))
	for i, c := range cfgs {
		// Node i dials only the nodes before it: every pair is connected
		// once, and a restarted node is not refused as a "duplicate ID"
		// because a peer dialled it at the same moment it dialled the peer.
		c.P2P.PersistentPeers = strings.Join(peers[:i], ",")
		if err := gen.SaveAs(c.GenesisFile()); err != nil {
			return nil, err
		}
		cmtcfg.WriteConfigFile(filepath.Join(c.RootDir, "config", "config.toml"), c)
		homes[i] = c.RootDir
	}
	return homes, nil
}
