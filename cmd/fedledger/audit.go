package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/chain/audit"
)

const auditHelp = `Verifies a task's history without trusting the node: fetches every block
through RPC, checks that the headers form one chain signed by the genesis
validators and that each block holds the transactions its header commits to,
replays every block through a fresh fedledger app (recomputing every
commit/reveal check, aggregation and model hash), checks each header's app
hash against the replay, and checks the node's answers for every round and
model of the task, with their Merkle proofs. Prints OK or the first mismatch
per round; exits 0 only if every round is OK.

The replay starts from a genesis: with --genesis FILE (or genesis.json in
--home) the file's, and the node must serve the same; with --trust-genesis
HASH the node's, if its hash is HASH; otherwise the node's, and audit says
so. It prints the genesis hash, to pin next time. Progress goes to stderr;
a node that does not answer a call within --call-timeout is named.

Examples:
  fedledger audit --node http://127.0.0.1:26657 --task 1
  fedledger audit --node http://10.0.0.3:26657 --task 1 --output json
  fedledger audit --node http://10.0.0.3:26657 --task 1 --genesis ./net/keys/reviewer/genesis.json
  fedledger audit --node http://10.0.0.3:26657 --task 1 --trust-genesis 5d1cb0e0c6d4a7a1a5b5b07f0e3a2f9c4c1f7e2b8d9a0c3e4f5a6b7c8d9e0f1a`

func newAuditCmd(g *globals) *cobra.Command {
	cmd := leaf("audit", "Verify a task's every round against the blocks, independently of the node", auditHelp)
	task := cmd.Flags().Uint64("task", 0, "task id")
	timeout := cmd.Flags().Duration("timeout", 10*time.Minute, "give up after this long")
	callTimeout := cmd.Flags().Duration("call-timeout", 30*time.Second, "give up on a node that does not answer one call within this long")
	pin := cmd.Flags().String("trust-genesis", "", "the genesis hash (as audit prints it) the node's genesis must have")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout, node := cmd.OutOrStdout(), &g.node
		if *task == 0 {
			return usagef("--task ID is required")
		}
		c, err := auditRPC(*node, *callTimeout)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), *timeout)
		defer cancel()
		if _, err := c.Status(ctx); err != nil {
			return fmt.Errorf("node %s unreachable: %v", *node, err)
		}
		opts := audit.Options{GenesisHash: *pin}
		root, ok, err := g.trustRoot()
		if err != nil {
			return err
		}
		if ok && root.Genesis != nil {
			opts.Genesis = root.Genesis
		}
		prog := cmd.ErrOrStderr()
		last := time.Now()
		opts.Progress = func(h, top int64) {
			if time.Since(last) >= time.Second || h == top {
				last = time.Now()
				fmt.Fprintf(prog, "\rreplayed block %d of %d", h, top)
				if h == top {
					fmt.Fprintln(prog)
				}
			}
		}
		rep, err := audit.RunWith(ctx, c, *task, opts)
		if errors.Is(err, context.DeadlineExceeded) || (err != nil && strings.Contains(err.Error(), "Client.Timeout")) {
			return fmt.Errorf("node %s stopped answering (%v); try another node or a longer --timeout / --call-timeout", *node, err)
		}
		if err != nil {
			return err
		}
		if g.json() {
			if err := writeJSON(stdout, rep); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(stdout, "task %d on %s: %d blocks replayed from genesis %s (from %s)\n", rep.Task, rep.ChainID, rep.Blocks, rep.GenesisHash, rep.GenesisSource)
			for _, r := range rep.Rounds {
				if r.OK {
					fmt.Fprintf(stdout, "round %d: OK (model %s, closed at %d)\n", r.Round, r.ModelHash[:16], r.Closed)
				} else {
					fmt.Fprintf(stdout, "round %d: MISMATCH: %s\n", r.Round, r.Problem)
				}
			}
			if rep.Chain != "" {
				fmt.Fprintf(stdout, "chain: %s\n", rep.Chain)
			}
			if rep.Reputation != "" {
				fmt.Fprintf(stdout, "reputation scores: %s\n", rep.Reputation)
			}
		}
		if !rep.OK() {
			for _, r := range rep.Rounds {
				if !r.OK {
					return fmt.Errorf("audit failed at round %d: %s", r.Round, r.Problem)
				}
			}
			if rep.Chain != "" {
				return errors.New("audit failed: " + rep.Chain)
			}
			return errors.New("audit failed: reputation: " + rep.Reputation)
		}
		if !g.json() {
			fmt.Fprintf(stdout, "all %d rounds OK\n", len(rep.Rounds))
		}
		return nil
	}
	return cmd
}
