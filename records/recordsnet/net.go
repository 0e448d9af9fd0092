package recordsnet

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/fl"
)

// Config describes the network.
type Config struct {
	Dir        string            // homes of the nodes (required)
	Validators int               // default 1
	People     map[string]string // name → role (admin, researcher, hospital, reviewer)
	// BlockInterval is the pause after each block (default 100 ms).
	BlockInterval time.Duration
	Logger        log.Logger
}

// DefaultPeople are two hospitals, a researcher, a reviewer and an admin.
func DefaultPeople() map[string]string {
	return map[string]string{"admin": "admin", "researcher": "researcher", "reviewer": "reviewer",
		"north": "hospital", "south": "hospital"}
}

// Key is the demonstration key of a name.
func Key(name string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte("fedledger records demo key " + name))
	return ed25519.NewKeyFromSeed(s[:])
}

// Pub is Key(name)'s public key.
func Pub(name string) []byte { return []byte(Key(name).Public().(ed25519.PublicKey)) }

// Net is a running network.
type Net struct {
	*localnet.Network
	Genesis *types.GenesisDoc
}

// Start starts the network and waits for its first blocks.
func Start(ctx context.Context, cfg Config) (*Net, error) {
	if cfg.Validators == 0 {
		cfg.Validators = 1
	}
	if cfg.People == nil {
		cfg.People = DefaultPeople()
	}
	var gen chain.GenesisState
	for name, role := range cfg.People {
		gen.Participants = append(gen.Participants, chain.GenesisParticipant{Name: name, PubKey: Pub(name), Role: role})
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		return nil, err
	}
	ncfg := localnet.DefaultConfig()
	ncfg.Validators, ncfg.Dir, ncfg.AppState, ncfg.ChainID = cfg.Validators, cfg.Dir, appState, "fedledger-records"
	if cfg.BlockInterval > 0 {
		ncfg.BlockInterval = cfg.BlockInterval
	}
	ncfg.Logger = cfg.Logger
	nw, err := localnet.Start(ctx, ncfg)
	if err != nil {
		return nil, err
	}
	if err := nw.Nodes()[0].WaitHeight(ctx, 2); err != nil {
		nw.Stop()
		return nil, err
	}
	doc, err := types.GenesisDocFromFile(filepath.Join(nw.Nodes()[0].Home(), "config", "genesis.json"))
	if err != nil {
		nw.Stop()
		return nil, err
	}
	return &Net{Network: nw, Genesis: doc}, nil
}

// Addrs are the nodes' RPC addresses, comma-separated.
func (n *Net) Addrs() string {
	var a []string
	for _, nd := range n.Nodes() {
		a = append(a, nd.RPCAddress())
	}
	return strings.Join(a, ",")
}

// Client dials the network as name, with a light client that trusts the
// genesis verifying every proved answer.
func (n *Net) Client(ctx context.Context, name string) (*fl.Client, error) {
	addrs := n.Addrs()
	c, err := fl.Dial(ctx, addrs, Key(name))
	if err != nil {
		return nil, err
	}
	nodes := strings.Split(addrs, ",")
	v, err := fl.NewLightVerifier(ctx, c.ChainID(), fl.TrustRoot{Genesis: n.Genesis}, c.LatestHeight, nodes[0], nodes[1:]...)
	if err != nil {
		return nil, fmt.Errorf("recordsnet: light client: %w", err)
	}
	c.Verifier = v
	return c, nil
}
