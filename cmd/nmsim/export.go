package main

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/workloads/nir"
)

// exportCommand is `nmsim export model.bin -o model.nir`.
type exportCommand struct {
	out string
	dt  float64
}

func (*exportCommand) Name() string { return "export" }
func (*exportCommand) Synopsis() string {
	return "write a model.bin as a NIR graph for other frameworks"
}

const exportUsage = `
Usage: nmsim export model.bin -o model.nir [--dt seconds]

Writes the model as a NIR graph (HDF5, NIR 0.2 layout) that computes the
same spikes: Conv2d and Affine nodes holding the integer weights and biases,
IF neurons (LIF with a leak) whose v_threshold is the integer threshold
minus ½ (NIR fires when v > θ), I or LI for an output read out by potential,
SumPool2d for sum pools, a Flatten before dense layers that read images.
Leaks become time constants at --dt seconds per timestep (default 1e-4).
What NIR cannot hold (names, weight widths, input coding, scales,
provenance) goes into the graph's metadata, so 'nmsim import' gives back the
same model.bin.

Example:
  nmsim export models/mnist-convert.bin -o mnist-convert.nir
`

func (c *exportCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("export", c.Synopsis(), exportUsage, env.Stderr)
	fs.StringVar(&c.out, "o", "", "the NIR file to write (required)")
	fs.Float64Var(&c.dt, "dt", 0, fmt.Sprintf("seconds per timestep for time constants (default %g)", nir.DefaultDT))
	pos, err := parseArgs(fs, args, "model.bin|model.nir")
	if err != nil {
		return err
	}
	if c.out == "" {
		return usageErr(fs, "-o model.nir is required")
	}
	m, err := loadModel(pos[0])
	if err != nil {
		return err
	}
	g, err := nir.Export(m, c.dt)
	if err != nil {
		return err
	}
	if err := g.Save(c.out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s → %s: NIR %s, %s, %s\n", pos[0], c.out, g.Version, english.Count(len(g.Nodes), "node"), english.Count(len(g.Edges), "edge"))
	return nil
}
