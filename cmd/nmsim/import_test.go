package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/nir"
)

// TestExportImport runs export and import on a random model and gets the
// same model.bin back; inspect reads the NIR file directly.
func TestExportImport(t *testing.T) {
	dir := t.TempDir()
	m := testmodel.Random(rand.New(rand.NewPCG(5, 6)), testmodel.Small)
	bin := filepath.Join(dir, "m.bin")
	if err := model.Save(bin, m); err != nil {
		t.Fatal(err)
	}
	nirPath := filepath.Join(dir, "m.nir")
	out, _, err := runCLI("export", bin, "-o", nirPath)
	if err != nil || !strings.Contains(out, "NIR 0.2.0, 13 nodes, 12 edges") {
		t.Fatalf("export: %v\n%s", err, out)
	}
	back := filepath.Join(dir, "back.bin")
	out, _, err = runCLI("import", nirPath, "-o", back)
	if err != nil || !strings.Contains(out, "integers") || !strings.Contains(out, "used nmsim's export metadata") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	a, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("model.bin → NIR → model.bin changed the file")
	}
	out, _, err = runCLI("inspect", nirPath)
	if err != nil || !strings.Contains(out, `model "random"`) || !strings.Contains(out, "fc2") {
		t.Errorf("inspect of the NIR file: %v\n%s", err, out)
	}
	// A flag overrides what the file recorded.
	if _, _, err := runCLI("import", nirPath, "-o", back, "--timesteps", "3", "--name", "renamed"); err != nil {
		t.Fatal(err)
	}
	if got, err := model.Load(back); err != nil || got.Timesteps != 3 || got.Name != "renamed" {
		t.Errorf("overridden import: %v, %+v", err, got)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "x.nir"}, "-o model.bin is required"},
		{[]string{"export", "x.bin"}, "-o model.nir is required"},
		{[]string{"import", filepath.Join(dir, "absent.nir"), "-o", filepath.Join(dir, "x.bin")}, "absent.nir"},
		{[]string{"inspect", filepath.Join(dir, "absent.nir")}, "absent.nir"},
	} {
		_, _, err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestImportForce: an output whose weights all round to 0 is refused,
// and imported with --force, the report saying so.
func TestImportForce(t *testing.T) {
	dir := t.TempDir()
	g := &nir.Graph{Version: "0.2.0", Nodes: map[string]*nir.Node{
		"in":  {Type: "Input", Params: map[string]nir.Array{"shape": nir.Ints([]int{1}, 2)}},
		"fc":  {Type: "Linear", Params: map[string]nir.Array{"weight": nir.Floats([]int{2, 2}, []float64{1e3, -1e3, 1e-3, 2e-3})}},
		"out": {Type: "Output", Params: map[string]nir.Array{"shape": nir.Ints([]int{1}, 2)}},
	}, Edges: []nir.Edge{{From: "in", To: "fc"}, {From: "fc", To: "out"}}}
	path := filepath.Join(dir, "lost.nir")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "lost.bin")
	if _, _, err := runCLI("import", path, "-o", bin); err == nil || !strings.Contains(err.Error(), "refused without --force") {
		t.Errorf("import: %v", err)
	}
	out, _, err := runCLI("import", path, "-o", bin, "--force", "--wide")
	if err != nil || !strings.Contains(out, "1 output all 0") {
		t.Errorf("import --force: %v\n%s", err, out)
	}
}

// TestFramesHint: a NIR graph imported with the default constant coding
// and run on N-MNIST gets the import command that fixes it.
func TestFramesHint(t *testing.T) {
	m := testmodel.Random(rand.New(rand.NewPCG(1, 2)), testmodel.Small)
	m.Name = "cnn_sinabs"
	m.Provenance = map[string]string{"method": "NIR import", "source": "cnn_sinabs.nir"}
	_, err := runner.LoadTestSet("nmnist", t.TempDir(), 1, 1, m)
	if err == nil || !strings.Contains(err.Error(), "nmsim import cnn_sinabs.nir -o cnn_sinabs.bin --coding frames") {
		t.Errorf("%v", err)
	}
}

// TestImportRealFiles imports the NIR paper's CNN (its table fits 100
// columns) and refuses its recurrent Braille network, when the files are
// there.
func TestImportRealFiles(t *testing.T) {
	dir := filepath.Join(datatest.Full(t, "nir"), "nir")
	bin := filepath.Join(t.TempDir(), "cnn.bin")
	out, _, err := runCLI("import", filepath.Join(dir, "cnn_sinabs.nir"), "-o", bin, "--coding", "frames", "--input-bits", "2", "--timesteps", "300")
	if err != nil || !strings.Contains(out, "7 layers, input 2x34x34 (frames, 2-bit), readout by spike counts, 300 timesteps") || !strings.Contains(out, "quantized to 8 bits") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if _, report, _ := strings.Cut(out, "\n┌"); widest(report) > defaultTableWidth {
		t.Errorf("import: a table %d columns wide, want ≤ %d:\n%s", widest(report), defaultTableWidth, out)
	}
	if m, err := model.Load(bin); err != nil || m.Name != "cnn" || m.Provenance["nmsim"] == "" {
		t.Errorf("load: %v", err)
	}
	_, _, err = runCLI("import", filepath.Join(dir, "braille_noDelay_bias_zero.nir"), "-o", bin)
	if err == nil || !strings.Contains(err.Error(), `node "lif1.lif" (CubaLIF): not supported`) || !strings.Contains(err.Error(), "recurrent loop") {
		t.Errorf("braille: %v", err)
	}
}
