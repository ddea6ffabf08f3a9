package train

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// floatCrossing runs one neuron with real weights w over inputs that fire
// at times at (−1: never) against threshold theta and returns its crossing
// step and interpolated spike time, or step −1 if it never fires.
func floatCrossing(w []float64, at []int, theta float64, window int) (int, float64) {
	var v float64
	for t := 0; t < window; t++ {
		prev := v
		for i, ti := range at {
			if ti == t {
				v += w[i]
			}
		}
		if v >= theta {
			return t, float64(t) - 1 + (theta-prev)/(v-prev)
		}
	}
	return -1, 0
}

// TestTTFSInterpolatedGradient checks ∂t*/∂w and ∂t*/∂θ of the interpolated
// spike time, as crossTime and addTimeGrad compute them, against central
// finite differences of a real-valued neuron whose input times are fixed,
// wherever a small change of w or θ leaves the crossing step alone.
func TestTTFSInterpolatedGradient(t *testing.T) {
	const window, fan, eps = 16, 12, 1e-6
	rng := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for trial := 0; trial < 200; trial++ {
		w := make([]float64, fan)
		at := make([]int, fan)
		for i := range w {
			w[i] = rng.Float64()*2 - 0.5
			at[i] = rng.IntN(window+4) - 4 // some never fire
			if at[i] < 0 {
				at[i] = -1
			}
		}
		theta := 0.5 + 2*rng.Float64()
		step, tStar := floatCrossing(w, at, theta, window)
		if step < 0 {
			continue
		}
		// The analytic side, with the trainer's helpers.
		var in spikeList
		for ti := 0; ti < window; ti++ {
			for i, a := range at {
				if a == ti {
					in.idx = append(in.idx, int32(i))
					in.t = append(in.t, int32(ti))
				}
			}
		}
		var vAt, cur float64
		for i, a := range at {
			if a >= 0 && a <= step {
				vAt += w[i]
			}
			if a == step {
				cur += w[i]
			}
		}
		got, slope, frac := crossTime(int32(step), vAt, cur, theta)
		if math.Abs(got-tStar) > 1e-12 {
			t.Fatalf("trial %d: crossTime %v, forward %v", trial, got, tStar)
		}
		grad := make([]float32, fan)
		addTimeGrad(grad, in, int32(step), -slope, frac)
		for i := range w {
			orig := w[i]
			w[i] = orig + eps
			sp, tp := floatCrossing(w, at, theta, window)
			w[i] = orig - eps
			sm, tm := floatCrossing(w, at, theta, window)
			w[i] = orig
			if sp != step || sm != step {
				continue
			}
			fd := (tp - tm) / (2 * eps)
			if math.Abs(fd-float64(grad[i])) > 1e-4*max(1, math.Abs(fd)) {
				t.Errorf("trial %d: ∂t*/∂w[%d] = %v, finite difference %v (input at %d, crossing %d)", trial, i, grad[i], fd, at[i], step)
			}
			checked++
		}
		sp, tp := floatCrossing(w, at, theta+eps, window)
		sm, tm := floatCrossing(w, at, theta-eps, window)
		if sp == step && sm == step {
			if fd := (tp - tm) / (2 * eps); math.Abs(fd-slope) > 1e-4*max(1, math.Abs(fd)) {
				t.Errorf("trial %d: ∂t*/∂θ = %v, finite difference %v", trial, slope, fd)
			}
			checked++
		}
	}
	if checked < 500 {
		t.Fatalf("only %d derivatives checked", checked)
	}
}

// ttfsTiny trains a small TTFS net on the first 2000 MNIST training images.
func ttfsTiny(t *testing.T) (*TTFSNet, *dataset.Set) {
	t.Helper()
	trainSet := mnist(t, "train", 2000)
	cfg := DefaultTTFSConfig()
	cfg.Window, cfg.Epochs, cfg.Batch, cfg.LR, cfg.ThresholdLR, cfg.Workers = 64, 8, 32, 3e-2, 0, 2
	n, err := TrainTTFS(context.Background(), mustNet(t, "784-64-10", trainSet.Shape), trainSet, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, mnist(t, "test", 1000)
}

// TestTTFSLearnsAndMatchesSNN trains a small net, checks that it is well
// above chance, and that its integer model run through the reference SNN
// decides the same class, at the same step, with the same spikes, on every
// test image.
func TestTTFSLearnsAndMatchesSNN(t *testing.T) {
	n, test := ttfsTiny(t)
	ctx := context.Background()
	mine, err := n.Evaluate(ctx, test, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.3f, decision after %.1f steps, %.1f hidden spikes per image", mine.Accuracy(), mine.Decision, mine.SpikesPerSample[0])
	if acc := mine.Accuracy(); acc < 0.7 {
		t.Errorf("test accuracy %.3f after training, want >= 0.7", acc)
	}
	checkTTFSMatchesSNN(t, n, test, mine)
	if mine.Decision >= 64 || mine.SpikesPerSample[0] == 0 {
		t.Errorf("decision after %.1f steps, %.1f hidden spikes per image", mine.Decision, mine.SpikesPerSample[0])
	}
}

// checkTTFSMatchesSNN checks n's integer model: its thresholds and scales
// are every neuron's ⌈θ⌉ and 1/θ, and the reference SNN decides the same
// class, at the same step, with the same spikes, as the trainer (mine) on
// every sample of test.
func checkTTFSMatchesSNN(t *testing.T, n *TTFSNet, test *dataset.Set, mine TTFSEval) {
	t.Helper()
	ctx := context.Background()
	m, err := n.Model("tiny-ttfs")
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Coding != model.CodingTTFS || m.Readout != model.ReadoutFirstSpike || m.Timesteps != n.Window || m.Input.Window != n.Window {
		t.Fatalf("model input %+v, readout %q, timesteps %d", m.Input, m.Readout, m.Timesteps)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if !l.FireOnce || l.WeightBits != 1 {
			t.Errorf("layer %s: fire-once %v, %d-bit weights", l.Name, l.FireOnce, l.WeightBits)
		}
		for o, th := range n.Threshold[i] {
			if want := int64(math.Ceil(th)); l.Threshold[o] != want || l.Scale[o] != 1/th {
				t.Fatalf("layer %s neuron %d: threshold %d, scale %v; want %d, %v", l.Name, o, l.Threshold[o], l.Scale[o], want, 1/th)
			}
		}
	}
	r := snn.NewRunner(m)
	for i := 0; i < test.Len(); i++ {
		res := r.Run(test.Image(i), m.Timesteps, model.Hooks{})
		if int32(res.Class) != mine.Classes[i] {
			t.Fatalf("image %d: SNN class %d, trainer %d", i, res.Class, mine.Classes[i])
		}
	}
	ref, err := EvaluateSNN(ctx, m, test, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ref.Classes, mine.Classes) || ref.Correct != mine.Correct || ref.Decision != mine.Decision ||
		ref.Undecided != mine.Undecided || !slices.Equal(ref.SpikesPerSample, mine.SpikesPerSample) {
		t.Errorf("reference SNN %+v\ntrainer %+v", ref, mine)
	}
}

// TestTTFSDeterministicAcrossWorkers: the same seed gives the same weights
// and thresholds for any worker count, with the thresholds learnt (per
// layer with the interpolated rule, per neuron with weight decay) to
// cover every path. The per-neuron thresholds differ within a layer, and
// the integer model carries them.
func TestTTFSDeterministicAcrossWorkers(t *testing.T) {
	data := mnist(t, "train", 300)
	net := mustNet(t, "784-24-10", data.Shape)
	for _, perNeuron := range []bool{false, true} {
		var nets []*TTFSNet
		for _, workers := range []int{1, 3} {
			cfg := DefaultTTFSConfig()
			cfg.Window, cfg.Epochs, cfg.Batch, cfg.LR, cfg.ThresholdLR, cfg.Workers = 32, 2, 40, 1e-2, 1e-2, workers
			cfg.Interpolate = !perNeuron
			cfg.NeuronThresholds = perNeuron
			if perNeuron {
				cfg.WeightDecay = 1
			}
			n, err := TrainTTFS(context.Background(), net, data, cfg)
			if err != nil {
				t.Fatal(err)
			}
			nets = append(nets, n)
		}
		for i := range nets[0].Latent {
			if !slices.Equal(nets[0].Latent[i], nets[1].Latent[i]) {
				t.Errorf("per neuron %v, layer %d: weights differ between 1 and 3 workers", perNeuron, i)
			}
		}
		if !slices.EqualFunc(nets[0].Threshold, nets[1].Threshold, slices.Equal[[]float64]) {
			t.Errorf("per neuron %v: thresholds differ: %v vs %v", perNeuron, nets[0].Threshold, nets[1].Threshold)
		}
		for i, th := range nets[0].Threshold {
			if differ := slices.Min(th) != slices.Max(th); differ != perNeuron {
				t.Errorf("per neuron %v: layer %d's thresholds range over %v..%v", perNeuron, i, slices.Min(th), slices.Max(th))
			}
		}
		if perNeuron {
			test := mnist(t, "test", 200)
			mine, err := nets[0].Evaluate(context.Background(), test, 2)
			if err != nil {
				t.Fatal(err)
			}
			checkTTFSMatchesSNN(t, nets[0], test, mine)
		}
	}
}

// TestTTFSNeuronThresholdGradient: the per-neuron threshold gradients of
// a sample sum to the per-layer one, and the weight gradients do not
// depend on how the thresholds are learnt.
func TestTTFSNeuronThresholdGradient(t *testing.T) {
	data := mnist(t, "train", 20)
	n, err := NewTTFSNet(mustNet(t, "784-30-10", data.Shape), 64, 12, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	var w ttfsWeights
	n.weights(&w)
	cfg := DefaultTTFSConfig()
	p := newTTFSPass(n)
	grads := func(perNeuron bool) ([][]float32, [][]float64) {
		g := make([][]float32, len(n.Latent))
		for i := range g {
			g[i] = make([]float32, len(n.Latent[i]))
		}
		th := newTTFSThresholds(n, perNeuron)
		gth := th.views(make([]float64, len(th.theta)))
		for i := 0; i < data.Len(); i++ {
			p.forward(&w, data.Image(i))
			p.backward(&w, &cfg, int(data.Labels[i]), g, gth, 0.5)
		}
		return g, gth
	}
	gl, thl := grads(false)
	gn, thn := grads(true)
	for i := range gl {
		if !slices.Equal(gl[i], gn[i]) {
			t.Errorf("layer %d: weight gradients differ", i)
		}
		if len(thl[i]) != 1 || len(thn[i]) != len(n.Threshold[i]) {
			t.Fatalf("layer %d: %d and %d threshold gradients", i, len(thl[i]), len(thn[i]))
		}
		var sum float64
		for _, g := range thn[i] {
			sum += g
		}
		if math.Abs(sum-thl[i][0]) > 1e-9*max(1, math.Abs(sum)) || slices.Min(thn[i]) == slices.Max(thn[i]) {
			t.Errorf("layer %d: per-neuron threshold gradients %v sum to %v, per-layer %v", i, thn[i], sum, thl[i][0])
		}
	}
}

// TestTTFSWeightDecay: after one step from the same start, every latent
// weight that no clipping touched is the step without decay minus
// lr·WeightDecay times its starting value.
func TestTTFSWeightDecay(t *testing.T) {
	in := model.Shape{C: 1, H: 4, W: 4}
	data := synthetic(in, 4, 32, 2)
	net := mustNet(t, "16-12-4", in)
	cfg := DefaultTTFSConfig()
	cfg.Window, cfg.Epochs, cfg.Batch, cfg.LR, cfg.Threshold = 16, 1, 32, 0.05, 3
	plain, err := TrainTTFS(context.Background(), net, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WeightDecay = 4
	decayed, err := TrainTTFS(context.Background(), net, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	start, err := NewTTFSNet(net, cfg.Window, cfg.Threshold, 0, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i := range start.Latent {
		for j, w0 := range start.Latent[i] {
			p, d := plain.Latent[i][j], decayed.Latent[i][j]
			if max(p, d) >= 1 || min(p, d) <= -1 {
				continue
			}
			if want := p - float32(cfg.LR*cfg.WeightDecay)*w0; math.Abs(float64(d-want)) > 1e-6 {
				t.Fatalf("layer %d weight %d: %v from %v, want %v (%v without decay)", i, j, d, w0, want, p)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d weights checked", checked)
	}
}

func TestMirrorImage(t *testing.T) {
	img := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // 2 channels of 2 rows of 3
	got := mirrorImage(make([]uint8, len(img)), img, 3)
	if want := []uint8{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}; !slices.Equal(got, want) {
		t.Errorf("mirrored %v, want %v", got, want)
	}
}

func TestShiftImage(t *testing.T) {
	img := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // 2 channels of 2 rows of 3
	shape := model.Shape{C: 2, H: 2, W: 3}
	for _, tc := range []struct {
		dx, dy int
		want   []uint8
	}{
		{0, 0, img},
		{1, 0, []uint8{0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11}},
		{-2, 1, []uint8{0, 0, 0, 3, 0, 0, 0, 0, 0, 9, 0, 0}},
		{0, -2, make([]uint8, 12)},
	} {
		dst := slices.Repeat([]uint8{99}, len(img))
		if got := shiftImage(dst, img, shape, tc.dx, tc.dy); !slices.Equal(got, tc.want) {
			t.Errorf("shift (%d, %d): %v, want %v", tc.dx, tc.dy, got, tc.want)
		}
	}
}

func TestTTFSErrors(t *testing.T) {
	in := model.Shape{C: 1, H: 8, W: 8}
	data := synthetic(in, 10, 20, 1)
	ok := DefaultTTFSConfig()
	for _, tc := range []struct {
		net  string
		mod  func(*TTFSConfig)
		want string
	}{
		{"4c3-10", nil, "fully connected layers only"},
		{"16-10", func(c *TTFSConfig) { c.Window = 0 }, "window 0"},
		{"16-10", func(c *TTFSConfig) { c.Gamma = -1 }, "gamma -1"},
		{"16-10", func(c *TTFSConfig) { c.Batch = 0 }, "batch 0"},
		{"16-10", func(c *TTFSConfig) { c.ThresholdLR = math.NaN() }, "threshold learning rate"},
		{"16-10", func(c *TTFSConfig) { c.Shift = -1 }, "shift -1"},
		{"16-10", func(c *TTFSConfig) { c.OutThreshold = math.Inf(1) }, "output threshold +Inf"},
		{"16-10", func(c *TTFSConfig) { c.WeightDecay = -1 }, "weight decay -1"},
		{"16-10", func(c *TTFSConfig) { c.WeightDecay = math.NaN() }, "weight decay NaN"},
		{"16-10", func(c *TTFSConfig) { c.WeightDecay = 100 }, "lr·weight decay < 1"},
		{"16-10", func(c *TTFSConfig) { c.NeuronThresholds = true }, "per-neuron thresholds need a threshold learning rate"},
		{"16-5", nil, "5 outputs"},
	} {
		cfg := ok
		if tc.mod != nil {
			tc.mod(&cfg)
		}
		_, err := TrainTTFS(context.Background(), mustNet(t, tc.net, in), data, cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("net %s: error %v, want it to mention %q", tc.net, err, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := TrainTTFS(ctx, mustNet(t, "16-10", in), data, ok); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancelled: error %v", err)
	}
}

// TestTTFSOutThreshold: the output layer starts from OutThreshold, the
// others from Threshold, and the integer model carries both.
func TestTTFSOutThreshold(t *testing.T) {
	in := model.Shape{C: 1, H: 4, W: 4}
	for _, tc := range []struct {
		theta, out float64
		want       []int64
	}{
		{5, 2.5, []int64{5, 5, 3}},
		{5, 0, []int64{5, 5, 5}},
		{0, 7, []int64{3, 3, 7}}, // 0.75·√16 = 3, 0.75·√8 ≈ 2.1
	} {
		n, err := NewTTFSNet(mustNet(t, "16-8-8-4", in), 32, tc.theta, tc.out, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := n.Model("x")
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for i := range m.Layers {
			got = append(got, m.Layers[i].Threshold[0])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("--threshold %v --out-threshold %v: integer thresholds %v, want %v", tc.theta, tc.out, got, tc.want)
		}
	}
}
