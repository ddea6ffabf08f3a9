package report

import (
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

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
