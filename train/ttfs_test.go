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
	m, err := n.Model("tiny-ttfs")
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Coding != model.CodingTTFS || m.Readout != model.ReadoutFirstSpike || m.Timesteps != 64 || m.Input.Window != 64 {
		t.Fatalf("model input %+v, readout %q, timesteps %d", m.Input, m.Readout, m.Timesteps)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if want := int64(math.Ceil(n.Threshold[i])); l.Threshold[0] != want || !l.FireOnce || l.WeightBits != 1 {
			t.Errorf("layer %s: threshold %d (want %d), fire-once %v, %d-bit weights", l.Name, l.Threshold[0], want, l.FireOnce, l.WeightBits)
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
	if mine.Decision >= 64 || mine.SpikesPerSample[0] == 0 {
		t.Errorf("decision after %.1f steps, %.1f hidden spikes per image", mine.Decision, mine.SpikesPerSample[0])
	}
}

// TestTTFSDeterministicAcrossWorkers: the same seed gives the same weights
// and thresholds for any worker count, with the thresholds learnt and the
// interpolated rule on to cover every path.
func TestTTFSDeterministicAcrossWorkers(t *testing.T) {
	data := mnist(t, "train", 300)
	net := mustNet(t, "784-24-10", data.Shape)
	var nets []*TTFSNet
	for _, workers := range []int{1, 3} {
		cfg := DefaultTTFSConfig()
		cfg.Window, cfg.Epochs, cfg.Batch, cfg.LR, cfg.ThresholdLR, cfg.Interpolate, cfg.Workers = 32, 2, 40, 1e-2, 1e-2, true, workers
		n, err := TrainTTFS(context.Background(), net, data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, n)
	}
	for i := range nets[0].Latent {
		if !slices.Equal(nets[0].Latent[i], nets[1].Latent[i]) {
			t.Errorf("layer %d: weights differ between 1 and 3 workers", i)
		}
	}
	if !slices.Equal(nets[0].Threshold, nets[1].Threshold) {
		t.Errorf("thresholds differ: %v vs %v", nets[0].Threshold, nets[1].Threshold)
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
