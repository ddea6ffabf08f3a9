package sweep

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// eventModel saves a dense frame-coded model of N-MNIST frames, recorded
// as trained on nmnist.
func eventModel(t *testing.T, dir string) string {
	t.Helper()
	in := dataset.FrameShape
	rng := rand.New(rand.NewPCG(5, 6))
	w := make([]int8, 10*in.Size())
	for i := range w {
		w[i] = int8(1 - 2*rng.IntN(2))
	}
	m := &model.Model{
		Name:  "events",
		Input: model.Input{Shape: in, Coding: model.CodingFrames, Bits: 4, FrameUS: 1000},
		Layers: []model.Layer{{Name: "fc", Op: model.OpDense, In: in, Out: model.Shape{C: 10, H: 1, W: 1},
			WeightBits: 1, Weights: w}},
		Classes: 10, Timesteps: 4, Provenance: map[string]string{"dataset": "nmnist"},
	}
	path := filepath.Join(dir, "events.bin")
	if err := model.Save(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// nmnistDir writes n short N-MNIST recordings as the test split.
func nmnistDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	for class := range dataset.NMNISTClasses {
		if err := os.MkdirAll(filepath.Join(dir, "nmnist", "Test", strconv.Itoa(class)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		var rec []byte
		for e := range 200 {
			ts := uint32(e * 40) // 8 ms: more windows than the model runs
			rec = append(rec, byte(rng.IntN(34)), byte(rng.IntN(34)), byte(ts>>16&0x7f)|byte(rng.IntN(2))<<7, byte(ts>>8), byte(ts))
		}
		path := filepath.Join(dir, "nmnist", "Test", strconv.Itoa(i%10), strconv.Itoa(i)+".bin")
		if err := os.WriteFile(path, rec, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSweepRunsEventData: a sweep reads N-MNIST through the loader that
// nmsim run uses, binned for the model's frames; every line records how
// it was made.
func TestSweepRunsEventData(t *testing.T) {
	tmp := t.TempDir()
	modelPath := eventModel(t, tmp)
	text := fmt.Sprintf(`arch = %q
models = [%q]
dataset = "nmnist"
samples = 6
seeds = [1]

[axes]
"crossbar.adc_bits" = [4, 6]
`, presetPath, modelPath)
	pl := planFor(t, text, nmnistDir(t, 8))
	if got := pl.sets[0].Shape; got.C != 2*4 {
		t.Errorf("event frames %v, want 4 frames of 2x34x34", got)
	}
	out := filepath.Join(tmp, "out")
	if sum := runAll(t, pl, out, 2, Shard{}); sum.Ran != 2 || sum.Unfit != 0 {
		t.Fatalf("%+v, want 2 points run", sum)
	}
	res, err := ReadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Report == nil || r.Report.Samples != 6 || r.Report.Dataset != "nmnist" {
			t.Fatalf("line %+v, want a report of 6 nmnist samples", r)
		}
		p := r.Provenance
		if p == nil || p.Arch.Path != presetPath || len(p.Arch.SHA256) != 64 || p.Model.Path != modelPath ||
			len(p.Model.SHA256) != 64 || p.ModelDataset != "nmnist" || len(p.DataSHA256) != 64 || p.Nmsim == "" ||
			len(p.Set) != 1 || !strings.HasPrefix(p.Set[0], "crossbar.adc_bits=") {
			t.Errorf("provenance %+v", p)
		}
	}
}

// TestSweepRefusesAnotherDataset: a model trained on one data set is not
// swept on another.
func TestSweepRefusesAnotherDataset(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "sweep.toml")
	text := fmt.Sprintf("arch = %q\nmodels = [%q]\ndataset = \"mnist\"\nsamples = 2\nseeds = [1]\n", presetPath, eventModel(t, tmp))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPlan(spec, "../data"); err == nil || !strings.Contains(err.Error(), "trained on nmnist, not mnist") {
		t.Fatalf("got %v, want the data set mismatch refused", err)
	}
}

// TestOnlyFitErrorsAreSkips: a model that does not fit is a skipped point,
// any other error of building the chip fails the sweep.
func TestOnlyFitErrorsAreSkips(t *testing.T) {
	fit := fmt.Errorf("chip: %w", &mapper.FitError{Resource: "tiles", Need: 5, Have: 1, Detail: "the model needs 5 tiles"})
	if skipped, err := unfit(fit); err != nil || skipped != fit.Error() {
		t.Errorf("fit error: skipped %q, error %v", skipped, err)
	}
	other := errors.New("chip: layer \"fc\": crossbar: device: levels")
	if skipped, err := unfit(other); err != other || skipped != "" {
		t.Errorf("other error: skipped %q, error %v", skipped, err)
	}
}
