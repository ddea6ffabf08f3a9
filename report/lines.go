package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

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
