package train

import (
	"context"
	"fmt"
	"slices"

	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// SNNResult is the spiking model's accuracy on a data set at several
// timestep counts.
type SNNResult struct {
	Samples   int
	Timesteps []int // ascending
	Correct   []int // per entry of Timesteps
	// SpikesPerSample is the mean number of spikes per sample of each
	// layer over the longest run (0 for layers that do not spike).
	SpikesPerSample []float64
}

// Accuracy is the fraction right at Timesteps[k].
func (r *SNNResult) Accuracy(k int) float64 { return float64(r.Correct[k]) / float64(r.Samples) }

// DefaultTimesteps picks the smallest timestep count whose accuracy is
// within tol (a fraction, 0.003 for 0.3 points) of the best one measured:
// a sensible default latency for the model.
func (r *SNNResult) DefaultTimesteps(tol float64) int {
	best := slices.Max(r.Correct)
	for k, c := range r.Correct {
		if float64(best-c) <= tol*float64(r.Samples) {
			return r.Timesteps[k]
		}
	}
	return r.Timesteps[len(r.Timesteps)-1]
}

// fitsInput says whether data's samples are m's input: images of its
// shape, or, for frame coding, any whole number of frames (a data set whose
// channels are a multiple of the model's input channels, as LoadNMNIST
// makes).
func fitsInput(m *model.Model, data *dataset.Set) bool {
	in := m.Input.Shape
	if m.Input.Coding == model.CodingFrames {
		return data.Shape.H == in.H && data.Shape.W == in.W && data.Shape.C%in.C == 0
	}
	return data.Shape == in
}

// EvalSNN runs every sample of data through the reference SNN once, for the
// largest of timesteps, and reads the class after each requested count from
// the accumulated output membranes, so the table costs one run per sample.
// Samples are spread over workers goroutines, each with its own
// snn.Runner; the result does not depend on their number. done, if set, is
// called with the number of samples finished, from any goroutine.
func EvalSNN(ctx context.Context, m *model.Model, data *dataset.Set, timesteps []int, workers int, done func(int)) (SNNResult, error) {
	if len(timesteps) == 0 {
		return SNNResult{}, fmt.Errorf("SNN evaluation: no timestep counts")
	}
	ts := slices.Clone(timesteps)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	if ts[0] < 1 {
		return SNNResult{}, fmt.Errorf("SNN evaluation: timestep count %d, want >= 1", ts[0])
	}
	if workers < 1 {
		return SNNResult{}, fmt.Errorf("SNN evaluation: workers %d, want >= 1", workers)
	}
	if !fitsInput(m, data) {
		return SNNResult{}, fmt.Errorf("SNN evaluation: data set %q has %v samples, the model reads %v (%s coding)", data.Name, data.Shape, m.Input.Shape, m.Input.Coding)
	}
	n := data.Len()
	if n == 0 {
		return SNNResult{}, fmt.Errorf("SNN evaluation: data set %q is empty", data.Name)
	}
	classes := make([]int32, n*len(ts)) // [sample][k] class after ts[k] steps
	spikes := make([][]int, parallel.Workers(n, workers))
	runners := make([]*snn.Runner, len(spikes))
	for wk := range runners {
		runners[wk], spikes[wk] = snn.NewRunner(m), make([]int, len(m.Layers))
	}
	err := parallel.For(ctx, n, workers, func(wk, i int) {
		row := classes[i*len(ts) : (i+1)*len(ts)]
		k := 0
		res := runners[wk].Run(data.Image(i), ts[len(ts)-1], model.Hooks{Step: func(t int, v []int64) {
			if t == ts[k] {
				row[k] = int32(model.Argmax(v))
				k++
			}
		}})
		for l, s := range res.Spikes {
			spikes[wk][l] += s
		}
		if done != nil {
			done(1)
		}
	})
	if err != nil {
		return SNNResult{}, fmt.Errorf("SNN evaluation: %w", err)
	}
	res := SNNResult{Samples: n, Timesteps: ts, Correct: make([]int, len(ts)), SpikesPerSample: make([]float64, len(m.Layers))}
	for i := 0; i < n; i++ {
		for k := range ts {
			if int(classes[i*len(ts)+k]) == int(data.Labels[i]) {
				res.Correct[k]++
			}
		}
	}
	for l := range m.Layers {
		total := 0
		for wk := range spikes {
			total += spikes[wk][l]
		}
		res.SpikesPerSample[l] = float64(total) / float64(n)
	}
	return res, nil
}
