package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nmsim/nmsim/train"
	"github.com/nmsim/nmsim/workloads/model"
)

// convertMethod is `nmsim train --method convert`: Lu & Sengupta's binary ANN
// turned into integrate-and-fire neurons.
type convertMethod struct {
	percentile     float64
	calib          int
	weightBits     int
	thresholdScale float64
	evalTimesteps  string
	timesteps      []int // --eval-timesteps parsed
}

func (*convertMethod) defaultLR() float64 { return 2e-3 }

func (*convertMethod) usage() string {
	return `Method "convert" (Lu & Sengupta, Frontiers in Neuroscience 2020) trains a
binary ANN and turns it into a spiking network:
  1. Train: weights α·sign(W) with α = mean|W| per output channel (the first
     and last weight layers stay full precision), no bias, no batch-norm,
     ReLU, average pooling; Adam with a cosine learning-rate decay and a
     straight-through estimator for sign.
  2. Convert: every ReLU becomes an integrate-and-fire neuron (reset by
     subtraction, no leak). Each layer's threshold is the --percentile of
     its ReLU outputs over --calib training images, so a neuron fires at a
     rate proportional to its ANN activation; α, the pooling 1/k² and the
     quantisation steps of the --weight-bits full-precision layers fold into
     integer thresholds. Pixels enter as a constant current every timestep;
     the class is the argmax of the last layer's summed input.
  3. Evaluate: the ANN, then the spiking model (the reference SNN) at each
     of --eval-timesteps, on the test set. The model is written to -o with
     the smallest T within 0.3 points of the best as its default timesteps.
  Examples:
    nmsim train --method convert --dataset mnist --net conv -o mnist.bin
    nmsim train --method convert --dataset fashion-mnist --threshold-scale 0.7 --eval-timesteps 4,8,16 -o fast.bin
    nmsim train --method convert --net 784-256-256-10 --epochs 1 --train-samples 5000 --eval-samples 1000
`
}

func (c *convertMethod) addFlags(fs *flag.FlagSet) {
	fs.Float64Var(&c.percentile, "percentile", 99.9, "(convert) percentile of each layer's positive ReLU outputs that sets its threshold")
	fs.IntVar(&c.calib, "calib", 2000, "(convert) training images used to set the thresholds")
	fs.IntVar(&c.weightBits, "weight-bits", 8, "(convert) bits of the full-precision first and last layers in the model (2..8)")
	fs.Float64Var(&c.thresholdScale, "threshold-scale", 1, "(convert) factor on every balanced threshold (< 1 fires sooner: better at few timesteps)")
	fs.StringVar(&c.evalTimesteps, "eval-timesteps", "4,8,16,32,64,128", "(convert) comma-separated timestep counts to measure the SNN at")
}

// convertResults is what --json writes for the convert method.
type convertResults struct {
	Method           string      `json:"method"`
	Dataset          string      `json:"dataset"`
	Net              string      `json:"net"`
	Epochs           int         `json:"epochs"`
	Seed             uint64      `json:"seed"`
	TrainSamples     int         `json:"train_samples"`
	TrainSeconds     float64     `json:"train_seconds"`
	EvalSamples      int         `json:"eval_samples"`
	ANNAccuracy      float64     `json:"ann_accuracy"`
	SNN              []snnResult `json:"snn"`
	SpikesPerSample  []float64   `json:"spikes_per_sample_per_layer"`
	DefaultTimesteps int         `json:"default_timesteps"`
	Model            string      `json:"model"`
}

type snnResult struct {
	Timesteps int     `json:"timesteps"`
	Accuracy  float64 `json:"accuracy"`
}

func (c *convertMethod) check(tc *trainCommand) error {
	if err := imagesOnly(tc); err != nil {
		return err
	}
	var err error
	if c.timesteps, err = parseTimesteps(c.evalTimesteps); err != nil {
		return fmt.Errorf("--eval-timesteps: %w", err)
	}
	return checkFlags(
		flagRule{"--percentile", c.percentile, c.percentile > 0 && c.percentile <= 100, "in (0, 100]"},
		flagRule{"--calib", c.calib, c.calib >= 1, "≥ 1"},
		flagRule{"--weight-bits", c.weightBits, c.weightBits >= 2 && c.weightBits <= 8, "in 2..8"},
		flagRule{"--threshold-scale", c.thresholdScale, c.thresholdScale > 0 && !math.IsInf(c.thresholdScale, 0), "> 0"},
	)
}

func (c *convertMethod) run(ctx context.Context, job *trainJob) (*model.Model, any, error) {
	timesteps := c.timesteps
	net, err := job.parseNet(job.Train.Shape, job.Train.Classes)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(job.Stdout, "training %s\n", net.Spec)
	start := time.Now()
	ann, err := train.Train(ctx, net, job.Train, train.Config{
		Epochs: job.epochs, Batch: job.batch, LR: job.lr, Seed: job.seed, Workers: job.workers,
		Checkpoint: job.checkpoint(), Progress: job.epochLogger(),
	})
	if err != nil {
		return nil, nil, err
	}
	trainTime := time.Since(start)
	annAcc, err := ann.Accuracy(ctx, job.Test, job.workers)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(job.Stdout, "ANN (binary weights) test accuracy: %.2f%% on %d images; trained in %s\n",
		100*annAcc, job.Test.Len(), trainTime.Round(time.Second))

	m, err := train.Convert(ctx, ann, job.Train.Slice(c.calib), train.ConvertConfig{
		Name: job.datasetName + "-convert", Percentile: c.percentile, WeightBits: c.weightBits,
		ThresholdScale: c.thresholdScale, Timesteps: timesteps[len(timesteps)-1], Workers: job.workers,
	})
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(job.Stdout, "converted: thresholds at the %v-th percentile (λ %s)\n", c.percentile, m.Provenance["lambda"])

	evalBar := job.progress(job.Test.Len(), "SNN eval")
	res, err := train.EvalSNN(ctx, m, job.Test, timesteps, job.workers, evalBar.Add)
	evalBar.Finish()
	if err != nil {
		return nil, nil, err
	}
	m.Timesteps = res.DefaultTimesteps(0.003)
	printSNNTable(job.Stdout, annAcc, &res)

	var accs []string
	for k, t := range res.Timesteps {
		accs = append(accs, fmt.Sprintf("T%d=%.4f", t, res.Accuracy(k)))
	}
	for k, v := range map[string]string{
		"train_samples": strconv.Itoa(job.Train.Len()),
		"train_seconds": strconv.FormatFloat(trainTime.Seconds(), 'f', 0, 64),
		"eval_samples":  strconv.Itoa(job.Test.Len()),
		"ann_accuracy":  strconv.FormatFloat(annAcc, 'f', 4, 64),
		"snn_accuracy":  strings.Join(accs, " "),
	} {
		m.Provenance[k] = v
	}
	out := convertResults{
		Method: "convert", Dataset: job.datasetName, Net: net.Spec, Epochs: job.epochs, Seed: job.seed,
		TrainSamples: job.Train.Len(), TrainSeconds: trainTime.Seconds(), EvalSamples: job.Test.Len(),
		ANNAccuracy: annAcc, SpikesPerSample: res.SpikesPerSample, DefaultTimesteps: m.Timesteps, Model: job.out,
	}
	for k, t := range res.Timesteps {
		out.SNN = append(out.SNN, snnResult{Timesteps: t, Accuracy: res.Accuracy(k)})
	}
	return m, out, nil
}
