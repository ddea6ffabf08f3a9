package chip

import (
	"context"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/train"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// The golden tests above use random models; these train tiny networks
// with the two direct-training methods and check that the chip reproduces
// the reference SNN on real data, spike for spike: TTFS models (TTFS input,
// fire-once dense layers, first-spike early stop) and surrogate-gradient
// models (folded batch-norm thresholds and biases, binary and 8-bit
// layers, global average pooling, constant and event-frame input).

func mnistSlice(t *testing.T, split string, n int) *dataset.Set {
	t.Helper()
	return datatest.Set(t, "mnist", split, n)
}

func parseNet(t *testing.T, spec string, in model.Shape) train.Net {
	t.Helper()
	n, err := train.ParseNet(spec, in)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// goldenOnData runs the first n samples of data through the chip and the
// reference SNN at the model's own timesteps and returns how many the chip
// classified right. It fails when a spiking layer stays silent or fires
// every neuron at every timestep on all samples: equivalence would then
// say little.
func goldenOnData(t *testing.T, m *model.Model, data *dataset.Set, n int) int {
	t.Helper()
	c, err := New(arch.Default(), m, 1)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	spikes := make([]int64, len(m.Layers))
	for i := 0; i < n; i++ {
		res := golden(t, c, m, data.Image(i), m.Timesteps)
		if res.Class == int(data.Labels[i]) {
			right++
		}
		for l, r := range res.Layers {
			spikes[l] += r.Neuron.Spikes
		}
	}
	for l := range m.Layers {
		ml := &m.Layers[l]
		if most := int64(n * m.Timesteps * ml.Out.Size()); ml.Spiking && (spikes[l] == 0 || spikes[l] == most) {
			t.Errorf("layer %s fired %d spikes in %d samples (at most %d): degenerate", ml.Name, spikes[l], n, most)
		}
	}
	t.Logf("spikes per layer over %d samples: %v", n, spikes)
	return right
}

func TestGoldenEquivalenceTrainedTTFS(t *testing.T) {
	data := mnistSlice(t, "train", 600)
	cfg := train.DefaultTTFSConfig()
	cfg.Window, cfg.Epochs, cfg.Batch, cfg.LR, cfg.Workers = 32, 2, 32, 3e-2, 2
	n, err := train.TrainTTFS(context.Background(), parseNet(t, "784-32-10", data.Shape), data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := n.Model("tiny-ttfs")
	if err != nil {
		t.Fatal(err)
	}
	test := mnistSlice(t, "test", 40)
	right := goldenOnData(t, m, test, test.Len())
	t.Logf("TTFS: %d of %d right on the chip", right, test.Len())
	if right < test.Len()/2 {
		t.Errorf("%d of %d right: the trained model did not learn, so the test exercises little", right, test.Len())
	}
}

func TestGoldenEquivalenceTrainedSurrogate(t *testing.T) {
	data := mnistSlice(t, "train", 600)
	// A tolerance of 1 binarizes every weight layer; -1 keeps them all
	// 8 bits wide.
	for _, tol := range []float64{1, -1} {
		cfg := train.SurrogateConfig{Timesteps: 2, Epochs: 3, Batch: 16, LR: 2e-2, Seed: 3, Workers: 2, BinarizeTolerance: tol}
		s, err := train.TrainSurrogate(context.Background(), parseNet(t, "8c3s2p1-16c3p1-gap-10", data.Shape), data, data.Slice(200), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.Model("tiny-surrogate")
		if err != nil {
			t.Fatal(err)
		}
		test := mnistSlice(t, "test", 30)
		right := goldenOnData(t, m, test, test.Len())
		t.Logf("surrogate, tolerance %g (binary layers %s): %d of %d right on the chip", tol, m.Provenance["binary_layers"], right, test.Len())
	}
}

func TestGoldenEquivalenceTrainedSurrogateEvents(t *testing.T) {
	opt := dataset.FrameOptions{Frames: 3, WindowUS: 100000, MaxCount: 15}
	dir := datatest.Full(t, "nmnist")
	load := func(split string, n int) *dataset.Set {
		s, _, err := dataset.LoadNMNIST(dir, split, n, opt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	data := load("train", 200)
	cfg := train.SurrogateConfig{Timesteps: 3, Coding: model.CodingFrames, InputBits: 4, FrameUS: opt.WindowUS,
		Epochs: 3, Batch: 16, LR: 2e-2, Seed: 4, Workers: 2, BinarizeTolerance: 1}
	s, err := train.TrainSurrogate(context.Background(), parseNet(t, "8c5s2p2-16c3s2p1-gap-10", dataset.FrameShape), data, data.Slice(100), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Model("tiny-nmnist")
	if err != nil {
		t.Fatal(err)
	}
	test := load("test", 20)
	right := goldenOnData(t, m, test, test.Len())
	t.Logf("N-MNIST frames (binary layers %s): %d of %d right on the chip", m.Provenance["binary_layers"], right, test.Len())
}
