package report

import (
	"fmt"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

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
