package report

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot"
)

func TestAxisRange(t *testing.T) {
	for _, tt := range []struct {
		lo, hi   float64
		s        scale
		min, max float64
	}{
		{510, 720, ratio, 0, 756},              // energy: from 0
		{0, 0, ratio, 0, 0.05},                 // nothing measured
		{89.9, 97.1, percent, 89.54, 97.46},    // padded both ways
		{95, 100, percent, 94.75, 100},         // never past 100 %
		{0, 100, percent, 0, 100},              // nor below 0 %
		{3, 6, linear, 2.85, 6.15},             // swept values: padded
		{5, 5, linear, 4.75, 5.25},             // one value
		{1, 1000, logarithmic, 0.7079, 1412.5}, // a factor of 1000^0.05
	} {
		min, max := axisRange(tt.lo, tt.hi, tt.s)
		if math.Abs(min-tt.min) > 1e-3 || math.Abs(max-tt.max) > 0.05 {
			t.Errorf("axisRange(%g, %g, %d) = %g, %g, want %g, %g", tt.lo, tt.hi, tt.s, min, max, tt.min, tt.max)
		}
	}
}

func TestLegendRoom(t *testing.T) {
	for _, tt := range []struct {
		lo, hi  float64
		s       scale
		top     bool
		wantTop bool
	}{
		{89.9, 97.1, percent, false, false},
		{89.9, 100, percent, true, false}, // no room above 100 %
		{10, 20, ratio, false, true},      // none below 0
		{10, 20, ratio, true, true},
	} {
		p := plot.New()
		legendRoom(p, 2, tt.lo, tt.hi, tt.s, tt.top)
		min, max := axisRange(tt.lo, tt.hi, tt.s)
		extra := 2 * legendLine * (max - min)
		if p.Legend.Top != tt.wantTop {
			t.Errorf("%+v: legend top %v", tt, p.Legend.Top)
		}
		// Two legend lines of room on the legend's side, the data's range
		// on the other.
		want := [2]float64{min - extra, max}
		if tt.wantTop {
			want = [2]float64{min, max + extra}
		}
		if math.Abs(p.Y.Min-want[0]) > 1e-9 || math.Abs(p.Y.Max-want[1]) > 1e-9 {
			t.Errorf("%+v: y from %g to %g, want %g to %g", tt, p.Y.Min, p.Y.Max, want[0], want[1])
		}
	}
}

// TestPlotAxes checks the fixture's plots: energy from 0, accuracy within
// 100 %, every point inside the frame, identical lines named together.
func TestPlotAxes(t *testing.T) {
	d, err := Load(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MarkPareto([]string{"energy", "accuracy"}); err != nil {
		t.Fatal(err)
	}
	d.Rows[5].Report.Accuracy = 1 // a point at 100 %
	inside := func(name string, a plot.Axis, lo, hi float64) {
		t.Helper()
		if !(a.Min < lo && hi < a.Max) {
			t.Errorf("%s: axis from %g to %g, data from %g to %g", name, a.Min, a.Max, lo, hi)
		}
	}
	front, err := d.paretoFront([]string{"energy", "accuracy"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.paretoPlot("energy", "accuracy", front)
	if err != nil {
		t.Fatal(err)
	}
	if p.X.Min != 0 || p.Y.Max != 100 {
		t.Errorf("pareto: energy from %g, accuracy up to %g; want 0 and 100", p.X.Min, p.Y.Max)
	}
	inside("pareto energy", p.X, 510, 720)
	inside("pareto accuracy", p.Y, 89.9, 99.9)

	p, err = d.linePlot("crossbar.adc_bits", "accuracy", "crossbar.rows")
	if err != nil {
		t.Fatal(err)
	}
	inside("adc_bits", p.X, 3, 6)
	if p.Y.Max > 100 {
		t.Errorf("accuracy up to %g", p.Y.Max)
	}

	p, err = d.linePlot("crossbar.rows", "cycles", "crossbar.adc_bits")
	if err != nil {
		t.Fatal(err)
	}
	inside("rows", p.X, 64, 128)
	if p.Y.Min != 0 {
		t.Errorf("cycles from %g, want 0", p.Y.Min)
	}
	// Cycles depend on rows only: the three adc_bits lines are one.
	path := filepath.Join(t.TempDir(), "cycles.svg")
	if err := save(p, figHeight, "svg", path); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("adc_bits=3, 4, 6 (identical)")) {
		t.Error("the identical lines are not named together in the legend")
	}
}
