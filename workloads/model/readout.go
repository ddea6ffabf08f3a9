package model

// The read-out: how the class of a sample is read from the output layer.
// It is part of the model's semantics, so the chip and the reference SNN
// both take the decision rule from here (and share nothing else).

import "github.com/nmsim/nmsim/internal/bitvec"

// Readout is how the class is read from the last layer.
type Readout string

// Readouts.
const (
	// ReadoutPotential: the last layer integrates without firing; the class
	// is the argmax of its membranes after the last timestep. The default:
	// an empty Readout means this.
	ReadoutPotential Readout = "potential"
	// ReadoutSpikes: the last layer is a spiking layer like the others; the
	// class is the argmax of its neurons' spike counts over the whole run
	// (as the NIR paper's N-MNIST CNN is read).
	ReadoutSpikes Readout = "spikes"
	// ReadoutFirstSpike: the last layer is a fire-once spiking layer and
	// the class is its first neuron to fire (time-to-first-spike
	// decisions). The run stops at the end of the first timestep at which
	// any output neuron fires; of the neurons that fired then, the one with
	// the highest membrane wins (lowest index on ties). If none fires
	// within the run, the class is the argmax of the output membranes.
	ReadoutFirstSpike Readout = "first-spike"
)

// SpikeReadout reports whether the class is read from the last layer's
// spike counts rather than from its membranes.
func (m *Model) SpikeReadout() bool { return m.Readout == ReadoutSpikes }

// FirstSpikeReadout reports whether the class is the first output neuron to
// fire, and the run stops there.
func (m *Model) FirstSpikeReadout() bool { return m.Readout == ReadoutFirstSpike }

// OutputSpikes reports whether the last layer fires (any readout other than
// by potential).
func (m *Model) OutputSpikes() bool { return m.SpikeReadout() || m.FirstSpikeReadout() }

// Hooks observe a run of a model, on the chip or on the reference SNN,
// without changing it; slices passed to them are valid during the call
// only.
type Hooks struct {
	// Spikes gets every spiking layer's output spikes (CHW order) at
	// every timestep, with the layer's index in the model.
	Spikes func(layer, t int, spikes bitvec.Vec)
	// Step gets the scores the class is read from after every timestep
	// (see Scores); t counts from 1. Reading the class at step t gives
	// what a run of t timesteps would have given.
	Step func(t int, scores []int64)
}

// Stops reports whether a run stops after a timestep at which the output
// layer fired the spikes in fired: a first-spike readout decides at its
// first output spike.
func (m *Model) Stops(fired bitvec.Vec) bool { return m.FirstSpikeReadout() && fired.Count() > 0 }

// Scores are what the class is the argmax of while a run goes on: the
// output membranes v, or the output spike counts for a spike readout.
func (m *Model) Scores(v, counts []int64) []int64 {
	if m.SpikeReadout() {
		return counts
	}
	return v
}

// Class reads the class at the end of a run from the output layer's
// membranes v and spike counts (a spike readout's); decided says that a
// first-spike run stopped at a timestep at which the neurons in fired
// fired (see Stops).
func (m *Model) Class(v, counts []int64, fired bitvec.Vec, decided bool) int {
	if decided {
		return FirstSpikeWinner(v, fired)
	}
	return Argmax(m.Scores(v, counts))
}

// FirstSpikeWinner is the read-out of a first-spike output layer at the
// timestep its first spikes came: of the neurons that fired (set in
// spikes), the one with the largest membrane, the lowest index on ties. It
// returns -1 if none fired.
func FirstSpikeWinner(v []int64, spikes bitvec.Vec) int {
	best := -1
	for i, x := range v {
		if spikes.Get(i) && (best < 0 || x > v[best]) {
			best = i
		}
	}
	return best
}

// Argmax is the class of scores (membranes or spike counts): the index of
// the largest, the lowest index on ties.
func Argmax(v []int64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
