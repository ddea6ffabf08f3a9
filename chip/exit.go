package chip

import (
	"fmt"
	"math"
)

// EarlyExit is a run-time latency cut for rate-coded models (Lu &
// Sengupta's conversion needs many timesteps because a few samples do):
// a sample stops at the end of the timestep at which the same class has
// led every other class, by at least Margin, at the end of Steps
// consecutive timesteps. The scores compared are the output layer's
// membranes in units of its largest weight magnitude (how many of the
// strongest single input spikes it takes to overturn the lead; shifted
// with the layer's sums, model.Layer.SumShift), or its
// spike counts for a model read out by spikes. The class is the leader's;
// cycles and energy count up to the stop. Steps 0 turns it off; a
// first-spike model stops at its first output spike instead.
type EarlyExit struct {
	Margin float64 `json:"margin"`
	Steps  int     `json:"steps"`
}

// exitRule is an EarlyExit in the model's raw score units.
type exitRule struct {
	margin int64 // raw score units; 0 with steps 0: off
	steps  int
}

// Check rejects a negative or non-finite margin and negative steps.
func (e EarlyExit) Check() error {
	if e.Steps < 0 || !(e.Margin >= 0) || math.IsInf(e.Margin, 0) {
		return fmt.Errorf("chip: early exit margin %v over %d steps: want a finite margin >= 0 and steps >= 0", e.Margin, e.Steps)
	}
	return nil
}

// SetEarlyExit makes the worker's later samples stop early by e.
func (w *Worker) SetEarlyExit(e EarlyExit) error {
	if err := e.Check(); err != nil {
		return err
	}
	m := w.c.m
	if e.Steps == 0 || m.FirstSpikeReadout() {
		w.exit = exitRule{}
		return nil
	}
	unit := int64(1)
	if !m.SpikeReadout() {
		unit = 0
		last := &m.Layers[len(m.Layers)-1]
		for _, v := range last.Weights {
			unit = max(unit, int64(v), -int64(v))
		}
		unit <<= uint(last.SumShift)
	}
	w.exit = exitRule{margin: int64(math.Ceil(e.Margin * float64(unit))), steps: e.Steps}
	return nil
}

// settled advances the early exit's count over scores: it returns the
// class that leads by at least the margin (-1 if none) and for how many
// consecutive timesteps it has, given the previous step's lead and run.
func (r *exitRule) settled(scores []int64, lead, run int) (int, int) {
	best, second := -1, int64(math.MinInt64)
	for i, s := range scores {
		switch {
		case best < 0 || s > scores[best]:
			if best >= 0 {
				second = scores[best]
			}
			best = i
		case s > second:
			second = s
		}
	}
	if best < 0 || len(scores) > 1 && scores[best]-second < r.margin {
		return -1, 0
	}
	if best == lead {
		return best, run + 1
	}
	return best, 1
}
