package sweep

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

const presetPath = "../configs/rram-xnor.toml"

// dataDir finds the MNIST test split: the full set, else the slice
// committed in the repository.
func dataDir(t *testing.T) string {
	t.Helper()
	return datatest.Dir(t, "mnist", "test")
}

// writeModel saves a small random 28×28 model (valid for MNIST) in dir.
func writeModel(t *testing.T, dir string, seed uint64) string {
	t.Helper()
	o := testmodel.Small
	o.Side = 28
	path := filepath.Join(dir, fmt.Sprintf("model-%d.bin", seed))
	if err := model.Save(path, testmodel.Random(rand.New(rand.NewPCG(seed, 99)), o)); err != nil {
		t.Fatal(err)
	}
	return path
}

// sweep24 is a sweep of 24 points over a random model: 2 ADC widths × 3
// (rows, rows per read) pairs left by the constraint × 2 mesh sizes (width
// and height zipped) × 2 seeds, with few samples and timesteps so that it
// runs in a second; samples sets the work per point. The model needs four
// tiles, so on the 1×1 mesh it does not fit: 12 points are skipped.
func sweep24(modelPath string, samples int) string {
	return fmt.Sprintf(`arch = %q
models = [%q]
dataset = "mnist"
samples = %d
seeds = [1, 2]
timesteps = [3]
zip = [["chip.mesh_width", "chip.mesh_height"]]
constraints = ["crossbar.rows_per_read <= crossbar.rows"]

[axes]
"crossbar.adc_bits" = [4, 6]
"crossbar.rows" = {from = 64, to = 128, times = 2}
"crossbar.rows_per_read" = [32, 128]
"chip.mesh_width" = [1, 4]
"chip.mesh_height" = [1, 4]
`, presetPath, modelPath, samples)
}

// planFor writes spec text to a temp dir and builds its plan.
func planFor(t *testing.T, text, data string) *Plan {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(spec, data)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// runAll runs a whole plan into dir.
func runAll(t *testing.T, pl *Plan, dir string, workers int, shard Shard) *Summary {
	t.Helper()
	sum, err := Run(context.Background(), pl, Options{Dir: dir, Workers: workers, Shard: shard})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// sortedLines reads a results file's lines, sorted.
func sortedLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	slices.SortFunc(lines, bytes.Compare)
	return lines
}

func equalLines(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: line %d differs\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}
