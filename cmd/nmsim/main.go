// Command nmsim simulates binary spiking neural networks on a chip of
// XNOR/ReRAM crossbars joined by a network-on-chip. Each subcommand lives in
// its own file as one struct: defaults → flags → load → validate → run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
)

// command is one subcommand.
type command interface {
	// Name is the word the user types.
	Name() string
	// Synopsis is a one-line description for the command list.
	Synopsis() string
	// Run parses args (everything after the name) and does the work.
	Run(ctx context.Context, args []string, env *Env) error
}

// Env is what a command may touch of the outside world, so tests can run
// commands in-process.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads environment variables (os.Getenv in main).
	Getenv func(string) string
}

func commands() []command {
	cmds := []command{
		newTrainCommand(),
		&mapCommand{},
		&runCommand{},
		&inspectCommand{},
		&compareCommand{},
		&nocCommand{},
		&sweepCommand{},
		&mergeCommand{},
		&reportCommand{},
		&importCommand{},
		&exportCommand{},
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name() < cmds[j].Name() })
	return cmds
}

func usage(w io.Writer) {
	fmt.Fprint(w, `nmsim simulates binary spiking neural networks on a neuromorphic chip of
XNOR/ReRAM crossbars and a network-on-chip, and reports accuracy, cycles and
energy for real data run through the simulated chip.

Usage:
  nmsim <command> [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name(), c.Synopsis())
	}
	fmt.Fprint(w, `
Run 'nmsim <command> --help' for the flags of a command.

Quick start (the shipped preset, model and MNIST slice):
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --samples 1000
`)
}

// errUsage marks errors whose message is already printed with the usage.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		return nil
	}
	for _, c := range commands() {
		if c.Name() == args[0] {
			return c.Run(ctx, args[1:], env)
		}
	}
	usage(env.Stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := run(ctx, os.Args[1:], env); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "nmsim:", strings.TrimSpace(err.Error()))
		}
		os.Exit(1)
	}
}

// newFlagSet makes a flag set whose --help prints the command's own text.
func newFlagSet(name, synopsis, usageText string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "%s\n\n%s\nFlags:\n", synopsis, strings.TrimSpace(usageText))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args allowing flags after positional arguments
// ("nmsim run arch.toml model.bin --samples 10"), and returns the
// positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseArgs is parseFlags for a command that takes exactly the named
// positional arguments; a wrong count prints the usage and names them.
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != len(names) {
		fs.Usage()
		return nil, fmt.Errorf("%s: want %s, got %d arguments", fs.Name(), strings.Join(names, " "), len(pos))
	}
	return pos, nil
}
