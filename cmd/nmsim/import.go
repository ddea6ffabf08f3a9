package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/nir"
)

// importCommand is `nmsim import model.nir -o model.bin`.
type importCommand struct {
	out        string
	name       string
	timesteps  int
	dt         float64
	weightBits int
	binarize   bool
	reset      string
	coding     string
	inputBits  int
	force      bool
	wide       wideFlag
}

func (*importCommand) Name() string { return "import" }
func (*importCommand) Synopsis() string {
	return "convert a NIR graph (Sinabs, Norse, snnTorch, Rockpool, ...) into a model.bin"
}

const importUsage = `
Usage: nmsim import model.nir -o model.bin [--timesteps T] [--dt seconds]
         [--weight-bits k | --binarize] [--reset subtract|zero]
         [--coding constant|frames] [--input-bits b] [--name name] [--force]

Reads a NIR graph (HDF5) and writes nmsim's integer model. The graph must be
one chain from its Input to its Output: Affine, Linear and Conv2d nodes
(with Scale nodes around them) followed by IF, LIF or Threshold neurons (I
or LI for an output read out by potential), SumPool2d, AvgPool2d and
Flatten between layers. Anything else (CubaLIF, Delay, recurrent or
branching edges, dilated or grouped convolutions, ...) is refused with the
node, its type and what nmsim would need.

Real-valued weights are quantised per output to --weight-bits (step
max|W|/(2^(k-1)-1)) and the error of each layer is printed; weights that are
already ±α per output are stored as binary layers, integers as they are;
--binarize forces α·sign(W) (α the mean |W|). Steps follow each layer's
own scale, so weights of 1e-11 are as safe as weights of 1. Thresholds
become integers in the same steps: resetting to zero, θ' = ⌊θ/s⌋ + 1 (NIR
fires when v > θ, nmsim when v ≥ θ': exact); subtracting, the step is
chosen so that θ is a whole number of steps and θ' = θ/s is subtracted
exactly (nmsim then fires on v = θ too, at most one spike ahead of NIR).
An output whose weights all round to 0, or a layer stored more than 50 %
off at the default width, is refused unless --force. LIF time constants
become per-step leaks at --dt seconds per timestep (default 1e-4). Files
written by 'nmsim export' come back exactly as they were; a flag you give
overrides what the file recorded. docs/nir.md has the whole mapping.

Example (the NIR paper's N-MNIST network, fed 1 ms event frames):
  nmsim import cnn_sinabs.nir -o cnn.bin --coding frames --input-bits 2 --timesteps 300
`

func (c *importCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("import", c.Synopsis(), importUsage, env.Stderr)
	fs.StringVar(&c.out, "o", "", "the model.bin to write (required)")
	fs.StringVar(&c.name, "name", "", "model name (default: recorded by nmsim export, else the -o file's name without its extension)")
	fs.IntVar(&c.timesteps, "timesteps", 0, fmt.Sprintf("default number of timesteps (default: recorded, else %d)", nir.DefaultTimesteps))
	fs.Float64Var(&c.dt, "dt", 0, fmt.Sprintf("seconds per timestep, for leaky neurons (default: recorded, else %g)", nir.DefaultDT))
	fs.IntVar(&c.weightBits, "weight-bits", 0, fmt.Sprintf("quantise real weights to k = 1..8 bits (default: recorded, else %d)", nir.DefaultWeightBits))
	fs.BoolVar(&c.binarize, "binarize", false, "store every weight layer as α·sign(W)")
	fs.StringVar(&c.reset, "reset", "", "what IF/LIF neurons do after a spike: subtract or zero (default: recorded, else subtract)")
	fs.StringVar(&c.coding, "coding", "", "input coding: constant or frames (default: recorded, else constant)")
	fs.IntVar(&c.inputBits, "input-bits", 0, fmt.Sprintf("bits per input value (default: recorded, else %d)", nir.DefaultInputBits))
	fs.BoolVar(&c.force, "force", false, "import layers that quantisation ruins (outputs whose weights all round to 0, errors above 50 %)")
	c.wide.register(fs)
	pos, err := parseArgs(fs, args, "model.nir")
	if err != nil {
		return err
	}
	if c.out == "" {
		return usageErr(fs, "-o model.bin is required")
	}
	if err := checkFlags(flagRule{"--timesteps", c.timesteps, c.timesteps >= 0 && c.timesteps <= model.MaxTimesteps, fmt.Sprintf("in 0..%d (0: recorded, else %d)", model.MaxTimesteps, nir.DefaultTimesteps)}); err != nil {
		return usageErr(fs, "%v", err)
	}
	g, err := nir.Open(pos[0])
	if err != nil {
		return err
	}
	o := nir.Options{
		Name: c.name, Timesteps: c.timesteps, DT: c.dt, WeightBits: c.weightBits, Binarize: c.binarize,
		Reset: model.Reset(c.reset), Coding: model.Coding(c.coding), InputBits: c.inputBits, Source: filepath.Base(pos[0]),
		Force: c.force,
	}
	m, rep, err := nir.Import(g, o)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if g.Metadata["nmsim"] == "" {
		// A graph that nmsim exported comes back as it was recorded, name
		// and provenance; any other is named after the file written.
		stampModel(m, c.out, c.name)
	}
	if err := model.Save(c.out, m); err != nil {
		return err
	}
	w := env.Stdout
	// Two lines, so that a terminal of 100 columns shows each whole.
	fmt.Fprintf(w, "%s: NIR %s, %s\n→ %s: %s, input %s (%s, %d-bit), readout by %s, %s\n",
		pos[0], g.Version, english.Count(len(g.Nodes), "node"), c.out, english.Count(len(m.Layers), "layer"), m.Input.Shape, m.Input.Coding, m.Input.Bits, readoutName(m), english.Count(m.Timesteps, "timestep"))
	printImportReport(env, rep, c.wide.width())
	return nil
}

func readoutName(m *model.Model) string {
	switch {
	case m.SpikeReadout():
		return "spike counts"
	case m.FirstSpikeReadout():
		return "first output spike (the run stops there)"
	}
	return "potential"
}

// printImportReport shows how each layer was made from the graph.
func printImportReport(env *Env, rep *nir.Report, width int) {
	var rows [][]string
	for _, r := range rep.Layers {
		bits, errs, leak := "", "", ""
		if r.Method != "" {
			bits = fmt.Sprintf("%d (%s)", r.WeightBits, r.Method)
			errs = fmt.Sprintf("%.3g %%", 100*r.WeightError)
			if r.ZeroOutputs > 0 {
				errs += ", " + english.Count(r.ZeroOutputs, "output") + " all 0"
			}
			if r.BiasError > 0 {
				errs += fmt.Sprintf(", bias ±%.2g step", r.BiasError)
			}
			if r.ThresholdError > 0 {
				errs += fmt.Sprintf(", threshold %.3g %%", 100*r.ThresholdError)
			}
		}
		if r.Leak > 0 {
			leak = fmt.Sprintf("%.4g (%.2g %% off)", r.Leak, 100*r.LeakError)
		}
		rows = append(rows, []string{r.Layer, string(r.Op), strings.Join(r.Nodes, " → "), bits, errs, leak})
	}
	table(env.Stdout, width, []string{"layer", "op", "NIR nodes", "weight bits", "weight error (RMS)", "leak per step"}, rows)
	for _, n := range rep.Notes {
		fmt.Fprintln(env.Stdout, "note:", n)
	}
}

// loadModel reads a model.bin, or imports a NIR graph (an HDF5 file,
// whatever its name) with the default options.
func loadModel(path string) (*model.Model, error) {
	if sniff(path) != kindNIR {
		return model.Load(path)
	}
	g, err := nir.Open(path)
	if err != nil {
		return nil, err
	}
	o := nir.Options{Source: filepath.Base(path)}
	if g.Metadata["nmsim"] == "" {
		o.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	m, _, err := nir.Import(g, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
