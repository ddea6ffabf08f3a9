package train

// Surrogate-gradient training of binary spiking networks (ALBSNN, Pei et
// al. 2023): integrate-and-fire neurons trained by backpropagation
// through time with a sigmoid surrogate for the derivative of the spike,
// batch norm before every hidden layer's neurons (folded into integer
// thresholds and biases afterwards), direct input (the analog pixel as a
// constant current, so one timestep suffices) or event frames, global
// average pooling instead of large dense layers, and an accuracy-loss
// estimator that decides per layer whether its weights become α·sign(W)
// or stay full precision.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// SurrogateConfig is how to train with surrogate gradients.
type SurrogateConfig struct {
	// Timesteps is T, the number of timesteps of BPTT (and of the model's
	// runs). For frame coding it is the number of frames per sample.
	Timesteps int `flag:"timesteps"`
	// Coding is model.CodingConstant (the 8-bit pixel every timestep;
	// "" means this) or model.CodingFrames (T frames of event counts per
	// sample, the data set's channels being T times the net's).
	Coding model.Coding `flag:"coding"`
	// InputBits is the width of the input values (8 for pixels; for
	// frames, enough for the largest count). 0 means 8.
	InputBits int `flag:"input-bits"`
	// FrameUS is recorded in the model for frame coding (frame length, µs).
	FrameUS int `flag:"frame-us"`
	// MaxCount is recorded in the model for frame coding: the count at
	// which the frames' values were clipped (0: 2^InputBits − 1).
	MaxCount int `flag:"max-count"`
	Epochs   int `flag:"epochs"`
	Batch    int `flag:"batch"`
	// LR is Adam's initial learning rate, decayed to 0 along a cosine.
	LR      float64 `flag:"lr"`
	Seed    uint64  `flag:"seed"`
	Workers int
	// Checkpoint saves the state after every epoch and resumes from it.
	Checkpoint Checkpoint
	// BinarizeTolerance is the accuracy-loss estimator's budget: after
	// epoch EstimatorEpochs and after every later epoch but the last (until
	// binary weight optimisation starts), a full-precision weight layer is
	// binarized for the rest of training if binarizing it alone costs at
	// most this fraction of validation accuracy (0.01 = one point; see
	// estimate). Negative: no layer is binarized.
	BinarizeTolerance float64 `flag:"binarize-tolerance"`
	// EstimatorEpochs is the number of full-precision epochs before the
	// estimator first runs (default 1); it must be below Epochs unless no
	// layer may be binarized.
	EstimatorEpochs int `flag:"estimator-epochs"`
	// EstimatorProbe is how many minibatches the estimator trains the net
	// as it is, and again each candidate layer binarized, before it
	// compares their validation accuracies (capped at one epoch; see
	// estimate). 0 compares at once: the cost of binarizing a layer of the
	// net as it is, before the rest of the net has adapted to it.
	EstimatorProbe int `flag:"estimator-probe,omitzero"`
	// WeightBits (2..8, default 8) is the width of the layers that stay
	// full precision in the integer model.
	WeightBits int `flag:"fp-bits"`
	// Slope is k of the surrogate derivative k·σ(kx)(1−σ(kx)) of the
	// spike at x = v − θ (default 4).
	Slope float64 `flag:"slope"`
	// DetachReset drops the reset's term from BPTT (T > 1 only).
	DetachReset bool `flag:"detach-reset"`
	// WeightUpdate is how the binary layers' full-precision (latent)
	// weights learn: WeightSTE ("" means this) throughout, or WeightBWO,
	// ALBSNN's binary weight optimisation once training reaches its
	// bottleneck (see BWOPlateau).
	WeightUpdate string `flag:"weight-update"`
	// BWOPlateau is the bottleneck that starts BWO: an epoch's mean
	// training loss fell by less than this fraction of the previous
	// epoch's (default 0.05; 1 starts BWO at the earliest epoch; see
	// bottleneck).
	BWOPlateau float64 `flag:"bwo-plateau"`
	// Shift is a random translation of up to ±Shift pixels of each
	// training sample (augmentation; 0 for none).
	Shift int `flag:"shift"`
	// Progress, if set, is called after every minibatch from the
	// goroutine that called TrainSurrogate; Log with notes such as the
	// estimator's decisions.
	Progress func(Progress)
	Log      func(string)
}

// The binary layers' weight updates (SurrogateConfig.WeightUpdate).
const (
	// WeightSTE trains the latent weights W through the straight-through
	// estimator of α·sign(W), with α's exact derivative (steGrad).
	WeightSTE = "ste"
	// WeightBWO is ALBSNN's binary weight optimisation: once training
	// reaches its bottleneck, every step adjusts the binary weight α·sign(W)
	// directly by Adam with the gradient with respect to it, and the
	// adjusted binary weight becomes the full-precision weight.
	WeightBWO = "bwo"
)

func (c *SurrogateConfig) defaults() {
	if c.WeightUpdate == "" {
		c.WeightUpdate = WeightSTE
	}
	if c.BWOPlateau == 0 {
		c.BWOPlateau = 0.05
	}
	if c.Coding == "" {
		c.Coding = model.CodingConstant
	}
	if c.InputBits == 0 {
		c.InputBits = 8
	}
	if c.EstimatorEpochs == 0 {
		c.EstimatorEpochs = 1
	}
	if c.WeightBits == 0 {
		c.WeightBits = 8
	}
	if c.Slope == 0 {
		c.Slope = 4
	}
}

func (c *SurrogateConfig) check() error {
	switch {
	case c.Timesteps < 1:
		return fmt.Errorf("timesteps %d, want >= 1", c.Timesteps)
	case c.Coding != model.CodingConstant && c.Coding != model.CodingFrames:
		return fmt.Errorf("input coding %q, want %q or %q", c.Coding, model.CodingConstant, model.CodingFrames)
	case c.InputBits < 1 || c.InputBits > 16:
		return fmt.Errorf("input bits %d, want 1..16", c.InputBits)
	case c.MaxCount < 0 || c.MaxCount > 1<<c.InputBits-1:
		return fmt.Errorf("max count %d, want 0..%d (%d-bit inputs)", c.MaxCount, 1<<c.InputBits-1, c.InputBits)
	case math.IsNaN(c.BinarizeTolerance):
		return errors.New("binarize tolerance is NaN")
	case c.EstimatorEpochs < 1:
		return fmt.Errorf("estimator epochs %d, want >= 1", c.EstimatorEpochs)
	case c.EstimatorProbe < 0:
		return fmt.Errorf("estimator probe %d minibatches, want >= 0", c.EstimatorProbe)
	case c.BinarizeTolerance >= 0 && c.EstimatorEpochs >= c.Epochs:
		return fmt.Errorf("estimator epochs %d must be below epochs %d (binarized layers need training after the estimate)", c.EstimatorEpochs, c.Epochs)
	case c.WeightBits < 2 || c.WeightBits > 8:
		return fmt.Errorf("weight bits %d, want 2..8", c.WeightBits)
	case !(c.Slope > 0) || math.IsInf(c.Slope, 0):
		return fmt.Errorf("surrogate slope %v, want > 0", c.Slope)
	case c.WeightUpdate != WeightSTE && c.WeightUpdate != WeightBWO:
		return fmt.Errorf("weight update %q, want %q or %q", c.WeightUpdate, WeightSTE, WeightBWO)
	case c.WeightUpdate == WeightBWO && c.BinarizeTolerance < 0:
		return errors.New("weight update bwo needs binary layers, but the binarize tolerance is negative (no layer is binarized)")
	case !(c.BWOPlateau > 0) || math.IsInf(c.BWOPlateau, 0):
		return fmt.Errorf("bwo plateau %v, want > 0", c.BWOPlateau)
	case c.Shift < 0 || c.Shift > 127:
		return fmt.Errorf("shift %d, want 0..127", c.Shift)
	}
	common := Config{Epochs: c.Epochs, Batch: c.Batch, LR: c.LR, Workers: c.Workers}
	return common.check()
}

// SurrogateNet is a trained surrogate-gradient SNN in real values.
type SurrogateNet struct {
	// Net is the architecture; Layers[i].Binary says what the accuracy-
	// loss estimator chose.
	Net Net
	// Latent holds each weight layer's real weights ([Outputs][FanIn]),
	// nil for pooling layers; binary layers compute with α·sign(Latent),
	// α per output (one α for the whole output layer, so that its
	// outputs stay comparable).
	Latent [][]float32
	// Gamma, Beta, Mean and Var are the batch norm of each hidden weight
	// layer (one per output channel; nil elsewhere): u = γ(z−μ)/√(σ²+ε)+β,
	// with the running mean and variance used after training.
	Gamma, Beta, Mean, Var [][]float32
	// Bias is the output layer's bias.
	Bias   []float32
	Config SurrogateConfig
	Report SurrogateReport
}

// SurrogateReport says what training found.
type SurrogateReport struct {
	// Layers has one entry per weight layer, in order.
	Layers []LayerEstimate
	// FullPrecisionAccuracy is the validation accuracy (batch statistics)
	// when the estimator last ran, before it binarized more layers.
	FullPrecisionAccuracy float64
	// ValAccuracy is the final real-valued validation accuracy (running
	// statistics).
	ValAccuracy float64
	// EpochSeconds is the wall time of each epoch, EpochLoss its mean
	// training loss.
	EpochSeconds, EpochLoss []float64
	// BWOEpoch is the first epoch trained with binary weight optimisation
	// (0: none).
	BWOEpoch int
	// Workers is the worker count that EpochSeconds was measured with.
	Workers int
	// WeightBits is the storage of all weights as the integer model holds
	// them; FullPrecisionBits if every layer were WeightBits wide.
	WeightBits, FullPrecisionBits int64
}

// LayerEstimate is the accuracy-loss estimator's view of one weight layer.
type LayerEstimate struct {
	Layer   int // index in Net.Layers
	Weights int
	// Epoch is the epoch after which the estimate was made: the one that
	// binarized the layer, or the last one for a full-precision layer.
	Epoch int
	// Drop is the validation accuracy lost (fraction) when this layer
	// alone was binarized, StdErr its standard error (the validation
	// set's sampling noise); WeightError the relative L2 error
	// ‖W − α·sign(W)‖/‖W‖ of binarizing it, all at estimate time.
	Drop, StdErr, WeightError float64
	Binary                    bool
}

// StorageSaved is the fraction of weight storage that binarization saved
// against all layers at WeightBits.
func (r *SurrogateReport) StorageSaved() float64 {
	if r.FullPrecisionBits == 0 {
		return 0
	}
	return 1 - float64(r.WeightBits)/float64(r.FullPrecisionBits)
}

// sampleShape is the shape of one data set sample for the net and config.
func sampleShape(net *Net, cfg *SurrogateConfig) model.Shape {
	if cfg.Coding == model.CodingFrames {
		return model.Shape{C: net.In.C * cfg.Timesteps, H: net.In.H, W: net.In.W}
	}
	return net.In
}

func checkSurrogateData(net *Net, cfg *SurrogateConfig, data *dataset.Set) error {
	if data.Len() == 0 {
		return fmt.Errorf("data set %q is empty", data.Name)
	}
	if want := sampleShape(net, cfg); data.Shape != want {
		return fmt.Errorf("data set %q has %v samples, the net expects %v (%s coding, %d timesteps)", data.Name, data.Shape, want, cfg.Coding, cfg.Timesteps)
	}
	if data.Classes != net.Classes() {
		return fmt.Errorf("data set %q has %d classes, the net's last layer has %d outputs", data.Name, data.Classes, net.Classes())
	}
	return nil
}

// newSurrogateNet initialises the weights as NewANN does (He-normal), batch
// norm to γ = 1, β = 0, and every layer full precision.
func newSurrogateNet(net Net, cfg SurrogateConfig) *SurrogateNet {
	for i := range net.Layers {
		net.Layers[i].Binary = false
	}
	net.Layers = append([]Layer(nil), net.Layers...)
	a := NewANN(net, cfg.Seed)
	L := len(net.Layers)
	s := &SurrogateNet{Net: net, Latent: a.Latent, Config: cfg,
		Gamma: make([][]float32, L), Beta: make([][]float32, L), Mean: make([][]float32, L), Var: make([][]float32, L),
		Bias: make([]float32, net.Classes())}
	for i := range net.Layers[:L-1] {
		l := &net.Layers[i]
		if !l.HasWeights() {
			continue
		}
		c := l.Out.C
		s.Gamma[i], s.Beta[i], s.Mean[i], s.Var[i] = make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		for j := 0; j < c; j++ {
			s.Gamma[i][j], s.Var[i][j] = 1, 1
		}
	}
	return s
}

// effective returns the weights the net computes with (α·sign(W) for binary
// layers) and the α of each binary layer.
func (s *SurrogateNet) effective(w, alpha [][]float32) {
	last := len(s.Net.Layers) - 1
	for i := range s.Net.Layers {
		l := &s.Net.Layers[i]
		if !l.HasWeights() {
			continue
		}
		if !l.Binary {
			copy(w[i], s.Latent[i])
			continue
		}
		if i == last {
			binarize(s.Latent[i], w[i], alpha[i][:1], len(s.Latent[i]))
		} else {
			binarize(s.Latent[i], w[i], alpha[i], l.FanIn())
		}
	}
}

// params returns forward parameters for the net's effective weights with
// batch statistics (batch true) or the running ones.
func (s *SurrogateNet) params(batch bool) *sparams {
	L := len(s.Net.Layers)
	sp := &sparams{w: make([][]float32, L), gamma: s.Gamma, beta: s.Beta, bias: s.Bias,
		scale: make([][]float32, L), shift: make([][]float32, L), thr: make([][]float32, L),
		lastScale: 1 / float32(s.Config.Timesteps), unit: 1, frames: s.Config.Coding == model.CodingFrames, batchStats: batch}
	if !sp.frames {
		sp.unit = 1.0 / 255
	}
	alpha := make([][]float32, L)
	widest := 0
	for i := range s.Net.Layers {
		l := &s.Net.Layers[i]
		if l.HasWeights() {
			sp.w[i] = make([]float32, len(s.Latent[i]))
			alpha[i] = make([]float32, l.Outputs())
			widest = max(widest, l.Out.C)
		}
		if s.Gamma[i] != nil {
			c := len(s.Gamma[i])
			sp.scale[i], sp.shift[i], sp.thr[i] = make([]float32, c), make([]float32, c), make([]float32, c)
			for j := 0; j < c; j++ {
				a := float64(s.Gamma[i][j]) / math.Sqrt(float64(s.Var[i][j])+bnEps)
				sp.scale[i][j] = float32(a)
				sp.shift[i][j] = float32(float64(s.Beta[i][j]) - a*float64(s.Mean[i][j]))
				sp.thr[i][j] = 1
			}
		}
	}
	sp.ones = make([]float32, widest)
	for j := range sp.ones {
		sp.ones[j] = 1
	}
	s.effective(sp.w, alpha)
	return sp
}

// bnMomentum is the weight of each shard's statistics in the running
// averages.
const bnMomentum = 0.05

// TrainSurrogate trains a spiking net of shape net on trainSet by BPTT with
// surrogate gradients and minibatch Adam, choosing its binary layers with
// the accuracy-loss estimator on valSet (nil: the first 2000 training
// samples). It stops with ctx's error between minibatches when ctx is
// cancelled. The result does not depend on cfg.Workers.
func TrainSurrogate(ctx context.Context, net Net, trainSet, valSet *dataset.Set, cfg SurrogateConfig) (*SurrogateNet, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("surrogate: %w", err)
	}
	if err := checkSurrogateData(&net, &cfg, trainSet); err != nil {
		return nil, fmt.Errorf("surrogate: %w", err)
	}
	if valSet == nil {
		valSet = trainSet.Slice(2000)
	}
	if err := checkSurrogateData(&net, &cfg, valSet); err != nil {
		return nil, fmt.Errorf("surrogate: validation: %w", err)
	}
	s := newSurrogateNet(net, cfg)
	s.Report.Workers = cfg.Workers
	lp := newLoop("surrogate", trainSet.Len(), cfg.Batch, surrogateShard, cfg.Epochs, cfg.Workers, cfg.Seed, cfg.Progress)
	passes := make([]*spass, lp.workers)
	for w := range passes {
		passes[w] = newSPass(&s.Net, cfg.Timesteps, float32(cfg.Slope), cfg.DetachReset)
	}
	grads := make([]*sgrads, lp.shards())
	for i := range grads {
		grads[i] = newSGrads(s)
	}
	L := len(s.Net.Layers)
	opt := make([]adam, L)
	optG, optB := make([]adam, L), make([]adam, L)
	optBias := newAdam(len(s.Bias))
	for i, w := range s.Latent {
		if w != nil {
			opt[i] = newAdam(len(w))
		}
		if g := s.Gamma[i]; g != nil {
			optG[i], optB[i] = newAdam(len(g)), newAdam(len(g))
		}
	}
	state := slices.Concat(s.Latent, s.Gamma, s.Beta, s.Mean, s.Var, [][]float32{s.Bias},
		adamTensors(opt...), adamTensors(optG...), adamTensors(optB...), adamTensors(optBias))
	if err := lp.attach(cfg.Checkpoint, settingsOf("surrogate", cfg, &net, trainSet), state, nil, &surrogateMeta{s}); err != nil {
		return nil, err
	}
	shiftX, shiftY := make([]int8, cfg.Batch), make([]int8, cfg.Batch)
	sp := s.params(true)
	alpha := make([][]float32, L)
	for i := range s.Net.Layers {
		if s.Net.Layers[i].HasWeights() {
			alpha[i] = make([]float32, s.Net.Layers[i].Outputs())
		}
	}
	scale := float32(0)
	labels := make([][]uint8, lp.workers)
	shardLoss := make([]float64, lp.shards())
	var epochLoss float64
	var epochSamples int
	// prepare draws each minibatch's shifts from rng: the loop's stream in
	// training, the probe's own in the estimator's probes.
	prepare := func(rng *rand.Rand) func(mb *minibatch) {
		return func(mb *minibatch) {
			if cfg.Shift > 0 {
				for b := range mb.Samples {
					shiftX[b] = int8(rng.IntN(2*cfg.Shift+1) - cfg.Shift)
					shiftY[b] = int8(rng.IntN(2*cfg.Shift+1) - cfg.Shift)
				}
			}
			s.effective(sp.w, alpha)
			scale = 1 / float32(len(mb.Samples))
		}
	}
	shard := func(wk, sh int, idx []int) (float64, int) {
		p, psp := passes[wk], *sp
		if cfg.Shift > 0 {
			lo := sh * surrogateShard
			psp.shiftX, psp.shiftY = shiftX[lo:lo+len(idx)], shiftY[lo:lo+len(idx)]
		}
		p.load(trainSet, idx, &psp)
		p.forward(&psp, len(idx))
		labels[wk] = labels[wk][:0]
		for _, i := range idx {
			labels[wk] = append(labels[wk], trainSet.Labels[i])
		}
		loss, right := p.softmaxLoss(labels[wk], scale)
		p.backward(&psp, grads[sh], len(idx))
		shardLoss[sh] = loss
		return loss, right
	}
	update := func(mb *minibatch) {
		bwo := s.Report.BWOEpoch > 0 && mb.Epoch >= s.Report.BWOEpoch
		g0 := grads[0]
		for sh := 1; sh < mb.Shards; sh++ {
			g := grads[sh]
			addTo(g0.bias, g.bias)
			for i := range g.w {
				addTo(g0.w[i], g.w[i])
				addTo(g0.gamma[i], g.gamma[i])
				addTo(g0.beta[i], g.beta[i])
			}
		}
		for sh := 0; sh < mb.Shards; sh++ {
			for i := range s.Mean {
				for c := range s.Mean[i] {
					s.Mean[i][c] += bnMomentum * (grads[sh].mean[i][c] - s.Mean[i][c])
					s.Var[i][c] += bnMomentum * (grads[sh].vari[i][c] - s.Var[i][c])
				}
			}
		}
		lr := mb.lr(cfg.LR)
		last := L - 1
		for i := range s.Net.Layers {
			l := &s.Net.Layers[i]
			if !l.HasWeights() {
				continue
			}
			switch {
			case l.Binary && bwo:
				// The step below adjusts the binary weight, which
				// becomes the full-precision weight.
				copy(s.Latent[i], sp.w[i])
			case l.Binary && i == last:
				steGrad(s.Latent[i], alpha[i][:1], g0.w[i], len(s.Latent[i]))
			case l.Binary:
				steGrad(s.Latent[i], alpha[i], g0.w[i], l.FanIn())
			}
			opt[i].step(s.Latent[i], g0.w[i], lr, mb.T, l.Binary)
			if s.Gamma[i] != nil {
				optG[i].step(s.Gamma[i], g0.gamma[i], lr, mb.T, false)
				optB[i].step(s.Beta[i], g0.beta[i], lr, mb.T, false)
			}
		}
		optBias.step(s.Bias, g0.bias, lr, mb.T, false)
	}
	var probe *surrogateProbe
	if cfg.EstimatorProbe > 0 {
		steps := min(cfg.EstimatorProbe, lp.stepsPerEpoch)
		probe = newSurrogateProbe(state, steps, func(epoch int) {
			// The probe's samples and shifts are the same for every
			// candidate and never draw from the loop's stream, so
			// probing changes no later minibatch.
			rng := rand.New(rand.NewPCG(cfg.Seed, 0x70726f62^uint64(epoch))) // "prob"
			order, prep := rng.Perm(trainSet.Len()), prepare(rng)
			for k := 0; k < steps; k++ {
				mb := lp.newMinibatch(epoch+1, lp.t+k+1, order[k*cfg.Batch:min((k+1)*cfg.Batch, len(order))])
				lp.runMinibatch(&mb, prep, shard, update)
			}
		})
	}
	err := lp.run(ctx, prepare(lp.shuffle), shard, func(mb *minibatch) {
		for sh := 0; sh < mb.Shards; sh++ {
			epochLoss += shardLoss[sh]
		}
		epochSamples += len(mb.Samples)
		update(mb)
	}, func(epoch int, seconds float64) error {
		s.Report.EpochSeconds = append(s.Report.EpochSeconds, seconds)
		s.Report.EpochLoss = append(s.Report.EpochLoss, epochLoss/float64(epochSamples))
		epochLoss, epochSamples = 0, 0
		if cfg.BinarizeTolerance >= 0 && epoch >= cfg.EstimatorEpochs && epoch < cfg.Epochs && s.Report.BWOEpoch == 0 {
			// The end of an epoch runs whole, as a minibatch does, so
			// that a run stopped in its last minibatch still saves it.
			if err := s.estimate(context.Background(), valSet, cfg.Workers, epoch, probe); err != nil {
				return err
			}
		}
		s.bottleneck(epoch)
		return nil
	})
	if err != nil {
		return nil, err
	}
	acc, err := s.Accuracy(ctx, valSet, cfg.Workers)
	if err != nil {
		return nil, err
	}
	s.Report.ValAccuracy = acc
	s.storage()
	return s, nil
}

// bottleneck starts binary weight optimisation (WeightBWO) after epoch if
// training has reached its bottleneck: some layer is binary, the epoch is
// at least the second since the estimator last binarized a layer (the
// first is compared with, as its loss includes the jump that binarizing
// caused), and its mean training loss fell by less than BWOPlateau of the
// previous epoch's. The estimator binarizes no more layers after that.
func (s *SurrogateNet) bottleneck(epoch int) {
	cfg := &s.Config
	if cfg.WeightUpdate != WeightBWO || s.Report.BWOEpoch > 0 || epoch == cfg.Epochs {
		return
	}
	binarized := 0 // the epoch after which the last layer was binarized
	for _, e := range s.Report.Layers {
		if e.Binary {
			binarized = max(binarized, e.Epoch)
		}
	}
	loss := s.Report.EpochLoss
	if binarized == 0 || epoch < binarized+2 {
		return
	}
	prev, cur := loss[epoch-2], loss[epoch-1]
	if prev-cur >= cfg.BWOPlateau*prev {
		return
	}
	s.Report.BWOEpoch = epoch + 1
	if cfg.Log != nil {
		cfg.Log(fmt.Sprintf("bottleneck: training loss %.4f after %.4f (%.1f%% lower, under %.1f%%) → binary weight optimisation from epoch %d",
			cur, prev, 100*(prev-cur)/prev, 100*cfg.BWOPlateau, epoch+1))
	}
}

// surrogateMeta is the part of a SurrogateNet's training state that a
// checkpoint holds besides its tensors: which layers the estimator
// binarized, and the report so far.
type surrogateMeta struct{ s *SurrogateNet }

type surrogateMetaJSON struct {
	Binary []bool
	Report SurrogateReport
}

func (m surrogateMeta) MarshalJSON() ([]byte, error) {
	j := surrogateMetaJSON{Report: m.s.Report}
	for i := range m.s.Net.Layers {
		j.Binary = append(j.Binary, m.s.Net.Layers[i].Binary)
	}
	return json.Marshal(j)
}

func (m surrogateMeta) UnmarshalJSON(b []byte) error {
	var j surrogateMetaJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if len(j.Binary) != len(m.s.Net.Layers) {
		return fmt.Errorf("%d binary flags for %d layers", len(j.Binary), len(m.s.Net.Layers))
	}
	for i, b := range j.Binary {
		m.s.Net.Layers[i].Binary = b
	}
	j.Report.Workers = m.s.Report.Workers
	m.s.Report = j.Report
	return nil
}

// estimate is the accuracy-loss estimator, run after epoch: it classifies
// the validation set with the net as it is and with each full-precision
// weight layer alone binarized (batch statistics, so that batch norm adapts
// to the binary weights as it will in training), and binarizes, for the
// rest of training, the layers whose accuracy drop is within the tolerance.
// With a probe, each of those nets is first trained for the probe's
// minibatches from the same state on the same samples (the binarized layer
// with its latent weights clipped, as training would), so that the drop is
// the cost of the binary layer once the rest of the net has begun to adapt
// to it rather than the shock of binarizing it; the state is restored
// afterwards. With a probe the first weight layer is not a candidate (see
// below). It reports each drop's standard error, that of a paired
// difference of two accuracies on the same n samples, √(b + c − (b −
// c)²/n)/n, with b the samples that only the net as it is classifies right
// and c those that only the binarized one does. With no candidate left it
// does nothing (no probe, no validation pass).
func (s *SurrogateNet) estimate(ctx context.Context, val *dataset.Set, workers, epoch int, probe *surrogateProbe) error {
	if s.Report.Layers == nil {
		for i := range s.Net.Layers {
			if s.Net.Layers[i].HasWeights() {
				s.Report.Layers = append(s.Report.Layers, LayerEstimate{Layer: i, Weights: len(s.Latent[i])})
			}
		}
	}
	var candidates []int // indices into s.Report.Layers
	firstKept := false   // the first weight layer, left out with a probe
	for k, e := range s.Report.Layers {
		if s.Net.Layers[e.Layer].Binary {
			continue
		}
		if k == 0 && probe != nil {
			// A probe lets the ghost batch norm adapt to a binary first
			// layer, whose sums follow each image's brightness, in a way
			// the running statistics that the model folds do not: MNIST's
			// conv1 passed at −0.80 points and the model ended at 88 %.
			firstKept = true
			continue
		}
		candidates = append(candidates, k)
	}
	if len(candidates) == 0 {
		return nil // nothing left to decide: no probe, no validation pass
	}
	if probe != nil {
		probe.save()
		if s.Config.Log != nil && firstKept {
			i := s.Report.Layers[0].Layer
			s.Config.Log(fmt.Sprintf("estimator after epoch %d: layer %d (%s, %d weights): the first weight layer stays full precision with a probe",
				epoch, i+1, s.Net.Layers[i].Kind, len(s.Latent[i])))
		}
	}
	// measure classifies val with layer (−1: none) binarized.
	measure := func(layer int) ([]bool, error) {
		if probe != nil {
			probe.restore()
		}
		if layer >= 0 {
			s.Net.Layers[layer].Binary = true
			defer func() { s.Net.Layers[layer].Binary = false }()
			if probe != nil {
				s.clipLatent(layer)
			}
		}
		if probe != nil {
			probe.train(epoch)
		}
		return s.correct(ctx, val, workers, true)
	}
	full, err := measure(-1)
	if err != nil {
		return err
	}
	n := float64(val.Len())
	s.Report.FullPrecisionAccuracy = float64(countTrue(full)) / n
	for _, k := range candidates {
		i := s.Report.Layers[k].Layer
		bin, err := measure(i)
		if err != nil {
			return err
		}
		var onlyFull, onlyBin float64
		for j, f := range full {
			switch {
			case f && !bin[j]:
				onlyFull++
			case bin[j] && !f:
				onlyBin++
			}
		}
		e := LayerEstimate{Layer: i, Weights: len(s.Latent[i]), Epoch: epoch, Drop: (onlyFull - onlyBin) / n,
			StdErr:      math.Sqrt(max(0, onlyFull+onlyBin-(onlyFull-onlyBin)*(onlyFull-onlyBin)/n)) / n,
			WeightError: s.binarizeError(i)}
		s.Report.Layers[k] = e
	}
	if probe != nil {
		probe.restore()
	}
	// Each drop was measured with its layer alone binarized; together the
	// layers binarized now may cost at most the tolerance by the sum of
	// their drops, taken largest layer first (most storage saved). The
	// others are measured again, with those binary, after the next epoch.
	byWeights := slices.Clone(candidates)
	slices.SortStableFunc(byWeights, func(a, b int) int { return s.Report.Layers[b].Weights - s.Report.Layers[a].Weights })
	budget := s.Config.BinarizeTolerance
	for _, k := range byWeights {
		if e := &s.Report.Layers[k]; e.Drop <= budget {
			e.Binary = true
			budget -= max(0, e.Drop)
			s.Net.Layers[e.Layer].Binary = true
			s.clipLatent(e.Layer)
		}
	}
	if s.Config.Log == nil {
		return nil
	}
	for _, k := range candidates {
		e := s.Report.Layers[k]
		decision := "full precision"
		switch {
		case e.Binary:
			decision = "binary"
		case e.Drop <= s.Config.BinarizeTolerance:
			decision = "full precision for now (within the tolerance alone, not with the larger layers binarized now)"
		}
		s.Config.Log(fmt.Sprintf("estimator after epoch %d: layer %d (%s, %d weights): binarized alone %.2f%% (%+.2f ± %.2f points)%s, weight error %.3f → %s",
			epoch, e.Layer+1, s.Net.Layers[e.Layer].Kind, e.Weights, 100*(s.Report.FullPrecisionAccuracy-e.Drop), -100*e.Drop, 100*e.StdErr,
			probe.String(), e.WeightError, decision))
	}
	return nil
}

// clipLatent clips layer i's latent weights to [−1, 1], as the straight-
// through estimator of a binary layer keeps them.
func (s *SurrogateNet) clipLatent(i int) {
	for j, v := range s.Latent[i] {
		s.Latent[i][j] = max(-1, min(1, v))
	}
}

// surrogateProbe lets the estimator train the net for a while and come
// back: it saves the training state (weights, batch norm, Adam's moments),
// and train(epoch) trains from it after epoch.
type surrogateProbe struct {
	state, saved [][]float32
	steps        int
	train        func(epoch int)
}

func newSurrogateProbe(state [][]float32, steps int, train func(epoch int)) *surrogateProbe {
	p := &surrogateProbe{state: state, steps: steps, train: train}
	for _, t := range state {
		p.saved = append(p.saved, make([]float32, len(t)))
	}
	return p
}

func (p *surrogateProbe) save() {
	for i, t := range p.state {
		copy(p.saved[i], t)
	}
}

func (p *surrogateProbe) restore() {
	for i, t := range p.state {
		copy(t, p.saved[i])
	}
}

// String is how the estimator's log names the probe ("" for none).
func (p *surrogateProbe) String() string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf(" after %d probe minibatches", p.steps)
}

// binarizeError is ‖W − α·sign(W)‖/‖W‖ for layer i (α per output, or per
// layer for the output layer).
func (s *SurrogateNet) binarizeError(i int) float64 {
	w := s.Latent[i]
	fan := s.Net.Layers[i].FanIn()
	if i == len(s.Net.Layers)-1 {
		fan = len(w)
	}
	b := make([]float32, len(w))
	alpha := make([]float32, len(w)/fan)
	binarize(w, b, alpha, fan)
	var num, den float64
	for j, v := range w {
		d := float64(v - b[j])
		num += d * d
		den += float64(v) * float64(v)
	}
	if den == 0 {
		return 0
	}
	return math.Sqrt(num / den)
}

// storage fills the report's weight storage counts.
func (s *SurrogateNet) storage() {
	s.Report.WeightBits, s.Report.FullPrecisionBits = 0, 0
	k := int64(s.Config.WeightBits)
	for i := range s.Net.Layers {
		l := &s.Net.Layers[i]
		if !l.HasWeights() {
			continue
		}
		n := int64(len(s.Latent[i]))
		s.Report.FullPrecisionBits += n * k
		if l.Binary {
			s.Report.WeightBits += n
		} else {
			s.Report.WeightBits += n * k
		}
	}
}

// Accuracy is the fraction of data the real-valued net classifies right
// (running batch-norm statistics), on workers goroutines.
func (s *SurrogateNet) Accuracy(ctx context.Context, data *dataset.Set, workers int) (float64, error) {
	return s.accuracy(ctx, data, workers, false)
}

func (s *SurrogateNet) accuracy(ctx context.Context, data *dataset.Set, workers int, batch bool) (float64, error) {
	if err := checkSurrogateData(&s.Net, &s.Config, data); err != nil {
		return 0, fmt.Errorf("surrogate accuracy: %w", err)
	}
	sp := s.params(batch)
	right, err := s.forEachShard(ctx, data, workers, sp, nil)
	if err != nil {
		return 0, fmt.Errorf("surrogate accuracy: %w", err)
	}
	return float64(right) / float64(data.Len()), nil
}

// correct says which samples of data the real-valued net classifies right
// (batch statistics or running ones), on workers goroutines.
func (s *SurrogateNet) correct(ctx context.Context, data *dataset.Set, workers int, batch bool) ([]bool, error) {
	classes := s.Net.Classes()
	ok := make([]bool, data.Len())
	_, err := s.forEachShard(ctx, data, workers, s.params(batch), func(p *spass, first, n int) {
		logits := p.act[len(s.Net.Layers)]
		for b := 0; b < n; b++ {
			ok[first+b] = countRight(logits[b*classes:(b+1)*classes], classes, data.Labels[first+b:first+b+1]) == 1
		}
	})
	if err != nil {
		return nil, fmt.Errorf("surrogate estimator: %w", err)
	}
	return ok, nil
}

func countTrue(v []bool) int {
	n := 0
	for _, b := range v {
		if b {
			n++
		}
	}
	return n
}

// forEachShard runs data forward in shards of surrogateShard samples on
// workers goroutines, calls visit (if set) after each, and returns how many
// samples were classified right.
func (s *SurrogateNet) forEachShard(ctx context.Context, data *dataset.Set, workers int, sp *sparams, visit func(p *spass, first, n int)) (int, error) {
	if workers < 1 {
		return 0, fmt.Errorf("workers %d, want >= 1", workers)
	}
	shards := (data.Len() + surrogateShard - 1) / surrogateShard
	classes := s.Net.Classes()
	right := make([]int, shards)
	passes := make([]*spass, parallel.Workers(shards, workers))
	idx := make([][]int, len(passes))
	for wk := range passes {
		passes[wk] = newSPass(&s.Net, s.Config.Timesteps, float32(s.Config.Slope), s.Config.DetachReset)
		idx[wk] = make([]int, 0, surrogateShard)
	}
	parallel.For(ctx, shards, workers, func(wk, sh int) {
		p := passes[wk]
		first := sh * surrogateShard
		n := min(surrogateShard, data.Len()-first)
		idx[wk] = idx[wk][:0]
		for b := 0; b < n; b++ {
			idx[wk] = append(idx[wk], first+b)
		}
		p.load(data, idx[wk], sp)
		p.forward(sp, n)
		right[sh] = countRight(p.act[len(s.Net.Layers)], classes, data.Labels[first:first+n])
		if visit != nil {
			visit(p, first, n)
		}
	})
	sum := 0
	for _, r := range right {
		sum += r
	}
	return sum, ctx.Err()
}
