package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nmsim/nmsim/internal/english"
	"github.com/nmsim/nmsim/train"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// trainCommand is `nmsim train`: make a model.bin from a data set with one
// of several training methods. The flags common to every method live here;
// each method adds its own (trainMethod).
type trainCommand struct {
	method       string
	datasetName  string
	dataDir      string
	net          string
	epochs       int
	batch        int
	lr           float64
	seed         uint64
	workers      int
	evalSamples  int
	trainSamples int
	valSamples   int
	shift        int
	out          string
	name         string
	jsonOut      string
	checkpoint   string
	resume       bool
	methods      map[string]trainMethod
}

// trainMethod is one --method of `nmsim train`.
type trainMethod interface {
	// addFlags registers the method's own flags; their help starts with
	// the method's name in parentheses.
	addFlags(fs *flag.FlagSet)
	// usage is the method's section of --help.
	usage() string
	// check checks the method's flags, and the common ones it depends on,
	// before any data is loaded; the error names the flag.
	check(c *trainCommand) error
	// defaultLR is the learning rate when --lr is not given.
	defaultLR() float64
	// run trains on the job's data and returns the model (its Provenance
	// filled with the method's settings and measured accuracies) and a
	// JSON-able record of the results for --json.
	run(ctx context.Context, job *trainJob) (*model.Model, any, error)
}

// trainJob is what a method gets: the common options and the data.
type trainJob struct {
	*trainCommand
	Stdout, Stderr io.Writer
	// DataDir is the resolved data directory.
	DataDir string
	// Train and Test are the static image sets (mnist, fashion-mnist, caltech-fm),
	// already cut to --train-samples and --eval-samples; nil for data
	// sets that a method loads itself (nmnist).
	Train, Test *dataset.Set
	// EpochsRun counts the epochs this process trained: fewer than
	// --epochs when it resumed a checkpoint.
	EpochsRun int
}

// progress starts a progress bar on stderr (silent unless a terminal).
func (j *trainJob) progress(total int, label string) *progress {
	return newProgress(j.Stderr, total, label)
}

// parseNet parses --net for the loaded data's input shape and checks that
// it ends in one output per class.
func (j *trainJob) parseNet(shape model.Shape, classes int) (train.Net, error) {
	net, err := train.ParseNet(j.net, shape)
	if err != nil {
		return train.Net{}, fmt.Errorf("--net: %w", err)
	}
	if net.Classes() != classes {
		return train.Net{}, fmt.Errorf("--net %q ends in %d outputs but %s has %d classes", j.net, net.Classes(), j.datasetName, classes)
	}
	return net, nil
}

// holdOut splits the last n samples of set off as a validation set (none
// when n is 0).
func holdOut(set *dataset.Set, n int) (train, val *dataset.Set, err error) {
	if n == 0 {
		return set, nil, nil
	}
	if n >= set.Len() {
		return nil, nil, fmt.Errorf("--val-samples %d leaves no training samples of %d", n, set.Len())
	}
	k := set.Len() - n
	val = &dataset.Set{Name: set.Name + "-val", Shape: set.Shape, Classes: set.Classes,
		Images: set.Images[k*set.Shape.Size():], Labels: set.Labels[k:]}
	return set.Slice(k), val, nil
}

// checkpoint is the training state's checkpoint (--checkpoint, --resume).
func (j *trainJob) checkpoint() train.Checkpoint {
	return train.Checkpoint{Dir: j.trainCommand.checkpoint, Resume: j.resume}
}

// epochLogger returns a train.Progress callback that draws a bar per epoch
// and prints a line at the end of each.
func (j *trainJob) epochLogger() func(train.Progress) {
	var bar *progress
	return func(p train.Progress) {
		if p.Step == 1 {
			bar = j.progress(p.Steps, fmt.Sprintf("epoch %d/%d", p.Epoch, p.Epochs))
		}
		bar.Add(1)
		if p.Step == p.Steps {
			j.EpochsRun++
			bar.Finish()
			fmt.Fprintf(j.Stdout, "epoch %2d/%d  loss %.4f  train accuracy %6.2f%%  %s\n",
				p.Epoch, p.Epochs, p.Loss, 100*p.Accuracy, p.Elapsed.Round(time.Second))
		}
	}
}

func newTrainCommand() *trainCommand {
	return &trainCommand{methods: map[string]trainMethod{
		"convert":   &convertMethod{},
		"surrogate": &surrogateMethod{},
		"ttfs":      &ttfsMethod{},
	}}
}

func (*trainCommand) Name() string { return "train" }

func (*trainCommand) Synopsis() string {
	return "train a binary spiking network (conversion, TTFS or surrogate gradients) into a model.bin"
}

func (c *trainCommand) methodNames() []string {
	names := make([]string, 0, len(c.methods))
	for n := range c.methods {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (c *trainCommand) usage() string {
	var b strings.Builder
	b.WriteString("Usage:\n  nmsim train --method " + strings.Join(c.methodNames(), "|") + " [flags]\n\n")
	for _, n := range c.methodNames() {
		b.WriteString(c.methods[n].usage())
		b.WriteString("\n")
	}
	b.WriteString(train.NetSyntax + "\n\nPresets: mlp = " + preset("mlp") + ", conv = " + preset("conv") + ".\n")
	return b.String()
}

func preset(name string) string {
	s, _ := train.PresetSpec(name)
	return s
}

func (c *trainCommand) flags(w io.Writer) *flag.FlagSet {
	if c.methods == nil {
		*c = *newTrainCommand()
	}
	fs := newFlagSet("train", c.Synopsis(), c.usage(), w)
	fs.StringVar(&c.method, "method", "convert", "training method: "+strings.Join(c.methodNames(), ", "))
	fs.StringVar(&c.datasetName, "dataset", "mnist", "data set: mnist, fashion-mnist, caltech-fm (or nmnist, for methods that read events)")
	fs.StringVar(&c.dataDir, "data", "", "data directory (default $NMSIM_DATA, else ../shared/data beside the repo, else ./data)")
	fs.StringVar(&c.net, "net", "conv", "preset (mlp, conv) or layer string, see above")
	fs.IntVar(&c.epochs, "epochs", 10, "training epochs")
	fs.IntVar(&c.batch, "batch", 64, "minibatch size")
	fs.Float64Var(&c.lr, "lr", 0, "initial learning rate (0: the method's default, 0.002 for convert and surrogate, 0.01 for ttfs)")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed for the initial weights and the shuffling")
	fs.IntVar(&c.workers, "workers", runtime.NumCPU(), "worker goroutines (results do not depend on it)")
	fs.IntVar(&c.evalSamples, "eval-samples", 0, "test samples to evaluate on (0 = all)")
	fs.IntVar(&c.trainSamples, "train-samples", 0, "training samples to use (0 = all; for quick tests)")
	fs.IntVar(&c.valSamples, "val-samples", 0, "(surrogate, ttfs) the last this many training samples are held out as a validation set: surrogate's estimator uses it (0: the first 2000 training samples, not held out); ttfs evaluates on it instead of the test set")
	fs.IntVar(&c.shift, "shift", 0, "(surrogate, ttfs) random translation of training samples by up to this many pixels (augmentation)")
	fs.StringVar(&c.out, "o", "model.bin", "where to write the model")
	fs.StringVar(&c.name, "name", "", "model name (default: the -o file's name without its extension)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&c.checkpoint, "checkpoint", "", "directory for a checkpoint of the training state, replaced after every epoch")
	fs.BoolVar(&c.resume, "resume", false, "continue from the --checkpoint (the same flags give the same model as an uninterrupted run; without a checkpoint there, start afresh)")
	for _, n := range c.methodNames() {
		c.methods[n].addFlags(fs)
	}
	return fs
}

func (c *trainCommand) Run(ctx context.Context, args []string, env *Env) error {
	fs := c.flags(env.Stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr(fs, "unexpected argument %q (all inputs are flags)", pos[0])
	}
	method, ok := c.methods[c.method]
	if !ok {
		return usageErr(fs, "--method %q: unknown (supported: %s)", c.method, strings.Join(c.methodNames(), ", "))
	}
	if c.lr == 0 {
		c.lr = method.defaultLR()
	}
	err = checkFlags(
		flagRule{"--lr", c.lr, c.lr > 0 && !math.IsInf(c.lr, 0), "> 0"},
		flagRule{"--workers", c.workers, c.workers >= 1, "≥ 1"},
		flagRule{"--epochs", c.epochs, c.epochs >= 1, "≥ 1"},
		flagRule{"--batch", c.batch, c.batch >= 1, "≥ 1"},
		flagRule{"--eval-samples", c.evalSamples, c.evalSamples >= 0, "≥ 0 (0: all)"},
		flagRule{"--train-samples", c.trainSamples, c.trainSamples >= 0, "≥ 0 (0: all)"},
		flagRule{"--val-samples", c.valSamples, c.valSamples >= 0, "≥ 0"},
		flagRule{"--shift", c.shift, c.shift >= 0 && c.shift <= 127, "in 0..127"},
		flagRule{"-o", `""`, c.out != "", "the model file to write"},
	)
	if err == nil && c.resume && c.checkpoint == "" {
		err = errors.New("--resume needs --checkpoint DIR")
	}
	if err == nil {
		err = method.check(c)
	}
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	dir, how := dataset.ResolveDir(c.dataDir)
	if dir == "" {
		return fmt.Errorf("train: no data directory (%s); give --data DIR", how)
	}
	job := &trainJob{trainCommand: c, Stdout: env.Stdout, Stderr: env.Stderr, DataDir: dir}
	if c.datasetName != "nmnist" {
		if job.Train, err = dataset.Load(c.datasetName, dir, "train"); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if job.Test, err = dataset.Load(c.datasetName, dir, "test"); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if c.trainSamples > 0 {
			job.Train = job.Train.Slice(c.trainSamples)
		}
		if c.evalSamples > 0 {
			job.Test = job.Test.Slice(c.evalSamples)
		}
		fmt.Fprintf(env.Stdout, "%s: %d training and %d test images (data from %s, %s)\n",
			c.datasetName, job.Train.Len(), job.Test.Len(), dir, how)
	}

	start := time.Now()
	m, results, err := method.run(ctx, job)
	if err != nil {
		return fmt.Errorf("train: %s: %w", c.method, err)
	}
	if m.Provenance == nil {
		m.Provenance = map[string]string{}
	}
	for k, v := range map[string]string{
		"method":        c.method,
		"dataset":       c.datasetName,
		"net":           c.net,
		"epochs":        strconv.Itoa(c.epochs),
		"batch":         strconv.Itoa(c.batch),
		"lr":            strconv.FormatFloat(c.lr, 'g', -1, 64),
		"seed":          strconv.FormatUint(c.seed, 10),
		"total_seconds": strconv.FormatFloat(time.Since(start).Seconds(), 'f', 0, 64),
		// The times count only the epochs this command trained: a run
		// done in pieces (--resume) records its last piece's.
		"epochs_run": strconv.Itoa(job.EpochsRun),
		"command":    "nmsim train " + shellJoin(args),
	} {
		if _, set := m.Provenance[k]; !set {
			m.Provenance[k] = v
		}
	}
	stampModel(m, c.out, c.name)
	if err := model.Save(c.out, m); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s (default %s)\n", c.out, english.Count(m.Timesteps, "timestep"))
	if c.jsonOut != "" {
		if err := writeJSON(c.jsonOut, results); err != nil {
			return fmt.Errorf("train: --json: %w", err)
		}
	}
	return nil
}

// imagesOnly is the check of a method that trains on static images.
func imagesOnly(c *trainCommand) error {
	if c.datasetName == "nmnist" {
		return fmt.Errorf("--dataset nmnist: --method %s trains on images (mnist, fashion-mnist); --method surrogate trains on N-MNIST events", c.method)
	}
	return nil
}

// printSNNTable prints the SNN accuracy per timestep count beside the ANN's.
func printSNNTable(w io.Writer, ann float64, res *train.SNNResult) {
	fmt.Fprintf(w, "SNN test accuracy on %s (ANN %.2f%%):\n", english.Count(res.Samples, "image"), 100*ann)
	rows := make([][]string, len(res.Timesteps))
	for k, t := range res.Timesteps {
		a := res.Accuracy(k)
		rows[k] = []string{strconv.Itoa(t), fmt.Sprintf("%.2f%%", 100*a), fmt.Sprintf("%+.2f", 100*(a-ann))}
	}
	table(w, defaultTableWidth, []string{"T", "SNN accuracy", "vs ANN (points)"}, rows)
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
			return nil, fmt.Errorf("%q is not a timestep count ≥ 1", f)
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
