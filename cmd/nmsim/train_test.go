package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestTrainCommand trains a tiny MLP end to end and checks the table, the
// model file with its provenance, and the JSON.
func TestTrainCommand(t *testing.T) {
	if !haveTrainingData() {
		t.Skip("no MNIST training data")
	}
	tmp := t.TempDir()
	out, js := filepath.Join(tmp, "m.bin"), filepath.Join(tmp, "r.json")
	stdout, _, err := runCLI("train", "--method", "convert", "--net", "784-32-32-10", "--epochs", "1",
		"--train-samples", "600", "--calib", "100", "--eval-samples", "100", "--eval-timesteps", "16,4",
		"--workers", "2", "-o", out, "--json", js)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stdout)
	}
	for _, want := range []string{"epoch  1/1", "ANN (binary weights) test accuracy", "SNN ACCURACY", "wrote " + out} {
		if !strings.Contains(strings.ToUpper(stdout), strings.ToUpper(want)) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"method", "dataset", "net", "epochs", "seed", "percentile", "ann_accuracy", "snn_accuracy", "command"} {
		if m.Provenance[k] == "" {
			t.Errorf("provenance lacks %q: %v", k, m.Provenance)
		}
	}
	if m.Timesteps != 4 && m.Timesteps != 16 {
		t.Errorf("default timesteps %d, want one of those measured", m.Timesteps)
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r convertResults
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.SNN) != 2 || r.SNN[0].Timesteps != 4 || r.EvalSamples != 100 || r.ANNAccuracy <= 0.2 {
		t.Errorf("JSON results %+v", r)
	}
}

func TestTrainCommandErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "bstdg"}, `method "bstdg" unknown (supported: `},
		{[]string{"--eval-timesteps", "4,x"}, `"x" is not a timestep count`},
		{[]string{"--dataset", "cifar-11", "--data", "testdata"}, "cifar-11"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--workers", "0"}, "--workers 0"},
	} {
		_, _, err := runCLI(append([]string{"train"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("train %v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}

func TestTrainHelp(t *testing.T) {
	if haveTrainingData() {
		_, _, err := runCLI("train", "--net", "16c5-ap2")
		if err == nil || !strings.Contains(err.Error(), "last layer must be fully connected") {
			t.Errorf("train --net 16c5-ap2: error %v", err)
		}
	}
	_, stderr, err := runCLI("train", "--help")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"threshold", "32c3p1-ap2-64c3p1-ap2-10", "ap<k>", "--percentile", "Examples:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// haveTrainingData reports whether the MNIST training split can be found
// (the committed slice holds test images only).
func haveTrainingData() bool {
	dir, _ := dataset.ResolveDir("")
	_, err := dataset.Load("mnist", dir, "train")
	return err == nil
}
