package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/fl"
	"github.com/fedledger/fedledger/protocol"
)

const keysHelp = `Makes a participant's key on the machine that will use it. The private key
stays in --home/key.json (mode 0600); --home/pubkey.json holds the name, role
and public key only: send that file to whoever writes the network
(fedledger testnet --from-pubkeys DIR), so no private key ever leaves the
machine that made it.

Examples:
  fedledger keys init --home ./cleveland-key --name cleveland --role hospital
  fedledger testnet --validators 4 --out ./net --from-pubkeys ./collected-pubkeys`

func newKeysCmd(g *globals) *cobra.Command {
	long, example, _ := strings.Cut(keysHelp, "\nExamples:\n")
	cmd := group("keys", "Make a participant's key on its own machine", strings.TrimSpace(long), strings.TrimRight(example, "\n"), "name a subcommand: fedledger keys init")
	cmd.AddCommand(newKeysInitCmd(g))
	return cmd
}

func newKeysInitCmd(g *globals) *cobra.Command {
	cmd := leaf("init", "Make a key in --home and write its public part to pubkey.json", keysHelp)
	fs := cmd.Flags()
	name := fs.String("name", "", "the participant's name on chain")
	role := fs.String("role", "hospital", "admin, researcher, hospital or reviewer")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if g.home == "" || *name == "" {
			return usagef("--home and --name are required")
		}
		if _, err := protocol.ParseRole(*role); err != nil {
			return usagef("--role: %v", err)
		}
		_, key, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		if err := fl.WriteKeyFile(filepath.Join(g.home, "key.json"), *name, *role, key); err != nil {
			return fmt.Errorf("%w (a key home holds one key; choose another --home)", err)
		}
		pub := fl.PubKeyFile{Name: *name, Role: *role, PubKey: key.Public().(ed25519.PublicKey)}
		bz, _ := json.MarshalIndent(pub, "", "  ")
		pubPath := filepath.Join(g.home, "pubkey.json")
		if err := os.WriteFile(pubPath, append(bz, '\n'), 0o644); err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"name": *name, "role": *role, "pub_key": fmt.Sprintf("%x", pub.PubKey), "pubkey_file": pubPath})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "key of %s (%s) made in %s; send %s to whoever writes the network\n", *name, *role, g.home, pubPath)
		return nil
	}
	return cmd
}
