package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"strings"

	"github.com/fedledger/fedledger/fl"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// EnvNode names the environment variable that gives --node its default.
const EnvNode = "FEDLEDGER_NODE"

// defaultNode is --node when neither the flag nor $FEDLEDGER_NODE is set.
const defaultNode = "http://127.0.0.1:26657"

// errUsage marks a bad command line; main prints it with a hint and exits 2.
var errUsage = errors.New("usage")

// usagef returns a usage error.
func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, a...)...)
}

// globals are the persistent flags every command has.
type globals struct {
	home   string
	node   string
	output string
	trust  trustFlags
}

// json reports whether the command should print JSON.
func (g *globals) json() bool { return g.output == "json" }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code: 0 done, 1
// failed, 2 a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context: a long-running command (node, train)
// stops when ctx ends, as on SIGINT.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runRoot(ctx, newRoot(stdout, stderr), args, stderr)
}

// runRoot executes args on a command tree and returns the exit code.
func runRoot(ctx context.Context, root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	name := strings.TrimPrefix(cmd.CommandPath(), "fedledger ")
	if errors.Is(err, errUsage) {
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		if cmd == root {
			fmt.Fprintf(stderr, "fedledger: %s\nRun 'fedledger --help' for the list of commands.\n", msg)
		} else {
			fmt.Fprintf(stderr, "fedledger %s: %s\nRun '%s --help' for usage.\n", name, msg, cmd.CommandPath())
		}
		return 2
	}
	if cmd == root {
		fmt.Fprintf(stderr, "fedledger: %v\n", err)
	} else {
		fmt.Fprintf(stderr, "fedledger %s: %v\n", name, err)
	}
	return 1
}

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "fedledger",
		Short: "Federated learning between hospitals, with a CometBFT blockchain in place of the central server",
		Long: `fedledger: federated learning between hospitals, with a CometBFT blockchain
in place of the central server. Hospitals train locally and submit signed,
hash-committed model updates; the validators aggregate them deterministically
inside the state machine, so every round is on a ledger anyone can replay.

Start with 'fedledger demo --data ../shared/datasets': a whole federation in
one process.

` + trustHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if g.output != "text" && g.output != "json" {
				return usagef("--output %q: want text or json", g.output)
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	node := os.Getenv(EnvNode)
	if node == "" {
		node = defaultNode
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", "", "a home folder: a participant's key home (key.json), or a node's CometBFT home")
	pf.StringVar(&g.node, "node", node, "a node's RPC address; $"+EnvNode+" sets the default")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.trust.genesis, "genesis", "", "the chain's genesis file: the trust root for verifying answers (default: genesis.json in --home)")
	pf.Int64Var(&g.trust.height, "trust-height", 0, "height of a header you trust (with --trust-hash), in place of genesis")
	pf.StringVar(&g.trust.hash, "trust-hash", "", "hex hash of the header at --trust-height")
	pf.DurationVar(&g.trust.period, "trust-period", fl.DefaultTrustPeriod, "trusting period: how old a trusted header may be and still vouch for newer ones")
	root.AddCommand(
		newDemoCmd(g), newDatasetsCmd(g), newTestnetCmd(g), newNodeCmd(g), newTrainCmd(g),
		newTaskCmd(g), newRoundsCmd(g), newModelCmd(g), newPredictCmd(g), newKeysCmd(g), newRecordsCmd(g), newGatewayCmd(g), newDevicesCmd(g), newAuditCmd(g), newExplorerCmd(g), newTxCmd(g), newBenchCmd(g), newVersionCmd(g), newDocsCmd(g),
	)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "Generate the shell completion script for bash, zsh, fish or powershell"
			c.Example = "  fedledger completion bash > /etc/bash_completion.d/fedledger\n  source <(fedledger completion zsh)"
		}
	}
	return root
}

// noArgs refuses positional arguments; on a command with subcommands it
// names the unknown subcommand and the known ones.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return unknownSub(cmd, args[0])
	}
	return usagef("unexpected argument %q", args[0])
}

// unknownSub is the error for an unknown subcommand, with suggestions.
func unknownSub(cmd *cobra.Command, name string) error {
	var known []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			known = append(known, c.Name())
		}
	}
	what := "subcommand"
	if !cmd.HasParent() {
		what = "command"
	}
	if n, ok := cmd.Annotations["noun"]; ok {
		what = n
	}
	msg := fmt.Sprintf("unknown %s %q (known: %s)", what, name, strings.Join(known, ", "))
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s", msg)
}

// group returns a command that only holds subcommands: run bare, it says
// which ones there are.
func group(use, short, long, example, missing string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long, Example: example,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("%s", missing)
		},
	}
}

// leaf returns a runnable command with the given help; long text and
// examples come from one help text split at its "Examples:" line.
func leaf(use, short, help string) *cobra.Command {
	long, example, _ := strings.Cut(help, "\nExamples:\n")
	return &cobra.Command{Use: use, Short: short, Long: strings.TrimSpace(long), Example: strings.TrimRight(example, "\n"), Args: noArgs}
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progress is where a command prints progress: stdout for text output,
// stderr when stdout carries JSON.
func progress(cmd *cobra.Command, g *globals) io.Writer {
	if g.json() {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

// changed reports whether a flag was given on the command line.
func changed(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}

// warnIgnored tells on stderr which of the named flags were given although
// they do not apply, and why, instead of ignoring them without a word.
func warnIgnored(cmd *cobra.Command, fs *pflag.FlagSet, why string, names ...string) {
	var given []string
	for _, n := range names {
		if changed(fs, n) {
			given = append(given, "--"+n)
		}
	}
	verb := "does"
	if len(given) > 1 {
		verb = "do"
	}
	if len(given) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s %s not apply (%s); ignored\n", strings.Join(given, ", "), verb, why)
	}
}
