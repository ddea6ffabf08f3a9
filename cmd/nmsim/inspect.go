package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/workloads/model"
)

// inspectCommand is `nmsim inspect model.bin`.
type inspectCommand struct {
	wide wideFlag
}

func (*inspectCommand) Name() string { return "inspect" }
func (*inspectCommand) Synopsis() string {
	return "show a model's layers, shapes, thresholds, input coding and provenance"
}

const inspectUsage = `
Usage: nmsim inspect model.bin (or model.nir)

Verifies the file's checksum and structure (a NIR graph is imported as
'nmsim import' would with its defaults) and prints the network: input
shape and coding, per layer the operation, shapes, weight bits, the range
of its integer thresholds, and how the model was made (provenance).
Thresholds are in units of the membrane: of the weighted sum, or of 2^-k
of it for a layer whose neurons add the sum shifted left k bits (shown as
"sum << k" among its neurons' features).
`

func (c *inspectCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("inspect", c.Synopsis(), inspectUsage, env.Stderr)
	c.wide.register(fs)
	pos, err := parseArgs(fs, args, "model.bin|model.nir")
	if err != nil {
		return err
	}
	m, err := loadModel(pos[0])
	if err != nil {
		return err
	}
	w := env.Stdout
	coding := string(m.Input.Coding)
	switch {
	case m.Input.Coding == model.CodingTTFS:
		coding += " over " + english.Count(m.Input.Window, "timestep")
	case m.Input.FrameUS > 0:
		coding += fmt.Sprintf(" of %d µs", m.Input.FrameUS)
	}
	if m.Input.MaxCount > 0 {
		coding += fmt.Sprintf(" clipped at %d", m.Input.MaxCount)
	}
	fmt.Fprintln(w, wrap(fmt.Sprintf("model %q: input %s, %s coding, %d-bit values; %s read out by %s; %s by default",
		m.Name, m.Input.Shape, coding, m.Input.Bits, english.Count(m.Classes, "class"), readoutName(m), english.Count(m.Timesteps, "timestep")), c.wide.width()))
	var rows [][]string
	for i := range m.Layers {
		l := &m.Layers[i]
		geom, bits, th, neuron := "", "", "", ""
		switch l.Op {
		case model.OpConv:
			geom = fmt.Sprintf("k%d s%d p%d", l.Kernel, l.Stride, l.Pad)
		case model.OpSumPool:
			geom = fmt.Sprintf("k%d", l.Kernel)
		}
		if l.HasWeights() {
			bits = fmt.Sprint(l.WeightBits)
			if l.WeightBits == 1 {
				bits = "1 (±1)"
			}
			neuron = "integrate (output)"
			if l.Spiking {
				neuron = "IF, reset " + string(l.Reset)
				if l.FireOnce {
					neuron = "IF, fires once"
				}
				if l.Leak > 0 {
					neuron = "L" + neuron
				}
				lo, hi := l.Threshold[0], l.Threshold[0]
				for _, t := range l.Threshold {
					lo, hi = min(lo, t), max(hi, t)
				}
				th = fmt.Sprintf("%d … %d", lo, hi)
			}
			if l.Leak > 0 {
				neuron += fmt.Sprintf(", leak %d/%d", l.Leak, model.LeakOne)
			}
			if l.Bias != nil {
				neuron += ", bias"
			}
			if l.SumShift > 0 {
				neuron += fmt.Sprintf(", sum << %d", l.SumShift)
			}
		}
		rows = append(rows, []string{l.Name, string(l.Op), l.In.String(), l.Out.String(), geom, bits, neuron, th})
	}
	table(w, c.wide.width(), []string{"layer", "op", "in", "out", "kernel", "weight bits", "neurons", "thresholds"}, rows)
	if len(m.Provenance) > 0 {
		var keys []string
		for k := range m.Provenance {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rows = rows[:0]
		for _, k := range keys {
			rows = append(rows, []string{k, m.Provenance[k]})
		}
		fmt.Fprintln(w, "\nprovenance")
		table(w, c.wide.width(), []string{"key", "value"}, rows)
	}
	return nil
}
