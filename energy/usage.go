package energy

import (
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/workloads/model"
)

// Usage is what a mapping needs of the tiles: how many it occupies and,
// on the busiest tile, the storage its buffers must hold for one timestep.
// Every tile is built alike, so the busiest one sizes them all.
type Usage struct {
	TilesUsed    int
	InputBits    int64 // input spikes (or input bit-planes) the tile's crossbars read
	OutputBits   int64 // one spike bit per neuron the tile's neuron units update
	MembraneBits int64 // membrane_bits per neuron the tile's neuron units update
}

// UsageOf measures a placement of m. A tile's input buffer holds, for
// every layer with crossbars on it, the input elements those crossbars
// read (a dense layer's rows; a convolution's input channels they cover,
// over the whole feature map) times the layer's input bits; its output
// buffer and membrane store hold the neurons whose home it is.
func UsageOf(pl *mapper.Placement, m *model.Model, membraneBits int) Usage {
	in := map[int]int64{}
	neurons := map[int]int64{}
	for li := range pl.Layers {
		lm := &pl.Layers[li]
		l := &m.Layers[lm.Layer]
		perElem := int64(1) // a dense layer reads one element per row
		perRow := 1
		if l.Op != model.OpDense {
			perElem = int64(l.In.H * l.In.W)
			perRow = l.Kernel * l.Kernel // rows per input channel
		}
		covered := map[int]map[int]bool{} // tile → channels (or rows) read
		for _, b := range lm.Blocks {
			if covered[b.Tile] == nil {
				covered[b.Tile] = map[int]bool{}
			}
			for r := b.RowLo; r < b.RowHi; r++ {
				covered[b.Tile][r/perRow] = true
			}
		}
		for tile, set := range covered {
			in[tile] += int64(len(set)) * perElem * int64(lm.InputBits)
		}
		for g, home := range lm.Home {
			outs := min((g+1)*lm.OutputsPerBlock, lm.Outputs) - g*lm.OutputsPerBlock
			neurons[home] += int64(outs * lm.Positions)
		}
	}
	u := Usage{TilesUsed: pl.TilesUsed}
	for _, b := range in {
		u.InputBits = max(u.InputBits, b)
	}
	for _, n := range neurons {
		u.OutputBits = max(u.OutputBits, n)
		u.MembraneBits = max(u.MembraneBits, n*int64(membraneBits))
	}
	return u
}
