package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/fedledger/fedledger/fl"
)

// trustFlags are the persistent flags that say what the commands trust
// when they verify a node's answers.
type trustFlags struct {
	genesis string
	height  int64
	hash    string
	period  time.Duration
}

const trustHelp = `Answers are verified: every task, round, model, reputation and participant
record a command reads comes with a Merkle proof, checked against the app
hash of a header that CometBFT's light client verified from a trust root.
The trust root is, in order: --trust-height with --trust-hash (a header you
got from a source you trust); --genesis FILE; genesis.json in --home (the
testnet writes one into every key home); config/genesis.json in a node
home. With --node a,b,c the other nodes are the light client's witnesses.
A node whose answer fails is named and refused.`

// root reads the trust root the flags and home give; ok is false when
// there is none.
func (g *globals) trustRoot() (fl.TrustRoot, bool, error) {
	t := g.trust
	root := fl.TrustRoot{Period: t.period}
	if t.height != 0 || t.hash != "" {
		h, err := hex.DecodeString(t.hash)
		if err != nil || len(h) != 32 {
			return root, false, usagef("--trust-hash %q: want the 64 hex digits of a block's header hash", t.hash)
		}
		if t.height <= 0 {
			return root, false, usagef("--trust-hash needs --trust-height, the height of its block")
		}
		root.Height, root.Hash = t.height, h
		return root, true, nil
	}
	file := t.genesis
	if file == "" && g.home != "" {
		for _, f := range []string{filepath.Join(g.home, "genesis.json"), filepath.Join(g.home, "config", "genesis.json")} {
			if _, err := os.Stat(f); err == nil {
				file = f
				break
			}
		}
	}
	if file == "" {
		return root, false, nil
	}
	doc, err := types.GenesisDocFromFile(file)
	if err != nil {
		return root, false, fmt.Errorf("trust root %s: %w", file, err)
	}
	root.Genesis = doc
	return root, true, nil
}

// dial connects to --node as key (nil: read-only) and, when a trust root
// is at hand, verifies every provable answer with a light client. Without
// one it says on stderr that answers are not verified.
func (g *globals) dial(ctx context.Context, key ed25519.PrivateKey, stderr io.Writer) (*fl.Client, error) {
	c, err := fl.Dial(ctx, g.node, key)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", g.node, err)
	}
	root, ok, err := g.trustRoot()
	if err != nil {
		return nil, err
	}
	if !ok {
		fmt.Fprintf(stderr, "fedledger: warning: answers from %s are not verified: give --genesis FILE, or --trust-height and --trust-hash (see 'fedledger --help')\n", g.node)
		return c, nil
	}
	nodes := strings.Split(g.node, ",")
	for i := range nodes {
		nodes[i] = strings.TrimSpace(nodes[i])
	}
	v, err := fl.NewLightVerifier(ctx, c.ChainID(), root, c.LatestHeight, nodes[0], nodes[1:]...)
	if err != nil {
		return nil, fmt.Errorf("verify node %s: %w", nodes[0], err)
	}
	c.Verifier = v
	return c, nil
}
