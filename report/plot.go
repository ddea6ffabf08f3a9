package report

// The plots of a sweep and the figure style they share (one column of a
// two-column paper); axes.go scales their axes.

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/nmsim/nmsim/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// PlotOptions choose the plots.
type PlotOptions struct {
	// X, Y and Group make one line plot of metric Y against point key (or
	// metric) X, one line per value of Group, each point the mean over the
	// other swept keys. With X empty, every numeric swept key gets an
	// accuracy plot, grouped by another swept key of few values.
	X, Y, Group string
	// Pareto names the metrics of the front (MarkPareto's); the first two
	// are the scatter plot's axes.
	Pareto []string
	// Formats are file extensions: png (300 dpi), svg, pdf.
	Formats []string
}

// Figure geometry for one column of a two-column paper (3.5 in): 8 pt
// labels and 7 pt ticks, as legible as the caption text beside them.
const (
	figWidth  = 3.5 * vg.Inch
	figHeight = 2.5 * vg.Inch
	labelSize = 8
	tickSize  = 7
	pngDPI    = 300
	maxBars   = 16 // design points in one breakdown plot
)

// palette is Okabe and Ito's colour-blind-safe set, then greys.
func palette(i int) color.Color {
	cs := []color.RGBA{
		{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {213, 94, 0, 255},
		{86, 180, 233, 255}, {204, 121, 167, 255}, {240, 228, 66, 255}, {0, 0, 0, 255},
		{150, 150, 150, 255}, {90, 90, 90, 255},
	}
	return cs[i%len(cs)]
}

// Plots writes the plots into dir and returns the files it wrote.
func (d *Data) Plots(dir string, o PlotOptions) ([]string, error) {
	type figure struct {
		name string
		p    *plot.Plot
		h    vg.Length
	}
	var figs []figure
	if len(o.Pareto) >= 2 {
		front := make([]bool, len(d.Rows))
		for i, r := range d.Rows {
			front[i] = r.Pareto
		}
		p, err := d.paretoPlot(o.Pareto[0], o.Pareto[1], front)
		if err != nil {
			return nil, err
		}
		figs = append(figs, figure{"pareto-" + o.Pareto[0] + "-" + o.Pareto[1], p, figHeight})
	}
	// Area against energy, whenever the sweep changes the chip's area.
	if d.distinct("area") > 1 && !(slices.Contains(o.Pareto, "area") && slices.Contains(o.Pareto, "energy")) {
		front, err := d.paretoFront([]string{"energy", "area"})
		if err != nil {
			return nil, err
		}
		p, err := d.paretoPlot("energy", "area", front)
		if err != nil {
			return nil, err
		}
		figs = append(figs, figure{"pareto-energy-area", p, figHeight})
	}
	if p, n := d.breakdownPlot(); p != nil {
		figs = append(figs, figure{"energy-breakdown", p, vg.Length(0.9+0.17*float64(n)) * vg.Inch})
	}
	var lines [][3]string
	switch {
	case o.X != "":
		lines = append(lines, [3]string{o.X, cmpOr(o.Y, "accuracy"), o.Group})
	default:
		for _, x := range d.Swept {
			if _, ok := d.Rows[0].value(x); ok && x != "seed" && !d.followers()[x] {
				lines = append(lines, [3]string{x, cmpOr(o.Y, "accuracy"), d.defaultGroup(x)})
			}
		}
		if d.distinct("tiles") > 1 {
			lines = append(lines, [3]string{"tiles", "cycles", ""})
		}
	}
	short := shortNames(d.Swept)
	for _, l := range lines {
		p, err := d.linePlot(l[0], l[1], l[2])
		if err != nil {
			return nil, err
		}
		name := l[1] + "-vs-" + cmpOr(short[l[0]], l[0])
		if l[2] != "" {
			name += "-by-" + cmpOr(short[l[2]], l[2])
		}
		figs = append(figs, figure{name, p, figHeight})
	}
	var files []string
	for _, f := range figs {
		for _, format := range o.Formats {
			path := filepath.Join(dir, f.name+"."+format)
			if err := save(f.p, f.h, format, path); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	return files, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func save(p *plot.Plot, h vg.Length, format, path string) error {
	var w io.WriterTo
	switch format {
	case "png":
		c := vgimg.NewWith(vgimg.UseWH(figWidth, h), vgimg.UseDPI(pngDPI))
		p.Draw(draw.New(c))
		w = vgimg.PngCanvas{Canvas: c}
	case "svg", "pdf":
		var err error
		if w, err = p.WriterTo(figWidth, h, format); err != nil {
			return fmt.Errorf("report: %s: %w", path, err)
		}
	default:
		return fmt.Errorf("report: unknown plot format %q (png, svg or pdf)", format)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// newPlot makes a plot with the paper-sized fonts.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = labelSize
		a.Tick.Label.Font.Size = tickSize
	}
	p.Legend.TextStyle.Font.Size = tickSize
	p.Legend.Top = true
	p.X.Tick.Marker, p.Y.Tick.Marker = tidyTicks{}, tidyTicks{}
	p.Legend.ThumbnailWidth = 0.2 * vg.Inch
	return p
}

// tidyTicks are gonum's default ticks labelled without trailing zeros
// (97.5 and 90, not 97.50 and 90.00).
type tidyTicks struct{}

func (tidyTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
