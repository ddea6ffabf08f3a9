package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/sweep"
)

// mergeCommand is `nmsim merge --out DIR SHARD_DIR…`.
type mergeCommand struct {
	out string
}

func (*mergeCommand) Name() string { return "merge" }
func (*mergeCommand) Synopsis() string {
	return "merge the result directories of sweep shards, checking every point is there once"
}

const mergeUsage = `
Usage: nmsim merge --out DIR SHARD_DIR…

Reads the results.jsonl and manifest.json of each shard directory written
by 'nmsim sweep --shard', checks that they belong to one sweep and that
every point of it is in exactly one of them, and writes DIR/results.jsonl
(lines copied unchanged, in the sweep's point order) and DIR/manifest.json.
A missing or duplicated point is an error that names it (and the shard
that should have run it) and writes nothing. Lines of points that are not
in the sweep, left from an earlier version of the sweep file, are dropped.

Example:
  nmsim merge --out runs/adc-rows runs/adc-rows-1 runs/adc-rows-2 runs/adc-rows-3
`

func (c *mergeCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("merge", c.Synopsis(), mergeUsage, env.Stderr)
	fs.StringVar(&c.out, "out", "", "directory for the merged results (required)")
	dirs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 || c.out == "" {
		return usageErr(fs, "want --out DIR and at least one shard directory")
	}
	sum, err := sweep.Merge(dirs, c.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "merged %s from %s into %s", english.Count(sum.Points, "point"), english.Count(len(dirs), "directory"), filepath.Join(c.out, sweep.ResultsFile))
	if sum.Stale > 0 {
		fmt.Fprintf(env.Stdout, " (%d lines of points not in the sweep left out)", sum.Stale)
	}
	fmt.Fprintln(env.Stdout)
	return nil
}
