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
//
// This file holds the configuration, the net and the training loop;
// ttfs_pass.go the forward and backward passes, ttfs_eval.go the
// evaluations and ttfs_model.go the export to the integer model.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
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
	// NeuronThresholds learns one threshold per neuron instead of one
	// per layer (with ThresholdLR; each starts at its layer's).
	NeuronThresholds bool `flag:"neuron-thresholds,omitzero"`
	// WeightDecay shrinks every latent weight by the factor
	// 1 − lr·WeightDecay at each step, before Adam's update, lr being the
	// decayed learning rate (decoupled weight decay, Loshchilov & Hutter,
	// ICLR 2019): it pulls latent weights towards 0, where their signs can
	// still flip. 0 turns it off.
	WeightDecay float64 `flag:"weight-decay,omitzero"`
	// Gamma is the margin, in timesteps, by which the wrong outputs
	// should fire after the earliest one (S4NN's γ).
	Gamma float64 `flag:"gamma"`
	// Threshold is every layer's initial threshold in units of one ±1
	// weight; 0 picks 0.75·√fan-in.
	Threshold float64 `flag:"threshold"`
	// OutThreshold is the output layer's initial threshold; 0 gives it
	// Threshold's.
	OutThreshold float64 `flag:"out-threshold"`
	// Interpolate uses the linearly interpolated spike times and their
	// exact slopes in the learning rule instead of S4NN's integer times
	// and ∂t/∂V = −1.
	Interpolate bool `flag:"interpolate"`
	// Mirror flips each training sample left to right with probability
	// 1/2 (augmentation, for data sets whose classes are symmetric, such
	// as faces and motorbikes facing either way).
	Mirror bool `flag:"mirror"`
	// Shift translates each training sample by a random offset of up to
	// ±Shift pixels each way, filling with black (augmentation by small
	// translations, as Simard, Steinkraus & Platt, ICDAR 2003, do for
	// MNIST).
	Shift int `flag:"shift"`
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

// DefaultTTFSConfig returns the settings of models/fashion-mnist-ttfs.bin
// but for Threshold, which it sets to 40 (models/mnist-ttfs.bin also sets
// Epochs 40, OutThreshold 15 and Shift 1; models/caltech-fm-ttfs.bin keeps
// the automatic threshold): pass it to
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
	case c.NeuronThresholds && c.ThresholdLR == 0:
		return errors.New("per-neuron thresholds need a threshold learning rate > 0")
	case !(c.WeightDecay >= 0) || !(c.LR*c.WeightDecay < 1):
		return fmt.Errorf("weight decay %v, want >= 0 with lr·weight decay < 1 (lr %v)", c.WeightDecay, c.LR)
	case c.Shift < 0 || c.Shift > 127:
		return fmt.Errorf("shift %d, want 0..127", c.Shift)
	case !(c.Threshold >= 0) || math.IsInf(c.Threshold, 0):
		return fmt.Errorf("initial threshold %v, want >= 0 (0 = automatic)", c.Threshold)
	case !(c.OutThreshold >= 0) || math.IsInf(c.OutThreshold, 0):
		return fmt.Errorf("initial output threshold %v, want >= 0 (0 = as the other layers)", c.OutThreshold)
	}
	cc := Config{Epochs: c.Epochs, Batch: c.Batch, LR: c.LR, Workers: c.Workers}
	return cc.check()
}

// TTFSNet is a trained TTFS network: binary weights sign(Latent) and one
// real threshold per neuron (the same for a layer's neurons unless they
// were learnt per neuron), in units of one ±1 weight.
type TTFSNet struct {
	Net    Net
	Window int
	// Latent holds each layer's real-valued weights in [-1, 1],
	// row-major [Outputs][FanIn]; the forward pass uses their signs
	// (sign(0) = +1).
	Latent [][]float32
	// Threshold holds every neuron's real threshold θ ≥ 1, [layer][neuron];
	// a neuron fires when its integer sum of ±1 weights reaches ⌈θ⌉. Its
	// weight scale is α = 1/θ (its real membrane is α·sum against a
	// threshold of 1).
	Threshold [][]float64
}

// noSpike is the time of a neuron that does not fire within the window:
// the window itself (S4NN's t_max).
func (n *TTFSNet) noSpike() int32 { return int32(n.Window) }

// IntThreshold is neuron o of layer l's integer threshold ⌈θ⌉.
func (n *TTFSNet) IntThreshold(l, o int) int32 { return int32(math.Ceil(n.Threshold[l][o])) }

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
// positive), and every threshold at theta (0: 0.75·√fan-in) but the output
// layer's at thetaOut (0: as the others).
func NewTTFSNet(net Net, window int, theta, thetaOut float64, seed uint64) (*TTFSNet, error) {
	if err := checkTTFSNet(&net); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x74746673)) // stream "ttfs"
	n := &TTFSNet{Net: net, Window: window, Latent: make([][]float32, len(net.Layers)), Threshold: make([][]float64, len(net.Layers))}
	for i := range net.Layers {
		l := &net.Layers[i]
		w := make([]float32, l.Outputs()*l.FanIn())
		for j := range w {
			w[j] = float32(-0.5 + 1.5*rng.Float64())
		}
		n.Latent[i] = w
		th := theta
		if i == len(net.Layers)-1 && thetaOut > 0 {
			th = thetaOut
		} else if theta == 0 {
			th = max(1, 0.75*math.Sqrt(float64(l.FanIn())))
		}
		n.Threshold[i] = slices.Repeat([]float64{th}, l.Outputs())
	}
	return n, nil
}

// ttfsWeights is the forward pass's view of a TTFSNet: per layer the
// transposed signs [FanIn][Outputs] and the integer thresholds.
type ttfsWeights struct {
	signT [][]int8
	th    [][]int32
}

func (n *TTFSNet) weights(dst *ttfsWeights) {
	if dst.signT == nil {
		dst.signT = make([][]int8, len(n.Net.Layers))
		dst.th = make([][]int32, len(n.Net.Layers))
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
		if dst.th[i] == nil {
			dst.th[i] = make([]int32, outs)
		}
		for o := range dst.th[i] {
			dst.th[i][o] = n.IntThreshold(i, o)
		}
	}
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
	n, err := NewTTFSNet(net, cfg.Window, cfg.Threshold, cfg.OutThreshold, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("ttfs train: %w", err)
	}
	L := len(net.Layers)
	lp := newLoop("ttfs train", data.Len(), cfg.Batch, shardSize, cfg.Epochs, cfg.Workers, cfg.Seed, cfg.Progress)
	passes := make([]*ttfsPass, lp.workers)
	for i := range passes {
		passes[i] = newTTFSPass(n)
	}
	th := newTTFSThresholds(n, cfg.NeuronThresholds)
	grads := make([][][]float32, lp.shards())
	gths := make([][][]float64, lp.shards()) // [shard][layer][parameter], views of gthFlat
	gthFlat := make([][]float64, lp.shards())
	for s := range grads {
		grads[s] = make([][]float32, L)
		for i, w := range n.Latent {
			grads[s][i] = make([]float32, len(w))
		}
		gthFlat[s] = make([]float64, len(th.theta))
		gths[s] = th.views(gthFlat[s])
	}
	opt := make([]adam, L)
	for i, w := range n.Latent {
		opt[i] = newAdam(len(w))
	}
	// Each threshold is learnt as ln θ with its own Adam state.
	logTh := make([]float32, len(th.theta))
	thOpt := newAdam(len(th.theta))
	gth := make([]float32, len(th.theta))
	for i, t := range th.theta {
		logTh[i] = float32(math.Log(t))
	}
	state := slices.Concat(n.Latent, adamTensors(opt...), [][]float32{logTh}, adamTensors(thOpt))
	err = lp.attach(cfg.Checkpoint, settingsOf("ttfs", cfg, &net, data), state, [][]float64{th.theta}, nil)
	if err != nil {
		return nil, err
	}
	th.apply(n)
	var w ttfsWeights
	scale := 0.0
	mirror := make([]bool, cfg.Batch)
	shiftX, shiftY := make([]int, cfg.Batch), make([]int, cfg.Batch)
	augmented := make([][2][]uint8, lp.workers)
	for wk := range augmented {
		augmented[wk] = [2][]uint8{make([]uint8, data.Shape.Size()), make([]uint8, data.Shape.Size())}
	}
	err = lp.run(ctx, func(mb *minibatch) {
		n.weights(&w)
		scale = 1 / float64(len(mb.Samples))
		if cfg.Mirror {
			for b := range mb.Samples {
				mirror[b] = lp.shuffle.IntN(2) == 1
			}
		}
		if cfg.Shift > 0 {
			for b := range mb.Samples {
				shiftX[b] = lp.shuffle.IntN(2*cfg.Shift+1) - cfg.Shift
				shiftY[b] = lp.shuffle.IntN(2*cfg.Shift+1) - cfg.Shift
			}
		}
	}, func(wk, s int, samples []int) (loss float64, right int) {
		p := passes[wk]
		for i := range grads[s] {
			clear(grads[s][i])
		}
		clear(gthFlat[s])
		for b, idx := range samples {
			label := int(data.Labels[idx])
			img := data.Image(idx)
			if k := s*shardSize + b; mirror[k] {
				img = mirrorImage(augmented[wk][0], img, data.Shape.W)
			}
			if k := s*shardSize + b; shiftX[k] != 0 || shiftY[k] != 0 {
				img = shiftImage(augmented[wk][1], img, data.Shape, shiftX[k], shiftY[k])
			}
			if c, _ := p.forward(&w, img); c == label {
				right++
			}
			loss += p.backward(&w, &cfg, label, grads[s], gths[s], scale)
		}
		return loss, right
	}, func(mb *minibatch) {
		for s := 1; s < mb.Shards; s++ {
			addTo(gthFlat[0], gthFlat[s])
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
				if cfg.WeightDecay > 0 {
					shrink := float32(1 - cfg.LR*mb.Decay*cfg.WeightDecay)
					part := w[lo:hi]
					for j := range part {
						part[j] *= shrink
					}
				}
				part := adam{m: opt[i].m[lo:hi], v: opt[i].v[lo:hi]}
				part.step(w[lo:hi], g0[lo:hi], cfg.LR*mb.Decay, mb.T, true)
			})
		}
		if cfg.ThresholdLR > 0 {
			for i, g := range gthFlat[0] {
				gth[i] = float32(g)
			}
			thOpt.step(logTh, gth, cfg.ThresholdLR*mb.Decay, mb.T, false)
			for i, lt := range logTh {
				// θ ≥ 1: a neuron needs at least one input.
				lt = max(0, lt)
				logTh[i] = lt
				th.theta[i] = math.Exp(float64(lt))
			}
			th.apply(n)
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// ttfsThresholds are the thresholds the trainer learns: one parameter per
// layer, or one per neuron.
type ttfsThresholds struct {
	// first[l] is layer l's first parameter; first[L] the count.
	first []int
	// theta is every parameter's θ.
	theta []float64
}

// newTTFSThresholds takes n's initial thresholds as the parameters: each
// layer's first neuron's, or every neuron's if perNeuron.
func newTTFSThresholds(n *TTFSNet, perNeuron bool) *ttfsThresholds {
	t := &ttfsThresholds{first: make([]int, len(n.Threshold)+1)}
	for l, th := range n.Threshold {
		if !perNeuron {
			th = th[:1]
		}
		t.theta = append(t.theta, th...)
		t.first[l+1] = len(t.theta)
	}
	return t
}

// views cuts flat (one value per parameter) into one slice per layer.
func (t *ttfsThresholds) views(flat []float64) [][]float64 {
	v := make([][]float64, len(t.first)-1)
	for l := range v {
		v[l] = flat[t.first[l]:t.first[l+1]]
	}
	return v
}

// apply sets n's thresholds to the parameters.
func (t *ttfsThresholds) apply(n *TTFSNet) {
	for l, th := range n.Threshold {
		p := t.theta[t.first[l]:t.first[l+1]]
		for o := range th {
			th[o] = p[min(o, len(p)-1)]
		}
	}
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

// shiftImage writes img translated by dx pixels right and dy down into dst,
// black (0) where nothing moves in, and returns it.
func shiftImage(dst, img []uint8, shape model.Shape, dx, dy int) []uint8 {
	w, h := shape.W, shape.H
	for c := 0; c < shape.C; c++ {
		src, out := img[c*w*h:][:w*h], dst[c*w*h:][:w*h]
		for y := 0; y < h; y++ {
			row := out[y*w:][:w]
			sy := y - dy
			if sy < 0 || sy >= h {
				clear(row)
				continue
			}
			for x := range row {
				if sx := x - dx; sx >= 0 && sx < w {
					row[x] = src[sy*w+sx]
				} else {
					row[x] = 0
				}
			}
		}
	}
	return dst
}
