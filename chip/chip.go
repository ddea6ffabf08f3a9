// Package chip assembles a simulated chip from a placement — programmed
// crossbars, neuron units and a network per tile — and runs samples
// through it. A run has two halves that share nothing but activity
// records: a functional pass computes every layer's spikes with the
// bit-packed crossbars (timestep by timestep, in layer order, the golden
// model's semantics), and a timing pass replays the recorded activity on
// the event kernel, pipelined: in slot k every layer l whose timestep
// t = k − l is in range works at once, and the slot ends at the global
// barrier, when every tile has finished and the network has drained.
// Cycles are the sum of the slots.
package chip

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/neuron"
	"github.com/nmsim/nmsim/noc"
	"github.com/nmsim/nmsim/workloads/model"
)

// hwLayer is one weight layer in hardware: read-only after New, shared by
// every worker. Its wiring (tiles, homes, partial-sum and spike flows, the
// input scatter) is the mapper's netlist.
//
// Indices in this package: layerIdx into Chip.layers (the placement's
// weight layers, in order; each worker keeps a layerState and a slotLayer
// per layer) and, within a layer's netlist, tileIdx into Tiles, homeIdx
// into Homes, pairIdx into Pairs and flowIdx into SpikeFlows; the values
// of Tiles and Homes are mesh tile numbers.
type hwLayer struct {
	lm      *mapper.LayerMap
	nl      *mapper.LayerNet
	layer   *model.Layer
	arrays  []*crossbar.Array // per block
	neurons neuron.IF
	inShape model.Shape // input after the pool, what the crossbars read
	// splitWords is the words of the largest row split's bit-plane.
	splitWords int
	// noisy is set when some array adds read noise: then the same input
	// no longer gives the same currents and nothing may be reused.
	noisy bool
	// fused is set when every array is Exact (crossbar.Array.Exact):
	// then computeFused computes the layer, with these tables.
	fused *fusedWiring
	// wordFlow is, per word of the layer's spikes, the flow set of its
	// 64 neurons if they share one (nl.FlowSetOf), else −1: such a
	// word's spikes are counted by one popcount.
	wordFlow []int32
}

// Chip is a model mapped and programmed onto one design point.
type Chip struct {
	cfg *arch.Config
	// eventNeurons: neuron units update only the neurons with work to do
	// (arch.toml's neuron.update = "event"), else every neuron.
	eventNeurons bool
	m            *model.Model
	placement    *mapper.Placement
	layers       []hwLayer
	seed         uint64
}

// New maps m onto the chip described by cfg and builds it (mapper.Build,
// then Build). Both must be valid. seed makes the chip instance: every
// device draw at programming (variation, faults) comes from it, and the
// per-read noise of sample k from (seed, k), so a run is reproducible for
// any worker count.
func New(cfg *arch.Config, m *model.Model, seed uint64) (*Chip, error) {
	nl, err := mapper.Build(cfg, m)
	if err != nil {
		return nil, err
	}
	return Build(cfg, nl, m, seed)
}

// Build programs the crossbars of netlist nl (of m on cfg) and assembles
// the chip.
func Build(cfg *arch.Config, nl *mapper.Netlist, m *model.Model, seed uint64) (*Chip, error) {
	pl := nl.Placement
	c := &Chip{cfg: cfg, eventNeurons: cfg.Neuron.Update == "event", m: m, placement: pl, layers: make([]hwLayer, len(pl.Layers)), seed: seed}
	params := crossbar.Params{
		Rows: cfg.Crossbar.Rows, Cols: cfg.Crossbar.Cols, RowsPerRead: cfg.Crossbar.RowsPerRead,
		ADCBits: cfg.Crossbar.ADCBits, ColsPerADC: cfg.Crossbar.ColsPerADC,
		ReadLatencyCycles: cfg.Crossbar.ReadLatencyCycles, ADCLatencyCycles: cfg.Crossbar.ADCLatencyCycles,
		RemapFaultyColumns: cfg.Crossbar.RemapFaultyColumns, CalibrateADC: cfg.Crossbar.CalibrateADC,
	}
	d := cfg.Device
	dev := crossbar.Device{
		OnOffRatio: d.OnOffRatio, Levels: d.Levels, VariationSigma: d.VariationSigma, ReadNoiseSigma: d.ReadNoiseSigma,
		StuckAtOffRate: d.StuckAtOffRate, StuckAtOnRate: d.StuckAtOnRate, IRDrop: d.IRDrop,
	}
	for layerIdx := range pl.Layers {
		c.layers[layerIdx].nl = &nl.Nets[layerIdx]
		if err := c.build(layerIdx, params, dev); err != nil {
			return nil, fmt.Errorf("chip: layer %q: %w", pl.Layers[layerIdx].Name, err)
		}
	}
	return c, nil
}

// Placement is the mapping the chip was built from.
func (c *Chip) Placement() *mapper.Placement { return c.placement }

// Config is the design point.
func (c *Chip) Config() *arch.Config { return c.cfg }

// Model is the network on the chip.
func (c *Chip) Model() *model.Model { return c.m }

// build programs layer layerIdx's crossbars and sets up its neuron units.
func (c *Chip) build(layerIdx int, params crossbar.Params, dev crossbar.Device) error {
	lm := &c.placement.Layers[layerIdx]
	l := &c.m.Layers[lm.Layer]
	st := &c.layers[layerIdx]
	st.lm, st.layer, st.inShape = lm, l, l.In
	fan := lm.FanIn
	exact, laned := true, true
	for bi, b := range lm.Blocks {
		// Each array draws from its own stream of the chip's seed.
		rng := rand.New(rand.NewPCG(c.seed, uint64(layerIdx)<<32|uint64(bi)))
		arr, err := crossbar.Program(params, dev, rng, b.Rows(), b.Outputs(), lm.WeightBits, func(o, r int) int8 {
			return l.Weights[(b.OutLo+o)*fan+b.RowLo+r]
		})
		if err != nil {
			return err
		}
		st.arrays = append(st.arrays, arr)
		st.noisy = st.noisy || arr.Noisy()
		exact, laned = exact && arr.Exact(), laned && arr.Laned()
	}
	st.neurons = neuron.IF{
		Channels: lm.Outputs, Positions: lm.Positions, ResetToZero: l.Reset == model.ResetZero,
		Bias: l.Bias, Leak: int64(l.Leak), LeakOne: model.LeakOne,
	}
	if l.Spiking {
		st.neurons.Threshold = l.Threshold
	}
	st.splitWords = bitvec.Words(min(c.cfg.Crossbar.Rows, lm.FanIn))
	if exact {
		st.fused = wireFused(st, c.cfg.Crossbar.Rows, c.cfg.Crossbar.RowsPerRead, laned)
	}
	if sets := st.nl.FlowSetOf; len(sets) > 0 {
		st.wordFlow = make([]int32, bitvec.Words(len(sets)))
		for wi := range st.wordFlow {
			word := sets[wi<<6 : min(wi<<6+64, len(sets))]
			st.wordFlow[wi] = word[0]
			if slices.ContainsFunc(word, func(f int32) bool { return f != word[0] }) {
				st.wordFlow[wi] = -1
			}
		}
	}
	return nil
}

// Counters are what one weight layer's components did, each component's
// counters as the component keeps them; the energy model prices them.
type Counters struct {
	Crossbar crossbar.Counters `json:"crossbar"`
	Neuron   neuron.Counters   `json:"neuron"`
	NoC      noc.Counters      `json:"noc"`
}

// Add accumulates o into c.
func (c *Counters) Add(o Counters) {
	c.Crossbar.Add(o.Crossbar)
	c.Neuron.Add(o.Neuron)
	c.NoC.Add(o.NoC)
}

// LayerStats is what one weight layer did during a run.
type LayerStats struct {
	Name string
	Counters
}
