package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"

	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/sweep"
	"github.com/nmsim/nmsim/trace"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// runCommand is `nmsim run arch.toml model.bin`.
type runCommand struct {
	dataFlags
	timesteps int
	seed      uint64
	workers   int
	golden    bool
	sets      setFlags
	jsonPath  string
	cpuProf   string
	mc        int
	at        string
	format    string
	frameUS   int
	tracePath string
	traceN    int
	shard     string
	exit      bool
	exitRule  chip.EarlyExit
}

func (*runCommand) Name() string { return "run" }
func (*runCommand) Synopsis() string {
	return "run a data set through the simulated chip: accuracy, cycles, energy"
}

const runUsage = `
Usage: nmsim run arch.toml model.bin [flags]

Maps model.bin onto the chip that arch.toml describes, runs the test split
of a data set through it sample by sample, and prints accuracy, cycles and
latency per inference, energy per inference with a per-component
breakdown (the component model of docs/energy-model.md, at tech.node_nm),
average and peak power, chip area, inferences per second, energy × latency,
TOPS/W (a synaptic operation is one driven row × one weight), spikes per
layer and crossbar utilisation.

Data are read from --data, else $NMSIM_DATA, else ../shared/data beside the
repository, else ./data (a 1000-image MNIST slice ships there). Samples are
the first N of the test split; more than it holds is an error (data/README.md
says how to get the full data sets). The data set is the one the model was
trained on; --dataset naming another is refused unless
--allow-dataset-mismatch (then a warning, recorded in the JSON).

Your own samples or spike trains: --dataset file:PATH.npz, a NumPy .npz
with arrays frames ([N, C, H, W], or [N, T, C, H, W] for a frame-coded
model) and labels ([N]), whole numbers; docs/datasets.md has the details.

Samples run in parallel on --workers goroutines; the report is identical
for any worker count. The JSON report records how it was made: nmsim
version, the arch file's path and SHA-256, every --set, the model file's
path and SHA-256, the data.

With --golden every sample also runs through the reference software SNN
and every spike of every layer at every timestep is compared; the number
of differing spikes is reported (0 with ideal devices).

Examples:
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --samples 1000
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --golden --set crossbar.rows_per_read=16
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --timesteps 16 --json out.json
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --mc 10 --set device.variation_sigma=0.2

Event data (--dataset nmnist) are binned into frames of the model's frame
length (--frame-us overrides it), one frame per timestep; each pixel's
count in a frame is clipped to the model's input bits, so a 1-bit input
reads each frame as spikes (one per pixel that saw events).

With --early-exit a rate-coded model (read out by the argmax of its output
layer) stops a sample once one class has led every other by at least
--exit-margin (in units of the output layer's largest weight; output spikes
for a spike readout) at the end of --exit-steps consecutive timesteps;
cycles and energy are then to that decision, and the report gives the mean
timesteps to decision. First-spike models stop at their first output spike
anyway.

With --mc N the run is repeated on N chip instances, each with its own
device draws (seed of instance 0 is --seed, the others derived from it);
the tables describe instance 0 and the Monte-Carlo rows (and the "mc" JSON
object) give the accuracy mean, standard deviation and 95 % interval.

With --trace FILE the first --trace-samples samples (default 1) run once
more on chip instance 0 (--seed), one after the other, and what the chip
did cycle by cycle is written to FILE as a Chrome trace (a JSON object
with traceEvents): a track per tile with its crossbar reads and neuron
updates (layer and timestep in their arguments), the time slots each
ending at a timestep's global barrier, a track per router with packet
grants and ejections and a counter of the flits its input buffers hold, a
track per link (busy while flits follow each other on it), packets from
injection to delivery, and the packets each tile's network interface has
in flight. Open it at https://ui.perfetto.dev or chrome://tracing
(docs/simulator.md). A trace holds at most a million events (an MNIST
sample of models/mnist-convert.bin makes 55,000, 4.9 MB).

One run across machines: --shard i/n (1-based, like nmsim sweep) runs
share i of n of the run's (instance, sample) items, dealt out in turn as
a sweep deals its points, and writes a part file to --json; nmsim merge
--runs adds the n parts up to the report the run makes on one machine,
byte for byte (docs/sweeps.md, "One run across machines").
  nmsim run configs/rram-xnor.toml models/mnist-convert.bin --mc 20 --shard 2/8 --json part-2.json
`

// defaultExit is --early-exit's rule: of margins 3, 5, 7, 10, 15, 20, 30
// over 1, 2 or 3 steps, the one with the fewest mean timesteps that lost
// at most 0.2 points against the full run on 5,000 MNIST training images
// (T = 16) and 2,000 Fashion-MNIST ones (T = 64) with the shipped
// converted models (docs/results.md).
var defaultExit = chip.EarlyExit{Margin: 10, Steps: 1}

func (c *runCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("run", c.Synopsis(), runUsage, env.Stderr)
	c.dataFlags.register(fs, "the one the model was trained on")
	fs.IntVar(&c.timesteps, "timesteps", 0, "timesteps per sample, at most 65536 (0: the model's default)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of every random draw of the simulated chip")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "parallel workers (samples are independent)")
	fs.StringVar(&c.at, "accuracy-at", "", "also report accuracy after these timesteps of the same run, e.g. 4,8,16")
	fs.IntVar(&c.mc, "mc", 1, "Monte-Carlo chip instances: independent device draws, seeds derived from --seed")
	fs.BoolVar(&c.golden, "golden", false, "also run the reference SNN and count spike mismatches")
	fs.Var(&c.sets, "set", "override an arch key, e.g. --set crossbar.adc_bits=4 (repeatable)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&c.format, "format", "text", "tables as text (terminal), md (GitHub Markdown) or latex (booktabs), for papers")
	fs.IntVar(&c.frameUS, "frame-us", 0, "event data (nmnist): frame length in µs that events are binned into, one frame per timestep (0: the model's own, else 1000)")
	fs.StringVar(&c.tracePath, "trace", "", "also write a Chrome/Perfetto trace of the first --trace-samples samples to `FILE`")
	fs.IntVar(&c.traceN, "trace-samples", 1, "samples the --trace file holds")
	fs.StringVar(&c.shard, "shard", "", "run share `i/n` (1-based) of the run and write it as a part file to --json, for nmsim merge --runs")
	fs.BoolVar(&c.exit, "early-exit", false, "stop a rate-coded sample once its class has led by --exit-margin for --exit-steps timesteps")
	fs.Float64Var(&c.exitRule.Margin, "exit-margin", defaultExit.Margin, "early exit: the lead over the second class, in units of the output layer's largest weight (spikes for a spike readout)")
	fs.IntVar(&c.exitRule.Steps, "exit-steps", defaultExit.Steps, "early exit: consecutive timesteps the same class must lead by the margin")
	fs.StringVar(&c.cpuProf, "cpuprofile", "", "write a Go CPU profile of the run to this file (for `go tool pprof`)")
	pos, err := parseArgs(fs, args, "arch.toml", "model.bin")
	if err != nil {
		return err
	}
	if err := checkFlags(
		flagRule{"--format", c.format, c.format == "text" || c.format == "md" || c.format == "latex", "text, md or latex"},
		flagRule{"--samples", c.samples, c.samples >= 0, "≥ 0 (0: all)"},
		flagRule{"--timesteps", c.timesteps, c.timesteps >= 0 && c.timesteps <= model.MaxTimesteps, fmt.Sprintf("in 0..%d (0: the model's default)", model.MaxTimesteps)},
		flagRule{"--workers", c.workers, c.workers >= 1, "≥ 1"},
		flagRule{"--mc", c.mc, c.mc >= 1, "≥ 1"},
		flagRule{"--trace-samples", c.traceN, c.traceN >= 1, "≥ 1"},
		flagRule{"--exit-margin", c.exitRule.Margin, c.exitRule.Check() == nil, "a finite number ≥ 0"},
		flagRule{"--exit-steps", c.exitRule.Steps, c.exitRule.Steps >= 1, "≥ 1"},
	); err != nil {
		return usageErr(fs, "%v", err)
	}
	var shard sweep.Shard
	if c.shard != "" {
		if shard, err = sweep.ParseShard(c.shard); err != nil {
			return usageErr(fs, "--%v", err)
		}
		if c.jsonPath == "" {
			return usageErr(fs, "--shard %s needs --json FILE, the part file that nmsim merge --runs reads", shard)
		}
		if c.tracePath != "" {
			return usageErr(fs, "--trace is for a whole run, not a --shard")
		}
	}
	cfg, m, nl, err := mapper.LoadWith(pos[0], c.sets, pos[1])
	if err != nil {
		return err
	}
	if c.frameUS != 0 {
		if c.frameUS < 0 || m.Input.Coding != model.CodingFrames {
			return fmt.Errorf("run: --frame-us %d: want > 0, for a model with frame-coded input (%s reads %s-coded input)", c.frameUS, pos[1], m.Input.Coding)
		}
		m.Input.FrameUS = c.frameUS
	}
	var exit chip.EarlyExit
	if c.exit {
		if m.FirstSpikeReadout() {
			return fmt.Errorf("run: --early-exit is for rate-coded models; %s stops at its first output spike anyway", pos[1])
		}
		exit = c.exitRule
	}
	// The chip is built before the data are read, so that a model the
	// chip cannot hold fails first; the run's instance 0 (seed c.seed)
	// then takes that chip instead of building it again.
	built, err := chip.Build(cfg, nl, m, c.seed)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", pos[1], pos[0], err)
	}
	build := func(seed uint64) (*chip.Chip, error) {
		if ch := built; ch != nil && seed == c.seed {
			built = nil
			return ch, nil
		}
		return chip.Build(cfg, nl, m, seed)
	}
	T := c.timesteps
	if T == 0 {
		T = m.Timesteps
	}
	set, prov, err := c.load(env, "run", pos[0], c.sets, pos[1], m, T)
	if err != nil {
		return err
	}
	n := set.Len()
	if c.tracePath != "" && c.traceN > n {
		return fmt.Errorf("run: --trace-samples %d: the run has %s", c.traceN, english.Count(n, "sample"))
	}
	if c.cpuProf != "" {
		stop, err := startCPUProfile(c.cpuProf)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		defer stop()
	}
	var at []int
	if c.at != "" {
		if at, err = parseTimesteps(c.at); err != nil {
			return fmt.Errorf("run: --accuracy-at: %w", err)
		}
	}
	items := 0
	for k := 0; k < n*c.mc; k++ {
		if shard.Contains(k) {
			items++
		}
	}
	bar := newProgress(env.Stderr, items, "samples")
	o := runner.Options{
		Samples: n, Timesteps: T, Workers: c.workers, Seed: c.seed, Golden: c.golden, AccuracyAt: at, Exit: exit,
		Progress: func() { bar.Add(1) },
	}
	if c.shard != "" {
		all, err := runner.RunShard(ctx, build, set, o, c.mc, shard.Contains)
		bar.Finish()
		if err != nil {
			return err
		}
		part := &runner.Part{Format: runner.PartFormat, Shard: shard.Index, Shards: shard.Count, Instances: all, Run: runner.RunSpec{
			Model: m.Name, Dataset: set.Name, Samples: n, Timesteps: T, Seed: c.seed, Instances: c.mc,
			Golden: c.golden, AccuracyAt: at, FrameUS: c.frameUS, Exit: exit, Provenance: prov,
		}}
		if err := writeJSON(c.jsonPath, part); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		fmt.Fprintf(env.Stdout, "shard %s: %d of the run's %d items (%s × %s) in %s; nmsim merge --runs adds up the %s\n",
			shard, items, n*c.mc, english.Count(n, "sample"), english.Count(c.mc, "instance"), c.jsonPath, english.Count(shard.Count, "part"))
		return nil
	}
	rep, err := runner.RunMonteCarlo(ctx, build, set, o, c.mc)
	bar.Finish()
	if err != nil {
		return err
	}
	rep.Provenance = prov
	if err := printReport(env.Stdout, c.format, rep, c.dir); err != nil {
		return err
	}
	if c.jsonPath != "" {
		if err := writeJSON(c.jsonPath, rep); err != nil {
			return fmt.Errorf("run: %w", err)
		}
	}
	if c.tracePath != "" {
		ch, err := build(c.seed)
		if err != nil {
			return err
		}
		f, err := trace.Record(ch, set, c.traceN, T)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		return f.WriteFile(c.tracePath)
	}
	return nil
}

func printReport(w io.Writer, format string, r *runner.Result, dir string) error {
	fmt.Fprintf(w, "model %s on %s, %d %s test %s from %s\n", r.Model, r.Chip.Mesh, r.Samples, r.Dataset, english.Noun(r.Samples, "sample"), dir)
	rows := [][]string{
		{"accuracy", fmt.Sprintf("%.2f %% (%d/%d)", 100*r.Accuracy, r.Correct, r.Samples)},
		{"timesteps", fmt.Sprint(r.Timesteps)},
		{"cycles / inference", fmt.Sprintf("%.0f", r.Cycles.PerInference)},
		{"latency / inference", si(r.LatencyS.PerInference, "s") + fmt.Sprintf(" at %g MHz", r.ClockMHz)},
		{"energy / inference", si(r.Energy.PerInference, "J") + fmt.Sprintf(" at %g nm, %.2f V, %s", r.Tech.NodeNM, r.Tech.Vdd, r.Tech.Process)},
		{"power", fmt.Sprintf("%s average, %s peak", si(r.PowerW.Average, "W"), si(r.PowerW.Peak.Peak, "W"))},
		{"area", fmt.Sprintf("%.3f mm² (%.3f mm² per tile; used tiles %.3f mm²)", r.AreaMM2.Total, r.AreaMM2.PerTile, r.AreaMM2.UsedTiles)},
		{"inferences / s, EDP", fmt.Sprintf("%.4g, %s·s", r.InferencesPerS, si(r.EDPJS, "J"))},
		{"TOPS/W", fmt.Sprintf("%.3g (%.3g synaptic operations / inference: a driven row × a weight)", r.TOPSPerW, r.SynapticOps)},
		{"spikes / inference", fmt.Sprintf("%.0f", r.Spikes.PerInference)},
		{"NoC packets / inference", fmt.Sprintf("%.0f (%s network, %s multicast)", float64(r.NoC.Packets)/float64(max(r.Samples, 1)), r.NoC.Model, r.NoC.Multicast)},
		{"NoC packet latency", fmt.Sprintf("mean %.1f, p99 %d, max %d cycles; busiest link %.1f %%", r.NoC.AvgLatencyCycles, r.NoC.P99LatencyCycles, r.NoC.MaxLatencyCycles, 100*r.NoC.MaxLinkUtilisation)},
		{"tiles used", fmt.Sprintf("%d of %d", r.Chip.TilesUsed, r.Chip.Tiles)},
		{"crossbars used", fmt.Sprintf("%d of %d (cell utilisation %.1f %%)", r.Chip.CrossbarsUsed, r.Chip.Crossbars, 100*r.Chip.CellUtilization)},
	}
	if d := r.Decision; d != nil {
		rule := "first output spike"
		if d.ExitSteps > 0 {
			rule = fmt.Sprintf("early exit: a lead of %g over %s", d.ExitMargin, english.Count(d.ExitSteps, "timestep"))
		}
		rows = append(rows, []string{"time to decision", fmt.Sprintf("%.2f timesteps on average (%s; %.1f %% decided within %d)",
			d.MeanTimesteps, rule, 100*d.Decided, d.Timesteps)})
	}
	if r.Golden != nil {
		rows = append(rows, []string{"golden spike mismatches", fmt.Sprint(r.Golden.Mismatches)})
	}
	for _, a := range r.AccuracyAt {
		rows = append(rows, []string{"accuracy after " + english.Count(a.Timesteps, "timestep"), fmt.Sprintf("%.2f %%", 100*a.Accuracy)})
	}
	if mc := r.MonteCarlo; mc != nil && mc.Instances > 1 {
		rows = append(rows,
			[]string{"Monte-Carlo instances", fmt.Sprint(mc.Instances)},
			[]string{"accuracy mean ± std", fmt.Sprintf("%.2f %% ± %.2f", 100*mc.Mean, 100*mc.Std)},
			[]string{"accuracy 95 % interval", fmt.Sprintf("[%.2f %%, %.2f %%]", 100*mc.CI95[0], 100*mc.CI95[1])})
	}
	if err := formatTable(w, format, []string{"metric", "value"}, rows); err != nil {
		return err
	}

	var comps []string
	for k := range r.Energy.Breakdown {
		comps = append(comps, k)
	}
	sort.Slice(comps, func(i, j int) bool { return r.Energy.Breakdown[comps[i]] > r.Energy.Breakdown[comps[j]] })
	rows = rows[:0]
	n := float64(max(r.Samples, 1))
	for _, k := range comps {
		e := r.Energy.Breakdown[k]
		rows = append(rows, []string{k, si(e/n, "J"), fmt.Sprintf("%.1f %%", 100*e/r.Energy.Total)})
	}
	fmt.Fprintln(w, "\nenergy per inference by component")
	if err := formatTable(w, format, []string{"component", "energy", "share"}, rows); err != nil {
		return err
	}

	rows = rows[:0]
	for _, l := range r.Layers {
		rows = append(rows, []string{
			l.Name, fmt.Sprintf("%.1f", l.SpikesPerInference), si(l.EnergyJ/n, "J"),
			fmt.Sprint(l.Crossbars), fmt.Sprintf("%d×%d", l.RowSplits, l.ColSplits), fmt.Sprintf("%.1f %%", 100*l.CellUtilization),
		})
	}
	fmt.Fprintln(w, "\nper layer (per inference; energy without leakage)")
	return formatTable(w, format, []string{"layer", "spikes", "energy", "crossbars", "row×col splits", "cell use"}, rows)
}

// dataFlags pick the data a model runs on, for run and compare.
type dataFlags struct {
	dataset       string
	data          string
	samples       int
	allowMismatch bool
	dir           string // the data directory resolved by load
}

func (d *dataFlags) register(fs *flag.FlagSet, byDefault string) {
	fs.StringVar(&d.dataset, "dataset", "", "data set: mnist | fashion-mnist | caltech-fm | nmnist | file:PATH.npz, your own samples (default: "+byDefault+")")
	fs.StringVar(&d.data, "data", "", "data directory (default: $NMSIM_DATA, ../shared/data, ./data)")
	fs.IntVar(&d.samples, "samples", 0, "number of test samples, the first N (0: all; more than the split holds is an error)")
	fs.BoolVar(&d.allowMismatch, "allow-dataset-mismatch", false, "run a model on another data set than it was trained on (warns, and the JSON records it)")
}

// load reads the test samples that model m (from modelPath, run for T
// timesteps on archPath with sets) runs on: the data set it was trained
// on unless --dataset names another, which is refused unless allowed
// (then a warning goes to stderr and into the provenance).
func (d *dataFlags) load(env *Env, cmd, archPath string, sets setFlags, modelPath string, m *model.Model, T int) (*dataset.Set, *runner.Provenance, error) {
	name := runner.DatasetFor(m, d.dataset)
	warning, err := runner.CheckDataset(m, name, d.allowMismatch)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", cmd, modelPath, err)
	}
	if warning != "" {
		fmt.Fprintf(env.Stderr, "nmsim %s: warning: %s\n", cmd, warning)
	}
	dir, how := dataset.ResolveDir(d.data)
	d.dir = dir
	set, err := runner.LoadTestSet(name, dir, d.samples, T, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w (data directory %s, %s)", cmd, modelPath, err, dir, how)
	}
	if err := runner.CheckData(set, m); err != nil {
		return nil, nil, fmt.Errorf("%s: %s: %w", cmd, modelPath, err)
	}
	prov, err := runner.NewProvenance(archPath, sets, modelPath, m.Provenance["dataset"])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cmd, err)
	}
	prov.DatasetMismatch = warning
	prov.DataSHA256 = set.SHA256()
	return set, prov, nil
}
