package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// resumable is one trainer under test: it trains with the checkpoint, the
// worker count, the learning rate and the progress callback given and
// returns a print of everything it learnt (%v of a float prints it
// exactly).
type resumable func(ctx context.Context, ck Checkpoint, workers int, lr float64, progress func(Progress)) (string, error)

// ttfsResumable trains a 64-12-3 TTFS net with cfg's options for 3
// epochs.
func ttfsResumable(t *testing.T, in model.Shape, data *dataset.Set, cfg TTFSConfig) resumable {
	return func(ctx context.Context, ck Checkpoint, workers int, lr float64, progress func(Progress)) (string, error) {
		cfg.Window, cfg.Epochs, cfg.Batch, cfg.LR, cfg.Gamma, cfg.Seed = 16, 3, 16, lr, 2, 3
		cfg.Workers, cfg.Checkpoint, cfg.Progress = workers, ck, progress
		n, err := TrainTTFS(ctx, mustNet(t, "64-12-3", in), data, cfg)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(n.Latent, n.Threshold), nil
	}
}

func resumables(t *testing.T) map[string]resumable {
	in := model.Shape{C: 1, H: 8, W: 8}
	data := synthetic(in, 3, 60, 7)
	return map[string]resumable{
		"convert": func(ctx context.Context, ck Checkpoint, workers int, lr float64, progress func(Progress)) (string, error) {
			a, err := Train(ctx, mustNet(t, "4c3p1-ap2-8-3", in), data, Config{Epochs: 3, Batch: 16, LR: lr, Seed: 3,
				Workers: workers, Checkpoint: ck, Progress: progress})
			if err != nil {
				return "", err
			}
			return fmt.Sprint(a.Latent), nil
		},
		"ttfs":            ttfsResumable(t, in, data, TTFSConfig{ThresholdLR: 1e-2, OutThreshold: 2.5, Interpolate: true, Mirror: true}),
		"ttfs per neuron": ttfsResumable(t, in, data, TTFSConfig{ThresholdLR: 1e-2, NeuronThresholds: true, WeightDecay: 0.5}),
		// Stopped after the estimator's epoch, so that its decisions
		// come from the checkpoint.
		"surrogate": func(ctx context.Context, ck Checkpoint, workers int, lr float64, progress func(Progress)) (string, error) {
			s, err := TrainSurrogate(ctx, mustNet(t, "4c3p1-ap2-6c3p1-gap-3", in), data, data.Slice(30), SurrogateConfig{Timesteps: 2,
				Epochs: 3, Batch: 16, LR: lr, Seed: 3, Workers: workers, BinarizeTolerance: 0.05, Shift: 1, Checkpoint: ck, Progress: progress})
			if err != nil {
				return "", err
			}
			var binary []bool
			for _, l := range s.Net.Layers {
				binary = append(binary, l.Binary)
			}
			return fmt.Sprint(s.Latent, s.Gamma, s.Beta, s.Mean, s.Var, s.Bias, binary, s.Report.Layers, s.Report.ValAccuracy), nil
		},
	}
}

// TestCheckpointResume trains each method 3 epochs in one go, then again
// stopped after an epoch and resumed (with another worker count), and
// requires the same result bit for bit; a second resume of the finished
// run too. A checkpoint is never overwritten without --resume, and a
// resume with another learning rate is refused naming --lr.
func TestCheckpointResume(t *testing.T) {
	for name, train := range resumables(t) {
		t.Run(name, func(t *testing.T) {
			want, err := train(context.Background(), Checkpoint{}, 1, 5e-3, nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "ck")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stopAfter := 1
			if name == "surrogate" {
				stopAfter = 2
			}
			_, err = train(ctx, Checkpoint{Dir: dir}, 1, 5e-3, func(p Progress) {
				if p.Epoch == stopAfter && p.Step == p.Steps {
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("stopped run: error %v, want context.Canceled", err)
			}
			if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			var epochs []int
			got, err := train(context.Background(), Checkpoint{Dir: dir, Resume: true}, 2, 5e-3, func(p Progress) {
				if p.Step == 1 {
					epochs = append(epochs, p.Epoch)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("resumed after epoch %d: the result differs from the uninterrupted run's", stopAfter)
			}
			if len(epochs) != 3-stopAfter || epochs[0] != stopAfter+1 {
				t.Errorf("resumed run trained epochs %v, want %d..3", epochs, stopAfter+1)
			}
			if again, err := train(context.Background(), Checkpoint{Dir: dir, Resume: true}, 1, 5e-3, nil); err != nil || again != want {
				t.Errorf("resuming the finished run: error %v, same result %v", err, again == want)
			}
			if _, err := train(context.Background(), Checkpoint{Dir: dir}, 1, 5e-3, nil); err == nil || !strings.Contains(err.Error(), "already holds a checkpoint") {
				t.Errorf("without resume: error %v, want a refusal to overwrite", err)
			}
			_, err = train(context.Background(), Checkpoint{Dir: dir, Resume: true}, 1, 1e-3, nil)
			if err == nil || !strings.Contains(err.Error(), "different --lr") {
				t.Errorf("resume with another learning rate: error %v, want one naming --lr", err)
			}
		})
	}
}

// TestCheckpointCorrupt: a damaged checkpoint is an error, never a panic
// or a silent restart.
func TestCheckpointCorrupt(t *testing.T) {
	train := resumables(t)["ttfs"]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CheckpointFile), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := train(context.Background(), Checkpoint{Dir: dir, Resume: true}, 1, 5e-3, nil)
	if err == nil || !strings.Contains(err.Error(), "not a checkpoint") {
		t.Errorf("error %v, want one saying the file is not a checkpoint", err)
	}
}

// TestSettingsOmitZero: the settings that TTFS runs hash are the ones they
// hashed before the options tagged omitzero existed, unless those are set.
func TestSettingsOmitZero(t *testing.T) {
	in := model.Shape{C: 1, H: 4, W: 4}
	net, data := mustNet(t, "16-4", in), synthetic(in, 4, 8, 1)
	names := func(cfg TTFSConfig) string {
		var s []string
		for _, line := range settingsOf("ttfs", cfg, &net, data)[3:] {
			name, _, _ := strings.Cut(line, " ")
			s = append(s, name)
		}
		return strings.Join(s, " ")
	}
	const old = "window epochs batch lr threshold-lr gamma threshold out-threshold interpolate mirror shift seed"
	cfg := DefaultTTFSConfig()
	if got := names(cfg); got != old {
		t.Errorf("default settings %q, want %q", got, old)
	}
	cfg.WeightDecay, cfg.NeuronThresholds = 0.5, true
	if got, want := names(cfg), "window epochs batch lr threshold-lr neuron-thresholds weight-decay gamma threshold out-threshold interpolate mirror shift seed"; got != want {
		t.Errorf("settings %q, want %q", got, want)
	}
}
