package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
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

// axisLabel is "label (unit)" with the prefix for values up to largest.
func axisLabel(m Metric, largest float64) (label string, scale float64) {
	scale, unit := 1.0, m.Unit
	if m.SI {
		var prefix string
		scale, prefix = siPrefix(largest)
		unit = prefix + m.Unit
	}
	if unit == "" {
		return m.Label, scale
	}
	return m.Label + " (" + unit + ")", scale
}

// paretoPlot scatters every point in metrics x and y, the points marked
// in front highlighted and joined in x order.
func (d *Data) paretoPlot(xName, yName string, front []bool) (*plot.Plot, error) {
	xm, err := metric(xName)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	ym, err := metric(yName)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var xs, ys []float64
	for _, r := range d.Rows {
		xs, ys = append(xs, xm.value(r.Report)), append(ys, ym.value(r.Report))
	}
	xl, xScale := axisLabel(xm, slices.Max(xs))
	yl, yScale := axisLabel(ym, slices.Max(ys))
	p := newPlot(xl, yl)
	var all, best plotter.XYs
	for i := range d.Rows {
		pt := plotter.XY{X: xs[i] / xScale, Y: ys[i] / yScale}
		all = append(all, pt)
		if front[i] {
			best = append(best, pt)
		}
	}
	slices.SortFunc(best, func(a, b plotter.XY) int { return cmpFloat(a.X, b.X) })
	xs0 := xScaleOf(&xm, xs)
	setScale(&p.X, xs0)
	p.X.Min, p.X.Max = axisRange(slices.Min(xs)/xScale, slices.Max(xs)/xScale, xs0)
	s, err := plotter.NewScatter(all)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	s.GlyphStyle.Color, s.GlyphStyle.Radius = palette(8), vg.Points(1.5)
	p.Add(s)
	p.Legend.Add("design points", s)
	if len(best) > 0 {
		l, pts, err := plotter.NewLinePoints(best)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		l.Color, pts.Color = palette(3), palette(3)
		pts.Shape, pts.Radius = draw.CircleGlyph{}, vg.Points(2.2)
		p.Add(l, pts)
		p.Legend.Add("Pareto front", l, pts)
	}
	// The legend goes on the side of the worse x, where the front is not.
	p.Legend.Left = xm.Better > 0
	legendRoom(p, 2, slices.Min(ys)/yScale, slices.Max(ys)/yScale, yScaleOf(ym), ym.Better < 0)
	return p, nil
}

// scale is how an axis' range follows its data.
type scale int

const (
	linear      scale = iota // the data's range (swept values)
	ratio                    // from 0: energy, time and counts
	percent                  // within 0..100
	logarithmic              // positive data spanning a decade or more
)

// padFrac is the part of the data's span left free at each end of an
// axis, so that no marker sits on the frame.
const padFrac = 0.05

// yScaleOf is the scale of a metric's axis: accuracy is a percentage, the
// other metrics are ratios to zero (a 0.01 % change in energy must not
// look like a cliff).
func yScaleOf(m Metric) scale {
	if m.Unit == "%" {
		return percent
	}
	return ratio
}

// xScaleOf is the scale of an x axis holding vs, values of metric m (nil:
// of a swept key): logarithmic when they are positive and span a decade
// or more.
func xScaleOf(m *Metric, vs []float64) scale {
	if lo, hi := slices.Min(vs), slices.Max(vs); lo > 0 && hi/lo >= 10 {
		return logarithmic
	}
	if m == nil {
		return linear
	}
	return yScaleOf(*m)
}

// setScale makes a a logarithmic axis when s says so.
func setScale(a *plot.Axis, s scale) {
	if s == logarithmic {
		a.Scale = plot.LogScale{}
		a.Tick.Marker = plot.LogTicks{Prec: -1}
	}
}

// axisRange is the range an axis of scale s shows for data from lo to hi:
// the data with padFrac of their span free at each end (a factor on a
// logarithmic axis; data that are all equal get ±padFrac of their
// magnitude), from 0 on a ratio scale, never outside 0..100 for a
// percentage.
func axisRange(lo, hi float64, s scale) (min, max float64) {
	if s == logarithmic {
		f := math.Pow(hi/lo, padFrac)
		return lo / f, hi * f
	}
	if s == ratio {
		lo = math.Min(lo, 0)
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(hi), 1)
	}
	min, max = lo-padFrac*span, hi+padFrac*span
	switch s {
	case ratio:
		min = lo
	case percent:
		min, max = math.Max(min, 0), math.Min(max, 100)
	}
	return min, max
}

// legendRoom sets p's y range for data from lo to hi on scale s, widened
// by a legend line per entry on the legend's side so that the legend
// covers no data: the top when top is set, else the bottom; the other
// side when the preferred one is bounded (a percentage near 100 has no
// room above, a ratio scale none below 0).
func legendRoom(p *plot.Plot, entries int, lo, hi float64, s scale, top bool) {
	min, max := axisRange(lo, hi, s)
	extra := (max - min) * legendLine * float64(entries)
	switch {
	case top && s == percent && max+extra > 100:
		top = false
	case !top && (s == ratio || s == percent && min-extra < 0):
		top = true
	}
	if top {
		max += extra
	} else {
		min -= extra
	}
	p.Y.Min, p.Y.Max, p.Legend.Top = min, max, top
}

// legendLine is a legend entry's height as a fraction of the data range
// shown (7 pt text with spacing, on a plot about 2 in high).
const legendLine = 0.08

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// breakdownPlot stacks each point's energy per inference by component, as
// horizontal bars labelled with the swept values: every point when there
// are few, else the Pareto points, at most maxBars of them.
func (d *Data) breakdownPlot() (*plot.Plot, int) {
	rows := d.Rows
	if len(rows) > maxBars {
		var front []Row
		for _, r := range rows {
			if r.Pareto {
				front = append(front, r)
			}
		}
		if len(front) > 0 {
			rows = front
		}
		if len(rows) > maxBars {
			// An even spread over the list keeps its extremes.
			picked := make([]Row, maxBars)
			for i := range picked {
				picked[i] = rows[i*(len(rows)-1)/(maxBars-1)]
			}
			rows = picked
		}
	}
	// Components under 2 % of the energy shown are summed as "other",
	// which keeps the legend short enough to read.
	perInf := func(r Row) map[string]float64 {
		m := map[string]float64{}
		for c, e := range r.Report.Energy.Breakdown {
			m[c] = e / float64(max(r.Report.Samples, 1))
		}
		return m
	}
	totals := map[string]float64{}
	grand, largest := 0.0, 0.0
	for _, r := range rows {
		sum := 0.0
		for c, e := range perInf(r) {
			totals[c] += e
			sum += e
		}
		grand += sum
		largest = max(largest, sum)
	}
	if grand == 0 {
		return nil, 0
	}
	var comps []string
	for c, e := range totals {
		if e >= 0.02*grand {
			comps = append(comps, c)
		}
	}
	// Largest share first, so the big components sit at the bars' base.
	slices.SortFunc(comps, func(a, b string) int { return cmpFloat(totals[b], totals[a]) })
	if len(comps) < len(totals) {
		comps = append(comps, "other")
	}
	energy, _ := metric("energy")
	label, scale := axisLabel(energy, largest)
	p := newPlot(label, "")
	// Bars are labelled by the swept keys that differ among them.
	short := shortNames(d.Swept)
	var keys []string
	for _, k := range d.Swept {
		if d.followers()[k] {
			continue
		}
		if slices.ContainsFunc(rows, func(r Row) bool { return fmt.Sprint(r.Point[k]) != fmt.Sprint(rows[0].Point[k]) }) {
			keys = append(keys, k)
		}
	}
	var names []string
	for _, r := range rows {
		var parts []string
		for _, k := range keys {
			parts = append(parts, short[k]+"="+text(k, r.Point[k]))
		}
		names = append(names, strings.Join(parts, " "))
	}
	var below *plotter.BarChart
	for i, c := range comps {
		vals := make(plotter.Values, len(rows))
		for j, r := range rows {
			e := perInf(r)
			if c == "other" {
				for o, v := range e {
					if !slices.Contains(comps, o) {
						vals[j] += v
					}
				}
			} else {
				vals[j] = e[c]
			}
			vals[j] /= scale
		}
		b, err := plotter.NewBarChart(vals, vg.Points(7))
		if err != nil {
			continue // all zero: nothing to draw
		}
		b.Horizontal = true
		b.Color = palette(i)
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(strings.ReplaceAll(c, "_", " "), b)
	}
	p.NominalY(names...)
	// Room on the right for the legend.
	p.X.Min, p.X.Max = 0, largest/scale*1.5
	p.Legend.Top = true
	return p, max(len(rows), len(comps))
}

// defaultGroup picks the swept key (other than x and the seed) with the
// fewest values, two to six, to draw as separate lines.
func (d *Data) defaultGroup(x string) string {
	best, bestN := "", 7
	for _, k := range d.Swept {
		if n := d.distinct(k); k != x && k != "seed" && !d.followers()[k] && n >= 2 && n < bestN {
			best, bestN = k, n
		}
	}
	return best
}

// distinct counts the values a point key or metric takes.
func (d *Data) distinct(key string) int {
	seen := map[string]bool{}
	for _, r := range d.Rows {
		if v, ok := r.Point[key]; ok {
			seen[fmt.Sprint(v)] = true
		} else if f, ok := r.value(key); ok {
			seen[strconv.FormatFloat(f, 'g', -1, 64)] = true
		}
	}
	return len(seen)
}

// linePlot draws metric y against x, one line per value of group, each
// point the mean of y over the rows that share x and the group value.
func (d *Data) linePlot(x, y, group string) (*plot.Plot, error) {
	ym, err := metric(y)
	if err != nil {
		return nil, fmt.Errorf("report: --y: %w", err)
	}
	known := func(k string) bool {
		_, inPoint := d.Rows[0].Point[k]
		_, isMetric := metric(k)
		return inPoint || isMetric == nil
	}
	for _, k := range []string{x, group} {
		if k != "" && !known(k) {
			return nil, fmt.Errorf("report: no point key or metric %q; the swept keys are %s", k, strings.Join(d.Swept, ", "))
		}
	}
	// x positions: the values themselves when numeric, else categories.
	_, numeric := d.Rows[0].value(x)
	var cats []string
	xOf := func(r *Row) float64 {
		if numeric {
			v, _ := r.value(x)
			return v
		}
		s := text(x, r.Point[x])
		if i := slices.Index(cats, s); i >= 0 {
			return float64(i)
		}
		cats = append(cats, s)
		return float64(len(cats) - 1)
	}
	type cell struct{ sum, n float64 }
	lines := map[string]map[float64]*cell{}
	var groups []string
	var xs, ys []float64
	for i := range d.Rows {
		r := &d.Rows[i]
		g := ""
		if group != "" {
			g = text(group, r.Point[group])
			if _, ok := r.Point[group]; !ok {
				f, _ := r.value(group)
				g = strconv.FormatFloat(f, 'g', -1, 64)
			}
		}
		if lines[g] == nil {
			lines[g] = map[float64]*cell{}
			groups = append(groups, g)
		}
		xv := xOf(r)
		c := lines[g][xv]
		if c == nil {
			c = &cell{}
			lines[g][xv] = c
		}
		c.sum += ym.value(r.Report)
		c.n++
		xs, ys = append(xs, xv), append(ys, ym.value(r.Report))
	}
	yl, yScale := axisLabel(ym, slices.Max(ys))
	xl := x
	if m, err := metric(x); err == nil {
		xl, _ = axisLabel(m, 1)
	}
	p := newPlot(xl, yl)
	xs0 := xScaleOf(nil, xs)
	if !numeric {
		xs0 = linear
	}
	setScale(&p.X, xs0)
	p.X.Min, p.X.Max = axisRange(slices.Min(xs), slices.Max(xs), xs0)
	distinctX := slices.Compact(slices.Sorted(slices.Values(xs)))
	if len(distinctX) <= 12 {
		var ticks plot.ConstantTicks
		for _, v := range distinctX {
			label := strconv.FormatFloat(v, 'g', -1, 64)
			if !numeric {
				label = cats[int(v)]
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
		p.X.Tick.Marker = ticks
	}
	numericGroups := !slices.ContainsFunc(groups, func(g string) bool { _, err := strconv.ParseFloat(g, 64); return err != nil })
	slices.SortFunc(groups, func(a, b string) int {
		if numericGroups {
			fa, _ := strconv.ParseFloat(a, 64)
			fb, _ := strconv.ParseFloat(b, 64)
			return cmpFloat(fa, fb)
		}
		return strings.Compare(a, b)
	})
	// A group whose line equals an earlier group's would hide under it:
	// it joins that line's legend entry instead ("rows=128, 256 (identical)").
	type series struct {
		groups []string
		pts    plotter.XYs
	}
	var ss []series
	var means []float64
	for _, g := range groups {
		var pts plotter.XYs
		for xv, c := range lines[g] {
			pts = append(pts, plotter.XY{X: xv, Y: c.sum / c.n / yScale})
			means = append(means, c.sum/c.n/yScale)
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int { return cmpFloat(a.X, b.X) })
		if i := slices.IndexFunc(ss, func(s series) bool { return slices.Equal(s.pts, pts) }); i >= 0 {
			ss[i].groups = append(ss[i].groups, g)
			continue
		}
		ss = append(ss, series{[]string{g}, pts})
	}
	short := shortNames(d.Swept)
	for i, sr := range ss {
		l, s, err := plotter.NewLinePoints(sr.pts)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		l.Color, s.Color = palette(i), palette(i)
		s.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}}[i%6]
		s.Radius = vg.Points(2)
		p.Add(l, s)
		if group != "" {
			label := cmpOr(short[group], group) + "=" + strings.Join(sr.groups, ", ")
			if len(sr.groups) > 1 {
				label += " (identical)"
			}
			p.Legend.Add(label, l, s)
		}
	}
	entries := 0
	if group != "" {
		entries = len(ss)
	}
	// Lines tend to rise when larger is better: the bottom is freer.
	legendRoom(p, entries, slices.Min(means), slices.Max(means), yScaleOf(ym), ym.Better < 0)
	return p, nil
}
