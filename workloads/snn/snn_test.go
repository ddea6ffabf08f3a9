package snn

import (
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
	res := NewRunner(m).Run([]uint8{5, 3, 0, 10}, 3, Hooks{Spikes: func(l, t int, s bitvec.Vec) { got = append(got, s[0]) }})
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
