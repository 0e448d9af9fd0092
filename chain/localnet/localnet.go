package localnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/node"
)

// NetworkSettings are the limits for update traffic (see package node).
type NetworkSettings = node.NetworkSettings

// DefaultNetwork returns node.DefaultNetwork().
func DefaultNetwork() NetworkSettings { return node.DefaultNetwork() }

// Config describes a local network.
type Config struct {
	// Validators is the number of validator nodes (1 or more).
	Validators int
	// Dir holds one CometBFT home per node (node0, node1, ...). Required.
	Dir string
	// ChainID of the network.
	ChainID string
	// AppState is the genesis app_state (chain.GenesisState as JSON).
	AppState []byte
	// BlockInterval is the pause after each block (CometBFT's timeout_commit).
	BlockInterval time.Duration
	// Host is the loopback address nodes listen on.
	Host string
	// Logger receives CometBFT's logs; nil discards them.
	Logger log.Logger
	// StartTimeout bounds how long Start waits for the first block.
	StartTimeout time.Duration
	// BasePort, when non-zero, fixes the ports: node i listens for peers on
	// BasePort+10·i and for RPC on BasePort+10·i+1. Zero picks free ports.
	BasePort int
	// NewApp, when set, opens the application a node runs instead of
	// fedledger's (see node.Options.NewApp).
	NewApp func(dir string) (abci.Application, error)
	// Network holds the limits that bound update traffic (zero fields:
	// CometBFT's defaults). DefaultConfig sets DefaultNetwork().
	Network NetworkSettings
}

// DefaultConfig returns a 4-validator network with fast blocks.
func DefaultConfig() Config {
	return Config{
		Validators:    4,
		ChainID:       "fedledger-local",
		BlockInterval: 100 * time.Millisecond,
		Host:          "127.0.0.1",
		StartTimeout:  60 * time.Second,
		Network:       DefaultNetwork(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Validators < 1 || c.Validators > 64:
		return fmt.Errorf("localnet: %d validators; want 1 to 64", c.Validators)
	case c.Dir == "":
		return errors.New("localnet: Config.Dir is empty; give a directory for the node homes")
	case c.ChainID == "":
		return errors.New("localnet: Config.ChainID is empty")
	case len(c.AppState) == 0:
		return errors.New("localnet: Config.AppState is empty; give the genesis participants")
	case c.BlockInterval < 0:
		return errors.New("localnet: negative BlockInterval")
	case net.ParseIP(c.Host) == nil || !net.ParseIP(c.Host).IsLoopback():
		return fmt.Errorf("localnet: Host %q is not a loopback address", c.Host)
	case c.BasePort < 0 || c.BasePort+10*c.Validators > 65535:
		return fmt.Errorf("localnet: base port %d leaves no room for %d validators", c.BasePort, c.Validators)
	}
	if err := c.Network.Validate(); err != nil {
		return err
	}
	if c.NewApp == nil {
		if _, err := chain.ParseGenesis(c.AppState); err != nil {
			return fmt.Errorf("localnet: %w", err)
		}
	}
	return nil
}

// Network is a running local network.
type Network struct {
	cfg   Config
	nodes []*Node
}

// Start writes the node homes (unless they exist already), starts every
// node, and returns once every node has committed a block, is no longer
// catching up, and is connected to every other node.
func Start(ctx context.Context, cfg Config) (*Network, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	nw, err := startNodes(cfg)
	for tries := 1; err != nil && errors.Is(err, errPortTaken) && tries < 3; tries++ {
		// Another process took a port between picking and listening: the
		// homes were fresh, so write them again with other ports.
		if rerr := os.RemoveAll(cfg.Dir); rerr != nil {
			return nil, rerr
		}
		nw, err = startNodes(cfg)
	}
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	if err := nw.WaitReady(wctx); err != nil {
		nw.Stop()
		return nil, err
	}
	return nw, nil
}

var errPortTaken = errors.New("localnet: port taken")

func startNodes(cfg Config) (*Network, error) {
	nw := &Network{cfg: cfg}
	fresh, err := nw.prepareHomes()
	if err != nil {
		return nil, err
	}
	for _, n := range nw.nodes {
		if err := n.Start(); err != nil {
			nw.Stop()
			if fresh && strings.Contains(err.Error(), "address already in use") {
				return nil, fmt.Errorf("%w: %v", errPortTaken, err)
			}
			return nil, err
		}
	}
	return nw, nil
}

// prepareHomes writes the node homes unless they exist, opens them, and
// reports whether it wrote them.
func (nw *Network) prepareHomes() (bool, error) {
	cfg := nw.cfg
	existing := 0
	for i := range cfg.Validators {
		if _, err := os.Stat(filepath.Join(node.HomeDir(cfg.Dir, i), "config", "genesis.json")); err == nil {
			existing++
		}
	}
	if existing != 0 && existing != cfg.Validators {
		return false, fmt.Errorf("localnet: %s holds %d of %d node homes; remove it or point Dir elsewhere", cfg.Dir, existing, cfg.Validators)
	}
	fresh := existing == 0
	if fresh {
		spec := node.NetworkSpec{
			Dir: cfg.Dir, ChainID: cfg.ChainID, AppState: cfg.AppState, Network: cfg.Network,
			Tune: func(c *cmtcfg.Config) { Tune(c, cfg.BlockInterval) },
		}
		for i := range cfg.Validators {
			e := node.Endpoint{Host: cfg.Host, P2PPort: cfg.BasePort + 10*i, RPCPort: cfg.BasePort + 10*i + 1}
			if cfg.BasePort == 0 {
				var err error
				if e.P2PPort, err = freePort(cfg.Host); err != nil {
					return false, err
				}
				if e.RPCPort, err = freePort(cfg.Host); err != nil {
					return false, err
				}
			}
			spec.Validators = append(spec.Validators, e)
		}
		if _, err := node.WriteHomes(spec); err != nil {
			return false, err
		}
	}
	for i := range cfg.Validators {
		n, err := node.Open(node.HomeDir(cfg.Dir, i), node.Options{Logger: cfg.Logger.With("node", i), NewApp: cfg.NewApp})
		if err != nil {
			return false, err
		}
		nw.nodes = append(nw.nodes, &Node{Node: n, Index: i, net: nw})
	}
	return fresh, nil
}

// Nodes returns the network's nodes.
func (nw *Network) Nodes() []*Node { return nw.nodes }

// ChainID returns the network's chain-id.
func (nw *Network) ChainID() string { return nw.cfg.ChainID }

// Stop stops every running node.
func (nw *Network) Stop() error {
	var errs []error
	for _, n := range nw.nodes {
		if err := n.Stop(); err != nil {
			errs = append(errs, err)
		}
		n.release() // the network is done with its ports
	}
	return errors.Join(errs...)
}

// WaitReady waits until every running node has a block, is not catching
// up, and is connected to every other running node.
func (nw *Network) WaitReady(ctx context.Context) error {
	running := 0
	for _, n := range nw.nodes {
		if n.Running() {
			running++
		}
	}
	for _, n := range nw.nodes {
		if !n.Running() {
			continue
		}
		if err := n.WaitReady(ctx); err != nil {
			return err
		}
		if err := n.WaitPeers(ctx, running-1); err != nil {
			return err
		}
	}
	return nil
}

// Agree checks that every running node holds the same block header (and so
// the same app hash) at every height from 1 to h, and returns the app hash
// the header at h+1 carries: the state after block h.
func (nw *Network) Agree(ctx context.Context, h int64) ([]byte, error) {
	var ref [][]byte
	var appHash []byte
	for _, n := range nw.nodes {
		if !n.Running() {
			continue
		}
		if err := n.WaitHeight(ctx, h+1); err != nil {
			return nil, err
		}
		c, err := n.Client()
		if err != nil {
			return nil, err
		}
		for height := int64(1); height <= h+1; height++ {
			hh := height
			blk, err := c.Block(ctx, &hh)
			if err != nil {
				return nil, fmt.Errorf("localnet: node %d block %d: %w", n.Index, height, err)
			}
			hash := blk.Block.Hash()
			if len(ref) < int(height) {
				ref = append(ref, hash)
				if height == h+1 {
					appHash = blk.Block.AppHash
				}
				continue
			}
			if !bytes.Equal(ref[height-1], hash) {
				return nil, fmt.Errorf("localnet: node %d disagrees at height %d: block %X, node 0 has %X", n.Index, height, hash, ref[height-1])
			}
		}
	}
	return appHash, nil
}
