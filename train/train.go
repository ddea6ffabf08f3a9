// Package train makes the models that nmsim runs. It implements the
// conversion route of Lu & Sengupta (2020): train a binary ANN (weights
// α·sign(W), α = mean|W| per output channel, first and last weight layers
// full precision, no bias, no batch-norm, ReLU, average pooling) with a
// straight-through estimator, then convert it to integrate-and-fire neurons
// with per-layer threshold balancing into the integer model of package
// model, and measure the ANN and the SNN (package snn) on test data.
//
// Everything is seeded and deterministic: the same seed gives the same
// weights, model and accuracies for any number of workers.
package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/workloads/dataset"
)

// ANN is a binary ANN: its net and latent weights.
type ANN struct {
	Net Net
	// Latent holds each weight layer's real-valued weights, row-major
	// [Outputs][FanIn] (conv fan-in in (channel, ky, kx) order); nil for
	// pooling layers. A binary layer computes with α·sign(Latent).
	Latent [][]float32
}

// Effective returns the weights the ANN computes with: the latent weights
// of full-precision layers and α_o·sign(W) for binary ones, and α per
// output of each binary layer (nil elsewhere). sign(0) is +1 so that every
// binary weight is ±1.
func (a *ANN) Effective() (w, alpha [][]float32) {
	w = make([][]float32, len(a.Latent))
	alpha = make([][]float32, len(a.Latent))
	for i := range a.Net.Layers {
		l := &a.Net.Layers[i]
		if !l.Binary {
			w[i] = a.Latent[i]
			continue
		}
		w[i] = make([]float32, len(a.Latent[i]))
		alpha[i] = make([]float32, l.Outputs())
		binarize(a.Latent[i], w[i], alpha[i], l.FanIn())
	}
	return w, alpha
}

// binarize writes α_o·sign(W) into dst and α into alpha.
func binarize(latent, dst, alpha []float32, fanIn int) {
	for o := range alpha {
		row := latent[o*fanIn : (o+1)*fanIn]
		var sum float64
		for _, v := range row {
			sum += math.Abs(float64(v))
		}
		a := float32(sum / float64(fanIn))
		alpha[o] = a
		for j, v := range row {
			if v >= 0 {
				dst[o*fanIn+j] = a
			} else {
				dst[o*fanIn+j] = -a
			}
		}
	}
}

// steGrad turns the gradient g with respect to a binary layer's effective
// weights α·sign(W) into the gradient with respect to the latent weights,
// in place. sign'(W) is replaced by the straight-through estimate
// 1{|W| ≤ 1}; α = mean|W| is differentiated exactly, as in XNOR-Net:
//
//	∂L/∂W_i = α·1{|W_i|≤1}·g_i + sign(W_i)·(1/n)·Σ_j sign(W_j)·g_j
func steGrad(latent, alpha, g []float32, fanIn int) {
	for o, a := range alpha {
		row := latent[o*fanIn : (o+1)*fanIn]
		gr := g[o*fanIn : (o+1)*fanIn]
		var s float64
		for j, v := range row {
			if v >= 0 {
				s += float64(gr[j])
			} else {
				s -= float64(gr[j])
			}
		}
		mean := float32(s / float64(fanIn))
		for j, v := range row {
			ste := float32(0)
			if v >= -1 && v <= 1 {
				ste = a * gr[j]
			}
			if v >= 0 {
				gr[j] = ste + mean
			} else {
				gr[j] = ste - mean
			}
		}
	}
}

// Config is how to train.
//
// The fields tagged `flag` are the settings a checkpoint records (under
// nmsim train's flag names) and a resumed run must repeat; likewise in
// TTFSConfig and SurrogateConfig.
type Config struct {
	Epochs int `flag:"epochs"`
	// Batch is the minibatch size.
	Batch int `flag:"batch"`
	// LR is Adam's initial learning rate; it decays to 0 along a cosine
	// over all steps.
	LR float64 `flag:"lr"`
	// Seed drives the initial weights and the shuffling.
	Seed uint64 `flag:"seed"`
	// Workers is how many goroutines share each minibatch; the result
	// does not depend on it.
	Workers int
	// Checkpoint saves the state after every epoch and resumes from it.
	Checkpoint Checkpoint
	// Progress, if set, is called after every minibatch, from the
	// goroutine that called Train.
	Progress func(Progress)
}

// Progress reports training as it goes.
type Progress struct {
	Epoch, Epochs int // epoch counts from 1
	Step, Steps   int // minibatch within the epoch, from 1
	// Loss and Accuracy are the mean cross-entropy and the fraction
	// classified right over the epoch's minibatches so far (training
	// data, with the weights of the moment).
	Loss, Accuracy float64
	Elapsed        time.Duration // since Train started
}

func (c *Config) check() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d, want >= 1", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("batch %d, want >= 1", c.Batch)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v, want > 0", c.LR)
	case c.Workers < 1:
		return fmt.Errorf("workers %d, want >= 1", c.Workers)
	}
	return nil
}

// checkData reports whether data fits net.
func checkData(net *Net, data *dataset.Set) error {
	if data.Len() == 0 {
		return fmt.Errorf("data set %q is empty", data.Name)
	}
	if data.Shape != net.In {
		return fmt.Errorf("data set %q has %v images, the net expects %v", data.Name, data.Shape, net.In)
	}
	if data.Classes != net.Classes() {
		return fmt.Errorf("data set %q has %d classes, the net's last layer has %d outputs", data.Name, data.Classes, net.Classes())
	}
	return nil
}

// NewANN initialises the latent weights: He-normal, std √(2/fanIn), which
// keeps ReLU activations of similar size through the layers since neither
// bias nor batch-norm rescales them; binary layers inherit the same scale
// through α.
func NewANN(net Net, seed uint64) *ANN {
	rng := rand.New(rand.NewPCG(seed, 0x6e6d73696d)) // stream "nmsim"
	a := &ANN{Net: net, Latent: make([][]float32, len(net.Layers))}
	for i := range net.Layers {
		l := &net.Layers[i]
		if !l.HasWeights() {
			continue
		}
		std := math.Sqrt(2 / float64(l.FanIn()))
		w := make([]float32, l.Outputs()*l.FanIn())
		for j := range w {
			v := rng.NormFloat64() * std
			if l.Binary {
				v = max(-1, min(1, v))
			}
			w[j] = float32(v)
		}
		a.Latent[i] = w
	}
	return a
}

// adam is the optimiser state of one weight tensor.
type adam struct{ m, v []float32 }

const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// Train trains a binary ANN of shape net on data with minibatch Adam. It
// stops with ctx's error between minibatches when ctx is cancelled.
func Train(ctx context.Context, net Net, data *dataset.Set, cfg Config) (*ANN, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := checkData(&net, data); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	a := NewANN(net, cfg.Seed)
	lp := newLoop("train", data.Len(), cfg.Batch, shardSize, cfg.Epochs, cfg.Workers, cfg.Seed, cfg.Progress)
	passes := make([]*pass, lp.workers)
	for w := range passes {
		passes[w] = newPass(&a.Net)
	}
	grads := make([][][]float32, lp.shards()) // [shard][layer]
	for s := range grads {
		grads[s] = make([][]float32, len(net.Layers))
		for i, w := range a.Latent {
			if w != nil {
				grads[s][i] = make([]float32, len(w))
			}
		}
	}
	opt := make([]adam, len(net.Layers))
	for i, w := range a.Latent {
		if w != nil {
			opt[i] = newAdam(len(w))
		}
	}
	state := slices.Concat(a.Latent, adamTensors(opt...))
	if err := lp.attach(cfg.Checkpoint, settingsOf("convert", cfg, &net, data), state, nil, nil); err != nil {
		return nil, err
	}
	var w, alpha [][]float32
	scale := float32(0)
	err := lp.run(ctx, func(mb *minibatch) {
		w, alpha = a.Effective()
		scale = 1 / float32(len(mb.Samples))
	}, func(wk, s int, samples []int) (float64, int) {
		return passes[wk].gradient(data, samples, w, grads[s], scale)
	}, func(mb *minibatch) {
		sumShards(grads, mb.Shards)
		for i := range net.Layers {
			l := &net.Layers[i]
			if !l.HasWeights() {
				continue
			}
			if l.Binary {
				steGrad(a.Latent[i], alpha[i], grads[0][i], l.FanIn())
			}
			opt[i].step(a.Latent[i], grads[0][i], mb.lr(cfg.LR), mb.T, l.Binary)
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// gradient loads the samples idx, runs them forward and backward, and
// writes the gradient of the cross-entropy (times scale) with respect to
// the effective weights w into grad. It returns the summed loss and the
// number classified right.
func (p *pass) gradient(data *dataset.Set, idx []int, w, grad [][]float32, scale float32) (float64, int) {
	images := make([][]uint8, len(idx))
	labels := make([]uint8, len(idx))
	for b, i := range idx {
		images[b] = data.Image(i)
		labels[b] = data.Labels[i]
	}
	p.load(images)
	p.forward(w, len(idx))
	loss, right := p.softmaxLoss(labels, scale)
	p.backward(w, grad, len(idx))
	return loss, right
}

func newAdam(n int) adam { return adam{m: make([]float32, n), v: make([]float32, n)} }

// step applies one Adam update with bias correction at step t (from 1).
// Binary layers keep their latent weights in [-1, 1]: beyond that the
// straight-through estimator passes no gradient, and a weight stuck far out
// could never change sign again.
func (o *adam) step(w, g []float32, lr float64, t int, clip bool) {
	c1 := 1 - math.Pow(adamBeta1, float64(t))
	c2 := 1 - math.Pow(adamBeta2, float64(t))
	stepSize := float32(lr / c1)
	for j, gj := range g {
		m := adamBeta1*o.m[j] + (1-adamBeta1)*gj
		v := adamBeta2*o.v[j] + (1-adamBeta2)*gj*gj
		o.m[j], o.v[j] = m, v
		x := w[j] - stepSize*m/(float32(math.Sqrt(float64(v)/c2))+adamEps)
		if clip {
			x = max(-1, min(1, x))
		}
		w[j] = x
	}
}

// Accuracy is the fraction of data the ANN classifies right, computing
// with its effective (binarised) weights on workers goroutines.
func (a *ANN) Accuracy(ctx context.Context, data *dataset.Set, workers int) (float64, error) {
	if err := checkData(&a.Net, data); err != nil {
		return 0, fmt.Errorf("ANN accuracy: %w", err)
	}
	w, _ := a.Effective()
	classes := a.Net.Classes()
	right := make([]int, workers)
	err := a.forEachShard(ctx, data, workers, w, func(wk int, p *pass, first, n int) {
		right[wk] += countRight(p.act[len(a.Net.Layers)], classes, data.Labels[first:first+n])
	})
	if err != nil {
		return 0, fmt.Errorf("ANN accuracy: %w", err)
	}
	sum := 0
	for _, r := range right {
		sum += r
	}
	return float64(sum) / float64(data.Len()), nil
}

// countRight is how many of the len(labels) rows of logits (classes wide)
// have their largest value (the first, on ties) at the label.
func countRight(logits []float32, classes int, labels []uint8) int {
	right := 0
	for b, label := range labels {
		z := logits[b*classes : (b+1)*classes]
		best := 0
		for j, v := range z {
			if v > z[best] {
				best = j
			}
		}
		if best == int(label) {
			right++
		}
	}
	return right
}

// forEachShard runs every shardSize-slice of data forward with weights w
// on workers goroutines and calls visit(worker, pass, first sample, n)
// after each. Shards go to workers as they come free, so what visit
// gathers per worker must not depend on which shards a worker ran (counts,
// or values that are sorted afterwards).
func (a *ANN) forEachShard(ctx context.Context, data *dataset.Set, workers int, w [][]float32, visit func(wk int, p *pass, first, n int)) error {
	if workers < 1 {
		return fmt.Errorf("workers %d, want >= 1", workers)
	}
	shards := (data.Len() + shardSize - 1) / shardSize
	passes := make([]*pass, parallel.Workers(shards, workers))
	images := make([][][]uint8, len(passes))
	for wk := range passes {
		passes[wk], images[wk] = newPass(&a.Net), make([][]uint8, 0, shardSize)
	}
	return parallel.For(ctx, shards, workers, func(wk, s int) {
		p := passes[wk]
		first := s * shardSize
		n := min(shardSize, data.Len()-first)
		images[wk] = images[wk][:0]
		for b := 0; b < n; b++ {
			images[wk] = append(images[wk], data.Image(first+b))
		}
		p.load(images[wk])
		p.forward(w, n)
		visit(wk, p, first, n)
	})
}
