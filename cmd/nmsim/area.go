package main

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/energy"
	"github.com/nmsim/nmsim/mapper"
)

// areaCommand is `nmsim area arch.toml [model.bin]`.
type areaCommand struct {
	sets     setFlags
	jsonPath string
	format   string
}

func (*areaCommand) Name() string { return "area" }
func (*areaCommand) Synopsis() string {
	return "the chip's area and peak power per component and per tile"
}

const areaUsage = `
Usage: nmsim area arch.toml [model.bin] [--json FILE] [--set key=value …]

Prints the area and the peak power of the chip arch.toml describes, per
component and per tile, from the component model of docs/energy-model.md
(every component's source, scaled to tech.node_nm and tech.vdd). Peak
power is every component of every powered tile at its maximum rate, plus
leakage. A router shared by several tiles (tile.tiles_per_router) counts
its share in each.

With a model, the spike buffers and the membrane store whose size is 0 in
arch.toml are sized from what the mapping needs on its busiest tile, the
used tiles are counted, and unused tiles are left out of the peak power
when tile.power_gating is on. Without one they are sized for a tile whose
crossbars all hold one dense layer.

A second table gives each component's energy per action, by the counter
of a run that it prices (crossbar.cell_reads, noc.switch_flits, …).

Leakage depends on tech.process ("lstp", "lop", "hp": the transistors'
off-current) and, for the input buffer, on tile.input_buffer_cell.

The JSON (--json) has node_nm, vdd, process, area_mm2.total, .per_tile, .used_tiles, .breakdown
(per component, whole chip), power_w.peak, .peak_per_tile,
.leakage_per_tile, .breakdown, and energy_per_action (component, counter,
j).

Examples:
  nmsim area configs/isaac.toml
  nmsim area configs/rram-xnor.toml models/mnist-convert.bin --set tech.node_nm=22
`

// areaReport is what `nmsim area --json` writes.
type areaReport struct {
	Arch    string          `json:"arch"`
	Model   string          `json:"model,omitempty"`
	NodeNM  float64         `json:"node_nm"`
	Vdd     float64         `json:"vdd"`
	Process string          `json:"process"`
	Tiles   int             `json:"tiles"`
	Used    int             `json:"tiles_used"`
	AreaMM2 energy.Area     `json:"area_mm2"`
	PowerW  energy.Peak     `json:"power_w"`
	Actions []energy.Action `json:"energy_per_action"`
}

func (c *areaCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("area", c.Synopsis(), areaUsage, env.Stderr)
	fs.Var(&c.sets, "set", "override an arch key (repeatable)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the report as JSON to `FILE`")
	fs.StringVar(&c.format, "format", "text", "table format: text, markdown, csv")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	names := []string{"arch.toml", "model.bin"}
	if len(pos) < 1 || len(pos) > 2 {
		return usageErr(fs, "want arch.toml [model.bin], got %d arguments", len(pos))
	}
	if err := checkArgKinds(fs, pos, names[:len(pos)]); err != nil {
		return err
	}
	cfg, err := arch.LoadWith(pos[0], c.sets)
	if err != nil {
		return err
	}
	rep := areaReport{Arch: pos[0], Tiles: cfg.Chip.MeshWidth * cfg.Chip.MeshHeight}
	rep.Used = rep.Tiles
	var use *energy.Usage
	if len(pos) == 2 {
		m, nl, err := mapper.Load(cfg, pos[0], pos[1])
		if err != nil {
			return err
		}
		u := energy.UsageOf(nl.Placement, m, cfg.Neuron.MembraneBits)
		use, rep.Model, rep.Used = &u, pos[1], u.TilesUsed
	}
	em := energy.New(cfg, use)
	rep.NodeNM, rep.Vdd, rep.Process = em.Tech.NodeNM, em.Tech.Vdd, cfg.Tech.Process
	rep.AreaMM2, rep.PowerW = em.Summary(rep.Used)
	for _, a := range em.Actions() {
		if a.Joules > 0 { // a bus of no wires costs nothing
			rep.Actions = append(rep.Actions, a)
		}
	}

	w := env.Stdout
	fmt.Fprintf(w, "%s: %d tiles (%d used) at %g nm, %.2f V, %s transistors\n", pos[0], rep.Tiles, rep.Used, rep.NodeNM, rep.Vdd, rep.Process)
	var rows [][]string
	tiles := float64(rep.Tiles)
	powered := float64(em.PoweredTiles(rep.Used))
	for _, p := range em.Parts() {
		rows = append(rows, []string{p.Name, fmt.Sprintf("%.4g", p.Count), fmt.Sprintf("%.5f", p.AreaMM2),
			fmt.Sprintf("%.1f %%", 100*p.AreaMM2/rep.AreaMM2.PerTile), si(p.PeakW, "W"), si(p.LeakW, "W")})
	}
	rows = append(rows, []string{"tile", "", fmt.Sprintf("%.5f", rep.AreaMM2.PerTile), "100 %", si(rep.PowerW.PeakPerTile-rep.PowerW.LeakagePerTile, "W"), si(rep.PowerW.LeakagePerTile, "W")})
	if err := formatTable(w, c.format, []string{"component", "per tile", "area mm² / tile", "area share", "peak dynamic / tile", "leakage / tile"}, rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, a := range rep.Actions {
		rows = append(rows, []string{a.Component, a.Counter, si(a.Joules, "J")})
	}
	fmt.Fprintln(w, "\nenergy per action (each counter of a run is priced so)")
	if err := formatTable(w, c.format, []string{"component", "counter", "energy"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "chip: %.3f mm² (%g tiles; the %d used: %.3f mm²), peak power %s (%g powered tiles × %s)\n",
		rep.AreaMM2.Total, tiles, rep.Used, rep.AreaMM2.UsedTiles, si(rep.PowerW.Peak, "W"), powered, si(rep.PowerW.PeakPerTile, "W"))
	if c.jsonPath != "" {
		if err := writeJSON(c.jsonPath, rep); err != nil {
			return fmt.Errorf("area: %w", err)
		}
	}
	return nil
}
