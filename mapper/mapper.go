// Package mapper turns a network into a placement on the chip: each weight
// layer's matrix (fan-in rows × output columns, im2col order for convs) is
// cut into crossbar-sized blocks — row splits whose partial sums are added
// digitally, column splits of whole outputs — the blocks are placed on the
// mesh's tiles, and spike routing tables say which tiles need which
// neuron's spikes. It knows nothing of timing.
package mapper

import (
	"fmt"
	"strings"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/workloads/model"
)

// Block is one crossbar's share of a layer.
type Block struct {
	Tile, Slot   int // tile index (row-major, y·width + x) and crossbar slot in the tile
	Group        int // column group (which outputs)
	RowLo, RowHi int // fan-in rows [RowLo, RowHi)
	OutLo, OutHi int // outputs [OutLo, OutHi)
}

// Rows is the number of fan-in rows the block holds.
func (b *Block) Rows() int { return b.RowHi - b.RowLo }

// Outputs is the number of outputs the block holds.
func (b *Block) Outputs() int { return b.OutHi - b.OutLo }

// LayerMap is the placement of one weight layer.
type LayerMap struct {
	Layer      int // index in model.Layers
	Name       string
	Op         model.Op
	FanIn      int
	Outputs    int // weight columns (output channels of a conv)
	Positions  int // output positions per timestep (H·W for a conv, 1 for dense)
	WeightBits int
	Slices     int // magnitude bit-slices per output (1 for binary)
	InputBits  int // bit-planes per read
	// Source is the index of the weight layer whose spikes feed this one
	// (−1 for the first layer, which reads the input), PoolKernel the sum
	// pool between them (1 if none).
	Source     int
	PoolKernel int

	RowSplits, ColSplits int
	OutputsPerBlock      int
	Blocks               []Block // ordered by (group, row split)
	Home                 []int   // per column group: the tile whose neuron units hold its neurons
	CellsUsed            int64   // programmed cells (rows × used columns, summed over blocks)
	CellsTotal           int64   // cells of the crossbars the layer occupies
}

// Tiles lists the distinct tiles the layer occupies, in placement order.
func (l *LayerMap) Tiles() []int {
	var ts []int
	for _, b := range l.Blocks {
		if len(ts) == 0 || ts[len(ts)-1] != b.Tile {
			ts = append(ts, b.Tile)
		}
	}
	return ts
}

// HomeOf is the tile holding output column o's neurons.
func (l *LayerMap) HomeOf(o int) int { return l.Home[o/l.OutputsPerBlock] }

// Placement is a whole network on the chip.
type Placement struct {
	Width, Height int
	Crossbars     int // per tile
	Rows          int // per crossbar
	Layers        []LayerMap
	TilesUsed     int
	// Order is the tile visiting order used for placement: a serpentine
	// walk, so consecutive layers sit on neighbouring tiles.
	Order []int
}

// XY returns the mesh coordinates of a tile.
func (p *Placement) XY(tile int) (x, y int) { return tile % p.Width, tile / p.Width }

// BlocksUsed is the number of crossbars holding weights.
func (p *Placement) BlocksUsed() int {
	n := 0
	for i := range p.Layers {
		n += len(p.Layers[i].Blocks)
	}
	return n
}

// FitError is the mapper's "does not fit": the model needs more of a chip
// resource than the chip has. It is a fact about a design point (a sweep
// records it and goes on); any other error from Map is a failure.
type FitError struct {
	// Resource is what is short: "crossbar columns" (for one output of
	// the widest layer) or "tiles" (for the whole model).
	Resource   string
	Need, Have int
	// Detail says which layers need what, and which arch keys give more.
	Detail string
}

func (e *FitError) Error() string { return "mapper: " + e.Detail }

// Map places m on the chip that cfg describes. m must be valid. A model
// that does not fit gets a *FitError.
func Map(cfg *arch.Config, m *model.Model) (*Placement, error) {
	p := &Placement{Width: cfg.Chip.MeshWidth, Height: cfg.Chip.MeshHeight, Crossbars: cfg.Tile.Crossbars, Rows: cfg.Crossbar.Rows}
	p.Order = serpentine(p.Width, p.Height)
	xb := cfg.Crossbar
	var problems []string
	colsNeeded := 0
	source, pool := -1, 1
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.Op == model.OpSumPool {
			pool *= l.Kernel
			continue
		}
		lm := LayerMap{
			Layer: i, Name: l.Name, Op: l.Op, FanIn: l.FanIn(), Outputs: l.Outputs(),
			Positions: 1, WeightBits: l.WeightBits, Slices: 1, InputBits: m.InputBits(i),
			Source: source, PoolKernel: pool,
		}
		if l.Op == model.OpConv {
			lm.Positions = l.Out.H * l.Out.W
		}
		if l.WeightBits > 1 {
			lm.Slices = l.WeightBits - 1
		}
		colsPerOutput := 2 * lm.Slices
		lm.OutputsPerBlock = min(xb.Cols/colsPerOutput, lm.Outputs)
		if lm.OutputsPerBlock == 0 {
			problems = append(problems, fmt.Sprintf("layer %s: one %d-bit output needs %d columns (%d bit-slices × a complementary pair), the crossbar has %d (crossbar.cols)",
				l.Name, l.WeightBits, colsPerOutput, lm.Slices, xb.Cols))
			colsNeeded = max(colsNeeded, colsPerOutput)
			continue
		}
		lm.RowSplits = ceilDiv(lm.FanIn, xb.Rows)
		lm.ColSplits = ceilDiv(lm.Outputs, lm.OutputsPerBlock)
		p.Layers = append(p.Layers, lm)
		source = len(p.Layers) - 1
		pool = 1
	}
	if len(problems) > 0 {
		return nil, &FitError{Resource: "crossbar columns", Need: colsNeeded, Have: xb.Cols, Detail: strings.Join(problems, "; ")}
	}
	if err := p.place(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// Build maps m onto the chip that cfg describes and wires the placement
// (Map, then Wire).
func Build(cfg *arch.Config, m *model.Model) (*Netlist, error) {
	p, err := Map(cfg, m)
	if err != nil {
		return nil, err
	}
	return p.Wire(m), nil
}

// Load reads the model at modelPath and builds its netlist on cfg, the
// chip read from archPath (named in the error of a model that does not
// fit, with the *FitError kept).
func Load(cfg *arch.Config, archPath, modelPath string) (*model.Model, *Netlist, error) {
	m, err := model.Load(modelPath)
	if err != nil {
		return nil, nil, err
	}
	nl, err := Build(cfg, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s on %s: %w", modelPath, archPath, err)
	}
	return m, nl, nil
}

// LoadWith reads the chip at archPath with its --set overrides
// (arch.LoadWith) and the model at modelPath, and builds the model's
// netlist on the chip (Load): what every command that maps a model does
// first.
func LoadWith(archPath string, sets []string, modelPath string) (*arch.Config, *model.Model, *Netlist, error) {
	cfg, err := arch.LoadWith(archPath, sets)
	if err != nil {
		return nil, nil, nil, err
	}
	m, nl, err := Load(cfg, archPath, modelPath)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, m, nl, nil
}

// place assigns blocks to tiles. Each layer starts on a fresh tile (its
// own pipeline stage); a column group's row splits stay on one tile when
// they fit, so their partial sums are added without crossing the network.
// Blocks are first laid out on as many tiles as they need, then checked
// against the mesh, so the error can say what the whole model needs.
func (p *Placement) place(cfg *arch.Config) error {
	k := p.Crossbars
	next := 0 // placement position of the tile being filled
	var perLayer []string
	for li := range p.Layers {
		lm := &p.Layers[li]
		slot := 0
		first := next
		lm.Home = make([]int, lm.ColSplits)
		for g := 0; g < lm.ColSplits; g++ {
			if slot > 0 && slot+lm.RowSplits > k && lm.RowSplits <= k {
				next, slot = next+1, 0
			}
			for r := 0; r < lm.RowSplits; r++ {
				if slot == k {
					next, slot = next+1, 0
				}
				b := Block{
					Tile: next, Slot: slot, Group: g,
					RowLo: r * cfg.Crossbar.Rows, RowHi: min((r+1)*cfg.Crossbar.Rows, lm.FanIn),
					OutLo: g * lm.OutputsPerBlock, OutHi: min((g+1)*lm.OutputsPerBlock, lm.Outputs),
				}
				if r == 0 {
					lm.Home[g] = b.Tile
				}
				lm.CellsUsed += int64(b.Rows()) * int64(b.Outputs()*2*lm.Slices)
				lm.Blocks = append(lm.Blocks, b)
				slot++
			}
		}
		lm.CellsTotal = int64(len(lm.Blocks)) * int64(cfg.Crossbar.Rows) * int64(cfg.Crossbar.Cols)
		next++
		perLayer = append(perLayer, fmt.Sprintf("%s %s on %s", lm.Name, english.Count(len(lm.Blocks), "crossbar"), english.Count(next-first, "tile")))
	}
	if next > len(p.Order) {
		return &FitError{Resource: "tiles", Need: next, Have: len(p.Order), Detail: fmt.Sprintf("the model needs %d tiles of %d crossbars of %d×%d cells (%s), the chip has %d×%d = %d: use a larger mesh (chip.mesh_width, chip.mesh_height), more crossbars per tile (tile.crossbars) or larger arrays (crossbar.rows, crossbar.cols)",
			next, k, cfg.Crossbar.Rows, cfg.Crossbar.Cols, strings.Join(perLayer, ", "), p.Width, p.Height, len(p.Order))}
	}
	// Placement positions become tiles of the serpentine walk.
	for li := range p.Layers {
		lm := &p.Layers[li]
		for bi := range lm.Blocks {
			lm.Blocks[bi].Tile = p.Order[lm.Blocks[bi].Tile]
		}
		for g := range lm.Home {
			lm.Home[g] = p.Order[lm.Home[g]]
		}
	}
	p.TilesUsed = next
	return nil
}

// serpentine lists tiles row by row, reversing every other row.
func serpentine(w, h int) []int {
	order := make([]int, 0, w*h)
	for y := 0; y < h; y++ {
		for i := 0; i < w; i++ {
			x := i
			if y%2 == 1 {
				x = w - 1 - i
			}
			order = append(order, y*w+x)
		}
	}
	return order
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
