package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
)

// TestCaltechCommands takes --dataset caltech-fm through train, run (the
// data set coming from the model's provenance), compare and a sweep on a
// few images, and holds that a model of another input shape is refused
// with both shapes named.
func TestCaltechCommands(t *testing.T) {
	data := datatest.Dir(t, "caltech-fm", "test")
	dir := t.TempDir()
	m := filepath.Join(dir, "fm.bin")
	out, _, err := runCLI("train", "--method", "ttfs", "--dataset", "caltech-fm", "--data", data, "--net", "1240-8-2",
		"--epochs", "1", "--batch", "8", "--train-samples", "16", "--eval-samples", "8", "--workers", "2", "-o", m)
	if err != nil || !strings.Contains(out, "test accuracy on 8 images") {
		t.Fatalf("train: %v\n%s", err, out)
	}
	out, _, err = runCLI("run", presetPath, m, "--data", data, "--samples", "4", "--golden", "--workers", "2")
	if err != nil || !noMismatches.MatchString(out) {
		t.Fatalf("run: %v\n%s", err, out)
	}
	shipped := "../../models/caltech-fm-ttfs.bin"
	out, _, err = runCLI("compare", presetPath, m, shipped, "--dataset", "caltech-fm", "--data", data, "--samples", "4")
	if err != nil || !strings.Contains(out, "fm.bin") || !strings.Contains(out, "caltech-fm-ttfs.bin") {
		t.Fatalf("compare: %v\n%s", err, out)
	}
	spec := filepath.Join(dir, "sweep.toml")
	mustWrite(t, spec, []byte(fmt.Sprintf(`arch = %q
models = [%q]
dataset = "caltech-fm"
samples = 4
seeds = [1]
[axes]
"crossbar.adc_bits" = [4, 6]
`, presetPath, shipped)))
	out, err = runEnv(nil, "sweep", spec, "--data", data, "--out", filepath.Join(dir, "sweep"), "--workers", "2")
	if err != nil || !strings.Contains(out, "2 points") {
		t.Fatalf("sweep: %v\n%s", err, out)
	}
	_, _, err = runCLI("run", presetPath, "../../models/mnist-ttfs.bin", "--dataset", "caltech-fm", "--data", data,
		"--samples", "1", "--allow-dataset-mismatch")
	if err == nil || !strings.Contains(err.Error(), "2x20x31") || !strings.Contains(err.Error(), "1x28x28") {
		t.Errorf("an MNIST model on caltech-fm: %v, want both shapes named", err)
	}
}
