package sweep

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/expected"
)

// smallest is the smallest sweep.toml of the design issue, verbatim.
const smallest = `arch = "configs/rram-xnor.toml"
models = ["models/mnist-convert.bin"]
dataset = "mnist"
samples = 100
seeds = [1]

[axes]
"crossbar.adc_bits" = [3, 4, 6]
"crossbar.rows" = [64, 128]
`

func mustParse(t *testing.T, text string) *Spec {
	t.Helper()
	s, err := Parse([]byte(text), "sweep.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func TestParseSmallest(t *testing.T) {
	s := mustParse(t, smallest)
	want := &Spec{
		File: "sweep.toml", Arch: "configs/rram-xnor.toml", Models: []string{"models/mnist-convert.bin"},
		Dataset: "mnist", Samples: 100, Seeds: []uint64{1},
		Axes: []Axis{
			{Key: "crossbar.adc_bits", Values: []any{int64(3), int64(4), int64(6)}},
			{Key: "crossbar.rows", Values: []any{int64(64), int64(128)}},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// TestAxisForms: a quoted dotted key, a bare dotted key, a sub-table and an
// inline table name the same axis; axes keep the file's order.
func TestAxisForms(t *testing.T) {
	head := "arch = \"a\"\nmodels = [\"m\"]\ndataset = \"mnist\"\nsamples = 1\nseeds = [1]\n"
	forms := []string{
		"[axes]\n\"noc.routing\" = [\"xy\", \"yx\"]\n\"crossbar.rows\" = [64, 128]\n",
		"[axes]\nnoc.routing = [\"xy\", \"yx\"]\ncrossbar.rows = [64, 128]\n",
		"[axes.noc]\nrouting = [\"xy\", \"yx\"]\n[axes.crossbar]\nrows = [64, 128]\n",
		"axes = {noc = {routing = [\"xy\", \"yx\"]}, crossbar = {rows = [64, 128]}}\n",
	}
	for _, f := range forms {
		s := mustParse(t, head+f)
		var got []string
		for _, a := range s.Axes {
			got = append(got, a.Key+"="+tomlText(a.Values))
		}
		want := []string{`noc.routing=["xy", "yx"]`, "crossbar.rows=[64, 128]"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: axes %v, want %v", f, got, want)
		}
	}
}

func TestRanges(t *testing.T) {
	cases := []struct{ rng, want string }{
		{"{from = 2, to = 8, step = 2}", "[2, 4, 6, 8]"},
		{"{from = 2, to = 9, step = 2}", "[2, 4, 6, 8]"},
		{"{from = 64, to = 512, times = 2}", "[64, 128, 256, 512]"},
		{"{from = 100, to = 100, step = 1}", "[100]"},
		// 0.1 steps are computed from the start, so 0.3 is 0.30000000000000004
		// only as float64 arithmetic gives it, and the end point is kept.
		{"{from = 0.1, to = 0.4, step = 0.1}", "[0.1, 0.2, 0.30000000000000004, 0.4]"},
		{"{from = 100, to = 400, step = 150.0}", "[100, 250, 400]"},
	}
	for _, c := range cases {
		key := "device.read_voltage"
		if !strings.Contains(c.rng, ".") {
			key = "crossbar.rows"
		}
		s := mustParse(t, "arch = \"a\"\nmodels = [\"m\"]\ndataset = \"mnist\"\nsamples = 1\nseeds = [1]\n[axes]\n\""+key+"\" = "+c.rng+"\n")
		if got := tomlText(s.Axes[0].Values); got != c.want {
			t.Errorf("%s: %s, want %s", c.rng, got, c.want)
		}
	}
}

// TestErrorGoldens parses every testdata/errors/*.toml and compares the
// whole error text with its .expected file (go test -update rewrites them).
func TestErrorGoldens(t *testing.T) {
	expected.Files(t, filepath.Join("testdata", "errors", "*.toml"), func(t *testing.T, name string, data []byte) string {
		_, err := Parse(data, name)
		if err == nil {
			t.Fatalf("Parse(%s) succeeded; every input here must fail", name)
		}
		var errs arch.Errors
		if !errors.As(err, &errs) {
			t.Errorf("error is a %T, not an arch.Errors", err)
		}
		return err.Error() + "\n"
	})
}

func TestConstraintEval(t *testing.T) {
	cfg := arch.Default() // rows 128, rows_per_read 32, topology "mesh"
	cases := map[string]bool{
		"crossbar.rows_per_read <= crossbar.rows":                  true,
		"crossbar.rows / crossbar.rows_per_read == 4":              true,
		"chip.mesh_width * chip.mesh_height >= 32":                 false,
		`chip.topology == "torus" || crossbar.adc_bits % 2 == 0`:   true,
		`!(chip.topology == "mesh") && true`:                       false,
		"-crossbar.rows < 0 && device.r_on_kohm > 2.5":             true,
		`noc.routing != "xy"`:                                      false,
		"crossbar.rows - 2*crossbar.cols/2 == 0 == (1 < 2)":        true,
		`chip.topology < "torus" && crossbar.cell >= "pair"`:       true,
		"(crossbar.rows + 64) % 3 == 0 && chip.clock_mhz < 1e4":    true,
		"crossbar.adc_bits >= 6 && crossbar.adc_bits <= 8 == true": true,
	}
	for text, want := range cases {
		s := mustParse(t, "arch = \"a\"\nmodels = [\"m\"]\ndataset = \"mnist\"\nsamples = 1\nseeds = [1]\nconstraints = ['"+text+"']\n")
		got, err := s.Constraints[0].Eval(cfg)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", text, got, err, want)
		}
	}
}

// TestShippedSweepsParse keeps configs/sweeps/*.toml valid.
func TestShippedSweepsParse(t *testing.T) {
	files, err := filepath.Glob("../configs/sweeps/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sweep files: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
