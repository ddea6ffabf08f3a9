// Package report turns a sweep directory (results.jsonl and manifest.json,
// see package sweep) into tables and plots for papers: the swept values and
// the metrics of every design point with units in the headers and numbers
// rounded to what the run resolves, the Pareto-optimal points marked, in
// Markdown, booktabs LaTeX, CSV and JSON; and PNG/SVG plots sized for one
// column of a two-column paper.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/sweep"
)

// Metric is a measured quantity of a design point.
type Metric struct {
	Name  string // as given to --pareto and --y: "energy"
	Label string // for headers and axes: "energy/inference"
	// Unit is the base unit; SI marks one that takes an SI prefix (nJ, µs)
	// chosen per column.
	Unit string
	SI   bool
	// Better is +1 when larger is better (accuracy), -1 when smaller is.
	Better int
	value  func(*runner.Result) float64
}

// Metrics lists the metrics a report knows, in table order.
func Metrics() []Metric {
	return []Metric{
		{"accuracy", "accuracy", "%", false, +1, func(r *runner.Result) float64 { return 100 * r.Accuracy }},
		{"energy", "energy/inference", "J", true, -1, func(r *runner.Result) float64 { return r.Energy.PerInference }},
		{"latency", "latency/inference", "s", true, -1, func(r *runner.Result) float64 { return r.LatencyS.PerInference }},
		{"cycles", "cycles/inference", "", false, -1, func(r *runner.Result) float64 { return r.Cycles.PerInference }},
		{"spikes", "spikes/inference", "", false, -1, func(r *runner.Result) float64 { return r.Spikes.PerInference }},
		{"crossbars", "crossbars used", "", false, -1, func(r *runner.Result) float64 { return float64(r.Chip.CrossbarsUsed) }},
		{"tiles", "tiles", "", false, -1, func(r *runner.Result) float64 { return float64(r.Chip.Tiles) }},
		{"area", "chip area", "mm²", false, -1, func(r *runner.Result) float64 { return r.AreaMM2.Total }},
		{"power", "average power", "W", true, -1, func(r *runner.Result) float64 { return r.PowerW.Average }},
		{"edp", "energy × latency", "J·s", true, -1, func(r *runner.Result) float64 { return r.EDPJS }},
		{"tops_per_w", "efficiency", "OPS/W", true, +1, func(r *runner.Result) float64 { return 1e12 * r.TOPSPerW }},
	}
}

// metric finds a metric by name.
func metric(name string) (Metric, error) {
	var names []string
	for _, m := range Metrics() {
		if m.Name == name {
			return m, nil
		}
		names = append(names, m.Name)
	}
	return Metric{}, fmt.Errorf("unknown metric %q (known: %s)", name, strings.Join(names, ", "))
}

// Row is a design point that ran.
type Row struct {
	Key    string
	Point  map[string]any
	Report *runner.Result
	Pareto bool
}

// Data is a sweep directory's results, in the sweep's point order.
type Data struct {
	Dir      string
	Manifest *sweep.Manifest
	// Swept are the point keys whose value differs between points: the
	// arch axes, then model, timesteps and seed.
	Swept   []string
	Rows    []Row
	Skipped []sweep.Result // points whose model did not fit the chip
	Missing int            // points of the sweep without a result yet
}

// Load reads a sweep directory. Lines of points that are not in its
// manifest (left from an earlier sweep file) are ignored.
func Load(dir string) (*Data, error) {
	man, err := sweep.ReadManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	results, err := sweep.ReadResults(dir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	byKey := make(map[string]*sweep.Result, len(results))
	for i := range results {
		byKey[results[i].Key] = &results[i]
	}
	d := &Data{Dir: dir, Manifest: man}
	for _, p := range man.Points {
		r, ok := byKey[p.Key]
		switch {
		case !ok:
			d.Missing++
		case r.Report == nil:
			d.Skipped = append(d.Skipped, *r)
		default:
			d.Rows = append(d.Rows, Row{Key: p.Key, Point: p.Point, Report: r.Report})
		}
	}
	if len(d.Rows) == 0 {
		return nil, fmt.Errorf("report: %s has no results of points that ran (%d skipped, %d not run yet)", filepath.Join(dir, sweep.ResultsFile), len(d.Skipped), d.Missing)
	}
	for _, k := range append(append([]string(nil), man.Axes...), "model", "timesteps", "seed") {
		first := fmt.Sprint(d.Rows[0].Point[k])
		if slices.ContainsFunc(d.Rows, func(r Row) bool { return fmt.Sprint(r.Point[k]) != first }) {
			d.Swept = append(d.Swept, k)
		}
	}
	return d, nil
}

// MarkPareto marks the rows that no other row dominates on the named
// metrics: at least as good on each and better on one.
func (d *Data) MarkPareto(names []string) error {
	front, err := d.paretoFront(names)
	if err != nil {
		return err
	}
	for i := range d.Rows {
		d.Rows[i].Pareto = front[i]
	}
	return nil
}

// paretoFront tells, per row, whether no other row is at least as good in
// every metric of names and better in one.
func (d *Data) paretoFront(names []string) ([]bool, error) {
	if len(names) < 2 {
		return nil, fmt.Errorf("report: a Pareto front needs two or more metrics, e.g. energy,accuracy")
	}
	var ms []Metric
	for _, n := range names {
		m, err := metric(n)
		if err != nil {
			return nil, fmt.Errorf("report: --pareto: %w", err)
		}
		ms = append(ms, m)
	}
	// score[i][j] is row i's metric j, oriented so that larger is better.
	score := make([][]float64, len(d.Rows))
	for i, r := range d.Rows {
		for _, m := range ms {
			score[i] = append(score[i], float64(m.Better)*m.value(r.Report))
		}
	}
	dominates := func(a, b []float64) bool {
		strictly := false
		for j := range a {
			if a[j] < b[j] {
				return false
			}
			strictly = strictly || a[j] > b[j]
		}
		return strictly
	}
	front := make([]bool, len(d.Rows))
	for i := range d.Rows {
		front[i] = !slices.ContainsFunc(score, func(s []float64) bool { return dominates(s, score[i]) })
	}
	return front, nil
}

// value is a row's number for a point key or a metric name, and whether it
// is one (a string value such as a topology is not).
func (r *Row) value(key string) (float64, bool) {
	if v, ok := r.Point[key]; ok {
		return number(v)
	}
	if m, err := metric(key); err == nil {
		return m.value(r.Report), true
	}
	return 0, false
}

func number(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	}
	return 0, false
}

// text is how a point value reads in a table or legend: a model by its
// file name without directory and extension.
func text(key string, v any) string {
	s := fmt.Sprint(v)
	if key == "model" {
		s = strings.TrimSuffix(filepath.Base(s), filepath.Ext(s))
	}
	return s
}

// followers are the swept keys that a zip group ties to an earlier key:
// they say nothing the first key of their group does not, so plots leave
// them out.
func (d *Data) followers() map[string]bool {
	out := map[string]bool{}
	for _, g := range d.Manifest.Zip {
		for _, k := range g[1:] {
			out[k] = true
		}
	}
	return out
}

// shortNames names each swept key by its last component ("adc_bits") where
// that is unambiguous, else in full.
func shortNames(keys []string) map[string]string {
	last := func(k string) string { return k[strings.LastIndex(k, ".")+1:] }
	out := map[string]string{}
	for _, k := range keys {
		out[k] = last(k)
		for _, o := range keys {
			if o != k && last(o) == last(k) {
				out[k] = k
			}
		}
	}
	return out
}

// siPrefix picks the prefix that shows v (a column's largest magnitude)
// with one to three digits before the point.
func siPrefix(v float64) (scale float64, prefix string) {
	prefixes := []struct {
		f float64
		p string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}, {1e-3, "m"}, {1e-6, "µ"}, {1e-9, "n"}, {1e-12, "p"}, {1e-15, "f"}}
	for _, p := range prefixes {
		if math.Abs(v) >= p.f {
			return p.f, p.p
		}
	}
	return 1e-15, "f"
}

// sig formats v with three significant digits, without an exponent.
func sig(v float64) string {
	if v == 0 {
		return "0"
	}
	digits := 3 - int(math.Floor(math.Log10(math.Abs(v)))) - 1
	return strconv.FormatFloat(v, 'f', max(digits, 0), 64)
}
