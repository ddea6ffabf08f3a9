package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/train"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// surrogateMethod is `nmsim train --method surrogate`: Pei et al.'s (ALBSNN)
// direct training with surrogate gradients and per-layer binarization.
type surrogateMethod struct {
	timesteps      int
	tolerance      float64
	estimatorEpoch int
	probe          int
	fpBits         int
	slope          float64
	detachReset    bool
	frameUS        int
	maxCount       int
	weightUpdate   string
	bwoPlateau     float64
}

func (*surrogateMethod) defaultLR() float64 { return 2e-3 }

func (*surrogateMethod) usage() string {
	return `Method "surrogate" (ALBSNN, Pei et al., Frontiers in Neuroscience 2023)
trains the spiking network directly: integrate-and-fire neurons (reset by
subtraction) over --timesteps steps, backpropagation through time with a
sigmoid surrogate for the spike's derivative (--slope), batch norm before
every hidden layer's neurons, Adam with a cosine learning-rate decay. Pixels
enter as a constant current (so --timesteps 1 works); N-MNIST (--dataset
nmnist) enters as --timesteps frames of --frame-us µs of event counts
(clipped at --max-count).
After --estimator-epochs full-precision epochs, and again after every later
epoch but the last, the accuracy-loss estimator binarizes (α·sign(W),
straight-through estimator) every full-precision weight layer whose
binarization alone then costs at most --binarize-tolerance of validation
accuracy, largest layer first, while the sum of the drops of the layers it
binarizes at once stays within the tolerance; the others stay --fp-bits wide
in the model. The cost is measured
after --estimator-probe minibatches of training, from the same state on the
same samples, of the net as it is and of the net with that layer binarized
(then the state is restored), so that it is the cost once the net has begun
to adapt to the binary layer, not the shock of binarizing a layer trained
at full precision (0: compare at once); with a probe the first weight layer
stays full precision. The estimator first
runs after one epoch by default; a run of --epochs 1 has no epoch left to
train binary layers and skips it, as --estimator-epochs 0 does (every layer
stays --fp-bits wide). --weight-update bwo adds ALBSNN's binary weight
optimisation: once training reaches its bottleneck (an epoch's training loss
falls by less than --bwo-plateau of the previous epoch's), each step adjusts
the binary weights α·sign(W) directly and the adjusted binary weights become
the full-precision weights. Batch norm, α and the
quantisation steps fold into integer thresholds and biases; the integer model
is evaluated with the reference SNN on the test set. Prefer small conv nets
with global average pooling (gap) before the output layer.
  Examples:
    nmsim train --method surrogate --dataset fashion-mnist --net 32c3p1-ap2-64c3p1-ap2-128c3p1-gap-10 --timesteps 1 -o fmnist.bin
    nmsim train --method surrogate --dataset nmnist --net 16c5s2p1-32c3p1-ap2-64c3p1-gap-10 --timesteps 8 --frame-us 40000 -o nmnist.bin
`
}

func (c *surrogateMethod) addFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.timesteps, "timesteps", 1, "(surrogate) timesteps T of training and of the model (frames per sample for nmnist)")
	fs.Float64Var(&c.tolerance, "binarize-tolerance", 0.01, "(surrogate) largest validation accuracy loss (fraction) that the layers the estimator binarizes at once may cost together (the sum of their drops alone, largest layer first); negative: none")
	fs.IntVar(&c.estimatorEpoch, "estimator-epochs", -1, "(surrogate) full-precision epochs before the accuracy-loss estimator first decides (it decides again after every later epoch but the last); 0: no estimator, no layer binarized (-1: 1, or 0 when --epochs is 1)")
	fs.IntVar(&c.probe, "estimator-probe", 100, "(surrogate) minibatches the estimator trains the net, and each candidate binarized, before comparing them (at most an epoch; 0: compare at once)")
	fs.IntVar(&c.fpBits, "fp-bits", 8, "(surrogate) bits of the layers that stay full precision in the model (2..8)")
	fs.Float64Var(&c.slope, "slope", 4, "(surrogate) slope k of the sigmoid surrogate derivative")
	fs.BoolVar(&c.detachReset, "detach-reset", false, "(surrogate) leave the reset out of backpropagation through time")
	fs.StringVar(&c.weightUpdate, "weight-update", train.WeightSTE, "(surrogate) how binary layers learn: ste (straight-through estimator with α's gradient) or bwo (ste, then binary weight optimisation from the bottleneck on)")
	fs.Float64Var(&c.bwoPlateau, "bwo-plateau", 0.05, "(surrogate) bwo starts after the first epoch whose training loss falls by less than this fraction of the previous epoch's (1: as early as possible)")
	fs.IntVar(&c.frameUS, "frame-us", 40000, "(surrogate) nmnist: frame length in µs")
	fs.IntVar(&c.maxCount, "max-count", 15, "(surrogate) nmnist: events per pixel and frame are clipped at this count")
}

// surrogateResults is what --json writes for the surrogate method.
type surrogateResults struct {
	Method          string                `json:"method"`
	Dataset         string                `json:"dataset"`
	Net             string                `json:"net"`
	Timesteps       int                   `json:"timesteps"`
	Epochs          int                   `json:"epochs"`
	Seed            uint64                `json:"seed"`
	TrainSamples    int                   `json:"train_samples"`
	EvalSamples     int                   `json:"eval_samples"`
	Workers         int                   `json:"workers"`
	EpochSeconds    []float64             `json:"epoch_seconds"`
	EpochLoss       []float64             `json:"epoch_loss"`
	WeightUpdate    string                `json:"weight_update"`
	BWOEpoch        int                   `json:"bwo_epoch"`
	Estimator       []train.LayerEstimate `json:"estimator"`
	BinaryLayers    string                `json:"binary_layers"`
	WeightBits      int64                 `json:"weight_storage_bits"`
	FullBits        int64                 `json:"full_precision_storage_bits"`
	ValAccuracy     float64               `json:"val_accuracy"`
	FloatAccuracy   float64               `json:"float_test_accuracy"`
	ModelAccuracy   float64               `json:"model_test_accuracy"`
	SpikesPerSample []float64             `json:"spikes_per_sample_per_layer"`
	Model           string                `json:"model"`
}

func (c *surrogateMethod) check(tc *trainCommand) error {
	if c.estimatorEpoch == -1 {
		// Binarized layers need an epoch of training after the estimate;
		// a one-epoch run has none to give, so it skips the estimator.
		c.estimatorEpoch = min(1, tc.epochs-1)
	}
	err := checkFlags(
		flagRule{"--timesteps", c.timesteps, c.timesteps >= 1, "≥ 1"},
		flagRule{"--binarize-tolerance", c.tolerance, !math.IsNaN(c.tolerance), "a number (negative: binarize no layer)"},
		flagRule{"--estimator-epochs", c.estimatorEpoch, c.estimatorEpoch >= 0, "≥ 0 (0: no estimator), or -1 for the default"},
		flagRule{"--estimator-probe", c.probe, c.probe >= 0, "≥ 0 minibatches (0: no probe)"},
		flagRule{"--fp-bits", c.fpBits, c.fpBits >= 2 && c.fpBits <= 8, "in 2..8"},
		flagRule{"--slope", c.slope, c.slope > 0 && !math.IsInf(c.slope, 0), "> 0"},
		flagRule{"--weight-update", c.weightUpdate, c.weightUpdate == train.WeightSTE || c.weightUpdate == train.WeightBWO, "ste or bwo"},
		flagRule{"--bwo-plateau", c.bwoPlateau, c.bwoPlateau > 0 && !math.IsInf(c.bwoPlateau, 0), "> 0"},
	)
	if err == nil && tc.datasetName == "nmnist" {
		err = checkFlags(
			flagRule{"--frame-us", c.frameUS, c.frameUS >= 1, "≥ 1"},
			flagRule{"--max-count", c.maxCount, c.maxCount >= 1 && c.maxCount <= 255, "in 1..255"},
		)
	}
	if err == nil && c.tolerance >= 0 && c.estimatorEpoch >= tc.epochs {
		err = fmt.Errorf("--estimator-epochs %d: must be below --epochs %d, so that the layers it binarizes are trained after it (0 skips the estimator)", c.estimatorEpoch, tc.epochs)
	}
	if err == nil && c.weightUpdate == train.WeightBWO && (c.tolerance < 0 || c.estimatorEpoch == 0) {
		err = fmt.Errorf("--weight-update bwo optimises binary layers, but --binarize-tolerance %g and --estimator-epochs %d binarize none", c.tolerance, c.estimatorEpoch)
	}
	return err
}

func (c *surrogateMethod) run(ctx context.Context, job *trainJob) (*model.Model, any, error) {
	cfg := train.SurrogateConfig{
		Timesteps: c.timesteps, Epochs: job.epochs, Batch: job.batch, LR: job.lr, Seed: job.seed, Workers: job.workers,
		BinarizeTolerance: c.tolerance, EstimatorEpochs: c.estimatorEpoch, EstimatorProbe: c.probe, WeightBits: c.fpBits,
		Slope: c.slope, DetachReset: c.detachReset, Shift: job.shift, WeightUpdate: c.weightUpdate, BWOPlateau: c.bwoPlateau,
		Checkpoint: job.checkpoint(), Progress: job.epochLogger(),
		Log: func(s string) { fmt.Fprintln(job.Stdout, s) },
	}
	if c.estimatorEpoch == 0 && c.tolerance >= 0 {
		cfg.BinarizeTolerance, cfg.EstimatorEpochs = -1, 1
		fmt.Fprintf(job.Stdout, "no accuracy-loss estimator (--estimator-epochs 0): every weight layer stays %d-bit (--fp-bits)\n", c.fpBits)
	}
	trainSet, testSet := job.Train, job.Test
	shape := model.Shape{}
	if job.datasetName == "nmnist" {
		opt := dataset.FrameOptions{Frames: c.timesteps, WindowUS: c.frameUS, MaxCount: c.maxCount}
		var clipTrain, clipTest int
		var err error
		if trainSet, clipTrain, err = dataset.LoadNMNIST(job.DataDir, "train", job.trainSamples, opt); err != nil {
			return nil, nil, err
		}
		if testSet, clipTest, err = dataset.LoadNMNIST(job.DataDir, "test", job.evalSamples, opt); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(job.Stdout, "nmnist: %d training and %d test samples of %d frames of %d µs (counts clipped at %d: %d and %d times)\n",
			trainSet.Len(), testSet.Len(), c.timesteps, c.frameUS, c.maxCount, clipTrain, clipTest)
		cfg.Coding, cfg.FrameUS, cfg.InputBits, cfg.MaxCount = model.CodingFrames, c.frameUS, bitsFor(c.maxCount), c.maxCount
		shape = dataset.FrameShape
	} else {
		if trainSet == nil {
			return nil, nil, fmt.Errorf("data set %q is not loaded", job.datasetName)
		}
		shape = trainSet.Shape
	}
	net, err := job.parseNet(shape, trainSet.Classes)
	if err != nil {
		return nil, nil, err
	}
	trainSet, val, err := holdOut(trainSet, job.valSamples)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(job.Stdout, "training %s at T=%d on %s with %s\n", net.Spec, c.timesteps, english.Count(trainSet.Len(), "sample"), english.Count(job.workers, "worker"))
	start := time.Now()
	sn, err := train.TrainSurrogate(ctx, net, trainSet, val, cfg)
	if err != nil {
		return nil, nil, err
	}
	trainTime := time.Since(start)
	floatAcc, err := sn.Accuracy(ctx, testSet, job.workers)
	if err != nil {
		return nil, nil, err
	}
	m, err := sn.Model(job.datasetName + "-surrogate")
	if err != nil {
		return nil, nil, err
	}
	res, err := train.EvalSNN(ctx, m, testSet, []int{m.Timesteps}, job.workers, nil)
	if err != nil {
		return nil, nil, err
	}
	rep := &sn.Report
	var perEpoch []string
	for _, s := range rep.EpochSeconds {
		perEpoch = append(perEpoch, strconv.FormatFloat(s, 'f', 0, 64))
	}
	var spikes []string
	for i, s := range res.SpikesPerSample {
		if m.Layers[i].Spiking {
			spikes = append(spikes, fmt.Sprintf("%s=%.0f", m.Layers[i].Name, s))
		}
	}
	fmt.Fprintf(job.Stdout, "trained in %s (seconds per epoch with %d workers: %s)\n", trainTime.Round(time.Second), rep.Workers, strings.Join(perEpoch, " "))
	fmt.Fprintf(job.Stdout, "binary layers: %s; weight storage %s\n", m.Provenance["binary_layers"], m.Provenance["weight_storage"])
	if c.weightUpdate == train.WeightBWO {
		if rep.BWOEpoch > 0 {
			fmt.Fprintf(job.Stdout, "binary weight optimisation from epoch %d\n", rep.BWOEpoch)
		} else {
			fmt.Fprintf(job.Stdout, "binary weight optimisation never started: no bottleneck (--bwo-plateau %g) before the last epoch\n", c.bwoPlateau)
		}
	}
	fmt.Fprintf(job.Stdout, "validation accuracy of the real-valued net: %.2f%%\n", 100*rep.ValAccuracy)
	fmt.Fprintf(job.Stdout, "test accuracy on %s at T=%d: real-valued net %.2f%%, integer model (reference SNN) %.2f%%\n",
		english.Count(testSet.Len(), "sample"), c.timesteps, 100*floatAcc, 100*res.Accuracy(0))
	fmt.Fprintf(job.Stdout, "spikes per sample: %s\n", strings.Join(spikes, " "))
	for k, v := range map[string]string{
		"train_samples":       strconv.Itoa(trainSet.Len()),
		"train_seconds":       strconv.FormatFloat(trainTime.Seconds(), 'f', 0, 64),
		"epoch_seconds":       strings.Join(perEpoch, " "),
		"workers":             strconv.Itoa(rep.Workers),
		"eval_samples":        strconv.Itoa(testSet.Len()),
		"test_accuracy_float": strconv.FormatFloat(floatAcc, 'f', 4, 64),
		"snn_accuracy":        fmt.Sprintf("T%d=%.4f", c.timesteps, res.Accuracy(0)),
		"spikes_per_sample":   strings.Join(spikes, " "),
	} {
		m.Provenance[k] = v
	}
	out := surrogateResults{
		Method: "surrogate", Dataset: job.datasetName, Net: net.Spec, Timesteps: c.timesteps, Epochs: job.epochs, Seed: job.seed,
		TrainSamples: trainSet.Len(), EvalSamples: testSet.Len(), Workers: rep.Workers, EpochSeconds: rep.EpochSeconds,
		EpochLoss: rep.EpochLoss, WeightUpdate: c.weightUpdate, BWOEpoch: rep.BWOEpoch,
		Estimator: rep.Layers, BinaryLayers: m.Provenance["binary_layers"], WeightBits: rep.WeightBits, FullBits: rep.FullPrecisionBits,
		ValAccuracy: rep.ValAccuracy, FloatAccuracy: floatAcc, ModelAccuracy: res.Accuracy(0), SpikesPerSample: res.SpikesPerSample, Model: job.out,
	}
	return m, out, nil
}

// bitsFor is the number of bits that hold 0..v.
func bitsFor(v int) int {
	b := 1
	for v >= 1<<b {
		b++
	}
	return b
}
