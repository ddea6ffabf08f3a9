package runner

import (
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/noc"
)

// Tally is what a set of samples run on one chip instance adds up to.
// It holds only integers (counts, sums, maxima and histograms), so tallies
// of disjoint sets of samples add up to the tally of their union exactly,
// in any order: the report made from it is the same byte for byte however
// the samples were divided among workers or machines.
type Tally struct {
	Samples int `json:"samples"`
	Correct int `json:"correct"`
	// CorrectAt counts the samples classified correctly after each of
	// Options.AccuracyAt's timesteps.
	CorrectAt []int `json:"correct_at"`
	// Decided counts the samples of a first-spike model whose output
	// fired; Ran sums the timesteps run.
	Decided    int             `json:"decided"`
	Ran        int64           `json:"timesteps_run"`
	Cycles     int64           `json:"cycles"`
	Mismatches int64           `json:"golden_mismatches"`
	NoC        noc.Stats       `json:"noc"`
	Layers     []chip.Counters `json:"layers"` // per weight layer
}

// Add folds o into t.
func (t *Tally) Add(o Tally) {
	t.Samples += o.Samples
	t.Correct += o.Correct
	t.CorrectAt = grow(t.CorrectAt, len(o.CorrectAt))
	for k, c := range o.CorrectAt {
		t.CorrectAt[k] += c
	}
	t.Decided += o.Decided
	t.Ran += o.Ran
	t.Cycles += o.Cycles
	t.Mismatches += o.Mismatches
	t.NoC.Add(o.NoC)
	t.Layers = grow(t.Layers, len(o.Layers))
	for li, c := range o.Layers {
		t.Layers[li].Add(c)
	}
}

// grow extends s with zero values to at least n elements.
func grow[T any](s []T, n int) []T {
	for len(s) < n {
		var zero T
		s = append(s, zero)
	}
	return s
}
