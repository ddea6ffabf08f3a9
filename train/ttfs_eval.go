package train

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

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
