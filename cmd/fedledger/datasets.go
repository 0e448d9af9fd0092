package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedledger/fedledger/datasets"
)

const datasetsHelp = `Usage: fedledger datasets fetch heart-disease|wdbc [flags]

Downloads a data set's files from the UCI Machine Learning Repository into
--dir (default: your cache, e.g. ~/.cache/fedledger/datasets), checks every
file's MD5 sum against the one UCI publishes, and prints the folder to pass
as --data. Files already there with the right sum are kept; a file whose sum
differs is not written.

Examples:
  fedledger datasets fetch heart-disease
  fedledger datasets fetch wdbc --dir ./data
  fedledger datasets fetch wdbc --base-url http://mirror.example/uci   # a mirror with UCI's paths`

func runDatasets(args []string, stdout, stderr io.Writer) error {
	sub, args, done, err := subcommand(args, datasetsHelp, "want: fedledger datasets fetch heart-disease|wdbc", stdout)
	if done || err != nil {
		return err
	}
	if sub != "fetch" {
		return fmt.Errorf("%w: unknown subcommand %q (known: fetch)", errUsage, sub)
	}
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, datasetsHelp)
		return nil
	}
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return fmt.Errorf("%w: name the data set: heart-disease or wdbc", errUsage)
	}
	name := args[0]
	if _, ok := datasets.Remote[name]; !ok {
		return fmt.Errorf("%w: unknown data set %q (known: heart-disease, wdbc)", errUsage, name)
	}
	fs := newFlagSet("datasets fetch", datasetsHelp, stdout)
	dir := fs.String("dir", "", "where to put the files (default: the user cache)")
	base := fs.String("base-url", datasets.UCIBase, "base URL with UCI's paths")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	got, err := datasets.Fetch(ctx, name, *dir, *base, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: use --data %s\n", got)
	return nil
}
