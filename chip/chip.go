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

// flow is traffic from one tile to another.
type flow struct{ src, dst int }

// stage is one weight layer in hardware: read-only after New, shared by
// every worker.
type stage struct {
	lm      *mapper.LayerMap
	layer   *model.Layer
	arrays  []*crossbar.Array // per block
	neurons neuron.IF
	inShape model.Shape // input after the pool, what the crossbars read
	srcOut  model.Shape // the source layer's output (before the pool)
	// The input crossbar rows see, as a scatter table in CSR form: input
	// element e drives, for each k in [scatterOff[e], scatterOff[e+1]),
	// row scatterRow[k] of row split (slot scatterSlot[k] % rowSplits)
	// at output position (scatterSlot[k] / rowSplits). Building the
	// bit-planes by scattering only the non-zero inputs costs in
	// proportion to the activity, not to positions × rows.
	scatterOff  []int32
	scatterSlot []int32
	scatterRow  []int32
	splitWords  int // words of the largest row split's plane
	// poolTo maps each source neuron to the input element it adds to
	// (through the sum pool, if any); nil for the first stage.
	poolTo []int32
	// noisy is set when some array adds read noise: then the same input
	// no longer gives the same currents and nothing may be reused.
	noisy bool

	tiles     []int // tiles holding blocks, in order
	tileOf    []int // per block: index into tiles
	homes     []int // distinct home tiles, in order
	homeIndex map[int]int
	// contrib[h] lists the indices (into tiles) of the tiles whose blocks
	// feed home h's neurons; feeds is the reverse, per tile the homes it
	// feeds. pairOf gives, per block, the index of its (tile, home) pair in
	// pairs.
	contrib [][]int
	feeds   [][]int
	pairs   []flow // (tile index, home index)
	pairOf  []int
	// homeNeurons[h] is the number of neurons home h updates.
	homeNeurons []int

	// spike routing to the next stage: flows, and per neuron the list of
	// flows its spike travels on (interned).
	spikeFlows []flow
	flowSets   [][]int32
	flowSetOf  []int32
	// homeFlows[h] lists the spike flows that leave home h; homeSets[h]
	// the flow sets of its neurons, and setDsts the remote tiles of each
	// set (a tree multicast sends a set's spikes once to all of them).
	homeFlows [][]int
	homeSets  [][]int
	setDsts   [][]int
}

// Chip is a model mapped and programmed onto one design point.
type Chip struct {
	cfg *arch.Config
	// eventNeurons: neuron units update only the neurons with work to do
	// (arch.toml's neuron.update = "event"), else every neuron.
	eventNeurons bool
	m            *model.Model
	placement    *mapper.Placement
	stages       []stage
	seed         uint64
}

// New maps m onto the chip described by cfg and programs the crossbars.
// Both must be valid. seed makes the chip instance: every device draw at
// programming (variation, faults) comes from it, and the per-read noise of
// sample k from (seed, k), so a run is reproducible for any worker count.
func New(cfg *arch.Config, m *model.Model, seed uint64) (*Chip, error) {
	pl, err := mapper.Map(cfg, m)
	if err != nil {
		return nil, err
	}
	c := &Chip{cfg: cfg, eventNeurons: cfg.Neuron.Update == "event", m: m, placement: pl, stages: make([]stage, len(pl.Layers)), seed: seed}
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
	for si := range pl.Layers {
		if err := c.build(si, params, dev); err != nil {
			return nil, fmt.Errorf("chip: layer %q: %w", pl.Layers[si].Name, err)
		}
	}
	routes := pl.Route(m)
	for si := range c.stages {
		c.buildRoutes(si, routes[si])
	}
	return c, nil
}

// Placement is the mapping the chip was built from.
func (c *Chip) Placement() *mapper.Placement { return c.placement }

// Config is the design point.
func (c *Chip) Config() *arch.Config { return c.cfg }

// Model is the network on the chip.
func (c *Chip) Model() *model.Model { return c.m }

func (c *Chip) build(si int, params crossbar.Params, dev crossbar.Device) error {
	lm := &c.placement.Layers[si]
	l := &c.m.Layers[lm.Layer]
	st := &c.stages[si]
	st.lm, st.layer, st.inShape = lm, l, l.In
	if lm.Source >= 0 {
		st.srcOut = c.m.Layers[c.placement.Layers[lm.Source].Layer].Out
	} else {
		st.srcOut = c.m.Input.Shape
	}
	fan := lm.FanIn
	for bi, b := range lm.Blocks {
		// Each array draws from its own stream of the chip's seed.
		rng := rand.New(rand.NewPCG(c.seed, uint64(si)<<32|uint64(bi)))
		arr, err := crossbar.Program(params, dev, rng, b.Rows(), b.Outputs(), lm.WeightBits, func(o, r int) int8 {
			return l.Weights[(b.OutLo+o)*fan+b.RowLo+r]
		})
		if err != nil {
			return err
		}
		st.arrays = append(st.arrays, arr)
		st.noisy = st.noisy || arr.Noisy()
	}
	st.neurons = neuron.IF{
		Channels: lm.Outputs, Positions: lm.Positions, ResetToZero: l.Reset == model.ResetZero,
		Bias: l.Bias, Leak: int64(l.Leak), LeakOne: model.LeakOne,
	}
	if l.Spiking {
		st.neurons.Threshold = l.Threshold
	}
	st.buildScatter(c.cfg.Crossbar.Rows)
	if lm.Source >= 0 {
		k := lm.PoolKernel
		st.poolTo = make([]int32, st.srcOut.Size())
		for ch := 0; ch < st.srcOut.C; ch++ {
			for y := 0; y < st.srcOut.H; y++ {
				for x := 0; x < st.srcOut.W; x++ {
					st.poolTo[st.srcOut.Index(ch, y, x)] = int32(st.inShape.Index(ch, y/k, x/k))
				}
			}
		}
	}
	// Tiles, homes and who feeds whom.
	st.homeIndex = map[int]int{}
	tileIndex := map[int]int{}
	for _, b := range lm.Blocks {
		ti, ok := tileIndex[b.Tile]
		if !ok {
			ti = len(st.tiles)
			tileIndex[b.Tile] = ti
			st.tiles = append(st.tiles, b.Tile)
		}
		st.tileOf = append(st.tileOf, ti)
		home := lm.Home[b.Group]
		hi, ok := st.homeIndex[home]
		if !ok {
			hi = len(st.homes)
			st.homeIndex[home] = hi
			st.homes = append(st.homes, home)
			st.contrib = append(st.contrib, nil)
			st.homeNeurons = append(st.homeNeurons, 0)
		}
		if !slices.Contains(st.contrib[hi], ti) {
			st.contrib[hi] = append(st.contrib[hi], ti)
		}
		pi := -1
		for i, p := range st.pairs {
			if p == (flow{ti, hi}) {
				pi = i
			}
		}
		if pi < 0 {
			pi = len(st.pairs)
			st.pairs = append(st.pairs, flow{ti, hi})
		}
		st.pairOf = append(st.pairOf, pi)
	}
	st.feeds = make([][]int, len(st.tiles))
	for hi, tis := range st.contrib {
		for _, ti := range tis {
			st.feeds[ti] = append(st.feeds[ti], hi)
		}
	}
	for g, home := range lm.Home {
		outs := min((g+1)*lm.OutputsPerBlock, lm.Outputs) - g*lm.OutputsPerBlock
		st.homeNeurons[st.homeIndex[home]] += outs * lm.Positions
	}
	return nil
}

// buildScatter inverts the im2col map of the layer: for every input
// element, the (position, row split, row) triples that read it.
func (st *stage) buildScatter(rows int) {
	l, lm := st.layer, st.lm
	st.splitWords = bitvec.Words(min(rows, lm.FanIn))
	type entry struct{ slot, row int32 }
	per := make([][]entry, st.inShape.Size())
	add := func(e, pos, f int) {
		per[e] = append(per[e], entry{int32(pos*lm.RowSplits + f/rows), int32(f % rows)})
	}
	if l.Op == model.OpDense {
		for f := 0; f < lm.FanIn; f++ {
			add(f, 0, f)
		}
	} else {
		k, s, p := l.Kernel, l.Stride, l.Pad
		for oy := 0; oy < l.Out.H; oy++ {
			for ox := 0; ox < l.Out.W; ox++ {
				pos := oy*l.Out.W + ox
				for c := 0; c < l.In.C; c++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							y, x := oy*s+ky-p, ox*s+kx-p
							if y >= 0 && y < l.In.H && x >= 0 && x < l.In.W {
								add(l.In.Index(c, y, x), pos, (c*k+ky)*k+kx)
							}
						}
					}
				}
			}
		}
	}
	st.scatterOff = make([]int32, len(per)+1)
	for e, list := range per {
		st.scatterOff[e+1] = st.scatterOff[e] + int32(len(list))
		for _, en := range list {
			st.scatterSlot = append(st.scatterSlot, en.slot)
			st.scatterRow = append(st.scatterRow, en.row)
		}
	}
}

// buildRoutes interns, per neuron, the network flows its spike travels on.
func (c *Chip) buildRoutes(si int, rt mapper.Routes) {
	st := &c.stages[si]
	st.homeFlows = make([][]int, len(st.homes))
	st.homeSets = make([][]int, len(st.homes))
	if len(rt.SetOf) == 0 {
		return
	}
	flowIndex := map[flow]int32{}
	setIndex := map[[2]int]int32{}
	st.flowSetOf = make([]int32, len(rt.SetOf))
	positions := st.lm.Positions
	for n, set := range rt.SetOf {
		home := st.lm.HomeOf(n / positions)
		key := [2]int{home, int(set)}
		id, ok := setIndex[key]
		if !ok {
			var flows []int32
			for _, dst := range rt.Sets[set] {
				if dst == home {
					continue // same tile: no network
				}
				f := flow{home, dst}
				fi, ok := flowIndex[f]
				if !ok {
					fi = int32(len(st.spikeFlows))
					flowIndex[f] = fi
					st.spikeFlows = append(st.spikeFlows, f)
				}
				flows = append(flows, fi)
			}
			id = int32(len(st.flowSets))
			setIndex[key] = id
			st.flowSets = append(st.flowSets, flows)
			var dsts []int
			for _, fi := range flows {
				dsts = append(dsts, st.spikeFlows[fi].dst)
			}
			st.setDsts = append(st.setDsts, dsts)
			h := st.homeIndex[home]
			st.homeSets[h] = append(st.homeSets[h], int(id))
		}
		st.flowSetOf[n] = id
	}
	for fi, f := range st.spikeFlows {
		h := st.homeIndex[f.src]
		st.homeFlows[h] = append(st.homeFlows[h], fi)
	}
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
