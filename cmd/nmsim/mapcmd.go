package main

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/mapper"
)

// mapCommand is `nmsim map arch.toml model.bin`.
type mapCommand struct {
	sets     setFlags
	wide     wideFlag
	jsonPath string
}

func (*mapCommand) Name() string     { return "map" }
func (*mapCommand) Synopsis() string { return "show how a model is tiled and placed on the chip" }

const mapUsage = `
Usage: nmsim map arch.toml model.bin [--json FILE] [--set key=value …]

Cuts every weight layer's matrix (fan-in rows × outputs; convolutions
unrolled im2col-style, kernel weights shared across positions) into
crossbar-sized blocks and places them on the mesh. For each layer it
prints the crossbars used, the row splits (partial sums added digitally)
and column splits, the tiles, the weight bits and bit-slices (multi-bit
weights use one complementary column pair per magnitude bit), the input
bit-planes read per position, and the cell utilisation. A second table
shows the netlist the chip is built from: the home tiles holding each
layer's neurons, the partial sums that cross the network (row splits on
another tile than their home), the tile-to-tile flows and distinct
destination sets (one tree multicast each) of its spikes, and the size of
its input scatter (input element → crossbar row connections). A model that
does not fit says what it needs.

--json FILE writes the netlist whole: mesh_width, mesh_height,
crossbars_per_tile, tiles_used and per layer (layers[]) name, op, fan_in,
outputs, positions, weight_bits, slices, input_bits, row_splits,
col_splits, cells_used, cells_total, blocks[] (tile, slot, rows [lo,hi),
outputs [lo,hi)), homes[] (tile, neurons, from: the tiles feeding it),
partial_sums[] (src, dst tiles), spike_flows[] (src, dst, neurons),
spike_sets[] (src, dsts, neurons) and scatter_entries. Tiles are numbered
row-major: y·mesh_width + x.

Example:
  nmsim map configs/rram-xnor.toml models/mnist-convert.bin --set tile.crossbars=4
`

func (c *mapCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("map", c.Synopsis(), mapUsage, env.Stderr)
	fs.Var(&c.sets, "set", "override an arch key (repeatable)")
	c.wide.register(fs)
	fs.StringVar(&c.jsonPath, "json", "", "also write the netlist as JSON to `FILE`")
	pos, err := parseArgs(fs, args, "arch.toml", "model.bin")
	if err != nil {
		return err
	}
	cfg, m, nl, err := mapper.LoadWith(pos[0], c.sets, pos[1])
	if err != nil {
		return err
	}
	pl := nl.Placement
	w := env.Stdout
	fmt.Fprintf(w, "%s on a %d×%d %s of tiles with %d crossbars of %d×%d cells\n", m.Name, pl.Width, pl.Height, cfg.Chip.Topology, pl.Crossbars, cfg.Crossbar.Rows, cfg.Crossbar.Cols)
	var rows [][]string
	for i := range pl.Layers {
		l := &pl.Layers[i]
		tiles := l.Tiles()
		rows = append(rows, []string{
			l.Name, string(l.Op), fmt.Sprintf("%d×%d", l.FanIn, l.Outputs), fmt.Sprint(l.Positions),
			fmt.Sprintf("%d / %d", l.WeightBits, l.Slices), fmt.Sprint(l.InputBits),
			fmt.Sprint(len(l.Blocks)), fmt.Sprintf("%d×%d", l.RowSplits, l.ColSplits),
			tileList(pl, tiles), fmt.Sprintf("%.1f %%", 100*float64(l.CellsUsed)/float64(l.CellsTotal)),
		})
	}
	table(w, c.wide.width(), []string{"layer", "op", "rows×outputs", "positions", "weight bits / slices", "input planes", "crossbars", "row×col splits", "tiles (x,y)", "cell use"}, rows)
	fmt.Fprintf(w, "%s on %d of %s\n\n", english.Count(pl.BlocksUsed(), "crossbar"), pl.TilesUsed, english.Count(pl.Width*pl.Height, "tile"))
	sum := nl.Summary()
	rows = rows[:0]
	for _, l := range sum.Layers {
		var homes []int
		for _, h := range l.Homes {
			homes = append(homes, h.Tile)
		}
		rows = append(rows, []string{
			l.Name, tileList(pl, homes), fmt.Sprint(len(l.PartialSums)),
			fmt.Sprint(len(l.SpikeFlows)), fmt.Sprint(len(l.SpikeSets)), fmt.Sprint(l.ScatterEntries),
		})
	}
	table(w, c.wide.width(), []string{"layer", "home tiles (x,y)", "partial-sum flows", "spike flows", "spike destination sets", "scatter entries"}, rows)
	if c.jsonPath != "" {
		return writeJSON(c.jsonPath, sum)
	}
	return nil
}

// tileList names tiles by mesh coordinates, abbreviating long lists.
func tileList(pl *mapper.Placement, tiles []int) string {
	s := ""
	for i, t := range tiles {
		if i == 4 && len(tiles) > 5 {
			return s + fmt.Sprintf(" … (%d tiles)", len(tiles))
		}
		x, y := pl.XY(t)
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("(%d,%d)", x, y)
	}
	return s
}
