package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/expected"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/sweep"
)

// fixture writes a sweep directory by hand: adc_bits × rows, 6 points, one
// more that did not fit and one without a result, with metrics chosen so
// that the Pareto set in (energy, accuracy) is known: (3,64), (4,64), (6,64)
// and (6,128).
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	man := &sweep.Manifest{Version: "test", Sweep: "sweep.toml", Dataset: "mnist", Samples: 1000, Shard: "all",
		Axes: []string{"crossbar.adc_bits", "crossbar.rows"}}
	var lines bytes.Buffer
	type pt struct {
		bits, rows int
		acc, nj    float64 // accuracy, energy per inference in nJ
	}
	pts := []pt{
		{3, 64, 0.901, 510}, {3, 128, 0.899, 620}, {4, 64, 0.952, 530},
		{4, 128, 0.95, 640}, {6, 64, 0.96, 700}, {6, 128, 0.9712, 720},
		{8, 64, 0, 0},  // does not fit
		{8, 128, 0, 0}, // not run yet
	}
	for i, p := range pts {
		key := fmt.Sprintf("k%d", i)
		point := map[string]any{"crossbar.adc_bits": p.bits, "crossbar.rows": p.rows, "model": "models/mnist-convert.bin", "timesteps": 8, "seed": 1}
		man.Points = append(man.Points, sweep.ManifestPoint{Key: key, Point: point})
		r := sweep.Result{Key: key, Point: point}
		switch {
		case p.bits == 8 && p.rows == 64:
			r.Skipped = "mapper: the model needs 9 tiles"
		case p.bits == 8:
			continue
		default:
			rep := &runner.Result{Samples: 1000, Accuracy: p.acc, Correct: int(p.acc * 1000), Timesteps: 8}
			rep.Energy.PerInference = p.nj * 1e-9
			rep.Energy.Total = p.nj * 1e-6
			rep.Energy.Breakdown = map[string]float64{"adc": 0.1 * rep.Energy.Total * float64(p.bits) / 6, "neurons": 0.5 * rep.Energy.Total, "leakage": 0.39 * rep.Energy.Total, "links": 0.01 * rep.Energy.Total}
			rep.Cycles.PerInference = 1000 * float64(p.rows)
			rep.LatencyS.PerInference = rep.Cycles.PerInference / 200e6
			rep.Spikes.PerInference = 1234.5
			rep.Chip.Tiles, rep.Chip.CrossbarsUsed = 16, 2048/p.rows
			rep.AreaMM2.Total = 0.02 * float64(p.rows) // larger arrays, larger chip
			rep.PowerW.Average = rep.Energy.PerInference / rep.LatencyS.PerInference
			rep.EDPJS = rep.Energy.PerInference * rep.LatencyS.PerInference
			rep.TOPSPerW = 1e-3 / p.nj
			r.Report = rep
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(append(b, '\n'))
	}
	// A line of a point no longer in the sweep is ignored.
	lines.WriteString(`{"key":"stale","point":{}}` + "\n")
	mb, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{sweep.ManifestFile: mb, sweep.ResultsFile: lines.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func checkExpected(t *testing.T, name, got string) {
	t.Helper()
	expected.Check(t, filepath.Join("testdata", name), got)
}

func TestLoadAndPareto(t *testing.T) {
	d, err := Load(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Rows) != 6 || len(d.Skipped) != 1 || d.Missing != 1 {
		t.Fatalf("%d rows, %d skipped, %d missing; want 6, 1, 1", len(d.Rows), len(d.Skipped), d.Missing)
	}
	if got := strings.Join(d.Swept, " "); got != "crossbar.adc_bits crossbar.rows" {
		t.Errorf("swept keys %q", got)
	}
	if err := d.MarkPareto([]string{"energy", "accuracy"}); err != nil {
		t.Fatal(err)
	}
	var front []string
	for _, r := range d.Rows {
		if r.Pareto {
			front = append(front, fmt.Sprint(r.Point["crossbar.adc_bits"], "/", r.Point["crossbar.rows"]))
		}
	}
	if got := strings.Join(front, " "); got != "3/64 4/64 6/64 6/128" {
		t.Errorf("Pareto set %q", got)
	}
	for _, bad := range [][]string{{"energy"}, {"energy", "acuracy"}} {
		if err := d.MarkPareto(bad); err == nil {
			t.Errorf("MarkPareto(%v) succeeded", bad)
		}
	}
}

// TestTables holds each format to an expected-output file.
func TestTables(t *testing.T) {
	d, err := Load(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MarkPareto([]string{"energy", "accuracy"}); err != nil {
		t.Fatal(err)
	}
	tab := d.Table("energy, accuracy")
	for format, file := range map[string]string{"md": "table.md", "latex": "table.tex", "csv": "table.csv", "json": "table.json"} {
		var b bytes.Buffer
		if err := tab.Write(&b, format); err != nil {
			t.Fatal(err)
		}
		checkExpected(t, file+".expected", b.String())
	}
	if err := tab.Write(&bytes.Buffer{}, "html"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestPlots(t *testing.T) {
	d, err := Load(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.MarkPareto([]string{"energy", "accuracy"}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	files, err := d.Plots(out, PlotOptions{Pareto: []string{"energy", "accuracy"}, Formats: []string{"png", "svg"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := "pareto-energy-accuracy.png pareto-energy-accuracy.svg pareto-energy-area.png pareto-energy-area.svg energy-breakdown.png energy-breakdown.svg " +
		"accuracy-vs-adc_bits-by-rows.png accuracy-vs-adc_bits-by-rows.svg accuracy-vs-rows-by-adc_bits.png accuracy-vs-rows-by-adc_bits.svg"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("plots %s\nwant  %s", got, want)
	}
	f, err := os.Open(filepath.Join(out, "pareto-energy-accuracy.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w := img.Bounds().Dx(); w != 1050 {
		t.Errorf("PNG is %d px wide, want 1050 (3.5 in at 300 dpi)", w)
	}
	svg, _ := os.ReadFile(filepath.Join(out, "energy-breakdown.svg"))
	if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("neurons")) {
		t.Errorf("energy-breakdown.svg lacks the svg element or the legend")
	}
	// An explicit line plot, and errors for unknown keys and metrics.
	files, err = d.Plots(out, PlotOptions{X: "crossbar.rows", Y: "cycles", Group: "crossbar.adc_bits", Formats: []string{"svg"}})
	if err != nil || len(files) != 3 || filepath.Base(files[2]) != "cycles-vs-rows-by-adc_bits.svg" {
		t.Errorf("explicit plot: %v, %v", files, err)
	}
	for _, o := range []PlotOptions{{X: "crossbar.colz", Formats: []string{"svg"}}, {X: "crossbar.rows", Y: "watts", Formats: []string{"svg"}}, {Formats: []string{"gif"}}} {
		if _, err := d.Plots(out, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestFormatting(t *testing.T) {
	for v, want := range map[float64]string{1234: "1234", 12.34: "12.3", 0.01234: "0.0123", 999.6: "1000", 0: "0", 5: "5.00"} {
		if got := sig(v); got != want {
			t.Errorf("sig(%g) = %s, want %s", v, got, want)
		}
	}
	for v, want := range map[float64]string{7.3e-6: "µ", 5e-10: "p", 1: "", 2500: "k"} {
		if _, p := siPrefix(v); p != want {
			t.Errorf("siPrefix(%g) = %q, want %q", v, p, want)
		}
	}
}
