package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nmsim/nmsim/internal/atomicfile"
	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/report"
)

// reportCommand is `nmsim report DIR`.
type reportCommand struct {
	format string
	pareto string
	out    string
	x, y   string
	group  string
	plots  string
}

func (*reportCommand) Name() string { return "report" }
func (*reportCommand) Synopsis() string {
	return "tables and plots of a sweep's results, with the Pareto-optimal points marked"
}

const reportUsage = `
Usage: nmsim report DIR [--format md|latex|csv|json] [--pareto energy,accuracy] [-o OUT]

Reads DIR/results.jsonl and DIR/manifest.json (written by 'nmsim sweep' or
'nmsim merge') and prints a table of the points that ran, in sweep order:
the swept values, then accuracy, energy, latency, cycles and spikes per
inference, the crossbars and tiles of the chip, its area, average power,
energy × latency and efficiency (synaptic operations per joule), with units in the
headers, energies and times with the SI prefix that suits each column and
three significant digits, accuracy to the resolution of the sample count.
Points that are Pareto-optimal in the --pareto metrics are marked.

Markdown is for READMEs, LaTeX is a booktabs tabular (\usepackage{booktabs}),
CSV and JSON hold exact values in base units (J, s).

With -o OUT it writes table.md, table.tex, table.csv and table.json to OUT
and the plots, sized for one column of a two-column paper:
  pareto-<x>-<y>     every point in the first two --pareto metrics, the front joined
  pareto-energy-area every point's chip area against its energy, their own
                     front joined (when the sweep changes the area)
  energy-breakdown   energy per inference by component, stacked (the Pareto
                     points when there are more than 16)
  <y>-vs-<x>[-by-<g>] metric --y against --x, a line per value of --group,
                     each point the mean over the other swept keys; without
                     --x, accuracy against each numeric swept key, and
                     cycles against tiles when the mesh was swept

Metrics: accuracy, energy, latency, cycles, spikes, crossbars, tiles, area,
power, edp, tops_per_w.
--x and --group take a swept key (crossbar.adc_bits, model, seed, …) or a metric.

Examples:
  nmsim report runs/adc-rows
  nmsim report runs/adc-rows --format latex --pareto energy,accuracy,latency
  nmsim report runs/adc-rows -o docs/sweeps --x crossbar.adc_bits --group crossbar.rows
`

func (c *reportCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := newFlagSet("report", c.Synopsis(), reportUsage, env.Stderr)
	fs.StringVar(&c.format, "format", "md", "table format on stdout: md, latex, csv or json")
	fs.StringVar(&c.pareto, "pareto", "energy,accuracy", "metrics of the Pareto front, comma-separated (\"\": none)")
	fs.StringVar(&c.out, "o", "", "write every table format and the plots into this directory")
	fs.StringVar(&c.x, "x", "", "plot: the key or metric on the x axis")
	fs.StringVar(&c.y, "y", "accuracy", "plot: the metric on the y axis")
	fs.StringVar(&c.group, "group", "", "plot: one line per value of this key")
	fs.StringVar(&c.plots, "plots", "png,svg", "plot file formats: png, svg, pdf (\"\": no plots)")
	pos, err := parseArgs(fs, args, "DIR")
	if err != nil {
		return err
	}
	d, err := report.Load(pos[0])
	if err != nil {
		return err
	}
	var pareto []string
	if c.pareto != "" {
		pareto = strings.Split(c.pareto, ",")
		if err := d.MarkPareto(pareto); err != nil {
			return err
		}
	}
	t := d.Table(strings.Join(pareto, ", "))
	if c.out == "" {
		return t.Write(env.Stdout, c.format)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var files []string
	for _, f := range []struct{ format, name string }{{"md", "table.md"}, {"latex", "table.tex"}, {"csv", "table.csv"}, {"json", "table.json"}} {
		var buf bytes.Buffer
		if err := t.Write(&buf, f.format); err != nil {
			return err
		}
		path := filepath.Join(c.out, f.name)
		if err := atomicfile.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		files = append(files, path)
	}
	if c.plots != "" {
		plots, err := d.Plots(c.out, report.PlotOptions{X: c.x, Y: c.y, Group: c.group, Pareto: pareto, Formats: strings.Split(c.plots, ",")})
		files = append(files, plots...)
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stdout, "%d of %s ran", len(d.Rows), english.Count(len(d.Manifest.Points), "point"))
	if len(d.Skipped) > 0 {
		fmt.Fprintf(env.Stdout, ", %d do not fit", len(d.Skipped))
	}
	if d.Missing > 0 {
		fmt.Fprintf(env.Stdout, ", %d have no result yet", d.Missing)
	}
	fmt.Fprintf(env.Stdout, "; wrote\n  %s\n", strings.Join(files, "\n  "))
	return nil
}
