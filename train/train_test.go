package train

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// mnist loads the first n images of an MNIST split, skipping the test when
// the data is not there.
func mnist(t testing.TB, split string, n int) *dataset.Set {
	t.Helper()
	return datatest.Set(t, "mnist", split, n)
}

// synthetic makes n random images of shape in with random labels.
func synthetic(in model.Shape, classes, n int, seed uint64) *dataset.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &dataset.Set{Name: "synthetic", Shape: in, Classes: classes,
		Images: make([]uint8, n*in.Size()), Labels: make([]uint8, n)}
	for i := range s.Images {
		s.Images[i] = uint8(rng.IntN(256))
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(rng.IntN(classes))
	}
	return s
}

func mustNet(t testing.TB, spec string, in model.Shape) Net {
	t.Helper()
	n, err := ParseNet(spec, in)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lossAt is the summed cross-entropy of the samples with effective weights w.
func lossAt(p *pass, data *dataset.Set, w [][]float32) float64 {
	idx := make([]int, data.Len())
	for i := range idx {
		idx[i] = i
	}
	grad := make([][]float32, len(w))
	for i := range w {
		if w[i] != nil {
			grad[i] = make([]float32, len(w[i]))
		}
	}
	loss, _ := p.gradient(data, idx, w, grad, 1)
	return loss
}

// TestGradientCheck compares the backward pass (conv with stride and
// padding, pooling, ReLU, dense, softmax) with central finite differences
// of the loss with respect to every layer's effective weights.
func TestGradientCheck(t *testing.T) {
	in := model.Shape{C: 2, H: 8, W: 8}
	net := mustNet(t, "3c3p1-ap2-4c3s2p1-6-5", in)
	data := synthetic(in, 5, 6, 1)
	a := NewANN(net, 2)
	w, _ := a.Effective()
	p := newPass(&a.Net)
	idx := []int{0, 1, 2, 3, 4, 5}
	grad := make([][]float32, len(w))
	for i := range w {
		if w[i] != nil {
			grad[i] = make([]float32, len(w[i]))
		}
	}
	p.gradient(data, idx, w, grad, 1)
	rng := rand.New(rand.NewPCG(3, 3))
	const eps = 1e-3
	for i := range w {
		if w[i] == nil {
			continue
		}
		// Perturb each effective weight independently of its
		// neighbours (a binary layer's α is not re-derived here).
		for range 12 {
			j := rng.IntN(len(w[i]))
			orig := w[i][j]
			w[i][j] = orig + eps
			up := lossAt(p, data, w)
			w[i][j] = orig - eps
			down := lossAt(p, data, w)
			w[i][j] = orig
			fd := (up - down) / (2 * eps)
			if got := float64(grad[i][j]); math.Abs(got-fd) > 2e-2*math.Abs(fd)+2e-3 {
				t.Errorf("layer %d weight %d: backward %.6f, finite difference %.6f", i, j, got, fd)
			}
		}
	}
}

// TestSTEGradient checks steGrad on a binary layer: changing a latent weight
// slightly never flips its sign, so finite differences of the loss see only
// α = mean|W|, and must match steGrad minus its straight-through term
// α·1{|W|≤1}·g.
func TestSTEGradient(t *testing.T) {
	in := model.Shape{C: 1, H: 6, W: 6}
	net := mustNet(t, "2c3p1-3c3-7-4", in)
	const bl = 1 // the binary conv
	if !net.Layers[bl].Binary {
		t.Fatal("layer 1 should be binary")
	}
	data := synthetic(in, 4, 5, 4)
	a := NewANN(net, 5)
	// Keep latents away from 0 so that ±eps cannot flip a sign, and put
	// some outside [-1, 1], where the straight-through term must vanish.
	for j, v := range a.Latent[bl] {
		switch {
		case j%7 == 0:
			a.Latent[bl][j] = float32(math.Copysign(1.3, float64(v)))
		case math.Abs(float64(v)) < 0.05:
			a.Latent[bl][j] = float32(math.Copysign(0.05, float64(v)))
		}
	}
	p := newPass(&a.Net)
	w, alpha := a.Effective()
	grad := make([][]float32, len(w))
	for i := range w {
		if w[i] != nil {
			grad[i] = make([]float32, len(w[i]))
		}
	}
	p.gradient(data, []int{0, 1, 2, 3, 4}, w, grad, 1)
	g := slices.Clone(grad[bl])
	steGrad(a.Latent[bl], alpha[bl], grad[bl], net.Layers[bl].FanIn())
	fan := net.Layers[bl].FanIn()
	const eps = 1e-3
	for j := range a.Latent[bl] {
		lat := a.Latent[bl][j]
		straight := float32(0)
		if math.Abs(float64(lat)) <= 1 {
			straight = alpha[bl][j/fan] * g[j]
		}
		lossWith := func(v float32) float64 {
			a.Latent[bl][j] = v
			defer func() { a.Latent[bl][j] = lat }()
			w, _ := a.Effective()
			return lossAt(p, data, w)
		}
		fd := (lossWith(lat+eps) - lossWith(lat-eps)) / (2 * eps)
		got := float64(grad[bl][j] - straight)
		if math.Abs(got-fd) > 2e-2*math.Abs(fd)+2e-3 {
			t.Errorf("latent %d (%.3f): α term %.6f, finite difference %.6f", j, lat, got, fd)
		}
	}
}

// TestTrainMLP trains a small MLP for one epoch on 2000 MNIST images: it
// must learn well beyond chance, with its binary hidden layer.
func TestTrainMLP(t *testing.T) {
	trainSet, testSet := mnist(t, "train", 2000), mnist(t, "test", 1000)
	net := mustNet(t, "784-128-128-10", trainSet.Shape)
	a, err := Train(context.Background(), net, trainSet, Config{Epochs: 1, Batch: 32, LR: 3e-3, Seed: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := a.Accuracy(context.Background(), testSet, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy after 1 epoch on 2000 images: %.2f%%", 100*acc)
	// Measured 84.4% (seed 1); the bar leaves room for other CPUs'
	// float rounding.
	if acc < 0.80 {
		t.Errorf("test accuracy %.2f%%, want >= 80%%", 100*acc)
	}
}

// TestConvertApproachesANN converts a small trained conv net and checks
// that the spiking model, given many timesteps, classifies almost like the
// ANN, and that the model follows the conversion rules.
func TestConvertApproachesANN(t *testing.T) {
	trainSet, testSet := mnist(t, "train", 2000), mnist(t, "test", 300)
	net := mustNet(t, "4c5p2-ap2-8c5p2-ap2-10", trainSet.Shape)
	ctx := context.Background()
	a, err := Train(ctx, net, trainSet, Config{Epochs: 1, Batch: 32, LR: 3e-3, Seed: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ann, err := a.Accuracy(ctx, testSet, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Convert(ctx, a, trainSet.Slice(500), ConvertConfig{Name: "t", Percentile: 99.9, WeightBits: 8, ThresholdScale: 1, Timesteps: 64, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ops := []model.Op{model.OpConv, model.OpSumPool, model.OpConv, model.OpSumPool, model.OpDense}
	bits := []int{8, 0, 1, 0, 8}
	for i, l := range m.Layers {
		if l.Op != ops[i] || l.WeightBits != bits[i] {
			t.Errorf("layer %d: %s with %d-bit weights, want %s with %d", i, l.Op, l.WeightBits, ops[i], bits[i])
		}
		for _, th := range l.Threshold {
			if th < 1 {
				t.Errorf("layer %d threshold %d < 1", i, th)
			}
		}
	}
	// The thresholds follow the formulas of the brief: θ = λ₁·255/Δ_j
	// for the first layer, θ = λ_l·k²/(λ_{l-1}·α_j) for the binary one.
	lambdas, err := a.Lambdas(ctx, trainSet.Slice(500), 99.9, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, alpha := a.Effective()
	for j, th := range m.Layers[0].Threshold {
		delta := maxAbs(a.Latent[0][j*25:(j+1)*25]) / 127
		if want := int64(math.Round(lambdas[0] * 255 / delta)); th != want {
			t.Errorf("conv1 threshold[%d] = %d, want %d", j, th, want)
		}
	}
	for j, th := range m.Layers[2].Threshold {
		if want := max(1, int64(math.Round(lambdas[2]*4/(lambdas[0]*float64(alpha[2][j]))))); th != want {
			t.Errorf("conv3 threshold[%d] = %d, want %d", j, th, want)
		}
	}
	last := m.Layers[len(m.Layers)-1]
	if last.Spiking || slices.Min(last.Scale) != slices.Max(last.Scale) {
		t.Errorf("output layer: spiking %v, scales %v..%v; want non-spiking with one scale", last.Spiking, slices.Min(last.Scale), slices.Max(last.Scale))
	}
	res, err := EvalSNN(ctx, m, testSet, []int{256, 16}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	snn := res.Accuracy(1)
	t.Logf("ANN %.2f%%, SNN T=16 %.2f%%, T=256 %.2f%%", 100*ann, 100*res.Accuracy(0), 100*snn)
	if math.Abs(snn-ann) > 0.02 {
		t.Errorf("SNN at T=256 %.2f%%, ANN %.2f%%: want within 2 points", 100*snn, 100*ann)
	}
}

// TestDeterministicAcrossWorkers trains the same net with 1, 2 and 3
// workers, with a last minibatch shorter than the others, and requires
// identical weights, then identical SNN results.
func TestDeterministicAcrossWorkers(t *testing.T) {
	in := model.Shape{C: 1, H: 12, W: 12}
	data := synthetic(in, 3, 150, 7)
	net := mustNet(t, "4c3p1-ap2-6c3p1-ap2-8-3", in)
	var first *ANN
	for _, workers := range []int{1, 2, 3} {
		a, err := Train(context.Background(), net, data, Config{Epochs: 2, Batch: 64, LR: 1e-2, Seed: 9, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = a
			continue
		}
		for i := range a.Latent {
			if !slices.Equal(a.Latent[i], first.Latent[i]) {
				t.Errorf("workers %d: layer %d weights differ from 1 worker's", workers, i)
			}
		}
	}
	m, err := Convert(context.Background(), first, data, ConvertConfig{Name: "t", Percentile: 99, WeightBits: 6, ThresholdScale: 0.9, Timesteps: 8, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := EvalSNN(context.Background(), m, data, []int{3, 8}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := EvalSNN(context.Background(), m, data, []int{8, 3}, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r1.Correct, r3.Correct) || !slices.Equal(r1.SpikesPerSample, r3.SpikesPerSample) {
		t.Errorf("SNN with 1 worker %v %v, with 3 %v %v", r1.Correct, r1.SpikesPerSample, r3.Correct, r3.SpikesPerSample)
	}
}

func TestTrainCancelled(t *testing.T) {
	in := model.Shape{C: 1, H: 4, W: 4}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Train(ctx, mustNet(t, "4-2", in), synthetic(in, 2, 10, 1), Config{Epochs: 1, Batch: 4, LR: 1e-3, Workers: 1})
	if err == nil {
		t.Fatal("Train with a cancelled context succeeded")
	}
}

func TestPercentile(t *testing.T) {
	v := []float32{5, 1, 4, 2, 3}
	for _, tt := range []struct{ p, want float64 }{{0, 1}, {50, 3}, {100, 5}, {87.5, 4.5}} {
		if got := percentile(slices.Clone(v), tt.p); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestDefaultTimesteps(t *testing.T) {
	r := SNNResult{Samples: 1000, Timesteps: []int{4, 8, 16, 32}, Correct: []int{900, 985, 989, 990}}
	if got := r.DefaultTimesteps(0.003); got != 16 {
		t.Errorf("DefaultTimesteps = %d, want 16 (within 3 of 990)", got)
	}
}

func TestConfigErrors(t *testing.T) {
	in := model.Shape{C: 1, H: 4, W: 4}
	data := synthetic(in, 2, 10, 1)
	ctx := context.Background()
	if _, err := Train(ctx, mustNet(t, "4-3", in), data, Config{Epochs: 1, Batch: 4, LR: 1e-3, Workers: 1}); err == nil {
		t.Error("a net with 3 outputs trained on 2 classes")
	}
	if _, err := Train(ctx, mustNet(t, "4-2", in), data, Config{Epochs: 1, Batch: 4, LR: 0, Workers: 1}); err == nil {
		t.Error("trained with learning rate 0")
	}
	a := NewANN(mustNet(t, "4-4-2", in), 1)
	for _, c := range []ConvertConfig{
		{Percentile: 0, WeightBits: 8, ThresholdScale: 1, Timesteps: 1, Workers: 1},
		{Percentile: 99, WeightBits: 9, ThresholdScale: 1, Timesteps: 1, Workers: 1},
		{Percentile: 99, WeightBits: 8, ThresholdScale: 0, Timesteps: 1, Workers: 1},
	} {
		if _, err := Convert(ctx, a, data, c); err == nil {
			t.Errorf("Convert(%+v) succeeded", c)
		}
	}
}

// BenchmarkTrainStep times one minibatch of 64 MNIST-sized images through
// the conv preset, forward, backward and update.
