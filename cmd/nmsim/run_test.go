package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestRunBounds: a run's length is bounded before anything is loaded.
func TestRunBounds(t *testing.T) {
	dir := fixture(t)
	_, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--timesteps", "1000000000")
	if err == nil || !strings.Contains(err.Error(), "--timesteps 1000000000: must be in 0..65536") {
		t.Fatalf("run: got %v, want the --timesteps bound", err)
	}
	_, _, err = runCLI("import", "absent.nir", "-o", filepath.Join(dir, "x.bin"), "--timesteps", "9223372036854775807")
	if err == nil || !strings.Contains(err.Error(), "--timesteps 9223372036854775807: must be in 0..65536") {
		t.Fatalf("import: got %v, want the --timesteps bound", err)
	}
}

// TestRunDatasetMismatchAndProvenance: a model run on another data set
// than its own is refused; allowed, it warns and the JSON says so. The
// JSON records how the run was made, overrides included (the process in
// its tech object too).
func TestRunDatasetMismatchAndProvenance(t *testing.T) {
	dir := t.TempDir()
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rand.New(rand.NewPCG(21, 22)), o)
	m.Provenance["dataset"] = "fashion-mnist"
	modelPath := filepath.Join(dir, "fashion.bin")
	if err := model.Save(modelPath, m); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", presetPath, modelPath, "--dataset", "mnist", "--data", "../../data", "--samples", "3", "--timesteps", "2"}
	if _, _, err := runCLI(args...); err == nil || !strings.Contains(err.Error(), "trained on fashion-mnist, not mnist") || !strings.Contains(err.Error(), "--allow-dataset-mismatch") {
		t.Fatalf("got %v, want the mismatch refused", err)
	}
	out := filepath.Join(dir, "r.json")
	_, stderr, err := runCLI(append(args, "--allow-dataset-mismatch", "--set", "crossbar.adc_bits=4", "--set", "tech.process=lop", "--json", out)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "warning: model \"random\" was trained on fashion-mnist, not mnist") {
		t.Errorf("stderr %q lacks the warning", stderr)
	}
	r := readReport(t, out)
	p := r.Provenance
	if p == nil {
		t.Fatal("no provenance in the JSON report")
	}
	sum := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", sha256.Sum256(b))
	}
	if p.Nmsim == "" || p.Arch.Path != presetPath || p.Arch.SHA256 != sum(presetPath) || p.Model.Path != modelPath || p.Model.SHA256 != sum(modelPath) ||
		fmt.Sprint(p.Set) != "[crossbar.adc_bits=4 tech.process=lop]" || p.ModelDataset != "fashion-mnist" || !strings.Contains(p.DatasetMismatch, "not mnist") || len(p.DataSHA256) != 64 {
		t.Errorf("provenance %+v", p)
	}
	if r.Tech.Process != "lop" {
		t.Errorf("report says process %q, want the --set lop", r.Tech.Process)
	}
	if r.Dataset != "mnist" || r.Samples != 3 || r.Seed != 1 || r.Model != "random" {
		t.Errorf("report says data set %q, %d samples, seed %d, model %q", r.Dataset, r.Samples, r.Seed, r.Model)
	}
}

// TestRunTooManySamples: asking for more samples than the data holds is
// an error, not a smaller run.
func TestRunTooManySamples(t *testing.T) {
	dir := fixture(t)
	_, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--data", "../../data", "--samples", "10000")
	if err == nil || !strings.Contains(err.Error(), "10000 samples asked for, but the mnist test split has only 1000") {
		t.Fatalf("got %v", err)
	}
}

// TestRunOwnSamples: --dataset file:PATH runs a .npz of one's own samples;
// the first five MNIST images written that way give the report that
// --dataset mnist gives for them.
func TestRunOwnSamples(t *testing.T) {
	dir := fixture(t)
	set, err := dataset.Load("mnist", "../../data", "test")
	if err != nil {
		t.Fatal(err)
	}
	set = set.Slice(5)
	labels := make([]byte, 8*5)
	for i, l := range set.Labels {
		binary.LittleEndian.PutUint64(labels[8*i:], uint64(l))
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, a := range []struct {
		name, header string
		data         []byte
	}{
		{"frames", "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 1, 28, 28), }", set.Images},
		{"labels", "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", labels},
	} {
		w, err := z.Create(a.name + ".npy")
		if err != nil {
			t.Fatal(err)
		}
		h := a.header + "\n"
		w.Write(append([]byte{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, byte(len(h)), 0}, h...))
		w.Write(a.data)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	npz := filepath.Join(dir, "mine.npz")
	if err := os.WriteFile(npz, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	report := func(args ...string) runner.Result {
		out := filepath.Join(dir, "r.json")
		if _, _, err := runCLI(append([]string{"run", presetPath, filepath.Join(dir, "model.bin"), "--timesteps", "3", "--json", out}, args...)...); err != nil {
			t.Fatal(err)
		}
		return readReport(t, out)
	}
	own, ref := report("--dataset", "file:"+npz), report("--dataset", "mnist", "--data", "../../data", "--samples", "5")
	if own.Dataset != "file:"+npz || own.Samples != 5 || own.Correct != ref.Correct || own.Cycles != ref.Cycles || own.Energy.Total != ref.Energy.Total ||
		own.Provenance.DataSHA256 != ref.Provenance.DataSHA256 {
		t.Errorf("own file: %s, %d samples, %d correct, %d cycles; mnist: %d correct, %d cycles", own.Dataset, own.Samples, own.Correct, own.Cycles.Total, ref.Correct, ref.Cycles.Total)
	}
}

// readReport reads a run's JSON report.
func readReport(t *testing.T, path string) runner.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r runner.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunTrace: --trace writes a trace of --trace-samples samples whose
// cycles are the run's; more trace samples than the run has is an error.
func TestRunTrace(t *testing.T) {
	dir := fixture(t)
	out, trc := filepath.Join(dir, "r.json"), filepath.Join(dir, "trace.json")
	args := []string{"run", presetPath, filepath.Join(dir, "model.bin"), "--data", "../../data", "--samples", "2", "--timesteps", "3", "--trace", trc}
	if _, _, err := runCLI(append(args, "--trace-samples", "3")...); err == nil || !strings.Contains(err.Error(), "--trace-samples 3: the run has 2 samples") {
		t.Fatalf("got %v, want 3 trace samples of 2 refused", err)
	}
	if _, _, err := runCLI(append(args, "--trace-samples", "2", "--json", out)...); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(trc)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		TraceEvents []json.RawMessage `json:"traceEvents"`
		OtherData   struct{ Cycles []float64 }
	}
	if err := json.Unmarshal(data, &f); err != nil || len(f.TraceEvents) == 0 || len(f.OtherData.Cycles) != 2 {
		t.Fatalf("%d events, cycles %v, %v", len(f.TraceEvents), f.OtherData.Cycles, err)
	}
	if r := readReport(t, out); int64(f.OtherData.Cycles[0]+f.OtherData.Cycles[1]) != r.Cycles.Total {
		t.Errorf("trace cycles %v, the run's %v", f.OtherData.Cycles, r.Cycles.Total)
	}
}
