package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// TestSurrogateGradient checks the backward pass against central
// differences of the loss with the spike replaced by a smooth sigmoid
// (where the surrogate derivative is the true one), through batch norm,
// pooling, reset by subtraction and several timesteps.
func TestSurrogateGradient(t *testing.T) {
	in := model.Shape{C: 2, H: 6, W: 6}
	net, err := ParseNet("3c3p1-ap2-4c3-5-3", in)
	if err != nil {
		t.Fatal(err)
	}
	for _, T := range []int{1, 3} {
		cfg := SurrogateConfig{Timesteps: T, Seed: 3}
		cfg.defaults()
		s := newSurrogateNet(net, cfg)
		s.Net.Layers[2].Binary = true // a binary hidden layer: gradient w.r.t. its effective weights
		rng := rand.New(rand.NewPCG(5, 5))
		for i := range s.Gamma {
			for c := range s.Gamma[i] {
				s.Gamma[i][c] = float32(0.5 + rng.Float64())
				s.Beta[i][c] = float32(rng.NormFloat64() * 0.5)
			}
		}
		for c := range s.Bias {
			s.Bias[c] = float32(rng.NormFloat64() * 0.1)
		}
		data := synthetic(in, 3, 5, 9)
		idx := []int{0, 1, 2, 3, 4}
		p := newSPass(&s.Net, T, 2, false)
		p.smooth = true
		sp := s.params(true)
		loss := func() float64 {
			p.load(data, idx, sp)
			p.forward(sp, len(idx))
			l, _ := p.softmaxLoss(data.Labels, 1)
			return l
		}
		loss()
		g := newSGrads(s)
		p.backward(sp, g, len(idx))
		check := func(name string, x []float32, grad []float32, j int) {
			t.Helper()
			const h = 1e-2
			old := x[j]
			x[j] = old + h
			lp := loss()
			x[j] = old - h
			lm := loss()
			x[j] = old
			num := (lp - lm) / (2 * h)
			if diff := math.Abs(num - float64(grad[j])); diff > 2e-2*math.Max(1e-2, math.Abs(num)) && diff > 2e-3 {
				t.Errorf("T=%d %s[%d]: backward %.5g, central difference %.5g", T, name, j, grad[j], num)
			}
		}
		for _, i := range []int{0, 2, 3, 4} {
			for j := 0; j < len(sp.w[i]); j += 7 {
				check("w"+string(rune('0'+i)), sp.w[i], g.w[i], j)
			}
		}
		for _, i := range []int{0, 2, 3} {
			for c := range s.Gamma[i] {
				check("gamma"+string(rune('0'+i)), s.Gamma[i], g.gamma[i], c)
				check("beta"+string(rune('0'+i)), s.Beta[i], g.beta[i], c)
			}
		}
		for c := range s.Bias {
			check("bias", s.Bias, g.bias, c)
		}
	}
}

// quickSurrogate trains net on data for a few hundred samples' worth of
// steps and returns it with its integer model.
func quickSurrogate(t *testing.T, net Net, data, val *dataset.Set, cfg SurrogateConfig) (*SurrogateNet, *model.Model) {
	t.Helper()
	s, err := TrainSurrogate(context.Background(), net, data, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Model("t")
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// TestSurrogateLearnsT1 trains a small conv net at one timestep on 2000
// MNIST images (126 steps) with the accuracy-loss estimator, and checks
// the integer model's test accuracy through the reference SNN and the
// estimator's bookkeeping.
func TestSurrogateLearnsT1(t *testing.T) {
	trainSet, testSet := mnist(t, "train", 2000), mnist(t, "test", 500)
	net := mustNet(t, "8c3p1-ap2-16c3p1-ap2-10", trainSet.Shape)
	s, m := quickSurrogate(t, net, trainSet, trainSet.Slice(500), SurrogateConfig{Timesteps: 1, Epochs: 2, Batch: 32, LR: 5e-3, Seed: 1, Workers: 2, BinarizeTolerance: 0.02})
	res, err := EvalSNN(context.Background(), m, testSet, []int{m.Timesteps}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	float, err := s.Accuracy(context.Background(), testSet, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("T=1: real-valued %.2f%%, integer model %.2f%%, binary %v, storage %d of %d bits, spikes %v",
		100*float, 100*res.Accuracy(0), m.Provenance["binary_layers"], s.Report.WeightBits, s.Report.FullPrecisionBits, res.SpikesPerSample)
	if res.Accuracy(0) < 0.85 {
		t.Errorf("integer model test accuracy %.2f%%, want >= 85%%", 100*res.Accuracy(0))
	}
	if math.Abs(res.Accuracy(0)-float) > 0.02 {
		t.Errorf("integer model %.2f%% vs real-valued net %.2f%%: want within 2 points", 100*res.Accuracy(0), 100*float)
	}
	if len(s.Report.Layers) != 3 {
		t.Fatalf("estimator reported %d layers, want 3", len(s.Report.Layers))
	}
	var bits int64
	for _, e := range s.Report.Layers {
		ml := &m.Layers[e.Layer]
		if e.Binary != (ml.WeightBits == 1) || e.Binary != s.Net.Layers[e.Layer].Binary || e.Binary && e.Drop > 0.02 {
			t.Errorf("layer %d: estimate %+v, model weight bits %d", e.Layer, e, ml.WeightBits)
		}
		bits += int64(len(ml.Weights) * ml.WeightBits)
	}
	if bits != s.Report.WeightBits || s.Report.FullPrecisionBits != int64(8*(72+1152+784*10)) {
		t.Errorf("storage %d of %d bits, model holds %d", s.Report.WeightBits, s.Report.FullPrecisionBits, bits)
	}
}

// TestSurrogateLearnsFrames trains on frame-coded input at T=3 (BPTT over
// the frames): MNIST images cut into three frames of horizontal bands, so
// that no single frame shows the whole digit.
func TestSurrogateLearnsFrames(t *testing.T) {
	src, srcTest := mnist(t, "train", 1500), mnist(t, "test", 300)
	frames := func(s *dataset.Set) *dataset.Set {
		const T = 3
		out := &dataset.Set{Name: "bands", Shape: model.Shape{C: T, H: 28, W: 28}, Classes: s.Classes, Labels: s.Labels,
			Images: make([]uint8, s.Len()*T*784)}
		for i := 0; i < s.Len(); i++ {
			img := s.Image(i)
			for p, v := range img {
				f := min(p/28/10, T-1) // rows 0-9, 10-19, 20-27
				out.Images[(i*T+f)*784+p] = v >> 4
			}
		}
		return out
	}
	data, test := frames(src), frames(srcTest)
	net := mustNet(t, "8c3s2p1-16c3p1-ap2-10", model.Shape{C: 1, H: 28, W: 28})
	s, m := quickSurrogate(t, net, data, nil, SurrogateConfig{Timesteps: 3, Coding: model.CodingFrames, InputBits: 4, FrameUS: 1000,
		Epochs: 2, Batch: 32, LR: 5e-3, Seed: 2, Workers: 2, BinarizeTolerance: -1})
	res, err := EvalSNN(context.Background(), m, test, []int{m.Timesteps}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	float, _ := s.Accuracy(context.Background(), test, 2)
	t.Logf("T=3 frames: real-valued %.2f%%, integer model %.2f%%, spikes %v", 100*float, 100*res.Accuracy(0), res.SpikesPerSample)
	if res.Accuracy(0) < 0.75 {
		t.Errorf("integer model test accuracy %.2f%%, want >= 75%%", 100*res.Accuracy(0))
	}
	if m.Input.Coding != model.CodingFrames || m.Input.FrameUS != 1000 || m.Timesteps != 3 || m.Provenance["binary_layers"] != "none" {
		t.Errorf("model input %+v, timesteps %d, binary %q", m.Input, m.Timesteps, m.Provenance["binary_layers"])
	}
}

// TestSurrogateFolding checks the integer mapping: the trainer's forward
// pass run with the model's integer weights, biases and thresholds fires
// exactly the reference SNN's spikes, layer by layer and timestep by
// timestep; and the real-valued net (before rounding) fires almost the
// same spikes. At T = 1 the only differences come from quantising the
// full-precision layers' weights to 8 bits (the folded θ and bias are exact
// there); over more timesteps the rounding of θ and bias to integers adds
// a few, far fewer with the binary layers' sums shifted (binaryShift)
// than in units of one synapse: the same net exported without the shift
// must differ from the real-valued one on more neuron-steps and agree
// with its class on no more samples.
func TestSurrogateFolding(t *testing.T) {
	data := mnist(t, "train", 400)
	for _, T := range []int{1, 4} {
		net := mustNet(t, "6c3p1-ap2-8c3p1-ap2-12c3p1-gap-12-10", data.Shape)
		s, m := quickSurrogate(t, net, data, nil, SurrogateConfig{Timesteps: T, Epochs: 2, Batch: 16, LR: 1e-2, Seed: 4, Workers: 1, BinarizeTolerance: 1})
		if got := m.Provenance["binary_layers"]; got != "conv1 conv3 conv5 dense7 dense8" {
			t.Fatalf("T=%d: binary layers %q, want all (tolerance 1)", T, got)
		}
		want := 0
		if T > 1 {
			want = binaryShift
		}
		for _, l := range m.Layers {
			if l.HasWeights() && l.SumShift != want {
				t.Fatalf("T=%d: layer %s has sum shift %d, want %d", T, l.Name, l.SumShift, want)
			}
		}
		diffFloat, steps, agree := foldingCompare(t, s, m, data)
		t.Logf("T=%d: real-valued net differs on %d of %d neuron-steps; same class on %d of %d samples", T, diffFloat, steps, agree, data.Len())
		if limit := steps / 50; diffFloat > limit {
			t.Errorf("T=%d: real-valued net differs from the integer model on %d of %d neuron-steps, want <= %d", T, diffFloat, steps, limit)
		}
		if T == 1 {
			continue
		}
		m0, err := s.model("t", 0)
		if err != nil {
			t.Fatal(err)
		}
		diff0, _, agree0 := foldingCompare(t, s, m0, data)
		t.Logf("T=%d, sums not shifted: real-valued net differs on %d neuron-steps; same class on %d samples", T, diff0, agree0)
		if diffFloat >= diff0 || agree < agree0 {
			t.Errorf("T=%d: with the sum shift the integer model differs from the real-valued net on %d neuron-steps and agrees on %d classes, without it on %d and %d",
				T, diffFloat, agree, diff0, agree0)
		}
	}
}

// foldingCompare runs every sample of data through the reference SNN of m,
// fails unless the trainer's forward pass with m's integers (integerParams)
// gives its spikes and output potentials exactly, and counts the
// neuron-steps on which the real-valued net's spikes differ and the
// samples on which its class is the SNN's.
func foldingCompare(t *testing.T, s *SurrogateNet, m *model.Model, data *dataset.Set) (diffFloat, steps, agree int) {
	t.Helper()
	T := m.Timesteps
	isp := s.integerParams(m)
	fsp := s.params(false)
	pi := newSPass(&s.Net, T, 4, false)
	pf := newSPass(&s.Net, T, 4, false)
	r := snn.NewRunner(m)
	for i := 0; i < data.Len(); i++ {
		pi.load(data, []int{i}, isp)
		pi.forward(isp, 1)
		pf.load(data, []int{i}, fsp)
		pf.forward(fsp, 1)
		res := r.Run(data.Image(i), T, model.Hooks{Spikes: func(l, step int, v bitvec.Vec) {
			size := m.Layers[l].Out.Size()
			for j := 0; j < size; j++ {
				want := v.Get(j)
				if got := pi.act[l+1][step*size+j] == 1; got != want {
					t.Fatalf("T=%d sample %d layer %d step %d neuron %d: trainer (integer) %v, SNN %v", T, i, l, step, j, got, want)
				}
				if got := pf.act[l+1][step*size+j] == 1; got != want {
					diffFloat++
				}
				steps++
			}
		}})
		logits := pi.act[len(s.Net.Layers)][:10]
		for c, v := range res.Potentials {
			if float32(v) != logits[c] {
				t.Fatalf("T=%d sample %d: output %d potential %d, trainer %v", T, i, c, v, logits[c])
			}
		}
		best := 0
		for c, v := range pf.act[len(s.Net.Layers)][:10] {
			if v > pf.act[len(s.Net.Layers)][best] {
				best = c
			}
		}
		if best == res.Class {
			agree++
		}
	}
	return diffFloat, steps, agree
}

// TestSurrogateDeterministic trains with 1, 2 and 3 workers (augmentation,
// the estimator with and without a probe and a short last minibatch
// included; with the straight-through estimator, and with binary weight
// optimisation from epoch 4) and requires identical parameters.
func TestSurrogateDeterministic(t *testing.T) {
	in := model.Shape{C: 1, H: 8, W: 8}
	data := synthetic(in, 3, 90, 5)
	net := mustNet(t, "4c3p1-ap2-6c3p1-gap-3", in)
	for _, cfg := range []SurrogateConfig{
		{Timesteps: 2, Epochs: 2, Batch: 40, LR: 1e-2, Seed: 6, BinarizeTolerance: 0.05, Shift: 1},
		{Timesteps: 1, Epochs: 3, Batch: 40, LR: 1e-2, Seed: 6, BinarizeTolerance: 0.05, Shift: 1, EstimatorProbe: 2},
		{Timesteps: 2, Epochs: 4, Batch: 40, LR: 1e-2, Seed: 6, BinarizeTolerance: 1, Shift: 1, WeightUpdate: WeightBWO, BWOPlateau: 1},
	} {
		deterministicSurrogate(t, net, data, cfg)
	}
}

func deterministicSurrogate(t *testing.T, net Net, data *dataset.Set, cfg SurrogateConfig) {
	t.Helper()
	var first *SurrogateNet
	for _, workers := range []int{1, 2, 3} {
		cfg.Workers = workers
		s, err := TrainSurrogate(context.Background(), net, data, data.Slice(40), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.WeightUpdate == WeightBWO && s.Report.BWOEpoch != 4 {
			t.Fatalf("workers %d: BWO from epoch %d, want 4", workers, s.Report.BWOEpoch)
		}
		if first == nil {
			first = s
			continue
		}
		for i := range s.Latent {
			for _, pair := range [][2][]float32{{s.Latent[i], first.Latent[i]}, {s.Gamma[i], first.Gamma[i]}, {s.Beta[i], first.Beta[i]},
				{s.Mean[i], first.Mean[i]}, {s.Var[i], first.Var[i]}} {
				if !slices.Equal(pair[0], pair[1]) {
					t.Errorf("workers %d: layer %d parameters differ from 1 worker's", workers, i)
				}
			}
			if s.Net.Layers[i].Binary != first.Net.Layers[i].Binary {
				t.Errorf("workers %d: layer %d binary %v, 1 worker %v", workers, i, s.Net.Layers[i].Binary, first.Net.Layers[i].Binary)
			}
		}
		if !slices.Equal(s.Bias, first.Bias) || s.Report.ValAccuracy != first.Report.ValAccuracy || !slices.Equal(s.Report.EpochLoss, first.Report.EpochLoss) {
			t.Errorf("workers %d: output bias or validation accuracy differ", workers)
		}
	}
}

func TestSurrogateConfigErrors(t *testing.T) {
	in := model.Shape{C: 1, H: 4, W: 4}
	net := mustNet(t, "4-2", in)
	data := synthetic(in, 2, 8, 1)
	ok := SurrogateConfig{Timesteps: 1, Epochs: 2, Batch: 4, LR: 1e-3, Workers: 1}
	for _, tt := range []struct {
		mod  func(*SurrogateConfig)
		want string
	}{
		{func(c *SurrogateConfig) { c.Timesteps = 0 }, "timesteps 0"},
		{func(c *SurrogateConfig) { c.Epochs = 1 }, "estimator epochs 1 must be below epochs 1"},
		{func(c *SurrogateConfig) { c.WeightBits = 9 }, "weight bits 9"},
		{func(c *SurrogateConfig) { c.Coding = model.CodingTTFS }, "input coding"},
		{func(c *SurrogateConfig) { c.Coding = model.CodingFrames; c.Timesteps = 3 }, "expects 3x4x4"},
		{func(c *SurrogateConfig) { c.LR = math.NaN() }, "learning rate"},
		{func(c *SurrogateConfig) { c.WeightUpdate = "sgd" }, `weight update "sgd"`},
		{func(c *SurrogateConfig) { c.WeightUpdate, c.BinarizeTolerance = WeightBWO, -1 }, "bwo needs binary layers"},
		{func(c *SurrogateConfig) { c.BWOPlateau = math.Inf(1) }, "bwo plateau"},
		{func(c *SurrogateConfig) { c.EstimatorProbe = -1 }, "estimator probe -1 minibatches"},
	} {
		cfg := ok
		tt.mod(&cfg)
		_, err := TrainSurrogate(context.Background(), net, data, nil, cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want one containing %q", err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TrainSurrogate(ctx, net, data, nil, ok); err == nil {
		t.Error("TrainSurrogate with a cancelled context succeeded")
	}
}

// integerParams returns forward parameters that make a spass compute the
// integer model m exactly (every value an integer below 2^24 held in a
// float32): integer weights and inputs, u = 2^k·Z + bias for a layer's
// SumShift k, thresholds θ, and the output summed over timesteps (times
// 2^k) plus T times its bias.
func (s *SurrogateNet) integerParams(m *model.Model) *sparams {
	L := len(s.Net.Layers)
	sp := &sparams{w: make([][]float32, L), scale: make([][]float32, L), shift: make([][]float32, L), thr: make([][]float32, L),
		lastScale: float32(math.Ldexp(1, m.Layers[L-1].SumShift)), unit: 1, frames: m.Input.Coding == model.CodingFrames, sumPool: true}
	for i := range m.Layers {
		ml := &m.Layers[i]
		if !ml.HasWeights() {
			continue
		}
		sp.w[i] = make([]float32, len(ml.Weights))
		for j, v := range ml.Weights {
			sp.w[i][j] = float32(v)
		}
		if i == L-1 {
			sp.bias = make([]float32, len(ml.Bias))
			for j, b := range ml.Bias {
				sp.bias[j] = float32(b * int64(s.Config.Timesteps))
			}
			continue
		}
		// Thresholds and biases are per output channel (conv) or per
		// neuron (dense, whose Out.C is its neuron count): one per C.
		n := ml.Outputs()
		sp.scale[i], sp.shift[i], sp.thr[i] = make([]float32, n), make([]float32, n), make([]float32, n)
		for o := 0; o < n; o++ {
			sp.scale[i][o] = float32(math.Ldexp(1, ml.SumShift))
			sp.shift[i][o] = float32(ml.Bias[o])
			sp.thr[i][o] = float32(ml.Threshold[o])
		}
	}
	return sp
}

// mnistSplit is the 1000 MNIST images that every checkout has, cut into
// 700 to train on and 300 to validate on.
func mnistSplit(t *testing.T) (trainSet, val *dataset.Set) {
	data := mnist(t, "test", 1000)
	return data.Slice(700), &dataset.Set{Name: "val", Shape: data.Shape, Classes: data.Classes,
		Images: data.Images[700*data.Shape.Size():], Labels: data.Labels[700:]}
}

// TestSurrogateBWO trains a small conv net on 700 MNIST images with every
// layer binary and binary weight optimisation from the earliest bottleneck
// (--bwo-plateau 1): the trigger fires after epoch 3, the training loss
// keeps falling under BWO, the binary layers' full-precision weights then
// sit on their binary values (relative error far below STE's), and the
// model classifies held-out images well above chance.
func TestSurrogateBWO(t *testing.T) {
	trainSet, val := mnistSplit(t)
	net := mustNet(t, "8c3p1-ap2-16c3p1-ap2-10", trainSet.Shape)
	cfg := SurrogateConfig{Timesteps: 1, Epochs: 5, Batch: 32, LR: 5e-3, Seed: 1, Workers: 2, BinarizeTolerance: 1}
	ste, _ := quickSurrogate(t, net, trainSet, val, cfg)
	cfg.WeightUpdate, cfg.BWOPlateau = WeightBWO, 1
	var logged []string
	cfg.Log = func(s string) { logged = append(logged, s) }
	bwo, _ := quickSurrogate(t, net, trainSet, val, cfg)
	loss := bwo.Report.EpochLoss
	t.Logf("losses STE %.4f, BWO %.4f; validation accuracy STE %.2f%%, BWO %.2f%%", ste.Report.EpochLoss, loss,
		100*ste.Report.ValAccuracy, 100*bwo.Report.ValAccuracy)
	if bwo.Report.BWOEpoch != 4 || ste.Report.BWOEpoch != 0 {
		t.Fatalf("BWO from epoch %d (STE run: %d), want 4 (0)", bwo.Report.BWOEpoch, ste.Report.BWOEpoch)
	}
	if !strings.Contains(strings.Join(logged, "\n"), "binary weight optimisation from epoch 4") {
		t.Errorf("log %q does not announce the bottleneck", logged)
	}
	if !slices.Equal(loss[:3], ste.Report.EpochLoss[:3]) {
		t.Errorf("epochs before BWO differ from the STE run's: %v vs %v", loss[:3], ste.Report.EpochLoss[:3])
	}
	if !(loss[4] < loss[3] && loss[3] < loss[2]) {
		t.Errorf("training loss per epoch %v: want it falling under BWO (epochs 4 and 5)", loss)
	}
	for _, e := range bwo.Report.Layers {
		if !e.Binary {
			t.Fatalf("layer %d not binary at tolerance 1", e.Layer)
		}
		if got, was := bwo.binarizeError(e.Layer), ste.binarizeError(e.Layer); got > 0.1 || got > was/3 {
			t.Errorf("layer %d: weight error after BWO %.3f (STE %.3f), want the full-precision weights on the binary ones", e.Layer, got, was)
		}
	}
	if bwo.Report.ValAccuracy < 0.7 {
		t.Errorf("validation accuracy after BWO %.2f%%, want >= 70%%", 100*bwo.Report.ValAccuracy)
	}
}

// TestSurrogateBWOResume stops a BWO run (estimator with a probe) after
// the epoch whose bottleneck started BWO and resumes it (with another worker count): the result is the
// uninterrupted run's, bit for bit.
func TestSurrogateBWOResume(t *testing.T) {
	in := model.Shape{C: 1, H: 8, W: 8}
	data := synthetic(in, 3, 60, 7)
	run := func(ctx context.Context, ck Checkpoint, workers int, progress func(Progress)) (string, error) {
		s, err := TrainSurrogate(ctx, mustNet(t, "4c3p1-ap2-6c3p1-gap-3", in), data, data.Slice(30), SurrogateConfig{Timesteps: 2,
			Epochs: 5, Batch: 16, LR: 5e-3, Seed: 3, Workers: workers, BinarizeTolerance: 1, EstimatorProbe: 2, WeightUpdate: WeightBWO, BWOPlateau: 1,
			Checkpoint: ck, Progress: progress})
		if err != nil {
			return "", err
		}
		return fmt.Sprint(s.Latent, s.Gamma, s.Beta, s.Mean, s.Var, s.Bias, s.Report.BWOEpoch, s.Report.EpochLoss, s.Report.ValAccuracy), nil
	}
	want, err := run(context.Background(), Checkpoint{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ck")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := run(ctx, Checkpoint{Dir: dir}, 1, func(p Progress) {
		if p.Epoch == 3 && p.Step == p.Steps {
			cancel()
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: error %v, want context.Canceled", err)
	}
	got, err := run(context.Background(), Checkpoint{Dir: dir, Resume: true}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || !strings.Contains(want, "] 4 [") {
		t.Errorf("resumed BWO run differs from the uninterrupted one (or BWO did not start at epoch 4):\n%s\n%s", got, want)
	}
}

// TestSurrogateEstimatorRule runs the accuracy-loss estimator at nmsim
// train's default tolerance (0.01), without a probe (with one, on 300
// validation samples every drop here is 4 points or more), on a small
// MNIST case, after epochs 1 and 2 of 3: it binarizes some layer but not
// all, by the documented rule (each drop, and the sum of those binarized
// after the same epoch, within the tolerance), with the standard errors of
// a paired difference; a layer left full precision was estimated again
// after epoch 2.
func TestSurrogateEstimatorRule(t *testing.T) {
	trainSet, val := mnistSplit(t)
	net := mustNet(t, "8c3p1-ap2-16c3p1-ap2-32c3p1-gap-10", trainSet.Shape)
	s, _ := quickSurrogate(t, net, trainSet, val, SurrogateConfig{Timesteps: 1, Epochs: 3, Batch: 32, LR: 5e-3, Seed: 1, Workers: 2,
		BinarizeTolerance: 0.01})
	binary := 0
	spent := map[int]float64{} // epoch → sum of the drops binarized after it
	for _, e := range s.Report.Layers {
		t.Logf("layer %d: drop %.2f ± %.2f points after epoch %d, binary %v", e.Layer, 100*e.Drop, 100*e.StdErr, e.Epoch, e.Binary)
		if !e.Binary && e.Epoch != 2 || e.Epoch < 1 || e.Epoch > 2 {
			t.Errorf("layer %d (binary %v) last estimated after epoch %d", e.Layer, e.Binary, e.Epoch)
		}
		if e.Binary && e.Drop > 0.01 || e.Binary != s.Net.Layers[e.Layer].Binary {
			t.Errorf("layer %d: %+v breaks the rule", e.Layer, e)
		}
		if e.Binary {
			if spent[e.Epoch] += max(0, e.Drop); spent[e.Epoch] > 0.01 {
				t.Errorf("layers binarized after epoch %d cost %.2f points together, over the tolerance", e.Epoch, 100*spent[e.Epoch])
			}
		}
		if e.Drop != 0 && !(e.StdErr > 0 && e.StdErr <= 1/math.Sqrt(300)) {
			t.Errorf("layer %d: drop %v with standard error %v", e.Layer, e.Drop, e.StdErr)
		}
		if e.Binary {
			binary++
		}
	}
	if binary == 0 || binary == len(s.Report.Layers) {
		t.Errorf("%d of %d layers binary at the default tolerance, want some but not all", binary, len(s.Report.Layers))
	}
}

// TestSurrogateEstimatorProbe runs the estimator with a probe whose
// training moves every weight: each candidate (every weight layer but the
// first) is trained from the saved state with only itself binarized (its
// latent weights clipped), the net as it is once more, and afterwards the
// state is the saved one except for the layers chosen, whose latent
// weights are clipped.
func TestSurrogateEstimatorProbe(t *testing.T) {
	in := model.Shape{C: 1, H: 8, W: 8}
	data := synthetic(in, 3, 60, 8)
	s := newSurrogateNet(mustNet(t, "4c3p1-ap2-6c3p1-gap-3", in), SurrogateConfig{Timesteps: 1, Slope: 4, BinarizeTolerance: 1})
	for i := range s.Latent {
		for j := range s.Latent[i] {
			s.Latent[i][j] *= 3 // some beyond ±1, so that clipping shows
		}
	}
	state := slices.Concat(s.Latent, s.Gamma, s.Beta, s.Mean, s.Var, [][]float32{s.Bias})
	before := fmt.Sprint(state)
	var trained []string
	probe := newSurrogateProbe(state, 7, func(epoch int) {
		var binary []int
		for i := range s.Net.Layers {
			if s.Net.Layers[i].Binary {
				binary = append(binary, i)
				if w := s.Latent[i]; slices.Max(w) > 1 || slices.Min(w) < -1 {
					t.Errorf("probe of layer %d: latent weights not clipped", i)
				}
			}
		}
		if got := fmt.Sprint(state); got != before && len(binary) == 0 {
			t.Errorf("probe of the net as it is: state not the saved one")
		}
		trained = append(trained, fmt.Sprint(epoch, binary))
		for _, w := range state {
			for j := range w {
				w[j] += 0.25
			}
		}
	})
	if err := s.estimate(context.Background(), data, 2, 3, probe); err != nil {
		t.Fatal(err)
	}
	if want := "[3 [] 3 [2] 3 [4]]"; fmt.Sprint(trained) != want {
		t.Errorf("probes trained %v, want %s (epoch, binary layers)", trained, want)
	}
	for k, e := range s.Report.Layers {
		if e.Binary != (k > 0) || e.Binary != s.Net.Layers[e.Layer].Binary {
			t.Errorf("layer %d binary %v at tolerance 1; with a probe all but the first weight layer should be", e.Layer, e.Binary)
		}
	}
	orig := newSurrogateNet(mustNet(t, "4c3p1-ap2-6c3p1-gap-3", in), SurrogateConfig{Timesteps: 1, Slope: 4})
	for i := range orig.Latent {
		for j := range orig.Latent[i] {
			if orig.Latent[i][j] *= 3; i > 0 {
				orig.Latent[i][j] = max(-1, min(1, orig.Latent[i][j]))
			}
		}
	}
	if got, want := fmt.Sprint(state), fmt.Sprint(slices.Concat(orig.Latent, orig.Gamma, orig.Beta, orig.Mean, orig.Var, [][]float32{orig.Bias})); got != want {
		t.Errorf("state after the estimate is not the saved one with the chosen layers clipped")
	}
	if got := probe.String(); got != " after 7 probe minibatches" {
		t.Errorf("probe named %q", got)
	}
}
