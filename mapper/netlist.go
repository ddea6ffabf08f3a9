package mapper

import (
	"slices"

	"github.com/nmsim/nmsim/workloads/model"
)

// Flow is traffic from one endpoint to another. What the endpoints are
// (tiles, or indices into a layer's Tiles and Homes) is said where a Flow
// is kept.
type Flow struct{ Src, Dst int }

// Netlist is a placement wired up: for every weight layer, which tiles
// hold its blocks, which tiles hold its neurons (homes), which partial
// sums cross the network, the flows and multicast sets its spikes travel
// on, and which crossbar rows each input element drives. It is plain
// data, read-only once built; the chip is assembled from it.
type Netlist struct {
	*Placement
	Nets []LayerNet // per weight layer, as Placement.Layers
}

// LayerNet is one weight layer's wiring.
type LayerNet struct {
	// Tiles are the distinct tiles holding the layer's blocks, in block
	// order; TileOf gives, per block, its index into Tiles.
	Tiles  []int
	TileOf []int
	// Homes are the distinct home tiles (whose neuron units hold the
	// neurons), in block order; HomeNeurons[h] is the number of neurons
	// home h updates.
	Homes       []int
	HomeNeurons []int
	// Contrib[h] lists the indices (into Tiles) of the tiles whose blocks
	// feed home h's neurons.
	Contrib [][]int
	// Pairs are the partial-sum flows: Src indexes Tiles, Dst indexes
	// Homes (a pair on one tile stays off the network). PairOf gives, per
	// block, the index of its pair.
	Pairs  []Flow
	PairOf []int

	// Spike routing to the layer that reads this one (empty for the last
	// layer). SpikeFlows are (home tile, destination tile) flows;
	// FlowSets the distinct lists of flows (indices into SpikeFlows) a
	// neuron's spike travels on, FlowSetOf per neuron (CHW order) its
	// set. HomeFlows[h] lists the flows that leave home h, HomeSets[h] the
	// flow sets of its neurons, and SetDsts the destination tiles of each
	// set (a tree multicast sends a set's spikes once to all of them).
	SpikeFlows []Flow
	FlowSets   [][]int32
	FlowSetOf  []int32
	HomeFlows  [][]int
	HomeSets   [][]int
	SetDsts    [][]int

	// The input the crossbar rows see (after the pool), as a scatter
	// table in CSR form: input element e drives, for each k in
	// [ScatterOff[e], ScatterOff[e+1]), row ScatterRow[k] of row split
	// (ScatterSlot[k] % RowSplits) at output position
	// (ScatterSlot[k] / RowSplits).
	ScatterOff  []int32
	ScatterSlot []int32
	ScatterRow  []int32
	// PoolTo maps each neuron of the source layer to the input element
	// it adds to (through the sum pool, if any); nil for the first layer.
	PoolTo []int32
}

// Wire builds the netlist of p for m, the model p was mapped from.
func (p *Placement) Wire(m *model.Model) *Netlist {
	nl := &Netlist{Placement: p, Nets: make([]LayerNet, len(p.Layers))}
	routes := p.Route(m)
	for li := range p.Layers {
		lm := &p.Layers[li]
		ln := &nl.Nets[li]
		homeIndex := ln.wireBlocks(lm)
		ln.wireScatter(lm, &m.Layers[lm.Layer], p.Rows)
		if lm.Source >= 0 {
			ln.PoolTo = poolMap(m.Layers[p.Layers[lm.Source].Layer].Out, m.Layers[lm.Layer].In, lm.PoolKernel)
		}
		ln.wireSpikes(lm, routes[li], homeIndex)
	}
	return nl
}

// wireBlocks finds the layer's tiles, homes and partial-sum pairs, and
// returns the index of each home tile in Homes.
func (ln *LayerNet) wireBlocks(lm *LayerMap) map[int]int {
	homeIndex := map[int]int{}
	tileIndex := map[int]int{}
	for _, b := range lm.Blocks {
		ti, ok := tileIndex[b.Tile]
		if !ok {
			ti = len(ln.Tiles)
			tileIndex[b.Tile] = ti
			ln.Tiles = append(ln.Tiles, b.Tile)
		}
		ln.TileOf = append(ln.TileOf, ti)
		home := lm.Home[b.Group]
		hi, ok := homeIndex[home]
		if !ok {
			hi = len(ln.Homes)
			homeIndex[home] = hi
			ln.Homes = append(ln.Homes, home)
			ln.Contrib = append(ln.Contrib, nil)
			ln.HomeNeurons = append(ln.HomeNeurons, 0)
		}
		if !slices.Contains(ln.Contrib[hi], ti) {
			ln.Contrib[hi] = append(ln.Contrib[hi], ti)
		}
		pi := slices.Index(ln.Pairs, Flow{ti, hi})
		if pi < 0 {
			pi = len(ln.Pairs)
			ln.Pairs = append(ln.Pairs, Flow{ti, hi})
		}
		ln.PairOf = append(ln.PairOf, pi)
	}
	for g, home := range lm.Home {
		outs := min((g+1)*lm.OutputsPerBlock, lm.Outputs) - g*lm.OutputsPerBlock
		ln.HomeNeurons[homeIndex[home]] += outs * lm.Positions
	}
	return homeIndex
}

// wireScatter inverts the im2col map of layer l: for every input element,
// the (position, row split, row) triples that read it.
func (ln *LayerNet) wireScatter(lm *LayerMap, l *model.Layer, rows int) {
	type entry struct{ slot, row int32 }
	per := make([][]entry, l.In.Size())
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
	ln.ScatterOff = make([]int32, len(per)+1)
	for e, list := range per {
		ln.ScatterOff[e+1] = ln.ScatterOff[e] + int32(len(list))
		for _, en := range list {
			ln.ScatterSlot = append(ln.ScatterSlot, en.slot)
			ln.ScatterRow = append(ln.ScatterRow, en.row)
		}
	}
}

// poolMap maps each element of src (a layer's output) to the element of
// in (the next layer's input) that a sum pool of kernel k adds it to.
func poolMap(src, in model.Shape, k int) []int32 {
	to := make([]int32, src.Size())
	for ch := 0; ch < src.C; ch++ {
		for y := 0; y < src.H; y++ {
			for x := 0; x < src.W; x++ {
				to[src.Index(ch, y, x)] = int32(in.Index(ch, y/k, x/k))
			}
		}
	}
	return to
}

// wireSpikes interns, per neuron, the network flows its spike travels on.
func (ln *LayerNet) wireSpikes(lm *LayerMap, rt Routes, homeIndex map[int]int) {
	ln.HomeFlows = make([][]int, len(ln.Homes))
	ln.HomeSets = make([][]int, len(ln.Homes))
	if len(rt.SetOf) == 0 {
		return
	}
	flowIndex := map[Flow]int32{}
	setIndex := map[[2]int]int32{}
	ln.FlowSetOf = make([]int32, len(rt.SetOf))
	for n, set := range rt.SetOf {
		home := lm.HomeOf(n / lm.Positions)
		key := [2]int{home, int(set)}
		id, ok := setIndex[key]
		if !ok {
			var flows []int32
			for _, dst := range rt.Sets[set] {
				if dst == home {
					continue // same tile: no network
				}
				f := Flow{home, dst}
				fi, ok := flowIndex[f]
				if !ok {
					fi = int32(len(ln.SpikeFlows))
					flowIndex[f] = fi
					ln.SpikeFlows = append(ln.SpikeFlows, f)
				}
				flows = append(flows, fi)
			}
			id = int32(len(ln.FlowSets))
			setIndex[key] = id
			ln.FlowSets = append(ln.FlowSets, flows)
			var dsts []int
			for _, fi := range flows {
				dsts = append(dsts, ln.SpikeFlows[fi].Dst)
			}
			ln.SetDsts = append(ln.SetDsts, dsts)
			h := homeIndex[home]
			ln.HomeSets[h] = append(ln.HomeSets[h], int(id))
		}
		ln.FlowSetOf[n] = id
	}
	for fi, f := range ln.SpikeFlows {
		h := homeIndex[f.Src]
		ln.HomeFlows[h] = append(ln.HomeFlows[h], fi)
	}
}

// Summary is a netlist as `nmsim map` shows it: per layer, its placement
// and its wiring by tile (the scatter table only as its size).
type Summary struct {
	Width     int            `json:"mesh_width"`
	Height    int            `json:"mesh_height"`
	Crossbars int            `json:"crossbars_per_tile"`
	TilesUsed int            `json:"tiles_used"`
	Layers    []LayerSummary `json:"layers"`
}

// LayerSummary is one weight layer of a Summary. Tiles are numbered
// row-major (y·width + x).
type LayerSummary struct {
	Name       string `json:"name"`
	Op         string `json:"op"`
	FanIn      int    `json:"fan_in"`
	Outputs    int    `json:"outputs"`
	Positions  int    `json:"positions"`
	WeightBits int    `json:"weight_bits"`
	Slices     int    `json:"slices"`
	InputBits  int    `json:"input_bits"`
	RowSplits  int    `json:"row_splits"`
	ColSplits  int    `json:"col_splits"`
	CellsUsed  int64  `json:"cells_used"`
	CellsTotal int64  `json:"cells_total"`
	// Blocks are the crossbars: tile, slot, fan-in rows and outputs.
	Blocks []BlockSummary `json:"blocks"`
	// Homes are the tiles holding the neurons, each with the tiles whose
	// partial sums it adds.
	Homes []HomeSummary `json:"homes"`
	// PartialSums are the partial-sum flows that cross the network.
	PartialSums []TileFlow `json:"partial_sums"`
	// SpikeFlows are the (home, reader) tile pairs this layer's spikes
	// travel between, each with the neurons whose spikes take it;
	// SpikeSets the distinct destination sets (one tree multicast each).
	SpikeFlows []TileFlow `json:"spike_flows"`
	SpikeSets  []SpikeSet `json:"spike_sets"`
	// ScatterEntries is the number of (input element, position, row)
	// connections of the input scatter.
	ScatterEntries int `json:"scatter_entries"`
}

// BlockSummary is one crossbar's share of a layer.
type BlockSummary struct {
	Tile   int    `json:"tile"`
	Slot   int    `json:"slot"`
	Rows   [2]int `json:"rows"`    // fan-in rows [lo, hi)
	Output [2]int `json:"outputs"` // outputs [lo, hi)
}

// HomeSummary is one home tile: its neurons and the tiles feeding them.
type HomeSummary struct {
	Tile    int   `json:"tile"`
	Neurons int   `json:"neurons"`
	From    []int `json:"from"`
}

// TileFlow is traffic between two tiles; Neurons, for spikes, counts the
// neurons whose spikes take it.
type TileFlow struct {
	Src     int `json:"src"`
	Dst     int `json:"dst"`
	Neurons int `json:"neurons,omitempty"`
}

// SpikeSet is a destination set: its source tile, destination tiles and
// the neurons whose spikes go to exactly those.
type SpikeSet struct {
	Src     int   `json:"src"`
	Dsts    []int `json:"dsts"`
	Neurons int   `json:"neurons"`
}

// Summary describes the netlist.
func (nl *Netlist) Summary() Summary {
	s := Summary{Width: nl.Width, Height: nl.Height, Crossbars: nl.Crossbars, TilesUsed: nl.TilesUsed}
	for li := range nl.Layers {
		lm, ln := &nl.Layers[li], &nl.Nets[li]
		ls := LayerSummary{
			Name: lm.Name, Op: string(lm.Op), FanIn: lm.FanIn, Outputs: lm.Outputs, Positions: lm.Positions,
			WeightBits: lm.WeightBits, Slices: lm.Slices, InputBits: lm.InputBits,
			RowSplits: lm.RowSplits, ColSplits: lm.ColSplits, CellsUsed: lm.CellsUsed, CellsTotal: lm.CellsTotal,
			ScatterEntries: len(ln.ScatterRow),
			PartialSums:    []TileFlow{}, SpikeFlows: []TileFlow{}, SpikeSets: []SpikeSet{},
		}
		for _, b := range lm.Blocks {
			ls.Blocks = append(ls.Blocks, BlockSummary{Tile: b.Tile, Slot: b.Slot, Rows: [2]int{b.RowLo, b.RowHi}, Output: [2]int{b.OutLo, b.OutHi}})
		}
		for hi, home := range ln.Homes {
			h := HomeSummary{Tile: home, Neurons: ln.HomeNeurons[hi]}
			for _, ti := range ln.Contrib[hi] {
				h.From = append(h.From, ln.Tiles[ti])
			}
			ls.Homes = append(ls.Homes, h)
		}
		for _, p := range ln.Pairs {
			if src, dst := ln.Tiles[p.Src], ln.Homes[p.Dst]; src != dst {
				ls.PartialSums = append(ls.PartialSums, TileFlow{Src: src, Dst: dst})
			}
		}
		flowNeurons := make([]int, len(ln.SpikeFlows))
		setNeurons := make([]int, len(ln.FlowSets))
		for _, set := range ln.FlowSetOf {
			setNeurons[set]++
			for _, fi := range ln.FlowSets[set] {
				flowNeurons[fi]++
			}
		}
		for fi, f := range ln.SpikeFlows {
			ls.SpikeFlows = append(ls.SpikeFlows, TileFlow{Src: f.Src, Dst: f.Dst, Neurons: flowNeurons[fi]})
		}
		for hi, sets := range ln.HomeSets {
			for _, set := range sets {
				if len(ln.SetDsts[set]) > 0 {
					ls.SpikeSets = append(ls.SpikeSets, SpikeSet{Src: ln.Homes[hi], Dsts: ln.SetDsts[set], Neurons: setNeurons[set]})
				}
			}
		}
		s.Layers = append(s.Layers, ls)
	}
	return s
}
