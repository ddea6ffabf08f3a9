package main

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/workloads/model"
)

// mapCommand is `nmsim map arch.toml model.bin`.
type mapCommand struct {
	sets setFlags
	wide wideFlag
}

func (*mapCommand) Name() string     { return "map" }
func (*mapCommand) Synopsis() string { return "show how a model is tiled and placed on the chip" }

const mapUsage = `
Usage: nmsim map arch.toml model.bin [--set key=value …]

Cuts every weight layer's matrix (fan-in rows × outputs; convolutions
unrolled im2col-style, kernel weights shared across positions) into
crossbar-sized blocks and places them on the mesh. For each layer it
prints the crossbars used, the row splits (partial sums added digitally)
and column splits, the tiles, the weight bits and bit-slices (multi-bit
weights use one complementary column pair per magnitude bit), the input
bit-planes read per position, and the cell utilisation. A model that does
not fit says what it needs.

Example:
  nmsim map configs/rram-xnor.toml models/mnist-convert.bin --set tile.crossbars=4
`

func (c *mapCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("map", c.Synopsis(), mapUsage, env.Stderr)
	fs.Var(&c.sets, "set", "override an arch key (repeatable)")
	c.wide.register(fs)
	pos, err := parseArgs(fs, args, "arch.toml", "model.bin")
	if err != nil {
		return err
	}
	cfg, err := loadArch(pos[0], c.sets)
	if err != nil {
		return err
	}
	m, pl, err := loadAndMap(cfg, pos[0], pos[1])
	if err != nil {
		return err
	}
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
	fmt.Fprintf(w, "%s on %d of %s\n", english.Count(pl.BlocksUsed(), "crossbar"), pl.TilesUsed, english.Count(pl.Width*pl.Height, "tile"))
	return nil
}

// loadAndMap loads the model at modelPath and maps it onto cfg (loaded
// from archPath).
func loadAndMap(cfg *arch.Config, archPath, modelPath string) (*model.Model, *mapper.Placement, error) {
	m, err := model.Load(modelPath)
	if err != nil {
		return nil, nil, err
	}
	pl, err := mapper.Map(cfg, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s on %s: %w", modelPath, archPath, err)
	}
	return m, pl, nil
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
