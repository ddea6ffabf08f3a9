package report

// Axes: their scales, ranges and labels, and room for the legend.

import (
	"math"
	"slices"

	"gonum.org/v1/plot"
)

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
