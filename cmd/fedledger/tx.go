package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/fl"
	pb "github.com/fedledger/fedledger/proto/fedledger/v1"
)

const txHelp = `Raw access to transactions, for operators and scripts: sign a message
given as JSON, broadcast signed bytes exactly as they are, and decode a
transaction back to JSON. The message JSON has one top-level key naming its
kind (create_task, commit_update, reveal_update, reveal_chunk, reinstate,
update_params; anchor_records, grant_access, revoke_grant, break_glass,
close_review, log_access) and the fields of proto/fedledger/v1/tx.proto
and records.proto; bytes are
base64 and 64-bit numbers may be strings. A signed transaction is written
and read as hex.

Examples:
  fedledger tx sign --home ./net/keys/admin --body '{"update_params": {"max_chunks": "8"}}' > tx.hex
  fedledger tx decode --file tx.hex
  fedledger tx broadcast --file tx.hex
  fedledger tx sign --home ./net/keys/admin --chain-id fedledger-testnet --nonce 7 --file msg.json   # offline`

func newTxCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(txHelp, "\nExamples:\n")
	cmd := group("tx", "Sign, broadcast and decode raw transactions", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a subcommand: fedledger tx sign|broadcast|decode")
	cmd.AddCommand(newTxSignCmd(g), newTxBroadcastCmd(g), newTxDecodeCmd(g))
	return cmd
}

// readInput reads --body, or --file (a path, or - for standard input).
func readInput(cmd *cobra.Command, body, file, what string) ([]byte, error) {
	switch {
	case body != "" && file != "":
		return nil, usagef("give the %s with --body or --file, not both", what)
	case body != "":
		return []byte(body), nil
	case file == "-":
		return io.ReadAll(cmd.InOrStdin())
	case file != "":
		return os.ReadFile(file)
	}
	return nil, usagef("give the %s with --body or --file (- reads standard input)", what)
}

func newTxSignCmd(g *globals) *cobra.Command {
	cmd := leaf("sign", "Sign a message given as JSON; print the transaction as hex", txHelp)
	fs := cmd.Flags()
	body := fs.String("body", "", "the message as JSON")
	file := fs.String("file", "", "a file holding the message as JSON (- reads standard input)")
	nonce := fs.Uint64("nonce", 0, "the nonce to sign with (default: the chain's next for the key, read from --node)")
	chainID := fs.String("chain-id", "", "the chain-id to sign for; with --nonce, signs offline without --node")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" {
			return usagef("--home DIR (a key home) is required")
		}
		in, err := readInput(cmd, *body, *file, "message")
		if err != nil {
			return err
		}
		msg, err := fl.MsgFromJSON(in)
		if err != nil {
			return err
		}
		_, key, err := fl.ReadKeyFile(filepath.Join(g.home, "key.json"))
		if err != nil {
			return err
		}
		var tx []byte
		if *chainID != "" && *nonce != 0 {
			tx, err = pb.SignTx(key, *chainID, *nonce, msg)
		} else {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			var c *fl.Client
			if c, err = g.dial(ctx, key, cmd.ErrOrStderr()); err != nil {
				return err
			}
			if *chainID != "" && *chainID != c.ChainID() {
				return fmt.Errorf("--chain-id %s, but node %s serves chain %s", *chainID, g.node, c.ChainID())
			}
			tx, err = c.SignMsg(msg, *nonce)
		}
		if err != nil {
			return err
		}
		return printTx(cmd, g, tx)
	}
	return cmd
}

// printTx prints a signed tx: hex in text mode, its decoded view in JSON.
func printTx(cmd *cobra.Command, g *globals, tx []byte) error {
	if !g.json() {
		_, err := fmt.Fprintln(cmd.OutOrStdout(), hex.EncodeToString(tx))
		return err
	}
	v, err := fl.DecodeTxView(tx)
	if err != nil {
		return err
	}
	return writeJSON(cmd.OutOrStdout(), struct {
		Tx string `json:"tx"`
		*fl.TxView
	}{hex.EncodeToString(tx), v})
}

// readTx reads a signed tx as hex from --tx or --file.
func readTx(cmd *cobra.Command, txHex, file string) ([]byte, error) {
	in, err := readInput(cmd, txHex, file, "transaction")
	if err != nil {
		return nil, err
	}
	tx, err := hex.DecodeString(strings.TrimSpace(string(in)))
	if err != nil {
		return nil, usagef("the transaction is not hex: %v", err)
	}
	return tx, nil
}

func newTxBroadcastCmd(g *globals) *cobra.Command {
	cmd := leaf("broadcast", "Broadcast a signed transaction as is and wait for its block", txHelp)
	fs := cmd.Flags()
	txHex := fs.String("tx", "", "the signed transaction as hex")
	file := fs.String("file", "", "a file holding the transaction as hex (- reads standard input)")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for a block to include it")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		tx, err := readTx(cmd, *txHex, *file)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), *timeout)
		defer cancel()
		c, err := fl.Dial(ctx, g.node, nil)
		if err != nil {
			return fmt.Errorf("node %s: %w", g.node, err)
		}
		inc, err := c.Broadcast(ctx, tx)
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"hash": fmt.Sprintf("%X", inc.Hash), "height": inc.Height, "events": inc.Events})
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "tx %X included in block %d\n", inc.Hash, inc.Height)
		return err
	}
	return cmd
}

func newTxDecodeCmd(g *globals) *cobra.Command {
	cmd := leaf("decode", "Decode a signed transaction to JSON and check its signature", txHelp)
	fs := cmd.Flags()
	txHex := fs.String("tx", "", "the signed transaction as hex")
	file := fs.String("file", "", "a file holding the transaction as hex (- reads standard input)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		tx, err := readTx(cmd, *txHex, *file)
		if err != nil {
			return err
		}
		v, err := fl.DecodeTxView(tx)
		if err != nil {
			return err
		}
		if err := writeJSON(cmd.OutOrStdout(), v); err != nil {
			return err
		}
		if !v.SignatureOK {
			return fmt.Errorf("the signature does not verify: %s", v.Problem)
		}
		return nil
	}
	return cmd
}
