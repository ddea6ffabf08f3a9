package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/expected"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/internal/version"
	"github.com/nmsim/nmsim/workloads/model"
)

const presetPath = "../../configs/rram-xnor.toml"

// fixture writes a random 28×28 model (valid for MNIST), a copy with one
// flipped byte and a truncated copy into a temp dir.
func fixture(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rand.New(rand.NewPCG(21, 22)), o)
	good := filepath.Join(dir, "model.bin")
	if err := model.Save(good, m); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-100] ^= 0x10
	mustWrite(t, filepath.Join(dir, "flipped.bin"), bad)
	mustWrite(t, filepath.Join(dir, "truncated.bin"), data[:len(data)/2])
	small := testmodel.Random(rand.New(rand.NewPCG(1, 2)), testmodel.Small)
	if err := model.Save(filepath.Join(dir, "small.bin"), small); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "typo.toml"), []byte("[crossbar]\nrows = 128\nadc_bit = 4\n\n[chip]\nclock_mhz = -5\n"))
	return dir
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runCLI(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = run(context.Background(), args, &Env{Stdout: &o, Stderr: &e, Getenv: func(string) string { return "" }})
	return o.String(), e.String(), err
}

// TestErrorMessages holds the user-facing error of each bad input to an
// expected-output file in testdata/errors (go test -update rewrites them).
func TestErrorMessages(t *testing.T) {
	dir := fixture(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name string
		args []string
	}{
		{"set-misspelt-key", []string{"run", presetPath, p("model.bin"), "--set", "crossbar.adc_bit=4"}},
		{"set-out-of-range", []string{"run", presetPath, p("model.bin"), "--set", "crossbar.rows_per_read=300", "--set", "chip.clock_mhz=0"}},
		{"arch-file-typo", []string{"map", p("typo.toml"), p("model.bin")}},
		{"does-not-fit", []string{"map", presetPath, p("model.bin"), "--set", "chip.mesh_width=1", "--set", "chip.mesh_height=1", "--set", "tile.crossbars=2"}},
		{"model-flipped-byte", []string{"inspect", p("flipped.bin")}},
		{"model-truncated", []string{"run", presetPath, p("truncated.bin")}},
		{"model-missing", []string{"inspect", p("absent.bin")}},
		{"wrong-input-shape", []string{"run", presetPath, p("small.bin"), "--samples", "2"}},
		{"unknown-dataset", []string{"run", presetPath, p("model.bin"), "--dataset", "cifar-11", "--data", "testdata"}},
		{"unknown-command", []string{"simulate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCLI(tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.ReplaceAll(err.Error(), dir, "$TMP") + "\n"
			expected.Check(t, filepath.Join("testdata", "errors", tc.name+".expected"), got)
		})
	}
}

// TestRunJSONIsByteIdenticalAcrossWorkers runs the command twice and
// checks the keys the JSON report promises.
func TestRunJSONIsByteIdenticalAcrossWorkers(t *testing.T) {
	dir := fixture(t)
	var reports [][]byte
	for _, w := range []string{"1", "2"} {
		out := filepath.Join(dir, "r"+w+".json")
		if _, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--samples", "12", "--timesteps", "5", "--golden", "--workers", w, "--json", out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, b)
	}
	if !bytes.Equal(reports[0], reports[1]) {
		t.Fatal("JSON reports differ between 1 and 2 workers")
	}
	var r map[string]any
	if err := json.Unmarshal(reports[0], &r); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"accuracy", "samples", "timesteps", "cycles.total", "cycles.per_inference", "energy_j.total", "energy_j.per_inference", "energy_j.breakdown", "spikes.total", "spikes.per_layer", "golden.mismatches", "noc.packets", "noc.flits", "noc.avg_latency_cycles", "noc.max_link_utilisation"} {
		var v any = r
		for _, part := range strings.Split(key, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("key %s: %s is not an object", key, part)
			}
			if v, ok = m[part]; !ok {
				t.Fatalf("JSON report lacks %s", key)
			}
		}
	}
	if g := r["golden"].(map[string]any)["mismatches"].(float64); g != 0 {
		t.Fatalf("%v golden mismatches", g)
	}
}

// TestCommandLineMistakes: a mistake in the command line is one line
// that names it, suggests the nearest flag or command and points to the
// help, and is a usageError (exit status 2).
func TestCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "a.toml", "m.bin", "--sampels", "3"}, "nmsim run: unknown flag --sampels (did you mean --samples?); see 'nmsim run --help'"},
		{[]string{"compare", "--gold"}, "nmsim compare: unknown flag --gold (did you mean --golden?); see 'nmsim compare --help'"},
		{[]string{"train", "--epoch", "1"}, "nmsim train: unknown flag --epoch (did you mean --epochs?); see 'nmsim train --help'"},
		{[]string{"export", "-x"}, "nmsim export: unknown flag -x; see 'nmsim export --help'"},
		{[]string{"run", "--samples", "ten"}, `nmsim run: --samples "ten": want an integer; see 'nmsim run --help'`},
		{[]string{"run", "--seed", "-1"}, `nmsim run: --seed "-1": want an integer ≥ 0; see 'nmsim run --help'`},
		{[]string{"run", "--golden=maybe"}, `nmsim run: --golden "maybe": want true or false; see 'nmsim run --help'`},
		{[]string{"run", "--set", "x"}, `nmsim run: --set "x": want key=value, e.g. crossbar.adc_bits=4; see 'nmsim run --help'`},
		{[]string{"map", "--set"}, "nmsim map: --set needs a value; see 'nmsim map --help'"},
		{[]string{"run", "a.toml"}, "nmsim run: want arch.toml model.bin, got 1 argument; see 'nmsim run --help'"},
		{[]string{"compare", "a.toml"}, "nmsim compare: want arch.toml and at least one model.bin, got 1 argument; see 'nmsim compare --help'"},
		{[]string{"run", "a.toml", "m.bin", "--timesteps", "-1"}, "nmsim run: --timesteps -1: must be in 0..65536 (0: the model's default); see 'nmsim run --help'"},
		{[]string{"run", "a.toml", "m.bin", "--format", "html"}, "nmsim run: --format html: must be text, md or latex; see 'nmsim run --help'"},
		{[]string{"compare", "a.toml", "m.bin", "--workers", "0"}, "nmsim compare: --workers 0: must be ≥ 1; see 'nmsim compare --help'"},
		{[]string{"sweep", "s.toml", "--workers", "0"}, "nmsim sweep: --workers 0: must be ≥ 1; see 'nmsim sweep --help'"},
		{[]string{"rn"}, "nmsim: unknown command \"rn\" (did you mean run?); see 'nmsim --help'"},
	} {
		stdout, stderr, err := runCLI(tc.args...)
		var ue *usageError
		if !errors.As(err, &ue) || err.Error() != tc.want {
			t.Errorf("%q: got %v (%T), want the usage error\n%s", tc.args, err, err, tc.want)
		}
		if stdout != "" || stderr != "" {
			t.Errorf("%q printed stdout %q, stderr %q; want only the one-line error", tc.args, stdout, stderr)
		}
	}
}

// TestVersionAndHelp: nmsim --version and nmsim version print the version
// and Go toolchain; nmsim help CMD is CMD's help on stdout; nmsim alone
// prints the usage to stderr and fails as a usage error.
func TestVersionAndHelp(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		out, _, err := runCLI(arg)
		if err != nil || !strings.HasPrefix(out, "nmsim "+version.Version+" (commit ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("%s: err %v, output %q", arg, err, out)
		}
	}
	out, _, err := runCLI("help", "run")
	if err != nil || !strings.Contains(out, "Usage: nmsim run arch.toml model.bin") || !strings.Contains(out, "-samples") {
		t.Errorf("help run: err %v, output:\n%s", err, out)
	}
	if _, _, err := runCLI("help", "simulate"); err == nil {
		t.Error("help simulate: no error")
	}
	out, errOut, err := runCLI()
	var ue *usageError
	if !errors.As(err, &ue) || out != "" || !strings.Contains(errOut, "Commands:") {
		t.Errorf("no arguments: err %v, stdout %q, stderr:\n%s", err, out, errOut)
	}
}

func TestHelpTeaches(t *testing.T) {
	out, _, err := runCLI("--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"run", "map", "inspect", "train"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("--help does not list %s", c)
		}
	}
	_, errOut, err := runCLI("run", "--help")
	if err == nil || !strings.Contains(errOut, "--golden") || !strings.Contains(errOut, "Examples:") {
		t.Errorf("run --help: err %v, text:\n%s", err, errOut)
	}
}

// TestCountsReadAsEnglish: one sample, one timestep, one crossbar.
func TestCountsReadAsEnglish(t *testing.T) {
	dir := fixture(t)
	out, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--samples", "1", "--timesteps", "1", "--accuracy-at", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" 1 mnist test sample from ", "accuracy after 1 timestep "} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	_, _, err = runCLI("map", presetPath, filepath.Join(dir, "model.bin"), "--set", "chip.mesh_width=1", "--set", "chip.mesh_height=1")
	if err == nil || !strings.Contains(err.Error(), "conv1 1 crossbar on 1 tile,") {
		t.Errorf("map on one tile: %v", err)
	}
}

func TestInspectAndMapShowTheModel(t *testing.T) {
	dir := fixture(t)
	out, _, err := runCLI("inspect", filepath.Join(dir, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"conv1", "pool1", "fc2", "IF, reset subtract", "1 (±1)", "method"} {
		if !strings.Contains(out, s) {
			t.Errorf("inspect output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "<<") {
		t.Errorf("inspect shows a sum shift in a model without one:\n%s", out)
	}
	m, err := model.Load(filepath.Join(dir, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	m.Layers[2].SumShift = 8
	shifted := filepath.Join(dir, "shifted.bin")
	if err := model.Save(shifted, m); err != nil {
		t.Fatal(err)
	}
	if out, _, err = runCLI("inspect", shifted); err != nil || !strings.Contains(out, "sum << 8") {
		t.Errorf("inspect of a model with a sum shift: %v\n%s", err, out)
	}
	out, _, err = runCLI("map", presetPath, filepath.Join(dir, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"conv2", "8 / 7", "row×col splits", "crossbars on"} {
		if !strings.Contains(out, s) {
			t.Errorf("map output lacks %q:\n%s", s, out)
		}
	}
}

func TestRunTablesForPapers(t *testing.T) {
	dir := fixture(t)
	for format, want := range map[string]string{"md": "| metric | value |", "latex": `\begin{tabular}{ll}`} {
		out, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--samples", "2", "--timesteps", "3", "--format", format)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, want) || !strings.Contains(out, "accuracy") {
			t.Errorf("--format %s output lacks %q:\n%s", format, want, out)
		}
	}
	if _, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--format", "html"); err == nil {
		t.Error("--format html accepted")
	}
}

func TestCompareWritesOneRowPerModel(t *testing.T) {
	dir := fixture(t)
	out := filepath.Join(dir, "cmp")
	m := filepath.Join(dir, "model.bin")
	stdout, _, err := runCLI("compare", presetPath, m, m, "--samples", "3", "--out", out, "--wide")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(stdout, "model.bin") != 2 {
		t.Errorf("want two rows:\n%s", stdout)
	}
	csvData, err := os.ReadFile(out + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csvData)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "model,method,accuracy") || lines[1] != lines[2] {
		t.Errorf("csv:\n%s", csvData)
	}
	for _, ext := range []string{".md", ".json"} {
		if _, err := os.Stat(out + ext); err != nil {
			t.Error(err)
		}
	}
	stdout, _, err = runCLI("compare", presetPath, m, "--samples", "3", "--golden", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	csvData, err = os.ReadFile(out + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(csvData)), "\n"); len(lines) != 2 ||
		!strings.HasSuffix(lines[0], ",golden_mismatches") || !strings.HasSuffix(lines[1], ",0") || !strings.Contains(stdout, "golden mismatches") {
		t.Errorf("--golden: stdout\n%s\ncsv:\n%s", stdout, csvData)
	}
}

// TestWrongKindOfFile: a file given where another kind belongs (an arch
// file for a model, swapped arguments, a NIR graph where run wants a
// model.bin, a sweep for an arch file) is named by what it holds, before
// any loader reads it.
func TestWrongKindOfFile(t *testing.T) {
	dir := fixture(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	const sweepPath = "../../configs/sweeps/smallest.toml"
	mdl, nirPath, text := p("model.bin"), p("graph.h5"), p("notes.txt")
	if _, _, err := runCLI("export", mdl, "-o", nirPath); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, text, []byte("nothing to see\n"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", presetPath, presetPath}, "the second argument, " + presetPath + ", is an arch file, not a model.bin (usage: nmsim run arch.toml model.bin)"},
		{[]string{"run", mdl, presetPath}, "the arguments are the wrong way round: $TMP/model.bin is a model.bin and " + presetPath + " is an arch file"},
		{[]string{"map", presetPath, nirPath}, "the second argument, $TMP/graph.h5, is an HDF5 (NIR) file, not a model.bin; convert it first: nmsim import $TMP/graph.h5 -o model.bin"},
		{[]string{"map", presetPath, text}, "the second argument, $TMP/notes.txt, is a text file, not a model.bin"},
		{[]string{"compare", presetPath, mdl, presetPath}, "the third argument, " + presetPath + ", is an arch file, not a model.bin"},
		{[]string{"run", sweepPath, mdl}, "the first argument, " + sweepPath + ", is a sweep file, not an arch file; run it with: nmsim sweep " + sweepPath},
		{[]string{"noc", mdl}, "the first argument, $TMP/model.bin, is a model.bin, not an arch file"},
		{[]string{"sweep", presetPath}, "the first argument, " + presetPath + ", is an arch file, not a sweep file"},
		{[]string{"inspect", presetPath}, "the first argument, " + presetPath + ", is an arch file, not a model.bin"},
		{[]string{"export", sweepPath, "-o", p("x.nir")}, "is a sweep file, not a model.bin"},
		{[]string{"import", mdl, "-o", p("x.bin")}, "the first argument, $TMP/model.bin, is a model.bin, not an HDF5 (NIR) file"},
	} {
		_, _, err := runCLI(tc.args...)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(strings.ReplaceAll(err.Error(), dir, "$TMP"), tc.want) {
			t.Errorf("%q: got %v, want a usage error containing\n%s", tc.args, err, tc.want)
		}
	}
	// A NIR graph is one whatever its name; inspect reads it.
	if out, _, err := runCLI("inspect", nirPath); err != nil || !strings.Contains(out, "conv1") {
		t.Errorf("inspect %s: %v\n%s", nirPath, err, out)
	}
	// A file that is none of the kinds reaches its loader, which says why.
	mustWrite(t, p("zeros.bin"), make([]byte, 100))
	if _, _, err := runCLI("run", presetPath, p("zeros.bin")); err == nil || errors.As(err, new(*usageError)) || !strings.Contains(err.Error(), "model: ") {
		t.Errorf("run on zeros: %v", err)
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "first", 3: "third", 9: "ninth", 10: "10th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 22: "22nd", 23: "23rd", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSniffBytes(t *testing.T) {
	userBlock := append(make([]byte, 512), hdf5Signature...)
	for _, tc := range []struct {
		name string
		data []byte
		want fileKind
	}{
		{"empty", nil, kindUnknown},
		{"hdf5", []byte(hdf5Signature + "\x00\x00"), kindNIR},
		{"hdf5 after a user block", userBlock, kindNIR},
		{"safetensors", append([]byte{2, 0, 0, 0, 0, 0, 0, 0}, "{}"...), kindModel},
		{"huge header length", append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, "{}"...), kindUnknown},
		{"arch table", []byte("# chip\n[crossbar]\nrows = 64\n"), kindArch},
		{"arch dotted key", []byte("chip.mesh_width = 4\n"), kindArch},
		{"sweep", []byte("arch = \"a.toml\"\nmodels = [\"m.bin\"]\n[crossbar]\n"), kindSweep},
		{"text", []byte("hello\n"), kindText},
		{"latin-1", []byte("caf\xe9\n"), kindUnknown},
	} {
		if got := sniffBytes(tc.data); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestAreaReportsChipAndMapping: nmsim area prints the per-component table
// and writes the documented JSON keys; with a model it counts the used
// tiles, and power gating leaves the unused ones out of the peak.
func TestAreaReportsChipAndMapping(t *testing.T) {
	dir := fixture(t)
	out, _, err := runCLI("area", "../../configs/isaac.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"adc", "router", "bus", "168 tiles", "peak power"} {
		if !strings.Contains(out, s) {
			t.Errorf("area output lacks %q:\n%s", s, out)
		}
	}
	var reps [2]areaReport
	for i, args := range [][]string{{presetPath}, {presetPath, filepath.Join(dir, "model.bin")}} {
		path := filepath.Join(dir, fmt.Sprintf("area%d.json", i))
		if _, _, err := runCLI(append(append([]string{"area"}, args...), "--json", path)...); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{`"total"`, `"per_tile"`, `"breakdown"`, `"peak"`, `"peak_per_tile"`, `"energy_per_action"`} {
			if !strings.Contains(string(data), key) {
				t.Errorf("area JSON lacks %s", key)
			}
		}
		if err := json.Unmarshal(data, &reps[i]); err != nil {
			t.Fatal(err)
		}
	}
	chip, mapped := reps[0], reps[1]
	if mapped.Used >= mapped.Tiles || chip.Used != chip.Tiles {
		t.Fatalf("tiles used: %d of %d with the model, %d of %d without", mapped.Used, mapped.Tiles, chip.Used, chip.Tiles)
	}
	if want := mapped.PowerW.PeakPerTile * float64(mapped.Used); math.Abs(mapped.PowerW.Peak-want) > 1e-9*want {
		t.Errorf("gated peak %g W, want %g (used tiles only)", mapped.PowerW.Peak, want)
	}
}
