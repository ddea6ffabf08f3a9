package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"github.com/nmsim/nmsim/noc"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// NoCSweepPlots draws a latency–throughput sweep of the network-on-chip
// (`nmsim noc --sweep`): mean packet latency against offered load, with
// the saturation threshold (noc.SaturationLatencyFactor × the zero-load
// latency) and the saturation load, titled title, into dir/latency.EXT
// for each format (png, svg, pdf). It returns the paths written.
func NoCSweepPlots(dir string, sw noc.Sweep, title string, formats []string) ([]string, error) {
	if len(sw.Table) == 0 {
		return nil, fmt.Errorf("report: a NoC sweep without points")
	}
	p := newPlot("offered load (flits/node/cycle)", "mean packet latency (cycles)")
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = labelSize
	threshold := noc.SaturationLatencyFactor * sw.ZeroLoadLatencyCycles
	top := 2 * threshold
	var pts plotter.XYs
	for _, r := range sw.Table {
		if r.Stable {
			pts = append(pts, plotter.XY{X: r.OfferedFlitsPerNodeCycle, Y: math.Min(r.AvgPacketLatencyCycles, top)})
		}
	}
	dashes := []vg.Length{vg.Points(4), vg.Points(3)}
	th := plotter.NewFunction(func(float64) float64 { return threshold })
	th.Dashes, th.Color = dashes, color.Gray{Y: 120}
	sat, err := plotter.NewLine(plotter.XYs{{X: sw.SaturationFlitsPerNodeCycle, Y: 0}, {X: sw.SaturationFlitsPerNodeCycle, Y: top}})
	if err != nil {
		return nil, fmt.Errorf("report: NoC sweep: %w", err)
	}
	sat.Dashes, sat.Color = dashes, palette(3)
	p.Add(plotter.NewGrid(), th, sat)
	if len(pts) > 0 {
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("report: NoC sweep: %w", err)
		}
		line.Color, points.Color, points.Shape = palette(0), palette(0), draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("mean latency (capped at %d× zero-load)", 2*noc.SaturationLatencyFactor), line, points)
	}
	p.Legend.Add(fmt.Sprintf("%d× zero-load latency", noc.SaturationLatencyFactor), th)
	p.Legend.Add(fmt.Sprintf("saturation %.3f", sw.SaturationFlitsPerNodeCycle), sat)
	p.Legend.Left = true
	p.X.Min = 0
	// Sweep loads are sums of steps (0.30000000000000004): ticks at
	// gonum's round values, labelled to their precision.
	p.X.Tick.Marker = plot.DefaultTicks{}
	legendRoom(p, 3, 0, top, ratio, true)
	var paths []string
	for _, f := range formats {
		path := filepath.Join(dir, "latency."+f)
		if err := save(p, figHeight, f, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
