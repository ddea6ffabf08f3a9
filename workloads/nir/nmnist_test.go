package nir

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// nmnistRun imports cnn_sinabs.nir with o and runs it on the reference SNN
// over the N-MNIST test samples binned into T 1-ms frames; it returns the
// accuracy and the spikes per layer per sample.
func nmnistRun(t *testing.T, o Options, T int) (float64, []float64) {
	t.Helper()
	dir := dataDir(t)
	data := datatest.Full(t, "nmnist")
	g, err := Open(filepath.Join(dir, "cnn_sinabs.nir"))
	if err != nil {
		t.Fatal(err)
	}
	o.Coding, o.InputBits, o.Timesteps = model.CodingFrames, 2, T
	m, _, err := Import(g, o)
	if err != nil {
		t.Fatal(err)
	}
	set, clipped, err := dataset.LoadNMNIST(data, "test", 0, dataset.FrameOptions{Frames: T, MaxCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	if clipped != 0 {
		t.Errorf("%d counts above 3", clipped)
	}
	r := snn.NewRunner(m)
	correct := 0
	spikes := make([]float64, len(m.Layers))
	for i := range set.Len() {
		res := r.Run(set.Image(i), T, model.Hooks{})
		if res.Class == int(set.Labels[i]) {
			correct++
		}
		for l, n := range res.Spikes {
			spikes[l] += float64(n) / float64(set.Len())
		}
	}
	return float64(correct) / float64(set.Len()), spikes
}

// TestCNNSinabsNMNIST runs the NIR paper's N-MNIST network, imported with
// the default options, on the 100 N-MNIST test samples with the reference
// SNN (docs/nir.md reports the numbers).
func TestCNNSinabsNMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 100 samples × 300 timesteps")
	}
	start := time.Now()
	acc, spikes := nmnistRun(t, Options{}, 300)
	t.Logf("accuracy %.2f, spikes per layer per sample %.0f (%v)", acc, spikes, time.Since(start))
	if acc < 0.9 {
		t.Errorf("accuracy %.2f on 100 N-MNIST test samples, want at least 0.90", acc)
	}
}
