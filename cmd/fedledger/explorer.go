package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/explorer"
)

const explorerHelp = `Serves a web page for reviewers and researchers: the tasks on the chain;
each task's rounds with every hospital's accuracy and loss as charts; rule
weights, exclusions and reputation with reasons over the rounds; the model
hash of every round shown verified (its Merkle proof against a header the
light client verified) or not; a button that runs the audit replay with its
progress; downloads of the round history (CSV, JSON) and of any round's
model. The page is built into the binary and fetches nothing from elsewhere.

Answers are verified from the trust root (--genesis FILE, genesis.json in
--home, or --trust-height/--trust-hash); without one the page says that
each hash is not verified. The audit replays from the first node in --node.
It listens on loopback by default: put it behind your own proxy to share
it. 'fedledger demo --explorer ADDR' serves it beside a demo network.

Examples:
  fedledger explorer --node http://127.0.0.1:26657 --genesis ./net/keys/reviewer/genesis.json
  fedledger explorer --node http://10.0.0.3:26657,http://10.0.0.4:26657 --home ./reviewer --listen 127.0.0.1:9090
  fedledger demo --data ../shared/datasets --explorer 127.0.0.1:8080`

func newExplorerCmd(g *globals) *cobra.Command {
	cmd := leaf("explorer", "Serve the web explorer of a chain's tasks, rounds, models and audits", explorerHelp)
	listen := cmd.Flags().String("listen", "127.0.0.1:8080", "address to serve the page on")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		c, err := g.dial(dctx, nil, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		cfg := explorer.DefaultConfig()
		cfg.Client, cfg.Node = c, g.node
		root, ok, err := g.trustRoot()
		if err != nil {
			return err
		}
		if ok {
			cfg.Genesis = root.Genesis
		}
		first, _, _ := strings.Cut(g.node, ",")
		if cfg.AuditRPC, err = auditRPC(strings.TrimSpace(first), 30*time.Second); err != nil {
			return err
		}
		ln, err := listenExplorer(*listen)
		if err != nil {
			return err
		}
		return serveExplorer(ctx, cfg, ln, cmd.OutOrStdout(), g.json())
	}
	return cmd
}

// auditRPC is an RPC client for audit replays, on a transport of its own:
// the shared one may hold kept-alive connections to a node that stopped in
// this process.
func auditRPC(node string, callTimeout time.Duration) (*rpchttp.HTTP, error) {
	c, err := rpchttp.NewWithClient(node, "/websocket", &http.Client{Timeout: callTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()})
	if err != nil {
		return nil, usagef("--node %q: %v", node, err)
	}
	return c, nil
}

// listenExplorer opens the explorer's address, so that a port in use is
// said before any work starts.
func listenExplorer(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve the explorer on %s: %w (choose another address, e.g. 127.0.0.1:0 for any free port)", addr, err)
	}
	return ln, nil
}

// serveExplorer serves the explorer on ln until ctx ends, and says where
// (a JSON line with asJSON).
func serveExplorer(ctx context.Context, cfg explorer.Config, ln net.Listener, out io.Writer, asJSON bool) error {
	srv, err := explorer.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	if asJSON {
		fmt.Fprintf(out, "{\"explorer\": %q}\n", url)
	} else {
		fmt.Fprintf(out, "explorer: %s (Ctrl-C to stop)\n", url)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
