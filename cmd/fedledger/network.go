package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/chain/node"
	"github.com/fedledger/fedledger/fl"
)

const testnetHelp = `Usage: fedledger testnet --validators V --hospitals H --out DIR [flags]

Writes everything a consortium needs to start a fedledger network:
  DIR/node0 .. DIR/node{V-1}   standard CometBFT homes (config, genesis with
                               fedledger's participants and roles, keys, peers)
  DIR/keys/<name>/key.json     one key home per hospital, the researcher, the
                               reviewer and the admin (keep them secret)
  DIR/README.md                what to start where

Hospitals are named cleveland, hungary, switzerland, va (the UCI heart
disease sites) and then hospital-5, hospital-6, ...

Examples:
  fedledger testnet --validators 4 --hospitals 4 --out ./net
  fedledger testnet --validators 4 --hospitals 4 --out ./net --hosts 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4 --base-port 26656`

// hospitalNames names H hospitals.
func hospitalNames(h int) []string {
	base := []string{"cleveland", "hungary", "switzerland", "va"}
	var out []string
	for i := 0; i < h; i++ {
		if i < len(base) {
			out = append(out, base[i])
		} else {
			out = append(out, fmt.Sprintf("hospital-%d", i+1))
		}
	}
	return out
}

func runTestnet(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("testnet", testnetHelp, stdout)
	validators := fs.Int("validators", 4, "number of validators")
	hospitals := fs.Int("hospitals", 4, "number of hospitals")
	out := fs.String("out", "", "folder to write (must not hold a testnet yet)")
	hosts := fs.String("hosts", "", "comma-separated IP of each validator (default: all on 127.0.0.1)")
	basePort := fs.Int("base-port", 26656, "node i listens for peers on base+10·i and for RPC on base+10·i+1")
	chainID := fs.String("chain-id", "fedledger-testnet", "chain-id")
	blockInterval := fs.Duration("block-interval", 500*time.Millisecond, "pause after each block (timeout_commit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out DIR is required", errUsage)
	}
	if *validators < 1 || *hospitals < 1 {
		return fmt.Errorf("%w: --validators and --hospitals must be at least 1", errUsage)
	}
	var hostList []string
	if *hosts != "" {
		hostList = strings.Split(*hosts, ",")
	}
	names := append([]string{"admin", "researcher", "reviewer"}, hospitalNames(*hospitals)...)
	roles := append([]string{"admin", "researcher", "reviewer"}, repeat("hospital", *hospitals)...)
	keys := make([]ed25519.PrivateKey, len(names))
	var gen chain.GenesisState
	for i, n := range names {
		_, k, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		keys[i] = k
		gen.Participants = append(gen.Participants, chain.GenesisParticipant{Name: n, PubKey: k.Public().(ed25519.PublicKey), Role: roles[i]})
	}
	appState, err := json.Marshal(gen)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; remove it or choose another --out", *out)
	}
	spec := node.NetworkSpec{Dir: *out, ChainID: *chainID, AppState: appState, Network: node.DefaultNetwork()}
	for i := range *validators {
		host := "127.0.0.1"
		if len(hostList) > 0 {
			if len(hostList) != *validators {
				return fmt.Errorf("%w: --hosts lists %d addresses for %d validators; give one per validator", errUsage, len(hostList), *validators)
			}
			host = hostList[i]
		}
		spec.Validators = append(spec.Validators, node.Endpoint{Host: host, P2PPort: *basePort + 10*i, RPCPort: *basePort + 10*i + 1})
	}
	if len(hostList) == 0 {
		// Every validator on this machine's loopback: tune for it.
		spec.Tune = func(c *cmtcfg.Config) { localnet.Tune(c, *blockInterval) }
	}
	homes, err := node.WriteHomes(spec)
	if err != nil {
		return err
	}
	for i, n := range names {
		if err := fl.WriteKeyFile(filepath.Join(*out, "keys", n, "key.json"), n, roles[i], keys[i]); err != nil {
			return err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# fedledger testnet %s\n\n%d validators, %d hospitals.\n\n## Validators\n\n", *chainID, *validators, *hospitals)
	for i, h := range homes {
		host := "127.0.0.1"
		if len(hostList) > 0 {
			host = hostList[i]
		}
		fmt.Fprintf(&b, "- on %s: `fedledger node --home %s` (RPC http://%s:%d)\n", host, filepath.Base(h), host, *basePort+10*i+1)
	}
	fmt.Fprintf(&b, "\n## Hospitals\n\nEach hospital runs a trainer next to its data, against any validator's RPC:\n\n")
	for _, n := range hospitalNames(*hospitals) {
		fmt.Fprintf(&b, "- `fedledger train --home keys/%s --node http://HOST:PORT --data DATA_DIR`\n", n)
	}
	fmt.Fprintf(&b, "\n## Researcher and reviewer\n\n- `fedledger task create --home keys/researcher --node http://HOST:PORT --rounds 10`\n")
	fmt.Fprintf(&b, "- `fedledger rounds list --node http://HOST:PORT --task 1`\n- `fedledger audit --node http://HOST:PORT --task 1`\n")
	fmt.Fprintf(&b, "\nKeep keys/ secret: each key.json signs for its participant. Copy each node home and key home to the machine that uses it.\n")
	if err := os.WriteFile(filepath.Join(*out, "README.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d node homes and %d key homes to %s (see %s)\n", len(homes), len(names), *out, filepath.Join(*out, "README.md"))
	return nil
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

const nodeHelp = `Usage: fedledger node --home DIR [flags]

Runs a CometBFT validator (or full node) with the fedledger app built in, on
a home written by 'fedledger testnet' (or any standard CometBFT home whose
genesis carries fedledger's app_state). Stops cleanly on SIGINT or SIGTERM;
a node killed at any moment restarts and replays without loss.

Examples:
  fedledger node --home ./net/node0
  fedledger node --home ./net/node0 --log-format json --log-level debug`

func runNode(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("node", nodeHelp, stdout)
	home := fs.String("home", "", "the node's CometBFT home")
	level := fs.String("log-level", "info", "debug, info or error")
	format := fs.String("log-format", "plain", "plain or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *home == "" {
		return fmt.Errorf("%w: --home DIR is required", errUsage)
	}
	var logger log.Logger
	switch *format {
	case "plain":
		logger = log.NewTMLogger(log.NewSyncWriter(stderr))
	case "json":
		logger = log.NewTMJSONLogger(log.NewSyncWriter(stderr))
	default:
		return fmt.Errorf("%w: --log-format %q: want plain or json", errUsage, *format)
	}
	opt, err := log.AllowLevel(*level)
	if err != nil {
		return fmt.Errorf("%w: --log-level: %v", errUsage, err)
	}
	logger = log.NewFilter(logger, opt)
	n, err := node.Open(*home, node.Options{Logger: logger})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := n.Start(); err != nil {
		return err
	}
	logger.Info("fedledger node started", "home", *home, "rpc", n.RPCAddress())
	<-ctx.Done()
	logger.Info("fedledger node stopping")
	return n.Stop()
}
