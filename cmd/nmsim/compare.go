package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/energy"
	"github.com/nmsim/nmsim/internal/atomicfile"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/workloads/model"
)

// compareCommand is `nmsim compare arch.toml model.bin…`.
type compareCommand struct {
	dataFlags
	workers int
	seed    uint64
	sets    setFlags
	out     string
	golden  bool
	wide    wideFlag
}

func (*compareCommand) Name() string { return "compare" }
func (*compareCommand) Synopsis() string {
	return "run several models on the same chip and tabulate them side by side"
}

const compareUsage = `
Usage: nmsim compare arch.toml model.bin [model.bin …] [flags]

Runs each model on the same chip and data (each at its own default
timesteps) and prints one row per model: how it was made, accuracy,
timesteps, the mean timesteps to a decision (a first-spike model stops at
its first output spike; a rate-coded one runs all its timesteps), spikes
per inference (in total and per spiking layer), cycles (to the decision)
and energy per inference with the breakdown by component (on a terminal
as several tables of at most 100 columns, each starting with the model;
--wide prints one). With --out
PREFIX it also writes PREFIX.md (GitHub Markdown), PREFIX.csv (exact values
in base units) and PREFIX.json (the full report of every run). With
--golden every sample also runs through the reference software SNN and a
column counts the samples whose spikes differ from the chip's (0 on an ideal
chip).

Example:
  nmsim compare configs/rram-xnor.toml models/mnist-convert.bin models/mnist-ttfs.bin --samples 1000 --golden --out cmp
`

func (c *compareCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("compare", c.Synopsis(), compareUsage, env.Stderr)
	c.dataFlags.register(fs, "each model's own")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "parallel workers")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the chip's random draws")
	fs.Var(&c.sets, "set", "override an arch key (repeatable)")
	fs.StringVar(&c.out, "out", "", "also write PREFIX.md, PREFIX.csv and PREFIX.json")
	fs.BoolVar(&c.golden, "golden", false, "also run the reference SNN and count spike mismatches")
	c.wide.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usageErr(fs, "want arch.toml and at least one model.bin, got %s", english.Count(len(pos), "argument"))
	}
	if err := checkArgKinds(fs, pos, []string{"arch.toml", "model.bin"}); err != nil {
		return err
	}
	if err := checkFlags(
		flagRule{"--samples", c.samples, c.samples >= 0, "≥ 0 (0: all)"},
		flagRule{"--workers", c.workers, c.workers >= 1, "≥ 1"},
	); err != nil {
		return usageErr(fs, "%v", err)
	}
	cfg, err := arch.LoadWith(pos[0], c.sets)
	if err != nil {
		return err
	}
	var models []*model.Model
	var nets []*mapper.Netlist
	for _, p := range pos[1:] {
		m, nl, err := mapper.Load(cfg, pos[0], p)
		if err != nil {
			return err
		}
		// A mismatch is refused before any model runs.
		if _, err := runner.CheckDataset(m, runner.DatasetFor(m, c.dataset), c.allowMismatch); err != nil {
			return fmt.Errorf("compare: %s: %w", p, err)
		}
		models, nets = append(models, m), append(nets, nl)
	}
	var reports []*runner.Result
	for i, m := range models {
		ch, err := chip.Build(cfg, nets[i], m, c.seed)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", pos[1+i], pos[0], err)
		}
		set, prov, err := c.load(env, "compare", pos[0], c.sets, pos[1+i], m, m.Timesteps)
		if err != nil {
			return err
		}
		n := set.Len()
		bar := newProgress(env.Stderr, n, filepath.Base(pos[1+i]))
		r, err := runner.Run(ctx, ch, set, runner.Options{Samples: n, Timesteps: m.Timesteps, Workers: c.workers, Seed: c.seed, Golden: c.golden, Progress: func() { bar.Add(1) }})
		bar.Finish()
		if err != nil {
			return fmt.Errorf("compare: %s: %w", pos[1+i], err)
		}
		r.Provenance = prov
		reports = append(reports, r)
	}
	header, rows, exact := compareTable(pos[1:], models, reports)
	table(env.Stdout, c.wide.width(), header, rows)
	if c.out == "" {
		return nil
	}
	var md bytes.Buffer
	if err := formatTable(&md, "md", header, rows); err != nil {
		return err
	}
	var cb bytes.Buffer
	cw := csv.NewWriter(&cb)
	if err := cw.WriteAll(exact); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{c.out + ".md", md.Bytes()}, {c.out + ".csv", cb.Bytes()}} {
		if err := atomicfile.WriteFile(f.path, f.data, 0o644); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	return writeJSON(c.out+".json", reports)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// compareTable lays out one row per model: rounded text for people and,
// separately, exact values in base units for the CSV.
func compareTable(paths []string, models []*model.Model, reports []*runner.Result) (header []string, rows, exact [][]string) {
	comps := append(slices.Clone(energy.Components), energy.Leakage)
	header = []string{"model", "method", "accuracy", "timesteps", "steps to decision", "spikes / inference", "spikes per layer", "cycles / inference", "latency", "energy / inference"}
	exactHead := []string{"model", "method", "accuracy", "timesteps", "decision_timesteps", "spikes_per_inference", "spikes_per_layer", "cycles_per_inference", "latency_s", "energy_j_per_inference"}
	for _, k := range comps {
		header = append(header, k)
		exactHead = append(exactHead, k+"_j_per_inference")
	}
	golden := len(reports) > 0 && reports[0].Golden != nil
	if golden {
		header = append(header, "golden mismatches")
		exactHead = append(exactHead, "golden_mismatches")
	}
	exact = append(exact, exactHead)
	for i, r := range reports {
		n := float64(max(r.Samples, 1))
		var perLayer, perLayerExact []string
		for _, l := range r.Layers {
			if l.Spikes > 0 {
				perLayer = append(perLayer, fmt.Sprintf("%s %.0f", l.Name, l.SpikesPerInference))
				perLayerExact = append(perLayerExact, fmt.Sprintf("%s=%g", l.Name, l.SpikesPerInference))
			}
		}
		method := cmpOr(models[i].Provenance["method"], "?")
		// Rate-coded models decide after their last timestep; first-spike
		// models stop at their first output spike.
		steps := float64(r.Timesteps)
		if r.Decision != nil {
			steps = r.Decision.MeanTimesteps
		}
		row := []string{
			filepath.Base(paths[i]), method, fmt.Sprintf("%.2f %%", 100*r.Accuracy), fmt.Sprint(r.Timesteps),
			strconv.FormatFloat(steps, 'f', 1, 64), fmt.Sprintf("%.0f", r.Spikes.PerInference), strings.Join(perLayer, ", "),
			fmt.Sprintf("%.0f", r.Cycles.PerInference), si(r.LatencyS.PerInference, "s"), si(r.Energy.PerInference, "J"),
		}
		ex := []string{
			paths[i], method, strconv.FormatFloat(r.Accuracy, 'g', -1, 64), fmt.Sprint(r.Timesteps),
			strconv.FormatFloat(steps, 'g', -1, 64), strconv.FormatFloat(r.Spikes.PerInference, 'g', -1, 64), strings.Join(perLayerExact, " "),
			strconv.FormatFloat(r.Cycles.PerInference, 'g', -1, 64), strconv.FormatFloat(r.LatencyS.PerInference, 'g', -1, 64),
			strconv.FormatFloat(r.Energy.PerInference, 'g', -1, 64),
		}
		for _, k := range comps {
			row = append(row, si(r.Energy.Breakdown[k]/n, "J"))
			ex = append(ex, strconv.FormatFloat(r.Energy.Breakdown[k]/n, 'g', -1, 64))
		}
		if golden {
			row = append(row, fmt.Sprint(r.Golden.Mismatches))
			ex = append(ex, fmt.Sprint(r.Golden.Mismatches))
		}
		rows = append(rows, row)
		exact = append(exact, ex)
	}
	return header, rows, exact
}
