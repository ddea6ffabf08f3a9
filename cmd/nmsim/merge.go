package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/sweep"
	"github.com/nmsim/nmsim/workloads/model"
)

// mergeCommand is `nmsim merge --out DIR SHARD_DIR…` and
// `nmsim merge --runs PART…`.
type mergeCommand struct {
	out      string
	runs     bool
	jsonPath string
}

func (*mergeCommand) Name() string { return "merge" }
func (*mergeCommand) Synopsis() string {
	return "merge sweep shards, or the parts of one run, checking every piece is there once"
}

const mergeUsage = `
Usage: nmsim merge --out DIR SHARD_DIR…
       nmsim merge --runs PART.json… [--json FILE]

Reads the results.jsonl and manifest.json of each shard directory written
by 'nmsim sweep --shard', checks that they belong to one sweep and that
every point of it is in exactly one of them, and writes DIR/results.jsonl
(lines copied unchanged, in the sweep's point order) and DIR/manifest.json.
A missing or duplicated point is an error that names it (and the shard
that should have run it) and writes nothing. Lines of points that are not
in the sweep, left from an earlier version of the sweep file, are dropped.

With --runs it reads the part files that 'nmsim run --shard i/n --json
PART' wrote, checks that they are the n shards of one run (same arch,
--set, model, data, samples, timesteps, seed, --mc, nmsim version: the
first field that differs is named), each once, and prints the run's
report and writes it to --json: byte for byte the JSON of the same run
made on one machine. It reads the arch and model files the parts name,
at the paths the run was given, and refuses them if their SHA-256 has
changed: merge where the parts ran.

Examples:
  nmsim merge --out runs/adc-rows runs/adc-rows-1 runs/adc-rows-2 runs/adc-rows-3
  nmsim merge --runs part-1.json part-2.json part-3.json --json all.json
`

func (c *mergeCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("merge", c.Synopsis(), mergeUsage, env.Stderr)
	fs.StringVar(&c.out, "out", "", "directory for the merged sweep results")
	fs.BoolVar(&c.runs, "runs", false, "merge the part files of one run sharded with nmsim run --shard")
	fs.StringVar(&c.jsonPath, "json", "", "with --runs: write the merged report as JSON to this file")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if c.runs {
		if len(args) == 0 || c.out != "" {
			return usageErr(fs, "--runs wants part files (and --json FILE), not --out")
		}
		return c.mergeRuns(args, env)
	}
	if len(args) == 0 || c.out == "" || c.jsonPath != "" {
		return usageErr(fs, "want --out DIR and at least one shard directory (--json is for --runs)")
	}
	sum, err := sweep.Merge(args, c.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "merged %s from %s into %s", english.Count(sum.Points, "point"), english.Count(len(args), "directory"), filepath.Join(c.out, sweep.ResultsFile))
	if sum.Stale > 0 {
		fmt.Fprintf(env.Stdout, " (%d lines of points not in the sweep left out)", sum.Stale)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}

// mergeRuns adds up the part files of one run.
func (c *mergeCommand) mergeRuns(files []string, env *Env) error {
	parts := make([]*runner.Part, len(files))
	for i, f := range files {
		p, err := runner.ReadPart(f)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		parts[i] = p
	}
	rep, err := runner.MergeParts(parts, files, loadRun)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := printReport(env.Stdout, "text", rep, english.Count(len(parts), "part")); err != nil {
		return err
	}
	if c.jsonPath != "" {
		if err := writeJSON(c.jsonPath, rep); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	return nil
}

// loadRun reads the arch (with the run's --set) and model files that a
// run's provenance names, refusing files that changed since, and places
// the model as the run did.
func loadRun(spec *runner.RunSpec) (*arch.Config, *model.Model, *mapper.Placement, error) {
	p := spec.Provenance
	for _, f := range []runner.FileRef{p.Arch, p.Model} {
		now, err := runner.NewFileRef(f.Path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w (merge reads the arch and model files the run was given)", err)
		}
		if now.SHA256 != f.SHA256 {
			return nil, nil, nil, fmt.Errorf("%s has changed since the run: SHA-256 %s, the parts recorded %s", f.Path, now.SHA256, f.SHA256)
		}
	}
	cfg, m, nl, err := mapper.LoadWith(p.Arch.Path, p.Set, p.Model.Path)
	if err != nil {
		return nil, nil, nil, err
	}
	if spec.FrameUS != 0 {
		m.Input.FrameUS = spec.FrameUS
	}
	return cfg, m, nl.Placement, nil
}
