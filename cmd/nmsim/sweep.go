package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/sweep"
	"github.com/nmsim/nmsim/workloads/dataset"
)

// sweepCommand is `nmsim sweep sweep.toml`.
type sweepCommand struct {
	out     string
	data    string
	workers int
	shard   string
	shards  int
	timing  bool
	dryRun  bool
}

func (*sweepCommand) Name() string { return "sweep" }
func (*sweepCommand) Synopsis() string {
	return "run a design-space sweep: every point's results as a line of DIR/results.jsonl"
}

const sweepUsage = `
Usage: nmsim sweep sweep.toml [--out DIR] [--workers N] [--shard i/n]

Expands sweep.toml into design points (the product of its axes, zip groups
varying together, constraints leaving points out), validates every point's
arch config before anything runs, then runs each point's data slice
through the simulated chip and appends one JSON line per point to
DIR/results.jsonl: the point's values and the report of 'nmsim run --json'.
Paths in sweep.toml are relative to the working directory. docs/sweeps.md
describes the file.

Each line is keyed by a hash of the point's arch config, model file, data
slice, seed and nmsim version; running the command again skips the points
already in DIR, so an interrupted or killed sweep resumes where it stopped.
A model that does not fit a point's chip is recorded as skipped, with why.

--shard i/n runs the i-th of n deterministic parts of the points (point k
goes to part k mod n). Inside a Slurm job array the part comes from
SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, inside a Kubernetes Indexed
Job from JOB_COMPLETION_INDEX with --shards giving the count. Give every
part its own --out and combine them with 'nmsim merge'.

Examples:
  nmsim sweep configs/sweeps/adc-rows.toml --out runs/adc-rows
  nmsim sweep configs/sweeps/adc-rows.toml --out runs/adc-rows-2 --shard 2/3
  nmsim sweep configs/sweeps/adc-rows.toml --dry-run
`

func (c *sweepCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("sweep", c.Synopsis(), sweepUsage, env.Stderr)
	fs.StringVar(&c.out, "out", "", "results directory (default: the sweep file's name with -results, in the working directory)")
	fs.StringVar(&c.data, "data", "", "data directory (default: $NMSIM_DATA, ../shared/data, ./data)")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "parallel workers (results are identical for any count)")
	fs.StringVar(&c.shard, "shard", "", "run only part i of n, e.g. 2/3 (default: from a Slurm or Kubernetes job array, else all)")
	fs.IntVar(&c.shards, "shards", 0, "number of parts when the index comes from JOB_COMPLETION_INDEX (Kubernetes)")
	fs.BoolVar(&c.timing, "timing", false, "record each point's wall-clock seconds (wall_s) in its line")
	fs.BoolVar(&c.dryRun, "dry-run", false, "expand and validate the points, print how many, run nothing")
	pos, err := parseArgs(fs, args, "sweep.toml")
	if err != nil {
		return err
	}
	if err := checkFlags(flagRule{"--workers", c.workers, c.workers >= 1, "≥ 1"}); err != nil {
		return usageErr(fs, "%v", err)
	}
	shard, source, err := c.pickShard(env)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	spec, err := sweep.Load(pos[0])
	if err != nil {
		return err
	}
	dir, how := dataset.ResolveDir(c.data)
	plan, err := sweep.NewPlan(spec, dir)
	if err != nil {
		if how != "flag" {
			return fmt.Errorf("%w\n(the data directory was chosen by %s; --data picks another)", err, how)
		}
		return err
	}
	inShard := 0
	for _, p := range plan.Points {
		if shard.Contains(p.Index) {
			inShard++
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "sweep %s: %s", spec.File, english.Count(len(plan.Points), "point"))
	if plan.Excluded > 0 {
		fmt.Fprintf(w, " (%d arch combinations left out by constraints)", plan.Excluded)
	}
	if shard.Count > 0 {
		fmt.Fprintf(w, "; shard %s%s: %s", shard, source, english.Count(inShard, "point"))
	}
	fmt.Fprintln(w)
	if c.dryRun {
		return nil
	}
	if c.out == "" {
		c.out = strings.TrimSuffix(filepath.Base(spec.File), filepath.Ext(spec.File)) + "-results"
	}
	bar := newPointProgress(env.Stderr)
	sum, err := sweep.Run(ctx, plan, sweep.Options{
		Dir: c.out, Workers: c.workers, Shard: shard, Timing: c.timing, Progress: bar.update,
	})
	bar.finish()
	if sum != nil {
		if sum.Torn > 0 {
			fmt.Fprintf(w, "cut a partial last line (%d bytes) left by a killed run; its point ran again\n", sum.Torn)
		}
		fmt.Fprintf(w, "%d points done before, %d run now", sum.Resumed, sum.Ran)
		if sum.Unfit > 0 {
			fmt.Fprintf(w, " (%d recorded as skipped: the model does not fit the chip)", sum.Unfit)
		}
		fmt.Fprintf(w, "; results in %s\n", filepath.Join(c.out, sweep.ResultsFile))
	}
	return err
}

// pickShard takes --shard, else the job-array environment.
func (c *sweepCommand) pickShard(env *Env) (sweep.Shard, string, error) {
	if c.shard != "" {
		if c.shards > 0 {
			return sweep.Shard{}, "", fmt.Errorf("give --shard i/n or --shards n, not both")
		}
		s, err := sweep.ParseShard(c.shard)
		return s, "", err
	}
	s, source, err := sweep.ShardFromEnv(env.Getenv, c.shards)
	if source != "" {
		source = " (from " + source + ")"
	}
	return s, source, err
}

// pointProgress shows points done, the rate and the time left: redrawn in
// place on a terminal, as a line every half minute in a log (a batch job's
// output), so long sweeps show signs of life without flooding the log.
type pointProgress struct {
	w         io.Writer
	tty       bool
	start     time.Time
	startDone int
	last      time.Time
	done      int
	total     int
}

func newPointProgress(w io.Writer) *pointProgress {
	f, ok := w.(*os.File)
	return &pointProgress{w: w, tty: ok && isatty.IsTerminal(f.Fd()), start: time.Now(), startDone: -1}
}

// logEvery is how often a non-terminal gets a progress line.
const logEvery = 30 * time.Second

func (p *pointProgress) update(done, total int) {
	now := time.Now()
	if p.startDone < 0 {
		p.startDone, p.start, p.last = done, now, now
	}
	p.done, p.total = done, total
	switch {
	case p.tty:
		fmt.Fprintf(p.w, "\r%s", p.line(now))
	case now.Sub(p.last) >= logEvery:
		fmt.Fprintln(p.w, p.line(now))
		p.last = now
	}
}

func (p *pointProgress) finish() {
	if p.startDone < 0 {
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\n", p.line(time.Now()))
	} else if p.done > p.startDone {
		fmt.Fprintln(p.w, p.line(time.Now()))
	}
}

// line is "points 12/24 [#####.....] 50 %  3.4/min  ETA 3m30s".
func (p *pointProgress) line(now time.Time) string {
	const width = 24
	filled := width
	if p.total > 0 {
		filled = width * p.done / p.total
	}
	s := fmt.Sprintf("points %d/%d [%s%s] %3.0f %%", p.done, p.total,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), 100*float64(p.done)/float64(max(p.total, 1)))
	ran := p.done - p.startDone
	if elapsed := now.Sub(p.start); ran > 0 && elapsed > 0 {
		perMin := float64(ran) / elapsed.Minutes()
		left := time.Duration(float64(p.total-p.done) / perMin * float64(time.Minute)).Round(time.Second)
		rate := fmt.Sprintf("%.3g", perMin)
		if perMin >= 100 {
			rate = fmt.Sprintf("%.0f", perMin)
		}
		s += fmt.Sprintf("  %s points/min  ETA %s", rate, left)
	}
	return s + "   "
}
