package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fedledger/fedledger/datasets"
)

const datasetsHelp = `Downloads a data set's files from the UCI Machine Learning Repository into
--dir (default: your cache, e.g. ~/.cache/fedledger/datasets), checks every
file's MD5 sum against the one UCI publishes, and prints the folder to pass
as --data. Files already there with the right sum are kept; a file whose sum
differs is not written.

Examples:
  fedledger datasets fetch heart-disease
  fedledger datasets fetch wdbc --dir ./data
  fedledger datasets fetch wdbc --base-url http://mirror.example/uci   # a mirror with UCI's paths`

func newDatasetsCmd(g *globals) *cobra.Command {
	cmd := group("datasets", "Download public data sets and check their MD5 sums", "Downloads public data sets (UCI heart disease, WDBC) and checks their MD5 sums.", "  fedledger datasets fetch heart-disease", "name a subcommand: fedledger datasets fetch heart-disease|wdbc")
	fetch := leaf("fetch heart-disease|wdbc", "Download a UCI data set and check its MD5 sums", datasetsHelp)
	fetch.Args = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 || args[0] == "" {
			return usagef("name the data set: heart-disease or wdbc")
		}
		if len(args) > 1 {
			return usagef("unexpected argument %q", args[1])
		}
		if _, ok := datasets.Remote[args[0]]; !ok {
			return usagef("unknown data set %q (known: heart-disease, wdbc)", args[0])
		}
		return nil
	}
	fetch.ValidArgs = []string{"heart-disease", "wdbc"}
	dir := fetch.Flags().String("dir", "", "where to put the files (default: the user cache)")
	base := fetch.Flags().String("base-url", datasets.UCIBase, "base URL with UCI's paths")
	fetch.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		got, err := datasets.Fetch(ctx, args[0], *dir, *base, progress(cmd, g))
		if err != nil {
			return err
		}
		if g.json() {
			return writeJSON(cmd.OutOrStdout(), map[string]string{"dataset": args[0], "dir": got})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "done: use --data %s\n", got)
		return nil
	}
	cmd.AddCommand(fetch)
	return cmd
}
