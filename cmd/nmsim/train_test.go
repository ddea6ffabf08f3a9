package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/train"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestTrainCommand trains a tiny MLP end to end and checks the table, the
// model file with its provenance, and the JSON.
func TestTrainCommand(t *testing.T) {
	datatest.Dir(t, "mnist", "train")
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
	if m.Name != "m" {
		t.Errorf("model %q written to m.bin, want it named m", m.Name)
	}
	for _, k := range []string{"method", "dataset", "net", "epochs", "seed", "percentile", "ann_accuracy", "snn_accuracy", "command", "nmsim"} {
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

// TestTrainCommandErrors: every flag is checked before any data is read
// (testdata holds none), and the error names the flag.
func TestTrainCommandErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "bstdg"}, `--method "bstdg": unknown (supported: `},
		{[]string{"--eval-timesteps", "4,x"}, `--eval-timesteps: "x" is not a timestep count`},
		{[]string{"--dataset", "cifar-11"}, "cifar-11"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--workers", "0"}, "--workers 0: must be ≥ 1"},
		{[]string{"--lr", "-1"}, "--lr -1: must be > 0"},
		{[]string{"--percentile", "0"}, "--percentile 0: must be in (0, 100]"},
		{[]string{"--dataset", "nmnist"}, "--dataset nmnist: --method convert trains on images"},
		{[]string{"--method", "ttfs"}, "--net conv (32c3p1-ap2-64c3p1-ap2-10) has convolution or pooling layers; --method ttfs trains fully connected nets only, e.g. --net 784-600-10"},
		{[]string{"--method", "ttfs", "--net", "784-64-10", "--gamma", "300"}, "--gamma 300: must be in 0..--window (256)"},
		{[]string{"--method", "ttfs", "--net", "784-64-10", "--out-threshold", "-1"}, "--out-threshold -1: must be ≥ 0 (0: as --threshold)"},
		{[]string{"--method", "ttfs", "--net", "784-64-10", "--neuron-thresholds"}, "--neuron-thresholds true: must be used with --threshold-lr > 0"},
		{[]string{"--method", "ttfs", "--net", "784-64-10", "--weight-decay", "-0.5"}, "--weight-decay -0.5: must be ≥ 0 with --lr × --weight-decay < 1 (--lr 0.01)"},
		{[]string{"--method", "ttfs", "--net", "784-64-10", "--weight-decay", "100"}, "--weight-decay 100: must be ≥ 0 with --lr × --weight-decay < 1 (--lr 0.01)"},
		{[]string{"--method", "surrogate", "--fp-bits", "9"}, "--fp-bits 9: must be in 2..8"},
		{[]string{"--method", "surrogate", "--epochs", "3", "--estimator-epochs", "3"}, "--estimator-epochs 3: must be below --epochs 3"},
		{[]string{"--method", "surrogate", "--estimator-probe", "-1"}, "--estimator-probe -1: must be ≥ 0 minibatches (0: no probe)"},
		{[]string{"--method", "surrogate", "--dataset", "nmnist", "--max-count", "0"}, "--max-count 0: must be in 1..255"},
		{[]string{"--method", "surrogate", "--weight-update", "bop"}, "--weight-update bop: must be ste or bwo"},
		{[]string{"--method", "surrogate", "--weight-update", "bwo", "--bwo-plateau", "0"}, "--bwo-plateau 0: must be > 0"},
		{[]string{"--method", "surrogate", "--weight-update", "bwo", "--epochs", "1"}, "--weight-update bwo optimises binary layers, but --binarize-tolerance 0.01 and --estimator-epochs 0 binarize none"},
		// One epoch: the estimator's default steps aside, so only the
		// missing data stops the run.
		{[]string{"--method", "surrogate", "--epochs", "1"}, "dataset mnist: testdata/mnist/train-images-idx3-ubyte.gz or"},
		{[]string{"--method", "surrogate", "--epochs", "1", "--estimator-epochs", "0"}, "dataset mnist: testdata/mnist/train-images-idx3-ubyte.gz or"},
		{[]string{"--resume"}, "--resume needs --checkpoint DIR"},
		{[]string{"--shift", "-1"}, "--shift -1: must be in 0..127"},
		{[]string{"--val-samples", "-1"}, "--val-samples -1: must be ≥ 0"},
	} {
		_, _, err := runCLI(append([]string{"train", "--data", "testdata"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("train %v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}

// TestTrainSurrogateOneEpoch: a one-epoch surrogate run trains without
// the estimator (every layer at --fp-bits).
func TestTrainSurrogateOneEpoch(t *testing.T) {
	datatest.Dir(t, "mnist", "train")
	out := filepath.Join(t.TempDir(), "m.bin")
	stdout, _, err := runCLI("train", "--method", "surrogate", "--epochs", "1", "--net", "4c3p1-ap4-10", "--train-samples", "200",
		"--val-samples", "50", "--eval-samples", "20", "--workers", "1", "-o", out, "--name", "tiny")
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if m, err := model.Load(out); err != nil || m.Name != "tiny" {
		t.Errorf("--name tiny: %v", err)
	}
	if !strings.Contains(stdout, "no accuracy-loss estimator") || !strings.Contains(stdout, "binary layers: none") {
		t.Errorf("output:\n%s", stdout)
	}
}

// TestTrainNetErrors checks a --net that parses but cannot be trained; the
// net's input shape comes from the data.
func TestTrainNetErrors(t *testing.T) {
	datatest.Dir(t, "mnist", "train")
	_, _, err := runCLI("train", "--net", "16c5-ap2")
	if err == nil || !strings.Contains(err.Error(), "last layer must be fully connected") {
		t.Errorf("train --net 16c5-ap2: error %v", err)
	}
}

func TestTrainHelp(t *testing.T) {
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

// TestTrainResume: --checkpoint writes the state, --resume of the
// finished run gives the same weights and records that it trained no
// epoch, and a resume with another --lr is refused naming it (package
// train tests stopping in the middle).
func TestTrainResume(t *testing.T) {
	datatest.Dir(t, "mnist", "train")
	tmp := t.TempDir()
	ck := filepath.Join(tmp, "ck")
	args := []string{"train", "--method", "ttfs", "--net", "784-8-10", "--window", "16", "--epochs", "2", "--train-samples", "200",
		"--eval-samples", "20", "--workers", "1", "--checkpoint", ck}
	var weights [2][]int8
	for i, extra := range [][]string{nil, {"--resume", "--workers", "2"}} {
		out := filepath.Join(tmp, "m.bin")
		if stdout, _, err := runCLI(append(append(args, extra...), "-o", out)...); err != nil {
			t.Fatalf("train %v: %v\n%s", extra, err, stdout)
		}
		m, err := model.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		weights[i] = m.Layers[0].Weights
		if got, want := m.Provenance["epochs_run"], []string{"2", "0"}[i]; got != want {
			t.Errorf("train %v: provenance epochs_run %q, want %q", extra, got, want)
		}
	}
	if !slices.Equal(weights[0], weights[1]) {
		t.Error("the resumed run's weights differ")
	}
	_, _, err := runCLI(append(args, "--resume", "--lr", "0.02", "-o", filepath.Join(tmp, "x.bin"))...)
	if err == nil || !strings.Contains(err.Error(), "different --lr") {
		t.Errorf("resume with another --lr: error %v, want one naming --lr", err)
	}
}

// noMismatches matches the run table's row of a spike-exact golden check.
var noMismatches = regexp.MustCompile(`golden spike mismatches\s*│\s*0\s`)

// TestTrainDirectMethods trains tiny TTFS and surrogate-gradient models
// (the latter on N-MNIST event frames too) through the command line and
// runs each on the chip with the golden check.
func TestTrainDirectMethods(t *testing.T) {
	datatest.Dir(t, "mnist", "train")
	tmp := t.TempDir()
	for _, tt := range []struct {
		name    string
		args    []string
		coding  model.Coding
		readout model.Readout
		prov    []string
	}{
		{"ttfs", []string{"--method", "ttfs", "--net", "784-24-10", "--window", "32", "--lr", "0.03", "--epochs", "1", "--train-samples", "600", "--eval-samples", "50"},
			model.CodingTTFS, model.ReadoutFirstSpike, []string{"window", "thresholds", "snn_accuracy", "decision_steps", "hidden_spikes"}},
		{"ttfs-val", []string{"--method", "ttfs", "--net", "784-24-10", "--window", "32", "--lr", "0.03", "--epochs", "1", "--train-samples", "600", "--val-samples", "100", "--shift", "1"},
			model.CodingTTFS, model.ReadoutFirstSpike, []string{"val_samples", "shift", "snn_accuracy"}},
		{"surrogate", []string{"--method", "surrogate", "--net", "8c3s2p1-16c3s2p1-gap-10", "--timesteps", "1", "--epochs", "2", "--train-samples", "400", "--val-samples", "100", "--eval-samples", "50"},
			model.CodingConstant, model.ReadoutPotential, []string{"binary_layers", "weight_storage", "snn_accuracy", "epoch_seconds"}},
		{"surrogate-nmnist", []string{"--method", "surrogate", "--dataset", "nmnist", "--net", "8c5s2p1-gap-10", "--timesteps", "2", "--frame-us", "100000", "--max-count", "7",
			"--epochs", "2", "--train-samples", "100", "--val-samples", "20", "--eval-samples", "20"},
			model.CodingFrames, model.ReadoutPotential, []string{"binary_layers", "snn_accuracy"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.coding == model.CodingFrames {
				datatest.Full(t, "nmnist")
			}
			out, js := filepath.Join(tmp, tt.name+".bin"), filepath.Join(tmp, tt.name+".json")
			stdout, _, err := runCLI(append([]string{"train", "--workers", "2", "-o", out, "--json", js}, tt.args...)...)
			if err != nil {
				t.Fatalf("train: %v\n%s", err, stdout)
			}
			m, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "ttfs-val" && (m.Provenance["val_samples"] != "100" || m.Provenance["train_samples"] != "500" ||
				!strings.Contains(stdout, "validation (the last 100 training images, held out) accuracy on 100 images")) {
				t.Errorf("ttfs --val-samples 100: provenance %v, output:\n%s", m.Provenance, stdout)
			}
			if m.Input.Coding == model.CodingFrames && m.Input.MaxCount != 7 {
				t.Errorf("model input max count %d, want --max-count 7", m.Input.MaxCount)
			}
			if m.Input.Coding != tt.coding || m.Readout != tt.readout {
				t.Errorf("model coding %q readout %q, want %q %q", m.Input.Coding, m.Readout, tt.coding, tt.readout)
			}
			for _, k := range append(tt.prov, "method", "command", "total_seconds") {
				if m.Provenance[k] == "" {
					t.Errorf("provenance lacks %q: %v", k, m.Provenance)
				}
			}
			if _, err := os.Stat(js); err != nil {
				t.Error(err)
			}
			args := []string{"run", presetPath, out, "--samples", "5", "--golden", "--workers", "2"}
			if tt.coding == model.CodingFrames {
				args = append(args, "--dataset", "nmnist")
			}
			stdout, _, err = runCLI(args...)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !noMismatches.MatchString(stdout) {
				t.Errorf("run --golden:\n%s", stdout)
			}
		})
	}
}

// TestTrainHelpNetsParse: every --net of the help's examples is a valid
// net for its data set.
func TestTrainHelpNetsParse(t *testing.T) {
	_, stderr, _ := runCLI("train", "--help")
	examples := regexp.MustCompile(`nmsim train (.*)`).FindAllStringSubmatch(stderr, -1)
	if len(examples) < 6 {
		t.Fatalf("found %d examples in the help", len(examples))
	}
	for _, ex := range examples {
		net := regexp.MustCompile(`--net (\S+)`).FindStringSubmatch(ex[1])
		if net == nil {
			continue
		}
		in := model.Shape{C: 1, H: 28, W: 28}
		if strings.Contains(ex[1], "nmnist") {
			in = dataset.FrameShape
		}
		if _, err := train.ParseNet(net[1], in); err != nil {
			t.Errorf("example %q: %v", ex[0], err)
		}
	}
}

// TestShippedModelsGolden runs every model in models/ on the default chip
// (or, for a model too large for it, the 8×8 preset) for a few samples of
// its own data set with the golden check: each loads (checksum), fits a
// shipped preset and matches the reference SNN spike for spike.
func TestShippedModelsGolden(t *testing.T) {
	paths, err := filepath.Glob("../../models/*.bin")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped models: %v", err)
	}
	presets := []string{presetPath, "../../configs/rram-xnor-8x8.toml"} // smallest first
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			m, err := model.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			name := m.Provenance["dataset"]
			if name == "nmnist" {
				datatest.Full(t, "nmnist")
			} else {
				datatest.Dir(t, name, "test")
			}
			preset := presets[0]
			if _, _, err := runCLI("map", preset, p); err != nil {
				t.Logf("%v; on %s instead", err, presets[1])
				preset = presets[1]
			}
			stdout, _, err := runCLI("run", preset, p, "--dataset", name, "--samples", "3", "--golden", "--workers", "2")
			if err != nil {
				t.Fatal(err)
			}
			if !noMismatches.MatchString(stdout) {
				t.Errorf("run --golden:\n%s", stdout)
			}
		})
	}
}
