package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// cliDocsDir is where the CLI reference lives, from the repository root.
const cliDocsDir = "docs/cli"

func newDocsCmd(g *globals) *cobra.Command {
	cmd := leaf("docs", "Write the CLI reference (Markdown, one page per command)", `Writes the CLI reference: one Markdown page per command, generated from
the commands' own help, into --dir (default docs/cli). A test fails when the
pages in the repository differ from what the binary would write.

Examples:
  fedledger docs --dir docs/cli`)
	cmd.Hidden = true
	dir := cmd.Flags().String("dir", cliDocsDir, "folder to write the pages to")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		n, err := writeCLIDocs(cmd.Root(), *dir)
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]any{"dir": *dir, "pages": n})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %d pages to %s\n", n, *dir)
		return nil
	}
	return cmd
}

// writeCLIDocs writes the reference of root's tree into dir, replacing
// the Markdown pages there, and returns how many it wrote.
func writeCLIDocs(root *cobra.Command, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return 0, err
		}
	}
	root.DisableAutoGenTag = true // no date: the pages change only with the commands
	// Defaults that depend on the machine (the environment) are written
	// as their documented names.
	if f := root.PersistentFlags().Lookup("node"); f != nil {
		f.DefValue = defaultNode
	}
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return 0, err
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, p := range pages {
		bz, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		// The user's home folder never appears in a page.
		if h, err := os.UserHomeDir(); err == nil && h != "/" {
			bz = []byte(strings.ReplaceAll(string(bz), h, "~"))
		}
		if err := os.WriteFile(p, bz, 0o644); err != nil {
			return 0, err
		}
	}
	return len(pages), nil
}
