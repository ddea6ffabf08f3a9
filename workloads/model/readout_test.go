package model

import (
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
)

// TestClass checks the decision rule of each readout on one output layer.
func TestClass(t *testing.T) {
	v := []int64{6, 7, 9}
	counts := []int64{3, 1, 3}
	fired := bitvec.New(3)
	fired.Set(0)
	fired.Set(1)
	for _, tc := range []struct {
		readout Readout
		decided bool
		want    int
	}{
		{"", false, 2},                // argmax of the membranes
		{ReadoutPotential, false, 2},  // the same, named
		{ReadoutSpikes, false, 0},     // argmax of the counts, lowest index on ties
		{ReadoutFirstSpike, true, 1},  // of the neurons that fired, membrane 7 beats 6
		{ReadoutFirstSpike, false, 2}, // no spike in the run: argmax of the membranes
	} {
		m := &Model{Readout: tc.readout}
		if got := m.Class(v, counts, fired, tc.decided); got != tc.want {
			t.Errorf("readout %q decided %v: class %d, want %d", tc.readout, tc.decided, got, tc.want)
		}
	}
	if FirstSpikeWinner(v, bitvec.New(3)) != -1 {
		t.Error("a first-spike winner with no spikes")
	}
}

// TestStops checks that only a first-spike readout stops, and only once
// an output neuron fired.
func TestStops(t *testing.T) {
	fired, none := bitvec.New(3), bitvec.New(3)
	fired.Set(2)
	for _, r := range []Readout{"", ReadoutPotential, ReadoutSpikes, ReadoutFirstSpike} {
		m := &Model{Readout: r}
		if got, want := m.Stops(fired), r == ReadoutFirstSpike; got != want || m.Stops(none) {
			t.Errorf("readout %q: stops %v with a spike (want %v), %v without", r, got, want, m.Stops(none))
		}
	}
}
