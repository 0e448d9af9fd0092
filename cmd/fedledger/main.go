package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"demo", "run a federated task end to end on an in-process 4-validator network", runDemo},
	{"datasets", "'datasets fetch heart-disease|wdbc' downloads UCI data and checks its MD5 sums", runDatasets},
	{"testnet", "write node homes and participant keys for a multi-machine network", runTestnet},
	{"node", "run a validator (or full node) with the fedledger app", runNode},
	{"train", "run a hospital's trainer against a node", runTrain},
	{"task", "create, list and show training tasks (researchers)", runTask},
	{"rounds", "list and show the rounds of a task (reviewers)", runRounds},
	{"audit", "verify a task's every round against the blocks, independently of the node", runAudit},
	{"bench", "benchmarks: 'bench heart' (FLamby's table), 'bench attacks' (malicious hospitals)", runBench},
}

// errUsage marks a bad command line; main prints it with a hint and exits 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				fmt.Fprintf(stderr, "fedledger %s: %v\nRun 'fedledger %s --help' for usage.\n", c.name, err, c.name)
				return 2
			default:
				fmt.Fprintf(stderr, "fedledger %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	fmt.Fprintf(stderr, "fedledger: unknown command %q\nRun 'fedledger help' for the list of commands.\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `fedledger: federated learning between hospitals, with a CometBFT blockchain
in place of the central server.

Usage:
  fedledger <command> [flags]

Commands:`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `
Run 'fedledger <command> --help' for a command's flags and examples.`)
}

// newFlagSet returns a flag set whose errors are returned, not printed, and
// whose --help goes to stdout.
func newFlagSet(name, help string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), help)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; a bad flag is a usage error, -h is flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// subcommand splits "SUB args..." off a command's arguments. With no
// arguments it is a usage error saying missing; with a help flag it prints
// help and reports done.
func subcommand(args []string, help, missing string, stdout io.Writer) (sub string, rest []string, done bool, err error) {
	if len(args) == 0 {
		return "", nil, false, fmt.Errorf("%w: %s", errUsage, missing)
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, help)
		return "", nil, true, nil
	}
	return args[0], args[1:], false, nil
}
