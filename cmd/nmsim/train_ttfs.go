package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/train"
	"github.com/nmsim/nmsim/workloads/model"
)

// ttfsMethod is `nmsim train --method ttfs`: S4NN/BS4NN time-to-first-spike
// training of a binary spiking network.
type ttfsMethod struct {
	window       int
	gamma        float64
	threshold    float64
	outThreshold float64
	thresholdLR  float64
	perNeuron    bool
	weightDecay  float64
	interpolate  bool
	mirror       bool
}

func (*ttfsMethod) defaultLR() float64 { return train.DefaultTTFSConfig().LR }

func (*ttfsMethod) usage() string {
	return `Method "ttfs" (S4NN/BS4NN, Kheradpisheh et al. 2020/2022; the closest
public recipe to BSTDG, Cai et al., IEEE JETCAS 2023) trains a binary spiking
network directly with spike times. Dense nets only (e.g. 784-600-10); every
layer is binary.
  Forward: each pixel fires once, brighter earlier, over --window timesteps
     (TTFS coding); non-leaky integrate-and-fire neurons sum ±1 weights and
     fire at most once, when the sum reaches the layer's threshold; the
     class is the first output neuron to fire (the highest membrane among
     those firing at that step), which ends the run.
  Backward: relative target times (the correct class first, the others
     --gamma steps later), ∂t/∂V ≈ −1, errors propagated through the
     weights to the neurons that fired earlier, each layer's error
     normalised per sample; latent real weights in [-1, 1] updated by Adam
     (cosine decay) through a straight-through sign, with optional
     decoupled weight decay (--weight-decay); one learnt threshold per
     layer (--threshold-lr), or per neuron (--neuron-thresholds);
     --mirror and --shift augment the training images.
  Thresholds: --threshold sets the hidden layers' (higher: fewer hidden
  spikes), --out-threshold the output layer's. The run stops at the first
  output spike, so a lower output threshold decides earlier and counts
  fewer hidden spikes before the decision (on MNIST, 40/15 fires 44 % fewer
  hidden spikes than 40/40 at the same validation accuracy).
  --val-samples N holds the last N training images out and evaluates on
  them instead of the test set: choose settings that way, never by the test
  set.
  The integer model (weights ±1, threshold ⌈θ⌉, scale 1/θ) gives the same
  spikes as the trainer; it is evaluated on the test set (or validation set) with the reference
  SNN (accuracy, hidden spikes per image, mean timesteps to the decision).
  Examples:
    nmsim train --method ttfs --dataset mnist --net 784-600-10 --val-samples 10000 --epochs 40 --threshold 40 --out-threshold 15 --shift 1 -o mnist-ttfs.bin
    nmsim train --method ttfs --dataset fashion-mnist --net 784-600-10 --epochs 20 --threshold 40 -o fmnist-ttfs.bin
    nmsim train --method ttfs --net 784-64-10 --epochs 1 --train-samples 5000 --eval-samples 1000
    nmsim train --method ttfs --dataset caltech-fm --net 1240-400-2 --epochs 30 --lr 0.1 --gamma 20 --mirror --threshold-lr 0.01 --shift 1 --batch 16 -o caltech-fm-ttfs.bin
`
}

func (c *ttfsMethod) addFlags(fs *flag.FlagSet) {
	d := train.DefaultTTFSConfig()
	fs.IntVar(&c.window, "window", d.Window, "(ttfs) timesteps of the input coding and of a run")
	fs.Float64Var(&c.gamma, "gamma", d.Gamma, "(ttfs) target margin in timesteps between the correct output's spike and the others'")
	fs.Float64Var(&c.threshold, "threshold", d.Threshold, "(ttfs) initial threshold of every layer in units of one ±1 weight (0 = 0.75·√fan-in)")
	fs.Float64Var(&c.outThreshold, "out-threshold", d.OutThreshold, "(ttfs) initial threshold of the output layer (0 = --threshold's); a lower one lets the outputs fire, and the run stop, earlier")
	fs.Float64Var(&c.thresholdLR, "threshold-lr", d.ThresholdLR, "(ttfs) learning rate of the per-layer log thresholds (0 = fixed thresholds)")
	fs.BoolVar(&c.perNeuron, "neuron-thresholds", d.NeuronThresholds, "(ttfs) learn one threshold per neuron instead of one per layer (needs --threshold-lr > 0)")
	fs.Float64Var(&c.weightDecay, "weight-decay", d.WeightDecay, "(ttfs) decoupled weight decay: each step shrinks the latent weights by the factor 1 − lr·this (0 = none)")
	fs.BoolVar(&c.interpolate, "interpolate", d.Interpolate, "(ttfs) learn from spike times interpolated within the crossing step, with exact slopes")
	fs.BoolVar(&c.mirror, "mirror", d.Mirror, "(ttfs) flip each training image left to right with probability 1/2 (augmentation)")
}

// ttfsResults is what --json writes for the ttfs method.
type ttfsResults struct {
	Method       string  `json:"method"`
	Dataset      string  `json:"dataset"`
	Net          string  `json:"net"`
	Window       int     `json:"window"`
	Gamma        float64 `json:"gamma"`
	Interpolate  bool    `json:"interpolate"`
	Epochs       int     `json:"epochs"`
	Batch        int     `json:"batch"`
	LR           float64 `json:"lr"`
	Seed         uint64  `json:"seed"`
	Workers      int     `json:"workers"`
	TrainSamples int     `json:"train_samples"`
	// ValSamples > 0: the accuracies are on that many held-out training
	// samples, not on the test set.
	ValSamples       int     `json:"val_samples"`
	NeuronThresholds bool    `json:"neuron_thresholds"`
	WeightDecay      float64 `json:"weight_decay"`
	Shift            int     `json:"shift"`
	TrainSeconds     float64 `json:"train_seconds"`
	SecondsPerEpoch  float64 `json:"seconds_per_epoch"`
	// Thresholds are the integer thresholds per layer (its first
	// neuron's where they were learnt per neuron).
	Thresholds      []int64   `json:"thresholds"`
	EvalSamples     int       `json:"eval_samples"`
	TrainerAccuracy float64   `json:"trainer_accuracy"`
	SNNAccuracy     float64   `json:"snn_accuracy"`
	SpikesPerSample []float64 `json:"spikes_per_sample_per_layer"`
	HiddenSpikes    float64   `json:"hidden_spikes_per_sample"`
	DecisionSteps   float64   `json:"mean_decision_timesteps"`
	Undecided       int       `json:"undecided"`
	Model           string    `json:"model"`
}

func (c *ttfsMethod) check(tc *trainCommand) error {
	if err := imagesOnly(tc); err != nil {
		return err
	}
	// Fully connected layers are plain numbers in a layer string.
	spec, preset := train.PresetSpec(tc.net)
	if !preset {
		spec = tc.net
	}
	if strings.Trim(spec, "0123456789-") != "" {
		net := tc.net
		if preset {
			net += " (" + spec + ")"
		}
		return fmt.Errorf("--net %s has convolution or pooling layers; --method ttfs trains fully connected nets only, e.g. --net 784-600-10", net)
	}
	return checkFlags(
		flagRule{"--window", c.window, c.window >= 1 && c.window <= model.MaxWindow, fmt.Sprintf("in 1..%d", model.MaxWindow)},
		flagRule{"--gamma", c.gamma, c.gamma >= 0 && c.gamma <= float64(c.window), fmt.Sprintf("in 0..--window (%d)", c.window)},
		flagRule{"--threshold", c.threshold, c.threshold >= 0 && !math.IsInf(c.threshold, 0), "≥ 0 (0: automatic)"},
		flagRule{"--out-threshold", c.outThreshold, c.outThreshold >= 0 && !math.IsInf(c.outThreshold, 0), "≥ 0 (0: as --threshold)"},
		flagRule{"--threshold-lr", c.thresholdLR, c.thresholdLR >= 0 && !math.IsInf(c.thresholdLR, 0), "≥ 0 (0: fixed thresholds)"},
		flagRule{"--neuron-thresholds", c.perNeuron, !c.perNeuron || c.thresholdLR > 0, "used with --threshold-lr > 0 (thresholds are fixed without it)"},
		flagRule{"--weight-decay", c.weightDecay, c.weightDecay >= 0 && tc.lr*c.weightDecay < 1, fmt.Sprintf("≥ 0 with --lr × --weight-decay < 1 (--lr %v)", tc.lr)},
	)
}

func (c *ttfsMethod) run(ctx context.Context, job *trainJob) (*model.Model, any, error) {
	net, err := job.parseNet(job.Train.Shape, job.Train.Classes)
	if err != nil {
		return nil, nil, err
	}
	trainSet, evalSet, err := holdOut(job.Train, job.valSamples)
	if err != nil {
		return nil, nil, err
	}
	evalName := "test"
	if evalSet != nil {
		evalName = fmt.Sprintf("validation (the last %d training images, held out)", evalSet.Len())
	} else {
		evalSet = job.Test
	}
	cfg := train.TTFSConfig{
		Window: c.window, Epochs: job.epochs, Batch: job.batch, LR: job.lr, ThresholdLR: c.thresholdLR,
		NeuronThresholds: c.perNeuron, WeightDecay: c.weightDecay, Gamma: c.gamma, Threshold: c.threshold, OutThreshold: c.outThreshold, Interpolate: c.interpolate, Mirror: c.mirror, Shift: job.shift, Seed: job.seed, Workers: job.workers,
		Checkpoint: job.checkpoint(), Progress: job.epochLogger(),
	}
	fmt.Fprintf(job.Stdout, "training %s with TTFS coding over %s, gamma %v, %s\n", net.Spec, english.Count(c.window, "timestep"), c.gamma, english.Count(job.workers, "worker"))
	start := time.Now()
	tn, err := train.TrainTTFS(ctx, net, trainSet, cfg)
	if err != nil {
		return nil, nil, err
	}
	trainTime := time.Since(start)
	perEpoch := 0.0 // none trained: a resumed checkpoint had them all
	if job.EpochsRun > 0 {
		perEpoch = trainTime.Seconds() / float64(job.EpochsRun)
	}
	fmt.Fprintf(job.Stdout, "trained %d epochs in %s (%.1f s per epoch with %d workers)\n", job.EpochsRun, trainTime.Round(time.Second), perEpoch, job.workers)

	m, err := tn.Model(job.datasetName + "-ttfs")
	if err != nil {
		return nil, nil, err
	}
	var th []string
	thresholds := make([]int64, len(m.Layers))
	for i := range m.Layers {
		thresholds[i] = m.Layers[i].Threshold[0]
		k := strconv.FormatInt(thresholds[i], 10)
		if slices.Min(m.Layers[i].Threshold) != slices.Max(m.Layers[i].Threshold) {
			k = "per neuron"
		}
		th = append(th, fmt.Sprintf("%s %s (θ %s)", m.Layers[i].Name, k, tn.ThresholdSummary(i)))
	}
	fmt.Fprintf(job.Stdout, "integer thresholds: %s\n", strings.Join(th, ", "))

	mine, err := tn.Evaluate(ctx, evalSet, job.workers)
	if err != nil {
		return nil, nil, err
	}
	bar := job.progress(evalSet.Len(), "SNN eval")
	res, err := train.EvaluateSNN(ctx, m, evalSet, job.workers, bar.Add)
	bar.Finish()
	if err != nil {
		return nil, nil, err
	}
	agree := 0
	for i, k := range res.Classes {
		if mine.Classes[i] == k {
			agree++
		}
	}
	hidden := 0.0
	for _, s := range res.SpikesPerSample[:len(res.SpikesPerSample)-1] {
		hidden += s
	}
	fmt.Fprintf(job.Stdout, "%s accuracy on %d images: trainer %.2f%%, reference SNN %.2f%% (same class on %d of %d)\n",
		evalName, res.Samples, 100*mine.Accuracy(), 100*res.Accuracy(), agree, res.Samples)
	fmt.Fprintf(job.Stdout, "reference SNN: %.1f hidden spikes per image, %.2f output spikes, decision after %.1f of %d timesteps on average, %d undecided\n",
		hidden, res.SpikesPerSample[len(res.SpikesPerSample)-1], res.Decision, m.Timesteps, res.Undecided)

	for k, v := range map[string]string{
		"gamma":             strconv.FormatFloat(c.gamma, 'g', -1, 64),
		"interpolate":       strconv.FormatBool(c.interpolate),
		"threshold_lr":      strconv.FormatFloat(c.thresholdLR, 'g', -1, 64),
		"workers":           strconv.Itoa(job.workers),
		"train_samples":     strconv.Itoa(trainSet.Len()),
		"shift":             strconv.Itoa(job.shift),
		"val_samples":       strconv.Itoa(job.valSamples),
		"train_seconds":     strconv.FormatFloat(trainTime.Seconds(), 'f', 0, 64),
		"seconds_per_epoch": strconv.FormatFloat(perEpoch, 'f', 1, 64),
		"eval_samples":      strconv.Itoa(res.Samples),
		"trainer_accuracy":  strconv.FormatFloat(mine.Accuracy(), 'f', 4, 64),
		"snn_accuracy":      strconv.FormatFloat(res.Accuracy(), 'f', 4, 64),
		"hidden_spikes":     strconv.FormatFloat(hidden, 'f', 1, 64),
		"decision_steps":    strconv.FormatFloat(res.Decision, 'f', 2, 64),
		"undecided":         strconv.Itoa(res.Undecided),
	} {
		m.Provenance[k] = v
	}
	// Only where used, so that the models trained without them keep
	// their bytes.
	if c.perNeuron {
		m.Provenance["neuron_thresholds"] = "true"
	}
	if c.weightDecay > 0 {
		m.Provenance["weight_decay"] = strconv.FormatFloat(c.weightDecay, 'g', -1, 64)
	}
	out := ttfsResults{
		Method: "ttfs", Dataset: job.datasetName, Net: net.Spec, Window: c.window, Gamma: c.gamma, Interpolate: c.interpolate,
		Epochs: job.epochs, Batch: job.batch, LR: job.lr, Seed: job.seed, Workers: job.workers,
		TrainSamples: trainSet.Len(), ValSamples: job.valSamples, NeuronThresholds: c.perNeuron, WeightDecay: c.weightDecay, Shift: job.shift, TrainSeconds: trainTime.Seconds(), SecondsPerEpoch: perEpoch, Thresholds: thresholds,
		EvalSamples: res.Samples, TrainerAccuracy: mine.Accuracy(), SNNAccuracy: res.Accuracy(),
		SpikesPerSample: res.SpikesPerSample, HiddenSpikes: hidden, DecisionSteps: res.Decision, Undecided: res.Undecided,
		Model: job.out,
	}
	return m, out, nil
}
