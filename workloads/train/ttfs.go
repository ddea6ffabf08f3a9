package train

// Time-to-first-spike (TTFS) training of a binary spiking network, after
// S4NN (Kheradpisheh & Masquelier, "Temporal backpropagation for spiking
// neural networks with one spike per neuron", IJNS 2020) and BS4NN
// (Kheradpisheh, Mirsadeghi & Masquelier, "BS4NN: Binarized spiking neural
// networks with temporal coding and learning", Neural Processing Letters
// 2022).
//
// Forward: pixels fire once at model.SpikeTime (TTFS coding over Window
// timesteps); every neuron is a non-leaky integrate-and-fire neuron that
// fires at most once, at the first timestep t at which the sum of the ±1
// weights of its inputs that have fired at or before t reaches its layer's
// integer threshold. A layer sees the previous layer's spikes of the same
// timestep. This is exactly the integer model that TTFSNet.Model writes, so
// the reference SNN reproduces the trainer's spikes and classes bit for bit.
//
// Backward (S4NN): the output error is the distance to relative target
// times (the correct class should fire first, the others at least Gamma
// timesteps after it), ∂t/∂V ≈ −1, a hidden neuron's error is
// Σ_k δ_k·w_jk over the outputs k it fired no later than, each layer's
// error vector is normalised to unit length per sample, and no
// backpropagation through time is needed. With Interpolate, spike times are
// interpolated linearly within their crossing step (crossTime) and the
// slope ∂t*/∂V = −1/I (I the crossing step's input) replaces −1.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// TTFSConfig is how to train a TTFS network.
type TTFSConfig struct {
	// Window is the number of timesteps of the input coding and of a run
	// (model.Input.Window and model.Timesteps).
	Window int `flag:"window"`
	Epochs int `flag:"epochs"`
	// Batch is the minibatch size.
	Batch int `flag:"batch"`
	// LR is Adam's initial learning rate for the latent weights; it
	// decays to 0 along a cosine over all steps.
	LR float64 `flag:"lr"`
	// ThresholdLR is Adam's initial learning rate for each layer's log
	// threshold (same decay); 0 keeps the thresholds fixed.
	ThresholdLR float64 `flag:"threshold-lr"`
	// Gamma is the margin, in timesteps, by which the wrong outputs
	// should fire after the earliest one (S4NN's γ).
	Gamma float64 `flag:"gamma"`
	// Threshold is every layer's initial threshold in units of one ±1
	// weight; 0 picks 0.75·√fan-in.
	Threshold float64 `flag:"threshold"`
	// Interpolate uses the linearly interpolated spike times and their
	// exact slopes in the learning rule instead of S4NN's integer times
	// and ∂t/∂V = −1.
	Interpolate bool `flag:"interpolate"`
	// Mirror flips each training sample left to right with probability
	// 1/2 (augmentation, for data sets whose classes are symmetric, such
	// as faces and motorbikes facing either way).
	Mirror bool `flag:"mirror"`
	// Seed drives the initial weights and the shuffling.
	Seed uint64 `flag:"seed"`
	// Workers is how many goroutines share each minibatch; the result
	// does not depend on it.
	Workers int
	// Checkpoint saves the state after every epoch and resumes from it.
	Checkpoint Checkpoint
	// Progress, if set, is called after every minibatch from the
	// goroutine that called TrainTTFS. Loss is the mean over samples of
	// Σ_k ((target_k − t_k)/Window)².
	Progress func(Progress)
}

// DefaultTTFSConfig returns the settings of models/mnist-ttfs.bin
// (models/fashion-mnist-ttfs.bin also set Threshold to 40): pass it to
// TrainTTFS after setting Epochs, Seed and Workers as needed.
func DefaultTTFSConfig() TTFSConfig {
	return TTFSConfig{Window: 256, Epochs: 20, Batch: 64, LR: 0.01, ThresholdLR: 0, Gamma: 3, Seed: 1, Workers: 1}
}

func (c *TTFSConfig) check() error {
	switch {
	case c.Window < 1 || c.Window > model.MaxWindow:
		return fmt.Errorf("window %d timesteps, want 1..%d", c.Window, model.MaxWindow)
	case !(c.Gamma >= 0) || c.Gamma > float64(c.Window):
		return fmt.Errorf("gamma %v, want 0..window (%d)", c.Gamma, c.Window)
	case !(c.ThresholdLR >= 0) || math.IsInf(c.ThresholdLR, 0):
		return fmt.Errorf("threshold learning rate %v, want >= 0", c.ThresholdLR)
	case !(c.Threshold >= 0) || math.IsInf(c.Threshold, 0):
		return fmt.Errorf("initial threshold %v, want >= 0 (0 = automatic)", c.Threshold)
	}
	cc := Config{Epochs: c.Epochs, Batch: c.Batch, LR: c.LR, Workers: c.Workers}
	return cc.check()
}

// TTFSNet is a trained TTFS network: binary weights sign(Latent) and one
// real threshold per layer, in units of one ±1 weight.
type TTFSNet struct {
	Net    Net
	Window int
	// Latent holds each layer's real-valued weights in [-1, 1],
	// row-major [Outputs][FanIn]; the forward pass uses their signs
	// (sign(0) = +1).
	Latent [][]float32
	// Threshold is each layer's real threshold θ (≥ 1); a neuron fires
	// when its integer sum of ±1 weights reaches ⌈θ⌉. The layer's weight
	// scale is α = 1/θ (a neuron's real membrane is α·sum against a
	// threshold of 1).
	Threshold []float64
}

// noSpike is the time of a neuron that does not fire within the window:
// the window itself (S4NN's t_max).
func (n *TTFSNet) noSpike() int32 { return int32(n.Window) }

// IntThreshold is layer l's integer threshold ⌈θ⌉.
func (n *TTFSNet) IntThreshold(l int) int32 { return int32(math.Ceil(n.Threshold[l])) }

// checkTTFSNet rejects nets that the TTFS trainer cannot train.
func checkTTFSNet(net *Net) error {
	for i := range net.Layers {
		if net.Layers[i].Kind != Dense {
			return fmt.Errorf("net %q: layer %d is %s; TTFS training takes fully connected layers only (e.g. 784-600-10)", net.Spec, i+1, net.Layers[i].Kind)
		}
	}
	return nil
}

// NewTTFSNet initialises a net: latent weights uniform in [-0.5, 1], so
// that two thirds of the signs are +1 and every neuron starts by firing
// once enough of its inputs have (BS4NN starts with all weights
// positive), and every threshold at theta (0: 0.75·√fan-in).
func NewTTFSNet(net Net, window int, theta float64, seed uint64) (*TTFSNet, error) {
	if err := checkTTFSNet(&net); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x74746673)) // stream "ttfs"
	n := &TTFSNet{Net: net, Window: window, Latent: make([][]float32, len(net.Layers)), Threshold: make([]float64, len(net.Layers))}
	for i := range net.Layers {
		l := &net.Layers[i]
		w := make([]float32, l.Outputs()*l.FanIn())
		for j := range w {
			w[j] = float32(-0.5 + 1.5*rng.Float64())
		}
		n.Latent[i] = w
		n.Threshold[i] = theta
		if theta == 0 {
			n.Threshold[i] = max(1, 0.75*math.Sqrt(float64(l.FanIn())))
		}
	}
	return n, nil
}

// ttfsWeights is the forward pass's view of a TTFSNet: per layer the
// transposed signs [FanIn][Outputs] and the integer threshold.
type ttfsWeights struct {
	signT [][]int8
	th    []int32
}

func (n *TTFSNet) weights(dst *ttfsWeights) {
	if dst.signT == nil {
		dst.signT = make([][]int8, len(n.Net.Layers))
		dst.th = make([]int32, len(n.Net.Layers))
	}
	for i := range n.Net.Layers {
		l := &n.Net.Layers[i]
		outs, fan := l.Outputs(), l.FanIn()
		if dst.signT[i] == nil {
			dst.signT[i] = make([]int8, outs*fan)
		}
		s := dst.signT[i]
		for o := 0; o < outs; o++ {
			for j, v := range n.Latent[i][o*fan : (o+1)*fan] {
				if v >= 0 {
					s[j*outs+o] = 1
				} else {
					s[j*outs+o] = -1
				}
			}
		}
		dst.th[i] = n.IntThreshold(i)
	}
}

// spikeList is a layer's input spikes sorted by time: idx[e] fired at
// t[e], ascending.
type spikeList struct {
	idx, t []int32
}

// ttfsLayerState is one layer's result for one sample.
type ttfsLayerState struct {
	in spikeList // the layer's input spikes
	v  []int32   // membranes after the last input (only meaningful for neurons that did not fire)
	// at is each neuron's spike time (noSpike if it did not fire), vAt
	// its membrane at the end of that step.
	at, vAt []int32
	// cur is the crossing step's input (vAt − membrane one step before),
	// filled by the backward pass for fired neurons.
	cur []int32
	// delta is −∂L/∂t per neuron (the backward pass's error).
	delta []float64
	alive []int32
}

// ttfsPass is one worker's scratch memory for one sample at a time.
type ttfsPass struct {
	n      *TTFSNet
	layers []ttfsLayerState
	bucket []int32 // counting sort: spikes per timestep, then offsets
}

func newTTFSPass(n *TTFSNet) *ttfsPass {
	p := &ttfsPass{n: n, layers: make([]ttfsLayerState, len(n.Net.Layers)), bucket: make([]int32, n.Window+1)}
	for i := range n.Net.Layers {
		l := &n.Net.Layers[i]
		outs, fan := l.Outputs(), l.FanIn()
		p.layers[i] = ttfsLayerState{
			in: spikeList{idx: make([]int32, fan), t: make([]int32, fan)},
			v:  make([]int32, outs), at: make([]int32, outs), vAt: make([]int32, outs), cur: make([]int32, outs),
			delta: make([]float64, outs), alive: make([]int32, outs),
		}
	}
	return p
}

// sortSpikes fills dst with the entries of at that are below none, sorted
// by time (stable: by index within a timestep), by counting sort.
func (p *ttfsPass) sortSpikes(at []int32, none int32, dst *spikeList) {
	b := p.bucket
	clear(b)
	n := 0
	for _, t := range at {
		if t < none {
			b[t+1]++
			n++
		}
	}
	for t := 1; t < len(b); t++ {
		b[t] += b[t-1]
	}
	dst.idx, dst.t = dst.idx[:n], dst.t[:n]
	for i, t := range at {
		if t < none {
			e := b[t]
			b[t]++
			dst.idx[e], dst.t[e] = int32(i), t
		}
	}
}

// forward runs one image through the net and returns the class by the
// first-spike rule and the decision step (from 1; 0 if no output fired).
func (p *ttfsPass) forward(w *ttfsWeights, img []uint8) (class int, decision int) {
	none := p.n.noSpike()
	p.inputTimes(img)
	for i := range p.layers {
		st := &p.layers[i]
		if i > 0 {
			p.sortSpikes(p.layers[i-1].at, none, &st.in)
		}
		fireLayer(st, w.signT[i], w.th[i], none)
	}
	last := &p.layers[len(p.layers)-1]
	best, tBest := -1, none
	for k, t := range last.at {
		if t < tBest || (t == tBest && t < none && last.vAt[k] > last.vAt[best]) {
			best, tBest = k, t
		}
	}
	if best >= 0 {
		return best, int(tBest) + 1
	}
	best = 0
	for k, v := range last.v {
		if v > last.v[best] {
			best = k
		}
	}
	return best, 0
}

// inputTimes fills layer 0's input spike list from the image's TTFS
// spike times.
func (p *ttfsPass) inputTimes(img []uint8) {
	st := &p.layers[0]
	b := p.bucket
	clear(b)
	n := 0
	for _, x := range img {
		if t := model.SpikeTime(int(x), 8, p.n.Window); t >= 0 {
			b[t+1]++
			n++
		}
	}
	for t := 1; t < len(b); t++ {
		b[t] += b[t-1]
	}
	in := &st.in
	in.idx, in.t = in.idx[:n], in.t[:n]
	for i, x := range img {
		if t := model.SpikeTime(int(x), 8, p.n.Window); t >= 0 {
			e := b[t]
			b[t]++
			in.idx[e], in.t[e] = int32(i), int32(t)
		}
	}
}

// fireLayer integrates a layer's sorted input spikes: at each input
// timestep it adds the ±1 weight rows of the inputs that fire then, and
// every neuron that has not fired yet and reaches th fires.
func fireLayer(st *ttfsLayerState, signT []int8, th, none int32) {
	outs := len(st.v)
	clear(st.v)
	alive := st.alive[:outs]
	for o := range alive {
		alive[o] = int32(o)
		st.at[o] = none
	}
	v := st.v
	in := st.in
	for e := 0; e < len(in.idx); {
		t := in.t[e]
		for ; e < len(in.idx) && in.t[e] == t; e++ {
			j := int(in.idx[e])
			row := signT[j*outs : (j+1)*outs]
			for o, s := range row {
				v[o] += int32(s)
			}
		}
		k := 0
		for _, o := range alive {
			if v[o] >= th {
				st.at[o], st.vAt[o] = t, v[o]
			} else {
				alive[k] = o
				k++
			}
		}
		alive = alive[:k]
		if k == 0 {
			break
		}
	}
}

// crossTime is the spike time interpolated linearly within the crossing
// step t of a neuron whose membrane rises from vAt − cur to vAt ≥ θ:
// t* = (t − 1) + (θ − (vAt − cur))/cur, in (t − 1, t]. It also returns
// slope = ∂t*/∂θ = 1/cur and frac = t* − (t − 1), the factor by which an
// input of the crossing step moves t* relative to an earlier one.
func crossTime(t int32, vAt, cur, theta float64) (tStar, slope, frac float64) {
	frac = (theta - (vAt - cur)) / cur
	return float64(t) - 1 + frac, 1 / cur, frac
}

// addTimeGrad adds coef times ∂t*/∂w_i / (−slope) for every input i to
// row (a gradient row indexed by input): coef for inputs that fired before
// the crossing step t, frac·coef for those of step t itself, nothing for
// later ones. With S4NN's rule frac is 1, so every input that fired at or
// before t gets coef.
func addTimeGrad(row []float32, in spikeList, t int32, coef, frac float64) {
	c := float32(coef)
	cf := float32(coef * frac)
	for e, ti := range in.t {
		switch {
		case ti < t:
			row[in.idx[e]] += c
		case ti == t:
			row[in.idx[e]] += cf
		default:
			return
		}
	}
}

// crossingInput returns the input of the crossing step t of neuron o:
// the sum of the ±1 weights of its inputs that fired at t.
func crossingInput(in spikeList, signT []int8, outs, o int, t int32) int32 {
	var c int32
	for e, ti := range in.t {
		if ti > t {
			break
		}
		if ti == t {
			c += int32(signT[int(in.idx[e])*outs+o])
		}
	}
	return c
}

// spikeTime returns neuron o of layer i's spike time for the loss (the
// window if it did not fire), its slope ∂t/∂θ = −∂t/∂V and its crossing
// fraction (see crossTime): interpolated, or S4NN's integer time with
// slope and fraction 1.
func (p *ttfsPass) spikeTime(w *ttfsWeights, interpolate bool, i, o int) (t, slope, frac float64) {
	st := &p.layers[i]
	at := st.at[o]
	if at >= p.n.noSpike() || !interpolate {
		return float64(at), 1, 1
	}
	st.cur[o] = crossingInput(st.in, w.signT[i], len(st.v), o, at)
	return crossTime(at, float64(st.vAt[o]), float64(st.cur[o]), p.n.Threshold[i])
}

// backward computes, for the sample last run forward with label, the
// gradient of the loss with respect to every layer's weights (added to
// grad times scale) and thresholds (added to gth times scale, as
// ∂L/∂ln θ), and returns the loss.
func (p *ttfsPass) backward(w *ttfsWeights, cfg *TTFSConfig, label int, grad [][]float32, gth []float64, scale float64) float64 {
	n := p.n
	none := n.noSpike()
	L := len(p.layers)
	window := float64(n.Window)
	out := &p.layers[L-1]
	// Relative targets (S4NN): the correct class at the earliest output
	// time, every other output that fires within gamma of it at
	// earliest+gamma; if no output fires, the correct class at
	// window−gamma and the others at window.
	tMin := none
	for _, t := range out.at {
		tMin = min(tMin, t)
	}
	var loss, norm float64
	for k := range out.at {
		tk, _, _ := p.spikeTime(w, cfg.Interpolate, L-1, k)
		var target float64
		switch {
		case tMin >= none && k == label:
			target = window - cfg.Gamma
		case tMin >= none:
			target = window
		case k == label:
			target = float64(tMin)
		case float64(out.at[k]-tMin) < cfg.Gamma:
			target = min(float64(tMin)+cfg.Gamma, window)
		default:
			target = float64(out.at[k])
		}
		e := (target - tk) / window
		out.delta[k] = e
		loss += e * e
		norm += e * e
	}
	if norm == 0 {
		return 0
	}
	for i := L - 1; i >= 0; i-- {
		st := &p.layers[i]
		outs := len(st.v)
		// Normalise the layer's errors to unit length.
		var ss float64
		for _, d := range st.delta {
			ss += d * d
		}
		if ss == 0 {
			break
		}
		inv := 1 / math.Sqrt(ss)
		var below *ttfsLayerState
		if i > 0 {
			below = &p.layers[i-1]
			clear(below.delta)
		}
		fan := len(grad[i]) / outs
		var dth float64
		for o := 0; o < outs; o++ {
			d := st.delta[o] * inv
			if d == 0 {
				continue
			}
			t := st.at[o]
			_, slope, frac := p.spikeTime(w, cfg.Interpolate, i, o)
			// ∂L/∂t_o = −d; ∂t/∂w = −slope·[input fired by t];
			// ∂t/∂θ = slope·θ per unit of ln θ.
			dth -= d * slope
			tt := t
			if t >= none {
				tt = none // every input that fired counts
			}
			addTimeGrad(grad[i][o*fan:(o+1)*fan], st.in, tt, d*slope*scale, frac)
			if below == nil {
				continue
			}
			// −∂L/∂t_j = Σ_o d_o·slope_o·w_jo over the inputs j
			// that fired no later than o (S4NN: ∂V_o/∂t_j ≈ −w_jo).
			row := n.Latent[i][o*fan : (o+1)*fan]
			c := d * slope
			for e, ti := range st.in.t {
				if ti > tt {
					break
				}
				j := st.in.idx[e]
				below.delta[j] += c * float64(row[j])
			}
		}
		gth[i] += dth * n.Threshold[i] * scale
	}
	return loss
}

// TrainTTFS trains a TTFS network of shape net (dense layers only) on data
// with minibatch Adam on the S4NN/BS4NN learning rule. It stops with ctx's
// error between minibatches when ctx is cancelled.
func TrainTTFS(ctx context.Context, net Net, data *dataset.Set, cfg TTFSConfig) (*TTFSNet, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("ttfs train: %w", err)
	}
	if err := checkData(&net, data); err != nil {
		return nil, fmt.Errorf("ttfs train: %w", err)
	}
	n, err := NewTTFSNet(net, cfg.Window, cfg.Threshold, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("ttfs train: %w", err)
	}
	L := len(net.Layers)
	lp := newLoop("ttfs train", data.Len(), cfg.Batch, shardSize, cfg.Epochs, cfg.Workers, cfg.Seed, cfg.Progress)
	passes := make([]*ttfsPass, lp.workers)
	for i := range passes {
		passes[i] = newTTFSPass(n)
	}
	grads := make([][][]float32, lp.shards())
	gths := make([][]float64, lp.shards())
	for s := range grads {
		grads[s] = make([][]float32, L)
		for i, w := range n.Latent {
			grads[s][i] = make([]float32, len(w))
		}
		gths[s] = make([]float64, L)
	}
	opt := make([]adam, L)
	for i, w := range n.Latent {
		opt[i] = newAdam(len(w))
	}
	// Each threshold is learnt as ln θ with its own Adam state.
	logTh := make([]float32, L)
	thOpt := newAdam(L)
	gth := make([]float32, L)
	for i, th := range n.Threshold {
		logTh[i] = float32(math.Log(th))
	}
	state := slices.Concat(n.Latent, adamTensors(opt...), [][]float32{logTh}, adamTensors(thOpt))
	err = lp.attach(cfg.Checkpoint, settingsOf("ttfs", cfg, &net, data), state, [][]float64{n.Threshold}, nil)
	if err != nil {
		return nil, err
	}
	var w ttfsWeights
	scale := 0.0
	mirror := make([]bool, cfg.Batch)
	mirrored := make([][]uint8, lp.workers)
	for wk := range mirrored {
		mirrored[wk] = make([]uint8, data.Shape.Size())
	}
	err = lp.run(ctx, func(mb *minibatch) {
		n.weights(&w)
		scale = 1 / float64(len(mb.Samples))
		if cfg.Mirror {
			for b := range mb.Samples {
				mirror[b] = lp.shuffle.IntN(2) == 1
			}
		}
	}, func(wk, s int, samples []int) (loss float64, right int) {
		p := passes[wk]
		for i := range grads[s] {
			clear(grads[s][i])
		}
		clear(gths[s])
		for b, idx := range samples {
			label := int(data.Labels[idx])
			img := data.Image(idx)
			if mirror[s*shardSize+b] {
				img = mirrorImage(mirrored[wk], img, data.Shape.W)
			}
			if c, _ := p.forward(&w, img); c == label {
				right++
			}
			loss += p.backward(&w, &cfg, label, grads[s], gths[s], scale)
		}
		return loss, right
	}, func(mb *minibatch) {
		for s := 1; s < mb.Shards; s++ {
			for i, v := range gths[s] {
				gths[0][i] += v
			}
		}
		// Sum the shards and step Adam elementwise, in ranges spread
		// over the workers (the per-step serial part that would
		// otherwise cap the second core's gain).
		for i, w := range n.Latent {
			g0 := grads[0][i]
			inRanges(len(w), lp.workers, func(lo, hi int) {
				for s := 1; s < mb.Shards; s++ {
					addTo(g0[lo:hi], grads[s][i][lo:hi])
				}
				part := adam{m: opt[i].m[lo:hi], v: opt[i].v[lo:hi]}
				part.step(w[lo:hi], g0[lo:hi], cfg.LR*mb.Decay, mb.T, true)
			})
		}
		if cfg.ThresholdLR > 0 {
			for i, g := range gths[0] {
				gth[i] = float32(g)
			}
			thOpt.step(logTh, gth, cfg.ThresholdLR*mb.Decay, mb.T, false)
			for i, lt := range logTh {
				// θ ≥ 1: a neuron needs at least one input.
				lt = max(0, lt)
				logTh[i] = lt
				n.Threshold[i] = math.Exp(float64(lt))
			}
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// mirrorImage writes img (rows of w pixels) flipped left to right into
// dst and returns it.
func mirrorImage(dst, img []uint8, w int) []uint8 {
	for r := 0; r < len(img); r += w {
		for x := 0; x < w; x++ {
			dst[r+x] = img[r+w-1-x]
		}
	}
	return dst
}

// TTFSEval is a TTFS network's behaviour on a data set, computed by the
// trainer's integer forward pass (which the reference SNN reproduces).
type TTFSEval struct {
	Samples int
	Correct int
	// Classes is the class decided for every sample.
	Classes []int32
	// Decision is the mean number of timesteps run per sample: the step
	// (from 1) at which the first output spike decided the class, or the
	// whole window when no output fired.
	Decision float64
	// Undecided is the number of samples on which no output fired.
	Undecided int
	// SpikesPerSample is each layer's mean number of spikes per sample
	// within the timesteps run.
	SpikesPerSample []float64
}

// Accuracy is the fraction classified right.
func (e *TTFSEval) Accuracy() float64 { return float64(e.Correct) / float64(e.Samples) }

// Evaluate runs every sample of data through the net on workers
// goroutines; the result does not depend on their number.
func (n *TTFSNet) Evaluate(ctx context.Context, data *dataset.Set, workers int) (TTFSEval, error) {
	if err := checkData(&n.Net, data); err != nil {
		return TTFSEval{}, fmt.Errorf("ttfs evaluation: %w", err)
	}
	if workers < 1 {
		return TTFSEval{}, fmt.Errorf("ttfs evaluation: workers %d, want >= 1", workers)
	}
	var w ttfsWeights
	n.weights(&w)
	N := data.Len()
	L := len(n.Net.Layers)
	classes := make([]int32, N)
	steps := make([]int32, N)
	spikes := make([]int32, N*L) // [sample][layer]
	passes := make([]*ttfsPass, parallel.Workers(N, workers))
	for wk := range passes {
		passes[wk] = newTTFSPass(n)
	}
	err := parallel.For(ctx, N, workers, func(wk, i int) {
		p := passes[wk]
		c, d := p.forward(&w, data.Image(i))
		classes[i] = int32(c)
		steps[i] = int32(d) // 0: undecided
		if d == 0 {
			d = n.Window
		}
		for l := range p.layers {
			cnt := int32(0)
			for _, t := range p.layers[l].at {
				if int(t) < d {
					cnt++
				}
			}
			spikes[i*L+l] = cnt
		}
	})
	if err != nil {
		return TTFSEval{}, fmt.Errorf("ttfs evaluation: %w", err)
	}
	return summarise(data, n.Window, classes, steps, spikes), nil
}

// summarise turns per-sample classes, decision steps (0: undecided) and
// spikes per layer ([sample][layer]) into a TTFSEval.
func summarise(data *dataset.Set, window int, classes, steps, spikes []int32) TTFSEval {
	N := len(classes)
	L := len(spikes) / N
	e := TTFSEval{Samples: N, Classes: classes, SpikesPerSample: make([]float64, L)}
	var sumSteps int64
	sums := make([]int64, L)
	for i := 0; i < N; i++ {
		if int(classes[i]) == int(data.Labels[i]) {
			e.Correct++
		}
		if steps[i] == 0 {
			e.Undecided++
			sumSteps += int64(window)
		} else {
			sumSteps += int64(steps[i])
		}
		for l := range sums {
			sums[l] += int64(spikes[i*L+l])
		}
	}
	e.Decision = float64(sumSteps) / float64(N)
	for l, s := range sums {
		e.SpikesPerSample[l] = float64(s) / float64(N)
	}
	return e
}

// EvaluateSNN runs every sample of data through the reference SNN (package
// snn) with model m, a first-spike model such as TTFSNet.Model writes, for
// m.Timesteps steps on workers goroutines, and reports the same measures
// as TTFSNet.Evaluate. done, if set, is called with the number of samples
// finished, from any goroutine.
func EvaluateSNN(ctx context.Context, m *model.Model, data *dataset.Set, workers int, done func(int)) (TTFSEval, error) {
	switch {
	case !m.FirstSpikeReadout():
		return TTFSEval{}, fmt.Errorf("ttfs SNN evaluation: model %q is read out by %q, not %q", m.Name, m.Readout, model.ReadoutFirstSpike)
	case data.Shape != m.Input.Shape:
		return TTFSEval{}, fmt.Errorf("ttfs SNN evaluation: data set %q has %v images, the model expects %v", data.Name, data.Shape, m.Input.Shape)
	case data.Len() == 0:
		return TTFSEval{}, fmt.Errorf("ttfs SNN evaluation: data set %q is empty", data.Name)
	case workers < 1:
		return TTFSEval{}, fmt.Errorf("ttfs SNN evaluation: workers %d, want >= 1", workers)
	}
	N, L := data.Len(), len(m.Layers)
	classes := make([]int32, N)
	steps := make([]int32, N)
	spikes := make([]int32, N*L)
	runners := make([]*snn.Runner, parallel.Workers(N, workers))
	for wk := range runners {
		runners[wk] = snn.NewRunner(m)
	}
	err := parallel.For(ctx, N, workers, func(wk, i int) {
		res := runners[wk].Run(data.Image(i), m.Timesteps, model.Hooks{})
		classes[i], steps[i] = int32(res.Class), int32(res.Decision)
		for l, s := range res.Spikes {
			spikes[i*L+l] = int32(s)
		}
		if done != nil {
			done(1)
		}
	})
	if err != nil {
		return TTFSEval{}, fmt.Errorf("ttfs SNN evaluation: %w", err)
	}
	return summarise(data, m.Timesteps, classes, steps, spikes), nil
}

// Accuracy is the fraction of data the net classifies right by the
// first-spike rule, on workers goroutines.
func (n *TTFSNet) Accuracy(ctx context.Context, data *dataset.Set, workers int) (float64, error) {
	e, err := n.Evaluate(ctx, data, workers)
	if err != nil {
		return 0, err
	}
	return e.Accuracy(), nil
}

// Model returns the integer model: binary dense fire-once layers with
// threshold ⌈θ⌉ and scale 1/θ, TTFS input coding over Window timesteps,
// a first-spike readout, and Window timesteps (no neuron can fire after
// the last input spike, which comes before Window).
func (n *TTFSNet) Model(name string) (*model.Model, error) {
	if name == "" {
		return nil, errors.New("ttfs model: empty name")
	}
	m := &model.Model{
		Name:      name,
		Input:     model.Input{Shape: n.Net.In, Coding: model.CodingTTFS, Bits: 8, Window: n.Window},
		Classes:   n.Net.Classes(),
		Timesteps: n.Window,
		Readout:   model.ReadoutFirstSpike,
	}
	var th []string
	for i := range n.Net.Layers {
		l := &n.Net.Layers[i]
		outs, fan := l.Outputs(), l.FanIn()
		ml := model.Layer{Name: fmt.Sprintf("dense%d", i+1), Op: model.OpDense, In: l.In, Out: l.Out,
			WeightBits: 1, Weights: make([]int8, outs*fan), Spiking: true, Reset: model.ResetZero, FireOnce: true,
			Threshold: make([]int64, outs), Scale: make([]float64, outs)}
		for j, v := range n.Latent[i] {
			ml.Weights[j] = 1
			if v < 0 {
				ml.Weights[j] = -1
			}
		}
		k := int64(n.IntThreshold(i))
		for o := range ml.Threshold {
			ml.Threshold[o] = k
			ml.Scale[o] = 1 / n.Threshold[i]
		}
		th = append(th, ml.Name+"="+strconv.FormatFloat(n.Threshold[i], 'f', 3, 64))
		m.Layers = append(m.Layers, ml)
	}
	m.Provenance = map[string]string{
		"method":     "ttfs",
		"net":        n.Net.Spec,
		"window":     strconv.Itoa(n.Window),
		"thresholds": strings.Join(th, " "),
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("ttfs model: invalid: %w", err)
	}
	return m, nil
}
