package model

import "math/rand/v2"

// testModel is a small network that exercises every part of the format:
// an 8-bit conv, a sum pool, a binary conv whose fan-in (36) is not a
// multiple of 8, a binary dense layer, and a 4-bit non-spiking output layer.
func testModel() *Model {
	rng := rand.New(rand.NewPCG(1, 2))
	weights := func(n, bits int) []int8 {
		w := make([]int8, n)
		limit := 1<<(bits-1) - 1
		for i := range w {
			if bits == 1 {
				w[i] = int8(2*rng.IntN(2) - 1)
			} else {
				w[i] = int8(rng.IntN(2*limit+1) - limit)
			}
		}
		return w
	}
	thresholds := func(n int) []int64 {
		t := make([]int64, n)
		for i := range t {
			t[i] = 1 + rng.Int64N(1<<40)
		}
		return t
	}
	return &Model{
		Name:  "tiny",
		Input: Input{Shape: Shape{C: 1, H: 8, W: 8}, Coding: CodingConstant, Bits: 8},
		Layers: []Layer{
			{
				Name: "conv1", Op: OpConv, In: Shape{1, 8, 8}, Out: Shape{4, 8, 8},
				Kernel: 3, Stride: 1, Pad: 1, WeightBits: 8, Weights: weights(4*9, 8),
				Spiking: true, Reset: ResetSubtract, Threshold: thresholds(4),
				Scale: []float64{0.5, 0.25, 1e-3, 3.75},
			},
			{Name: "pool1", Op: OpSumPool, In: Shape{4, 8, 8}, Out: Shape{4, 4, 4}, Kernel: 2, Spiking: true},
			{
				Name: "conv2", Op: OpConv, In: Shape{4, 4, 4}, Out: Shape{6, 2, 2},
				Kernel: 3, Stride: 1, WeightBits: 1, Weights: weights(6*36, 1),
				Spiking: true, Reset: ResetZero, Threshold: thresholds(6),
			},
			{
				Name: "fc1", Op: OpDense, In: Shape{6, 2, 2}, Out: Shape{10, 1, 1},
				WeightBits: 1, Weights: weights(10*24, 1),
				Spiking: true, Reset: ResetSubtract, Threshold: thresholds(10),
			},
			{
				Name: "fc2", Op: OpDense, In: Shape{10, 1, 1}, Out: Shape{3, 1, 1},
				WeightBits: 4, Weights: weights(3*10, 4), Scale: []float64{1, 2, 3},
			},
		},
		Classes:   3,
		Timesteps: 4,
		Provenance: map[string]string{
			"method": "hand-built for tests",
			"note":   "a<b & \"quoted\" \\ é \u2028 \x01",
		},
	}
}
