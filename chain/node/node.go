package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	cmtcfg "github.com/cometbft/cometbft/config"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/spf13/viper"

	"github.com/fedledger/fedledger/chain"
)

// Options configure a Node.
type Options struct {
	// Logger receives CometBFT's and the app's logs; nil discards them.
	Logger log.Logger
	// NewApp, when set, opens the application the node runs instead of
	// fedledger's (benchmarks compare against CometBFT's kvstore example).
	// dir is the node's app data directory. An app that is an io.Closer is
	// closed when the node stops. Such apps are called through one lock
	// (proxy.NewLocalClientCreator), as CometBFT's examples expect.
	NewApp func(dir string) (abci.Application, error)
}

// Node is one CometBFT node running the fedledger app on its home. Its
// methods are safe for concurrent use.
type Node struct {
	home   string
	cfg    *cmtcfg.Config
	logger log.Logger
	newApp func(dir string) (abci.Application, error)

	mu   sync.Mutex // guards the fields below
	node *nm.Node
	app  abci.Application
	dbs  []*onceDB // every CometBFT database the running node opened
}

// Open reads the node home at home (config/config.toml, the genesis and
// the keys, as WriteHomes or `cometbft init` writes them) and returns a
// stopped node.
func Open(home string, opt Options) (*Node, error) {
	c := cmtcfg.DefaultConfig()
	c.SetRoot(home)
	if err := readConfig(filepath.Join(home, "config", "config.toml"), c); err != nil {
		return nil, err
	}
	if _, err := os.Stat(c.GenesisFile()); err != nil {
		return nil, fmt.Errorf("node: %s has no genesis file (%v); is it a node home written by fedledger testnet?", home, err)
	}
	if opt.Logger == nil {
		opt.Logger = log.NewNopLogger()
	}
	return &Node{home: home, cfg: c, logger: opt.Logger, newApp: opt.NewApp}, nil
}

// readConfig loads a node's config.toml into c, as cometbft's own CLI does.
func readConfig(path string, c *cmtcfg.Config) error {
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("node: read %s: %w", path, err)
	}
	root := c.RootDir
	if err := v.Unmarshal(c); err != nil {
		return fmt.Errorf("node: parse %s: %w", path, err)
	}
	c.SetRoot(root)
	if err := c.ValidateBasic(); err != nil {
		return fmt.Errorf("node: %s: %w", path, err)
	}
	return nil
}

// Home is the node's home directory.
func (n *Node) Home() string { return n.home }

// Config is the node's CometBFT configuration, as read from its home.
func (n *Node) Config() *cmtcfg.Config { return n.cfg }

// RPCAddress is the node's RPC endpoint, as rpchttp.New takes it.
func (n *Node) RPCAddress() string {
	return "http://" + strings.TrimPrefix(n.cfg.RPC.ListenAddress, "tcp://")
}

// Client returns an RPC client of the node.
func (n *Node) Client() (*rpchttp.HTTP, error) {
	return rpchttp.New(n.RPCAddress(), "/websocket")
}

// App returns the node's fedledger app, or nil if the node is stopped or
// runs another app (Options.NewApp).
func (n *Node) App() *chain.App {
	n.mu.Lock()
	defer n.mu.Unlock()
	a, _ := n.app.(*chain.App)
	return a
}

// Running reports whether the node is started.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.node != nil
}

// openApp opens the node's application and the client creator CometBFT
// calls it through.
func (n *Node) openApp() (abci.Application, proxy.ClientCreator, error) {
	if n.newApp != nil {
		app, err := n.newApp(filepath.Join(n.home, "data", "app"))
		if err != nil {
			return nil, nil, err
		}
		return app, proxy.NewLocalClientCreator(app), nil
	}
	app, err := chain.NewApp(chain.Config{Dir: filepath.Join(n.home, "data", "fedledger"), Logger: n.logger})
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

// loadPrivValidator loads the node's validator key and sign state.
// CometBFT's own loader exits the process on a bad file; this one checks
// both files first and returns what is wrong.
func loadPrivValidator(c *cmtcfg.Config) (*privval.FilePV, error) {
	keyFile, stateFile := c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()
	bz, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("node: validator key: %w", err)
	}
	var key privval.FilePVKey
	if err := cmtjson.Unmarshal(bz, &key); err != nil {
		return nil, fmt.Errorf("node: validator key %s: %w", keyFile, err)
	}
	if bz, err = os.ReadFile(stateFile); errors.Is(err, os.ErrNotExist) {
		// A home copied without its data folder: start a fresh sign state.
		pv := privval.NewFilePV(key.PrivKey, keyFile, stateFile)
		pv.LastSignState.Save()
		return pv, nil
	} else if err != nil {
		return nil, fmt.Errorf("node: validator sign state: %w", err)
	}
	var st privval.FilePVLastSignState
	if err := cmtjson.Unmarshal(bz, &st); err != nil {
		return nil, fmt.Errorf("node: validator sign state %s: %w", stateFile, err)
	}
	return privval.LoadFilePV(keyFile, stateFile), nil
}

// Start starts the node (again) on its home.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node != nil {
		return fmt.Errorf("node: %s already running", n.home)
	}
	pv, err := loadPrivValidator(n.cfg)
	if err != nil {
		return err
	}
	nodeKey, err := p2p.LoadNodeKey(n.cfg.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("node: node key: %w", err)
	}
	app, creator, err := n.openApp()
	if err != nil {
		return fmt.Errorf("node: %s: %w", n.home, err)
	}
	var dbs []*onceDB
	node, err := nm.NewNode(n.cfg, pv, nodeKey, creator,
		nm.DefaultGenesisDocProviderFunc(n.cfg),
		func(ctx *cmtcfg.DBContext) (dbm.DB, error) {
			db, err := cmtcfg.DefaultDBProvider(ctx)
			if err != nil {
				return nil, err
			}
			od := &onceDB{DB: db}
			dbs = append(dbs, od)
			return od, nil
		},
		nm.DefaultMetricsProvider(n.cfg.Instrumentation),
		n.logger)
	if err != nil {
		closeDBs(dbs)
		closeApp(app)
		return fmt.Errorf("node: %s: %w", n.home, err)
	}
	if err := node.Start(); err != nil {
		closeDBs(dbs)
		closeApp(app)
		return fmt.Errorf("node: start %s: %w", n.home, err)
	}
	n.node, n.app, n.dbs = node, app, dbs
	return nil
}

func closeDBs(dbs []*onceDB) error {
	var errs []error
	for _, db := range dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// Stop stops the node and closes its app and databases; its home stays,
// so Start resumes it.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.node == nil {
		return nil
	}
	errs := []error{n.node.Stop()}
	n.node.Wait()
	errs = append(errs, closeDBs(n.dbs), closeApp(n.app))
	n.node, n.app, n.dbs = nil, nil, nil
	return errors.Join(errs...)
}
