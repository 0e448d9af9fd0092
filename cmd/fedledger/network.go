package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/chain"
	"github.com/fedledger/fedledger/chain/localnet"
	"github.com/fedledger/fedledger/chain/node"
	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/protocol"
)

const testnetHelp = `Writes everything a consortium needs to start a fedledger network:
  DIR/node0 .. DIR/node{V-1}   standard CometBFT homes (config, genesis with
                               fedledger's participants and roles, keys, peers)
  DIR/keys/<name>/key.json     one key home per hospital, the researcher, the
                               reviewer and the admin (keep them secret),
                               with genesis.json: the trust root against
                               which the commands verify nodes' answers
  DIR/README.md                what to start where

Hospitals are named cleveland, hungary, switzerland, va (the UCI heart
disease sites) and then hospital-5, hospital-6, ..., or as --hospital-names
says. With --from-pubkeys DIR the participants are the public key files in
DIR (each made by fedledger keys init on the participant's own machine):
testnet writes their genesis.json and no key of theirs.

Without --hosts every validator listens on 127.0.0.1 and the homes are
tuned for one machine (short consensus timeouts, --block-interval). With
--hosts the homes keep CometBFT's own timeouts, for validators on separate
machines.

Examples:
  fedledger testnet --validators 4 --hospitals 4 --out ./net
  fedledger testnet --validators 4 --hospitals 4 --out ./net --hosts 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4 --base-port 26656
  fedledger testnet --validators 3 --out ./net --hospital-names north,south,east --hosts val1.north.example,val2.south.example,val3.east.example
  fedledger testnet --validators 4 --out ./net --from-pubkeys ./collected-pubkeys`

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

func newTestnetCmd(g *globals) *cobra.Command {
	cmd := leaf("testnet", "Write node homes and participant keys for a network", testnetHelp)
	fs := cmd.Flags()
	validators := fs.Int("validators", 4, "number of validators")
	hospitals := fs.Int("hospitals", 4, "number of hospitals")
	out := fs.String("out", "", "folder to write (must not hold a testnet yet)")
	hosts := fs.String("hosts", "", "comma-separated IP address or host name of each validator (default: all on 127.0.0.1, tuned for one machine)")
	hospitalList := fs.String("hospital-names", "", "comma-separated names of the hospitals (default: cleveland, hungary, switzerland, va, hospital-5, ...)")
	fromPubkeys := fs.String("from-pubkeys", "", "folder of public key files (fedledger keys init): the participants, whose private keys stay on their machines")
	basePort := fs.Int("base-port", 26656, "node i listens for peers on base+10·i and for RPC on base+10·i+1")
	chainID := fs.String("chain-id", "fedledger-testnet", "chain-id")
	blockInterval := fs.Duration("block-interval", 500*time.Millisecond, "without --hosts: pause after each block (timeout_commit)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		if *out == "" {
			return usagef("--out DIR is required")
		}
		if *validators < 1 || *hospitals < 1 {
			return usagef("--validators and --hospitals must be at least 1")
		}
		var hostList []string
		if *hosts != "" {
			hostList = strings.Split(*hosts, ",")
		}
		hosps := hospitalNames(*hospitals)
		if *hospitalList != "" {
			if changed(cmd.Flags(), "hospitals") {
				return usagef("give --hospitals or --hospital-names, not both")
			}
			hosps = strings.Split(*hospitalList, ",")
		}
		names := append([]string{"admin", "researcher", "reviewer"}, hosps...)
		roles := append([]string{"admin", "researcher", "reviewer"}, repeat("hospital", len(hosps))...)
		var pubs [][]byte
		if *fromPubkeys != "" {
			warnIgnored(cmd, cmd.Flags(), "the participants are the public key files of --from-pubkeys", "hospitals", "hospital-names")
			var err error
			if names, roles, pubs, err = readPubkeys(*fromPubkeys); err != nil {
				return err
			}
		}
		if err := checkNames(names); err != nil {
			return err
		}
		keys := make([]ed25519.PrivateKey, len(names))
		var gen chain.GenesisState
		for i, n := range names {
			var pub []byte
			if pubs != nil {
				pub = pubs[i]
			} else {
				_, k, err := ed25519.GenerateKey(nil)
				if err != nil {
					return err
				}
				keys[i], pub = k, k.Public().(ed25519.PublicKey)
			}
			gen.Participants = append(gen.Participants, chain.GenesisParticipant{Name: n, PubKey: pub, Role: roles[i]})
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
					return usagef("--hosts lists %d addresses for %d validators; give one per validator", len(hostList), *validators)
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
		genesis, err := os.ReadFile(filepath.Join(homes[0], "config", "genesis.json"))
		if err != nil {
			return err
		}
		for i, n := range names {
			if keys[i] != nil {
				if err := fl.WriteKeyFile(filepath.Join(*out, "keys", n, "key.json"), n, roles[i], keys[i]); err != nil {
					return err
				}
			} else if err := os.MkdirAll(filepath.Join(*out, "keys", n), 0o755); err != nil {
				return err
			}
			// The chain's genesis is each participant's trust root: the
			// commands verify what nodes answer against it.
			if err := os.WriteFile(filepath.Join(*out, "keys", n, "genesis.json"), genesis, 0o644); err != nil {
				return err
			}
		}
		var b strings.Builder
		nh := 0
		for _, r := range roles {
			if r == "hospital" {
				nh++
			}
		}
		fmt.Fprintf(&b, "# fedledger testnet %s\n\n%d validators, %d hospitals.\n\n## Validators\n\n", *chainID, *validators, nh)
		for i, h := range homes {
			host := "127.0.0.1"
			if len(hostList) > 0 {
				host = hostList[i]
			}
			fmt.Fprintf(&b, "- on %s: `fedledger node --home %s` (RPC http://%s:%d)\n", host, filepath.Base(h), host, *basePort+10*i+1)
		}
		fmt.Fprintf(&b, "\n## Hospitals\n\nEach hospital runs a trainer next to its data, against any validator's RPC:\n\n")
		for i, n := range names {
			if roles[i] == "hospital" {
				fmt.Fprintf(&b, "- `fedledger train --home keys/%s --node http://HOST:PORT --data DATA_DIR`\n", n)
			}
		}
		fmt.Fprintf(&b, "\n## Researcher and reviewer\n\n- `fedledger task create --home keys/researcher --node http://HOST:PORT --rounds 10`\n")
		fmt.Fprintf(&b, "- `fedledger rounds list --node http://HOST:PORT --task 1`\n- `fedledger audit --node http://HOST:PORT --task 1`\n")
		if pubs != nil {
			fmt.Fprintf(&b, "\nThe participants' keys stayed on their machines: copy keys/<name>/genesis.json into each one's key home, next to its key.json.\n")
		} else {
			fmt.Fprintf(&b, "\nKeep keys/ secret: each key.json signs for its participant. Copy each node home and key home to the machine that uses it.\n")
		}
		if err := os.WriteFile(filepath.Join(*out, "README.md"), []byte(b.String()), 0o644); err != nil {
			return err
		}
		if g.json() {
			keyHomes := map[string]string{}
			for _, n := range names {
				keyHomes[n] = filepath.Join(*out, "keys", n)
			}
			return writeJSON(stdout, map[string]any{"chain_id": *chainID, "node_homes": homes, "key_homes": keyHomes, "readme": filepath.Join(*out, "README.md")})
		}
		fmt.Fprintf(stdout, "wrote %d node homes and %d key homes to %s (see %s)\n", len(homes), len(names), *out, filepath.Join(*out, "README.md"))
		return nil
	}
	return cmd
}

// readPubkeys reads every *.json public key file in dir, sorted by name.
func readPubkeys(dir string) (names, roles []string, pubs [][]byte, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, nil, usagef("--from-pubkeys %s holds no .json public key files (fedledger keys init writes pubkey.json; collect them there as NAME.json)", dir)
	}
	for _, f := range files {
		p, err := fl.ReadPubKeyFile(f)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := protocol.ParseRole(p.Role); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %v", f, err)
		}
		names, roles, pubs = append(names, p.Name), append(roles, p.Role), append(pubs, p.PubKey)
	}
	return names, roles, pubs, nil
}

// checkNames refuses empty, repeated or path-like participant names.
func checkNames(names []string) error {
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "/\\ \t") || n == "." || n == ".." {
			return usagef("participant name %q: use letters, digits, - and _", n)
		}
		if seen[n] {
			return usagef("participant name %q is used twice", n)
		}
		seen[n] = true
	}
	return nil
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

const nodeHelp = `Runs a CometBFT validator (or full node) with the fedledger app built in, on
a home written by 'fedledger testnet' (or any standard CometBFT home whose
genesis carries fedledger's app_state). Stops cleanly on SIGINT or SIGTERM;
a node killed at any moment restarts and replays without loss.

Examples:
  fedledger node --home ./net/node0
  fedledger node --home ./net/node0 --log-format json --log-level debug`

func newNodeCmd(g *globals) *cobra.Command {
	cmd := leaf("node", "Run a validator (or full node) with the fedledger app", nodeHelp)
	level := cmd.Flags().String("log-level", "info", "debug, info or error")
	format := cmd.Flags().String("log-format", "plain", "plain or json (--output json also logs JSON)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" {
			return usagef("--home DIR is required")
		}
		stderr := cmd.ErrOrStderr()
		var logger log.Logger
		switch {
		case *format == "json" || g.json():
			logger = log.NewTMJSONLogger(log.NewSyncWriter(stderr))
		case *format == "plain":
			logger = log.NewTMLogger(log.NewSyncWriter(stderr))
		default:
			return usagef("--log-format %q: want plain or json", *format)
		}
		opt, err := log.AllowLevel(*level)
		if err != nil {
			return usagef("--log-level: %v", err)
		}
		logger = log.NewFilter(logger, opt)
		n, err := node.Open(g.home, node.Options{Logger: logger})
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := n.Start(); err != nil {
			return err
		}
		logger.Info("fedledger node started", "home", g.home, "rpc", n.RPCAddress())
		<-ctx.Done()
		logger.Info("fedledger node stopping")
		return n.Stop()
	}
	return cmd
}
