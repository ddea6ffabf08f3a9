package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/train"
)

// trainCommand is `nmsim train`: make a model.bin from a data set.
type trainCommand struct {
	method         string
	datasetName    string
	dataDir        string
	net            string
	epochs         int
	batch          int
	lr             float64
	seed           uint64
	workers        int
	percentile     float64
	calib          int
	weightBits     int
	thresholdScale float64
	evalTimesteps  string
	evalSamples    int
	trainSamples   int
	out            string
	jsonOut        string
}

func (*trainCommand) Name() string { return "train" }

func (*trainCommand) Synopsis() string {
	return "train a binary network and convert it to a spiking model.bin"
}

func (*trainCommand) usage() string {
	return `Usage:
  nmsim train --method convert [flags]

Method "convert" (paper 1, Lu & Sengupta 2020) trains a binary ANN and turns
it into a spiking network:
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

` + train.NetSyntax + `

Presets: mlp = ` + preset("mlp") + `, conv = ` + preset("conv") + `.

Examples:
  nmsim train --method convert --dataset mnist --net conv -o mnist.bin
  nmsim train --method convert --dataset fashion-mnist --net conv -o fmnist.bin
  nmsim train --method convert --dataset fashion-mnist --threshold-scale 0.7 --eval-timesteps 4,8,16 -o fast.bin
  nmsim train --method convert --net 784-256-256-10 --epochs 1 --train-samples 5000 --eval-samples 1000
  nmsim train --method convert --net 8c3p1-ap2-16c3p1-ap2-10 --json results.json -o small.bin
`
}

func preset(name string) string {
	s, _ := train.PresetSpec(name)
	return s
}

func (c *trainCommand) flags(w io.Writer) *flag.FlagSet {
	fs := newFlagSet("train", c.Synopsis(), c.usage(), w)
	fs.StringVar(&c.method, "method", "convert", "training method (only \"convert\" for now)")
	fs.StringVar(&c.datasetName, "dataset", "mnist", "data set: mnist or fashion-mnist")
	fs.StringVar(&c.dataDir, "data", "", "data directory (default $NMSIM_DATA, else ../shared/data beside the repo, else ./data)")
	fs.StringVar(&c.net, "net", "conv", "preset (mlp, conv) or layer string, see above")
	fs.IntVar(&c.epochs, "epochs", 10, "training epochs")
	fs.IntVar(&c.batch, "batch", 64, "minibatch size")
	fs.Float64Var(&c.lr, "lr", 2e-3, "initial Adam learning rate (cosine decay to 0)")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed for the initial weights and the shuffling")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "worker goroutines (results do not depend on it)")
	fs.Float64Var(&c.percentile, "percentile", 99.9, "percentile of each layer's positive ReLU outputs that sets its threshold")
	fs.IntVar(&c.calib, "calib", 2000, "training images used to set the thresholds")
	fs.IntVar(&c.weightBits, "weight-bits", 8, "bits of the full-precision first and last layers in the model (2..8)")
	fs.Float64Var(&c.thresholdScale, "threshold-scale", 1, "factor on every balanced threshold (< 1 fires sooner: better at few timesteps)")
	fs.StringVar(&c.evalTimesteps, "eval-timesteps", "4,8,16,32,64,128", "comma-separated timestep counts to measure the SNN at")
	fs.IntVar(&c.evalSamples, "eval-samples", 0, "test images to evaluate on (0 = all)")
	fs.IntVar(&c.trainSamples, "train-samples", 0, "training images to use (0 = all; for quick tests)")
	fs.StringVar(&c.out, "o", "model.bin", "where to write the model")
	fs.StringVar(&c.jsonOut, "json", "", "also write the results as JSON to this file")
	return fs
}

// trainResults is what --json writes.
type trainResults struct {
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
	Command          string      `json:"command"`
}

type snnResult struct {
	Timesteps int     `json:"timesteps"`
	Accuracy  float64 `json:"accuracy"`
}

func (c *trainCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := c.flags(env.Stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("train: unexpected argument %q (all inputs are flags; see --help)", pos[0])
	}
	if c.method != "convert" {
		return fmt.Errorf("train: method %q unknown (supported: convert)", c.method)
	}
	timesteps, err := parseTimesteps(c.evalTimesteps)
	if err != nil {
		return fmt.Errorf("train: --eval-timesteps: %w", err)
	}
	switch {
	case c.workers < 1:
		return fmt.Errorf("train: --workers %d, want >= 1", c.workers)
	case c.calib < 1:
		return fmt.Errorf("train: --calib %d, want >= 1", c.calib)
	case c.evalSamples < 0 || c.trainSamples < 0:
		return errors.New("train: --eval-samples and --train-samples must be >= 0")
	case c.out == "":
		return errors.New("train: -o must name the model file")
	}
	dir, how := dataset.ResolveDir(c.dataDir)
	if dir == "" {
		return fmt.Errorf("train: no data directory (%s); give --data DIR", how)
	}
	trainSet, err := dataset.Load(c.datasetName, dir, "train")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	testSet, err := dataset.Load(c.datasetName, dir, "test")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if c.trainSamples > 0 {
		trainSet = trainSet.Slice(c.trainSamples)
	}
	if c.evalSamples > 0 {
		testSet = testSet.Slice(c.evalSamples)
	}
	net, err := train.ParseNet(c.net, trainSet.Shape)
	if err != nil {
		return fmt.Errorf("train: --net: %w", err)
	}
	if net.Classes() != trainSet.Classes {
		return fmt.Errorf("train: --net %q ends in %d outputs but %s has %d classes", c.net, net.Classes(), c.datasetName, trainSet.Classes)
	}
	fmt.Fprintf(env.Stdout, "training %s on %d %s images (data from %s, %s)\n", net.Spec, trainSet.Len(), c.datasetName, dir, how)

	start := time.Now()
	var bar *progress
	ann, err := train.Train(ctx, net, trainSet, train.Config{
		Epochs: c.epochs, Batch: c.batch, LR: c.lr, Seed: c.seed, Workers: c.workers,
		Progress: func(p train.Progress) {
			if p.Step == 1 {
				bar = newProgress(env.Stderr, p.Steps, fmt.Sprintf("epoch %d/%d", p.Epoch, p.Epochs))
			}
			bar.Add(1)
			if p.Step == p.Steps {
				bar.Finish()
				fmt.Fprintf(env.Stdout, "epoch %2d/%d  loss %.4f  train accuracy %6.2f%%  %s\n",
					p.Epoch, p.Epochs, p.Loss, 100*p.Accuracy, p.Elapsed.Round(time.Second))
			}
		},
	})
	if err != nil {
		return err
	}
	trainTime := time.Since(start)

	annAcc, err := ann.Accuracy(ctx, testSet, c.workers)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(env.Stdout, "ANN (binary weights) test accuracy: %.2f%% on %d images; trained in %s\n",
		100*annAcc, testSet.Len(), trainTime.Round(time.Second))

	m, err := train.Convert(ctx, ann, trainSet.Slice(c.calib), train.ConvertConfig{
		Name: c.datasetName + "-convert", Percentile: c.percentile, WeightBits: c.weightBits,
		ThresholdScale: c.thresholdScale, Timesteps: timesteps[len(timesteps)-1], Workers: c.workers,
	})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(env.Stdout, "converted: thresholds at the %v-th percentile (λ %s)\n", c.percentile, m.Provenance["lambda"])

	evalBar := newProgress(env.Stderr, testSet.Len(), "SNN eval")
	res, err := train.EvalSNN(ctx, m, testSet, timesteps, c.workers, evalBar.Add)
	evalBar.Finish()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	m.Timesteps = res.DefaultTimesteps(0.003)
	printSNNTable(env.Stdout, annAcc, &res)

	command := "nmsim train " + shellJoin(args)
	var accs []string
	for k, t := range res.Timesteps {
		accs = append(accs, fmt.Sprintf("T%d=%.4f", t, res.Accuracy(k)))
	}
	for k, v := range map[string]string{
		"dataset":       c.datasetName,
		"epochs":        strconv.Itoa(c.epochs),
		"batch":         strconv.Itoa(c.batch),
		"lr":            strconv.FormatFloat(c.lr, 'g', -1, 64),
		"seed":          strconv.FormatUint(c.seed, 10),
		"train_samples": strconv.Itoa(trainSet.Len()),
		"train_seconds": strconv.FormatFloat(trainTime.Seconds(), 'f', 0, 64),
		"eval_samples":  strconv.Itoa(testSet.Len()),
		"ann_accuracy":  strconv.FormatFloat(annAcc, 'f', 4, 64),
		"snn_accuracy":  strings.Join(accs, " "),
		"command":       command,
	} {
		m.Provenance[k] = v
	}
	if err := model.Save(c.out, m); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s (default %d timesteps)\n", c.out, m.Timesteps)

	if c.jsonOut != "" {
		out := trainResults{
			Method: c.method, Dataset: c.datasetName, Net: net.Spec, Epochs: c.epochs, Seed: c.seed,
			TrainSamples: trainSet.Len(), TrainSeconds: trainTime.Seconds(), EvalSamples: testSet.Len(),
			ANNAccuracy: annAcc, SpikesPerSample: res.SpikesPerSample, DefaultTimesteps: m.Timesteps,
			Model: c.out, Command: command,
		}
		for k, t := range res.Timesteps {
			out.SNN = append(out.SNN, snnResult{Timesteps: t, Accuracy: res.Accuracy(k)})
		}
		if err := writeJSON(c.jsonOut, out); err != nil {
			return fmt.Errorf("train: --json: %w", err)
		}
	}
	return nil
}

// printSNNTable prints the SNN accuracy per timestep count beside the ANN's.
func printSNNTable(w io.Writer, ann float64, res *train.SNNResult) {
	fmt.Fprintf(w, "SNN test accuracy on %d images (ANN %.2f%%):\n", res.Samples, 100*ann)
	rows := make([][]string, len(res.Timesteps))
	for k, t := range res.Timesteps {
		a := res.Accuracy(k)
		rows[k] = []string{strconv.Itoa(t), fmt.Sprintf("%.2f%%", 100*a), fmt.Sprintf("%+.2f", 100*(a-ann))}
	}
	table(w, []string{"T", "SNN accuracy", "vs ANN (points)"}, rows)
	var spikes []string
	for _, s := range res.SpikesPerSample {
		if s > 0 {
			spikes = append(spikes, strconv.FormatFloat(s, 'f', 0, 64))
		}
	}
	fmt.Fprintf(w, "spikes per image over %d steps, per spiking layer: %s\n", res.Timesteps[len(res.Timesteps)-1], strings.Join(spikes, " "))
}

// parseTimesteps parses "4,8,16" into positive counts.
func parseTimesteps(s string) ([]int, error) {
	var ts []int
	for _, f := range strings.Split(s, ",") {
		t, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || t < 1 {
			return nil, fmt.Errorf("%q is not a timestep count >= 1", f)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// shellJoin quotes args so that the recorded command line can be pasted
// back into a shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/=:+") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
