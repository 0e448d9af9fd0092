package localnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/chain"
)

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
	// Hosts, when set, gives each validator its own address (WriteHomes
	// only: for a network spread over machines); else every node uses Host.
	Hosts []string
	// BasePort, when non-zero, fixes the ports: node i listens for peers on
	// BasePort+10·i and for RPC on BasePort+10·i+1. Zero picks free ports.
	BasePort int
	// NewApp, when set, opens the application a node runs instead of
	// fedledger's (benchmarks compare against CometBFT's kvstore example).
	// dir is the node's app data directory. An app that is an io.Closer is
	// closed when its node stops. Such apps are called through one lock
	// (proxy.NewLocalClientCreator), as CometBFT's examples expect.
	NewApp func(dir string) (abci.Application, error)
	// Network holds the limits that bound update traffic (zero fields:
	// CometBFT's defaults). DefaultConfig sets DefaultNetwork().
	Network NetworkSettings
}

// NetworkSettings are the CometBFT limits that decide how many update
// bytes a network orders per second and how large a transaction may be.
// A zero field keeps CometBFT's default (given in brackets).
type NetworkSettings struct {
	// BlockMaxBytes is the genesis consensus parameter block.max_bytes [4 MiB].
	BlockMaxBytes int64
	// MaxTxBytes is mempool.max_tx_bytes, the largest transaction [1 MiB].
	MaxTxBytes int
	// MempoolMaxTxsBytes is mempool.max_txs_bytes, all pending txs [64 MiB].
	MempoolMaxTxsBytes int64
	// RPCMaxBodyBytes is rpc.max_body_bytes, the largest request [1 MB];
	// a tx travels base64-encoded in JSON, so it needs 4/3 of MaxTxBytes.
	RPCMaxBodyBytes int64
	// P2PRate is p2p.send_rate and p2p.recv_rate in bytes/s per peer [5 MB/s].
	P2PRate int64
	// MaxPacketPayload is p2p.max_packet_msg_payload_size [1 kB].
	MaxPacketPayload int
}

// DefaultNetwork returns settings chosen for update traffic between
// hospitals: blocks of 8 MiB carry two int32 updates of a million
// parameters or dozens of compressed ones; 1 MiB transactions (updates
// larger than 512 KiB go as chunk transactions, see fl.DefaultChunkSize);
// an RPC body that fits the largest transaction base64-encoded; a 256 MiB
// mempool (a round of 40 hospitals × 4 MB with room to spare); peers
// exchanging up to 64 MB/s in 16 kB packets instead of 5 MB/s in 1 kB
// ones. Lower P2PRate to what the links between sites carry.
func DefaultNetwork() NetworkSettings {
	return NetworkSettings{
		BlockMaxBytes:      8 << 20,
		MaxTxBytes:         1 << 20,
		MempoolMaxTxsBytes: 256 << 20,
		RPCMaxBodyBytes:    3 << 20,
		P2PRate:            64_000_000,
		MaxPacketPayload:   16 << 10,
	}
}

// apply writes the settings into a node's config.
func (s NetworkSettings) apply(c *cmtcfg.Config) {
	if s.MaxTxBytes > 0 {
		c.Mempool.MaxTxBytes = s.MaxTxBytes
	}
	if s.MempoolMaxTxsBytes > 0 {
		c.Mempool.MaxTxsBytes = s.MempoolMaxTxsBytes
	}
	if s.RPCMaxBodyBytes > 0 {
		c.RPC.MaxBodyBytes = s.RPCMaxBodyBytes
	}
	if s.P2PRate > 0 {
		c.P2P.SendRate, c.P2P.RecvRate = s.P2PRate, s.P2PRate
	}
	if s.MaxPacketPayload > 0 {
		c.P2P.MaxPacketMsgPayloadSize = s.MaxPacketPayload
	}
}

// TxLimit is the largest transaction the nodes take: MaxTxBytes, or
// CometBFT's default when it is zero.
func (s NetworkSettings) TxLimit() int {
	if s.MaxTxBytes > 0 {
		return s.MaxTxBytes
	}
	return cmtcfg.DefaultMempoolConfig().MaxTxBytes
}

// validate checks the settings against each other.
func (s NetworkSettings) validate() error {
	if s.BlockMaxBytes < 0 || s.MaxTxBytes < 0 || s.MempoolMaxTxsBytes < 0 || s.RPCMaxBodyBytes < 0 || s.P2PRate < 0 || s.MaxPacketPayload < 0 {
		return errors.New("localnet: negative network setting")
	}
	block, tx := s.BlockMaxBytes, int64(s.TxLimit())
	if block == 0 {
		block = types.DefaultBlockParams().MaxBytes
	}
	if tx > block {
		return fmt.Errorf("localnet: max tx bytes %d exceed block max bytes %d; no block could hold such a tx", tx, block)
	}
	return nil
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
	case len(c.Hosts) != 0 && len(c.Hosts) != c.Validators:
		return fmt.Errorf("localnet: %d hosts for %d validators; give one per validator", len(c.Hosts), c.Validators)
	case c.BasePort < 0 || c.BasePort+10*c.Validators > 65535:
		return fmt.Errorf("localnet: base port %d leaves no room for %d validators", c.BasePort, c.Validators)
	}
	if err := c.Network.validate(); err != nil {
		return err
	}
	for _, h := range c.Hosts {
		if net.ParseIP(h) == nil {
			return fmt.Errorf("localnet: host %q is not an IP address", h)
		}
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

// Node is one validator: its CometBFT home, node and app.
type Node struct {
	Index  int
	Home   string
	cfg    *cmtcfg.Config
	logger log.Logger

	newApp func(dir string) (abci.Application, error) // nil: chain.NewApp

	mu      sync.Mutex
	node    *nm.Node
	app     abci.Application
	dbs     []*onceDB // every CometBFT database the node opened
	started time.Time
}

// dialSettle is how long a node must have run before Stop: CometBFT dials
// persistent peers after a random delay of up to 3 s, and a dial that lands
// after Stop leaves a connection its peer keeps, refusing the restarted node
// as a "duplicate ID" until the connection times out.
const dialSettle = 3500 * time.Millisecond

// onceDB guards a CometBFT database against use after Close. CometBFT
// v1.0's node.Stop closes the block and state stores but not the indexers',
// and goroutines of a stopped node (the consensus reactor's per-peer
// routines, the indexer service between two events) may still touch a
// store for a moment; Pebble panics on any use of a closed DB. Close takes
// the write lock, so it waits for every call in flight; after Close, reads
// find nothing, writes fail with errDBClosed (CometBFT logs them) and
// Close is a no-op.
type onceDB struct {
	dbm.DB
	mu     sync.RWMutex
	closed bool
	err    error
}

// errDBClosed is what a write to a database of a stopped node returns.
var errDBClosed = errors.New("localnet: database closed: node stopped")

// do runs f under the read lock unless the database is closed.
func (d *onceDB) do(f func() error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return errDBClosed
	}
	return f()
}

func (d *onceDB) Get(key []byte) (v []byte, err error) {
	err = d.do(func() error { v, err = d.DB.Get(key); return err })
	if errors.Is(err, errDBClosed) {
		return nil, nil
	}
	return v, err
}

func (d *onceDB) Has(key []byte) (ok bool, err error) {
	err = d.do(func() error { ok, err = d.DB.Has(key); return err })
	if errors.Is(err, errDBClosed) {
		return false, nil
	}
	return ok, err
}

func (d *onceDB) Set(k, v []byte) error     { return d.do(func() error { return d.DB.Set(k, v) }) }
func (d *onceDB) SetSync(k, v []byte) error { return d.do(func() error { return d.DB.SetSync(k, v) }) }
func (d *onceDB) Delete(k []byte) error     { return d.do(func() error { return d.DB.Delete(k) }) }
func (d *onceDB) DeleteSync(k []byte) error { return d.do(func() error { return d.DB.DeleteSync(k) }) }
func (d *onceDB) Print() error              { return d.do(d.DB.Print) }
func (d *onceDB) Compact(start, end []byte) error {
	return d.do(func() error { return d.DB.Compact(start, end) })
}

func (d *onceDB) Stats() map[string]string {
	var st map[string]string
	_ = d.do(func() error { st = d.DB.Stats(); return nil })
	return st
}

func (d *onceDB) Iterator(start, end []byte) (it dbm.Iterator, err error) {
	err = d.do(func() error { it, err = d.DB.Iterator(start, end); return err })
	if err != nil {
		return nil, err
	}
	return &onceIter{Iterator: it, db: d}, nil
}

func (d *onceDB) ReverseIterator(start, end []byte) (it dbm.Iterator, err error) {
	err = d.do(func() error { it, err = d.DB.ReverseIterator(start, end); return err })
	if err != nil {
		return nil, err
	}
	return &onceIter{Iterator: it, db: d}, nil
}

func (d *onceDB) NewBatch() dbm.Batch {
	var b dbm.Batch
	if err := d.do(func() error { b = d.DB.NewBatch(); return nil }); err != nil {
		return closedBatch{}
	}
	return &onceBatch{Batch: b, db: d}
}

func (d *onceDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.err = d.DB.Close()
	}
	return d.err
}

// onceBatch is a batch whose writes fail once its database is closed.
type onceBatch struct {
	dbm.Batch
	db *onceDB
}

func (b *onceBatch) Write() error     { return b.db.do(b.Batch.Write) }
func (b *onceBatch) WriteSync() error { return b.db.do(b.Batch.WriteSync) }
func (b *onceBatch) Close() error {
	if err := b.db.do(b.Batch.Close); err != nil && !errors.Is(err, errDBClosed) {
		return err
	}
	return nil
}

// closedBatch is the batch of a closed database: it takes nothing.
type closedBatch struct{}

func (closedBatch) Set(_, _ []byte) error { return errDBClosed }
func (closedBatch) Delete([]byte) error   { return errDBClosed }
func (closedBatch) Write() error          { return errDBClosed }
func (closedBatch) WriteSync() error      { return errDBClosed }
func (closedBatch) Close() error          { return nil }

// onceIter is an iterator that reads as exhausted once its database is
// closed.
type onceIter struct {
	dbm.Iterator
	db *onceDB
}

func (it *onceIter) Valid() bool {
	ok := false
	_ = it.db.do(func() error { ok = it.Iterator.Valid(); return nil })
	return ok
}

func (it *onceIter) Next() { _ = it.db.do(func() error { it.Iterator.Next(); return nil }) }

func (it *onceIter) Key() (k []byte) {
	_ = it.db.do(func() error { k = it.Iterator.Key(); return nil })
	return k
}

func (it *onceIter) Value() (v []byte) {
	_ = it.db.do(func() error { v = it.Iterator.Value(); return nil })
	return v
}

func (it *onceIter) Error() error {
	var err error
	if e := it.db.do(func() error { err = it.Iterator.Error(); return nil }); e != nil {
		return e
	}
	return err
}

func (it *onceIter) Close() error {
	if err := it.db.do(it.Iterator.Close); err != nil && !errors.Is(err, errDBClosed) {
		return err
	}
	return nil
}

// Start writes the node homes (unless they exist already), starts every
// node, and returns once every node has committed a block and is no longer
// catching up.
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

// prepareHomes writes the node homes unless they exist, and reports whether
// it wrote them.
func (nw *Network) prepareHomes() (bool, error) {
	cfg := nw.cfg
	homes := make([]string, cfg.Validators)
	existing := 0
	for i := range homes {
		homes[i] = filepath.Join(cfg.Dir, fmt.Sprintf("node%d", i))
		if _, err := os.Stat(filepath.Join(homes[i], "config", "genesis.json")); err == nil {
			existing++
		}
	}
	if existing != 0 && existing != len(homes) {
		return false, fmt.Errorf("localnet: %s holds %d of %d node homes; remove it or point Dir elsewhere", cfg.Dir, existing, len(homes))
	}
	fresh := existing == 0
	var genVals []types.GenesisValidator
	var peers []string
	for i, home := range homes {
		c := cmtcfg.DefaultConfig()
		c.SetRoot(home)
		cfgFile := filepath.Join(home, "config", "config.toml")
		if fresh {
			if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
				return false, err
			}
			if err := os.MkdirAll(filepath.Join(home, "data"), 0o700); err != nil {
				return false, err
			}
			host := cfg.Host
			if len(cfg.Hosts) > 0 {
				host = cfg.Hosts[i]
			}
			p2pPort, rpcPort := cfg.BasePort+10*i, cfg.BasePort+10*i+1
			if cfg.BasePort == 0 {
				var err error
				if p2pPort, err = freePort(host); err != nil {
					return false, err
				}
				if rpcPort, err = freePort(host); err != nil {
					return false, err
				}
			}
			c.Moniker = fmt.Sprintf("node%d", i)
			c.P2P.ListenAddress = fmt.Sprintf("tcp://%s:%d", host, p2pPort)
			c.RPC.ListenAddress = fmt.Sprintf("tcp://%s:%d", host, rpcPort)
			tune(c, cfg.BlockInterval)
			cfg.Network.apply(c)
		} else {
			if err := readConfig(cfgFile, c); err != nil {
				return false, err
			}
		}
		pv, err := privval.LoadOrGenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile(), func() (cmtcryptoPrivKey, error) {
			return ed25519.GenPrivKey(), nil
		})
		if err != nil {
			return false, fmt.Errorf("localnet: validator key of node %d: %w", i, err)
		}
		nodeKey, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
		if err != nil {
			return false, fmt.Errorf("localnet: node key of node %d: %w", i, err)
		}
		pub, err := pv.GetPubKey()
		if err != nil {
			return false, err
		}
		genVals = append(genVals, types.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: c.Moniker})
		peers = append(peers, fmt.Sprintf("%s@%s", nodeKey.ID(), strings.TrimPrefix(c.P2P.ListenAddress, "tcp://")))
		nw.nodes = append(nw.nodes, &Node{Index: i, Home: home, cfg: c, logger: cfg.Logger.With("node", i), newApp: cfg.NewApp})
	}
	if !fresh {
		return false, nil
	}
	params := types.DefaultConsensusParams()
	if cfg.Network.BlockMaxBytes > 0 {
		params.Block.MaxBytes = cfg.Network.BlockMaxBytes
	}
	gen := types.GenesisDoc{
		ChainID:         cfg.ChainID,
		GenesisTime:     time.Now().UTC().Truncate(time.Second),
		ConsensusParams: params,
		Validators:      genVals,
		AppState:        cfg.AppState,
	}
	if err := gen.ValidateAndComplete(); err != nil {
		return false, fmt.Errorf("localnet: genesis: %w", err)
	}
	for i, n := range nw.nodes {
		// Node i dials only the nodes before it: every pair is connected
		// once, and a restarted node is not refused as a "duplicate ID"
		// because a peer dialled it at the same moment it dialled the peer.
		n.cfg.P2P.PersistentPeers = strings.Join(peers[:i], ",")
		if err := gen.SaveAs(n.cfg.GenesisFile()); err != nil {
			return false, err
		}
		cmtcfg.WriteConfigFile(filepath.Join(n.Home, "config", "config.toml"), n.cfg)
	}
	return true, nil
}

// WriteHomes writes the node homes of cfg (standard CometBFT homes: config,
// genesis, keys) without starting anything, for `fedledger testnet`. It
// refuses a Dir that already holds homes.
func WriteHomes(cfg Config) ([]string, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if len(cfg.Hosts) > 0 {
		cfg.Host = "127.0.0.1" // Validate's loopback rule is for in-process networks
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	nw := &Network{cfg: cfg}
	fresh, err := nw.prepareHomes()
	if err != nil {
		return nil, err
	}
	if !fresh {
		return nil, fmt.Errorf("localnet: %s already holds node homes; remove it or choose another folder", cfg.Dir)
	}
	var homes []string
	for _, n := range nw.nodes {
		homes = append(homes, n.Home)
	}
	return homes, nil
}

// OpenNode prepares the node whose CometBFT home is home (as WriteHomes
// wrote it, or any standard home with a fedledger genesis), for Start.
func OpenNode(home string, logger log.Logger) (*Node, error) {
	c := cmtcfg.DefaultConfig()
	c.SetRoot(home)
	if err := readConfig(filepath.Join(home, "config", "config.toml"), c); err != nil {
		return nil, err
	}
	if _, err := os.Stat(c.GenesisFile()); err != nil {
		return nil, fmt.Errorf("localnet: %s has no genesis file (%v); is it a node home written by fedledger testnet?", home, err)
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Node{Home: home, cfg: c, logger: logger}, nil
}

// tune sets what a fast local network needs.
func tune(c *cmtcfg.Config, blockInterval time.Duration) {
	c.P2P.AllowDuplicateIP = true
	c.P2P.AddrBookStrict = false
	c.P2P.PexReactor = false
	c.P2P.HandshakeTimeout = 5 * time.Second
	c.P2P.DialTimeout = 3 * time.Second
	c.P2P.PersistentPeersMaxDialPeriod = 2 * time.Second
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

// RPCAddress is the node's RPC endpoint, as rpchttp.New takes it.
func (n *Node) RPCAddress() string {
	return "http://" + strings.TrimPrefix(n.cfg.RPC.ListenAddress, "tcp://")
}

// App returns the node's fedledger app, or nil if the node is stopped or
// runs another app (Config.NewApp).
func (n *Node) App() *chain.App {
	n.mu.Lock()
	defer n.mu.Unlock()
	a, _ := n.app.(*chain.App)
	return a
}

// openApp opens the node's application and the client creator CometBFT
// calls it through.
func (n *Node) openApp() (abci.Application, proxy.ClientCreator, error) {
	if n.newApp != nil {
		app, err := n.newApp(filepath.Join(n.Home, "data", "app"))
		if err != nil {
			return nil, nil, err
		}
		return app, proxy.NewLocalClientCreator(app), nil
	}
	app, err := chain.NewApp(chain.Config{Dir: filepath.Join(n.Home, "data", "fedledger"), Logger: n.logger})
	if err != nil {
		return nil, nil, err
	}
	// One lock per ABCI connection: queries and CheckTx do not wait for FinalizeBlock.
	return app, proxy.NewConnSyncLocalClientCreator(app), nil
}

// closeApp closes app if it can be closed.
func closeApp(app abci.Application) error {
	if c, ok := app.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Running reports whether the node is started.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.node != nil
}

// Start starts the node (again) on its home.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node != nil {
		return fmt.Errorf("localnet: node %d already running", n.Index)
	}
	app, creator, err := n.openApp()
	if err != nil {
		return fmt.Errorf("localnet: node %d: %w", n.Index, err)
	}
	pv, err := privval.LoadOrGenFilePV(n.cfg.PrivValidatorKeyFile(), n.cfg.PrivValidatorStateFile(), func() (cmtcryptoPrivKey, error) {
		return ed25519.GenPrivKey(), nil
	})
	if err != nil {
		closeApp(app)
		return err
	}
	nodeKey, err := p2p.LoadNodeKey(n.cfg.NodeKeyFile())
	if err != nil {
		closeApp(app)
		return err
	}
	node, err := nm.NewNode(context.Background(), n.cfg, pv, nodeKey,
		creator,
		nm.DefaultGenesisDocProviderFunc(n.cfg),
		func(ctx *cmtcfg.DBContext) (dbm.DB, error) {
			db, err := cmtcfg.DefaultDBProvider(ctx)
			if err != nil {
				return nil, err
			}
			od := &onceDB{DB: db}
			n.dbs = append(n.dbs, od)
			return od, nil
		},
		nm.DefaultMetricsProvider(n.cfg.Instrumentation),
		n.logger)
	if err != nil {
		closeApp(app)
		return fmt.Errorf("localnet: node %d: %w", n.Index, err)
	}
	if err := node.Start(); err != nil {
		closeApp(app)
		return fmt.Errorf("localnet: start node %d: %w", n.Index, err)
	}
	n.node, n.app = node, app
	n.started = time.Now()
	return nil
}

// Stop stops the node and closes its app; its home stays, so Start resumes it.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node == nil {
		return nil
	}
	if wait := dialSettle - time.Since(n.started); wait > 0 {
		time.Sleep(wait)
	}
	errs := []error{n.node.Stop()}
	n.node.Wait()
	for _, db := range n.dbs {
		errs = append(errs, db.Close())
	}
	errs = append(errs, closeApp(n.app))
	n.node, n.app, n.dbs = nil, nil, nil
	return errors.Join(errs...)
}

// Client returns an RPC client of the node.
func (n *Node) Client() (*rpchttp.HTTP, error) {
	return rpchttp.New(n.RPCAddress())
}

// WaitReady waits until the node has committed a block and is not catching up.
func (n *Node) WaitReady(ctx context.Context) error {
	c, err := n.Client()
	if err != nil {
		return err
	}
	var last error
	for {
		st, err := c.Status(ctx)
		if err == nil && !st.SyncInfo.CatchingUp && st.SyncInfo.LatestBlockHeight >= 1 {
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("height %d, catching up %v", st.SyncInfo.LatestBlockHeight, st.SyncInfo.CatchingUp)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localnet: node %d not ready: %v", n.Index, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitHeight waits until the node has committed height h.
func (n *Node) WaitHeight(ctx context.Context, h int64) error {
	c, err := n.Client()
	if err != nil {
		return err
	}
	for {
		st, err := c.Status(ctx)
		if err == nil && st.SyncInfo.LatestBlockHeight >= h {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localnet: node %d did not reach height %d: %w", n.Index, h, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
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

// WaitPeers waits until the node is connected to at least n peers.
func (n *Node) WaitPeers(ctx context.Context, peers int) error {
	c, err := n.Client()
	if err != nil {
		return err
	}
	for {
		ni, err := c.NetInfo(ctx)
		if err == nil && ni.NPeers >= peers {
			return nil
		}
		select {
		case <-ctx.Done():
			got := -1
			if ni != nil {
				got = ni.NPeers
			}
			return fmt.Errorf("localnet: node %d has %d peers, want %d: %w", n.Index, got, peers, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// BlockMetas returns the metadata (size, number of txs) of a node's
// blocks from to to, asking 20 blocks at a time as the RPC allows.
func BlockMetas(ctx context.Context, c *rpchttp.HTTP, from, to int64) ([]*types.BlockMeta, error) {
	var out []*types.BlockMeta
	for h := from; h <= to; h += 20 {
		end := min(h+19, to)
		info, err := c.BlockchainInfo(ctx, h, end)
		if err != nil {
			return nil, fmt.Errorf("localnet: blocks %d-%d: %w", h, end, err)
		}
		for i := len(info.BlockMetas) - 1; i >= 0; i-- { // the RPC lists them newest first
			out = append(out, info.BlockMetas[i])
		}
	}
	return out, nil
}
