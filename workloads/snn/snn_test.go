package snn

import (
	"fmt"
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestHandComputedNetwork runs a 4-input network whose every spike was
// worked out by hand.
func TestHandComputedNetwork(t *testing.T) {
	m := &model.Model{
		Name:  "hand",
		Input: model.Input{Shape: model.Shape{C: 1, H: 2, W: 2}, Coding: model.CodingConstant, Bits: 8},
		Layers: []model.Layer{
			// conv 1→1, 1×1 kernel, weight 2: current 2·pixel.
			{Name: "c", Op: model.OpConv, In: model.Shape{C: 1, H: 2, W: 2}, Out: model.Shape{C: 1, H: 2, W: 2}, Kernel: 1, Stride: 1, WeightBits: 8, Weights: []int8{2}, Spiking: true, Reset: model.ResetSubtract, Threshold: []int64{10}},
			{Name: "p", Op: model.OpSumPool, In: model.Shape{C: 1, H: 2, W: 2}, Out: model.Shape{C: 1, H: 1, W: 1}, Kernel: 2},
			{Name: "o", Op: model.OpDense, In: model.Shape{C: 1, H: 1, W: 1}, Out: model.Shape{C: 2, H: 1, W: 1}, WeightBits: 1, Weights: []int8{1, -1}},
		},
		Classes: 2, Timesteps: 3,
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// Pixels 5, 3, 0, 10 → currents 10, 6, 0, 20 per step.
	// Step 1: V = 10 6 0 20 → spikes 1 0 0 1 (V 0 6 0 10); pooled count 2.
	// Step 2: V = 10 12 0 30 → spikes 1 1 0 1 (V 0 2 0 20); count 3.
	// Step 3: V = 10 8 0 40 → spikes 1 0 0 1 (V 0 8 0 30); count 2.
	var got []uint64
	res := NewRunner(m).Run([]uint8{5, 3, 0, 10}, 3, model.Hooks{Spikes: func(l, t int, s bitvec.Vec) { got = append(got, s[0]) }})
	want := []uint64{0b1001, 0b1011, 0b1001}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("spikes %b, want %b", got, want)
		}
	}
	if res.Potentials[0] != 7 || res.Potentials[1] != -7 || res.Class != 0 || res.Spikes[0] != 7 {
		t.Fatalf("result %+v", res)
	}
}

// TestFramesBiasLeakSpikeReadout works through, by hand, a network that uses
// frame coding, biases, leaks (rounded half away from zero on both signs)
// and a spiking output layer read out by spike counts.
func TestFramesBiasLeakSpikeReadout(t *testing.T) {
	in := model.Shape{C: 2, H: 1, W: 1}
	m := &model.Model{
		Name:  "hand-ext",
		Input: model.Input{Shape: in, Coding: model.CodingFrames, Bits: 2},
		Layers: []model.Layer{
			{Name: "h", Op: model.OpDense, In: in, Out: in, WeightBits: 8, Weights: []int8{2, 0, 0, 3},
				Bias: []int64{1, 0}, Leak: model.LeakOne / 2, Spiking: true, Reset: model.ResetSubtract, Threshold: []int64{5, 4}},
			{Name: "o", Op: model.OpDense, In: in, Out: in, WeightBits: 1, Weights: []int8{1, -1, -1, 1},
				Bias: []int64{0, -3}, Leak: model.LeakOne / 2, Spiking: true, Reset: model.ResetZero, Threshold: []int64{1, 1}},
		},
		Classes: 2, Timesteps: 4, Readout: model.ReadoutSpikes,
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// Three frames, then a fourth step of zeros. Halving leaks round half
	// away from zero: 1 → 0, 3 → 1, -5 → -2.
	// h0: t0 0+4+1=5 fires (0); t1 1; t2 0+6+1=7 fires (2); t3 1+1=2.
	// h1: t0 3; t1 1; t2 0+3=3; t3 1 (never reaches 4).
	// o0: fires at t0 and t2 (input +1), 0 otherwise.
	// o1: t0 -1-3=-4; t1 -2-3=-5; t2 -2-1-3=-6; t3 -3-3=-6.
	var steps [][]int64
	var spikes []uint64
	res := NewRunner(m).Run([]uint8{2, 1, 0, 0, 3, 1}, 4, model.Hooks{
		Spikes: func(l, t int, s bitvec.Vec) { spikes = append(spikes, s[0]) },
		Step:   func(t int, scores []int64) { steps = append(steps, append([]int64(nil), scores...)) },
	})
	wantSpikes := []uint64{0b01, 0b01, 0, 0, 0b01, 0b01, 0, 0}
	if fmt.Sprint(spikes) != fmt.Sprint(wantSpikes) {
		t.Errorf("spikes (h, o per step) %b, want %b", spikes, wantSpikes)
	}
	if fmt.Sprint(steps) != "[[1 0] [1 0] [2 0] [2 0]]" {
		t.Errorf("scores per step %v", steps)
	}
	if res.Class != 0 || fmt.Sprint(res.Counts) != "[2 0]" || fmt.Sprint(res.Potentials) != "[0 -6]" || fmt.Sprint(res.Spikes) != "[2 2]" {
		t.Errorf("result %+v", res)
	}
}

// TestHandComputedTTFS runs a time-to-first-spike network worked out by
// hand: TTFS input coding, fire-once hidden neurons and the first-spike
// readout that stops the run.
func TestHandComputedTTFS(t *testing.T) {
	in := model.Shape{C: 3, H: 1, W: 1}
	hid := model.Shape{C: 2, H: 1, W: 1}
	m := &model.Model{
		Name:  "ttfs",
		Input: model.Input{Shape: in, Coding: model.CodingTTFS, Bits: 8, Window: 4},
		Layers: []model.Layer{
			// h0 = x0 + x1 + x2, h1 = x0 - x1 + x2; both fire at 2.
			{Name: "h", Op: model.OpDense, In: in, Out: hid, WeightBits: 1, Weights: []int8{1, 1, 1, 1, -1, 1},
				Spiking: true, FireOnce: true, Reset: model.ResetZero, Threshold: []int64{2, 2}},
			// o0 = h0 + h1 (threshold 2), o1 = h0 (threshold 1).
			{Name: "o", Op: model.OpDense, In: hid, Out: hid, WeightBits: 1, Weights: []int8{1, 1, 1, -1},
				Spiking: true, FireOnce: true, Reset: model.ResetZero, Threshold: []int64{2, 1}},
		},
		Classes: 2, Timesteps: 4, Readout: model.ReadoutFirstSpike,
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	// Pixels 255, 130, 1 spike at steps 0, 1 and 3 (window 4).
	// Step 0: h = 1 1.  Step 1: h = 2 0 → h0 fires (frozen at 2).
	//   Output at step 1: o = 1 1 → o1 fires: decision at step 2 (from 1), class 1.
	var got []uint64
	res := NewRunner(m).Run([]uint8{255, 130, 1}, 4, model.Hooks{Spikes: func(l, t int, s bitvec.Vec) { got = append(got, s[0]) }})
	want := []uint64{0b00, 0b00, 0b01, 0b10} // (h, o) at steps 0 and 1
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("spikes %b, want %b", got, want)
	}
	if res.Decision != 2 || res.Class != 1 || res.Spikes[0] != 1 || res.Spikes[1] != 1 {
		t.Fatalf("decision %d class %d spikes %v, want decision 2, class 1, spikes [1 1]", res.Decision, res.Class, res.Spikes)
	}
}
