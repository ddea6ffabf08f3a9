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
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/internal/tomlkeys"
	"github.com/nmsim/nmsim/internal/version"
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
		&areaCommand{},
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
Run 'nmsim <command> --help' (or 'nmsim help <command>') for the flags of a
command, 'nmsim --version' for the version.

Quick start (the shipped preset, model and MNIST slice):
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --samples 1000
`)
}

// usageError is a mistake in the command line (an unknown command or flag,
// a bad flag value, a wrong number of arguments): main prints its message,
// one line, and exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usageErr says what is wrong with the command line of fs's command and
// where its help is.
func usageErr(fs *flag.FlagSet, format string, a ...any) error {
	return &usageError{fmt.Sprintf("nmsim %s: %s; see 'nmsim %s --help'", fs.Name(), fmt.Sprintf(format, a...), fs.Name())}
}

func run(ctx context.Context, args []string, env *Env) error {
	if len(args) == 0 {
		usage(env.Stderr)
		return &usageError{}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// nmsim help CMD is nmsim CMD --help, on stdout.
			helpEnv := *env
			helpEnv.Stderr = env.Stdout
			err := run(ctx, []string{args[1], "--help"}, &helpEnv)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		usage(env.Stdout)
		return nil
	case "-version", "--version", "version":
		fmt.Fprintln(env.Stdout, version.String())
		return nil
	}
	var names []string
	for _, c := range commands() {
		if c.Name() == args[0] {
			return c.Run(ctx, args[1:], env)
		}
		names = append(names, c.Name())
	}
	msg := fmt.Sprintf("nmsim: unknown command %q", args[0])
	if near := tomlkeys.Nearest(args[0], names, nil); near != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	return &usageError{msg + "; see 'nmsim --help'"}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := run(ctx, os.Args[1:], env)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(os.Stderr, ue.msg)
		}
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "nmsim:", strings.TrimSpace(err.Error()))
	os.Exit(1)
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
// positionals. --help prints the command's help and returns flag.ErrHelp;
// a bad flag is a one-line usageError, with the nearest flag name when
// the flag is unknown.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	// The flag package prints its error and the whole help on failure;
	// keep it quiet and say it in one line instead.
	help, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = help; fs.SetOutput(out) }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(out)
				help()
				return nil, err
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

var (
	unknownFlagRE = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	badValueRE    = regexp.MustCompile(`^invalid (boolean )?value (".*") for (?:flag )?-+([^:\s]+): (.*)$`)
	needsArgRE    = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// flagError rewrites a flag package error in the words of nmsim's help.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if m := unknownFlagRE.FindStringSubmatch(msg); m != nil {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = "unknown flag " + dashes(m[1])
		// One- and two-letter names are too short to guess from.
		if near := tomlkeys.Nearest(m[1], names, nil); near != "" && len(m[1]) > 2 {
			msg += fmt.Sprintf(" (did you mean %s?)", dashes(near))
		}
	} else if m := badValueRE.FindStringSubmatch(msg); m != nil {
		why := m[4]
		if m[1] != "" {
			why = "want true or false"
		} else if f := fs.Lookup(m[3]); f != nil && why == "parse error" {
			why = wantOf(f)
		}
		msg = fmt.Sprintf("%s %s: %s", dashes(m[3]), m[2], why)
	} else if m := needsArgRE.FindStringSubmatch(msg); m != nil {
		msg = dashes(m[1]) + " needs a value"
	}
	return usageErr(fs, "%s", msg)
}

// wantOf says what kind of value flag f takes.
func wantOf(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "parse error"
	}
	switch g.Get().(type) {
	case int, int64:
		return "want an integer"
	case uint, uint64:
		return "want an integer ≥ 0"
	case float64:
		return "want a number"
	case time.Duration:
		return "want a duration such as 90s or 1h30m"
	}
	return "parse error"
}

// dashes writes a flag name as the help does: -o, --samples.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// parseArgs is parseFlags for a command that takes exactly the named
// positional arguments, each holding the kind of file its name says
// (checkArgKinds).
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != len(names) {
		return nil, usageErr(fs, "want %s, got %s", strings.Join(names, " "), english.Count(len(pos), "argument"))
	}
	if err := checkArgKinds(fs, pos, names); err != nil {
		return nil, err
	}
	return pos, nil
}
