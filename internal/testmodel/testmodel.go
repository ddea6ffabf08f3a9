// Package testmodel builds small random but valid networks for tests: a
// conv net with every layer kind (multi-bit first layer, sum pools, binary
// conv and dense layers, a multi-bit non-spiking output layer).
package testmodel

import (
	"fmt"
	"math/rand/v2"

	"github.com/nmsim/nmsim/workloads/model"
)

// Options size the network.
type Options struct {
	Side      int // input is 1×Side×Side, Side divisible by 4
	C1, C2    int // conv channels
	Hidden    int // binary dense layer width
	Classes   int
	Threshold int64 // scale of the binary layers' thresholds
}

// Small is a network that maps onto a few tiles of the default chip.
var Small = Options{Side: 12, C1: 4, C2: 8, Hidden: 40, Classes: 10, Threshold: 6}

// Random returns a valid model with weights and thresholds drawn from rng.
func Random(rng *rand.Rand, o Options) *model.Model {
	in := model.Shape{C: 1, H: o.Side, W: o.Side}
	s1 := model.Shape{C: o.C1, H: o.Side, W: o.Side}
	p1 := model.Shape{C: o.C1, H: o.Side / 2, W: o.Side / 2}
	s2 := model.Shape{C: o.C2, H: o.Side / 2, W: o.Side / 2}
	p2 := model.Shape{C: o.C2, H: o.Side / 4, W: o.Side / 4}
	h := model.Shape{C: o.Hidden, H: 1, W: 1}
	out := model.Shape{C: o.Classes, H: 1, W: 1}
	layers := []model.Layer{
		{Name: "conv1", Op: model.OpConv, In: in, Out: s1, Kernel: 3, Stride: 1, Pad: 1, WeightBits: 8, Spiking: true, Reset: model.ResetSubtract},
		{Name: "pool1", Op: model.OpSumPool, In: s1, Out: p1, Kernel: 2},
		{Name: "conv2", Op: model.OpConv, In: p1, Out: s2, Kernel: 3, Stride: 1, Pad: 1, WeightBits: 1, Spiking: true, Reset: model.ResetSubtract},
		{Name: "pool2", Op: model.OpSumPool, In: s2, Out: p2, Kernel: 2},
		{Name: "fc1", Op: model.OpDense, In: p2, Out: h, WeightBits: 1, Spiking: true, Reset: model.ResetZero},
		{Name: "fc2", Op: model.OpDense, In: h, Out: out, WeightBits: 8},
	}
	for i := range layers {
		l := &layers[i]
		if !l.HasWeights() {
			continue
		}
		Weights(rng, l)
		if !l.Spiking {
			continue
		}
		l.Threshold = make([]int64, l.Outputs())
		for j := range l.Threshold {
			if l.WeightBits == 1 {
				l.Threshold[j] = 1 + rng.Int64N(o.Threshold)
			} else {
				l.Threshold[j] = 2000 + rng.Int64N(20000)
			}
		}
	}
	m := &model.Model{
		Name:       "random",
		Input:      model.Input{Shape: in, Coding: model.CodingConstant, Bits: 8},
		Layers:     layers,
		Classes:    o.Classes,
		Timesteps:  8,
		Provenance: map[string]string{"method": "random"},
	}
	if err := m.Validate(); err != nil {
		panic(fmt.Sprintf("testmodel: invalid model: %v", err))
	}
	return m
}

// Weights gives l random weights, drawn from rng in order: ±1 with
// probability ½ each for a binary layer, else uniform in [−127, 127].
func Weights(rng *rand.Rand, l *model.Layer) {
	l.Weights = make([]int8, l.Outputs()*l.FanIn())
	for j := range l.Weights {
		if l.WeightBits == 1 {
			l.Weights[j] = int8(1 - 2*rng.IntN(2))
		} else {
			l.Weights[j] = int8(rng.IntN(255) - 127)
		}
	}
}

// Sample draws an input image with some zero pixels.
func Sample(rng *rand.Rand, m *model.Model) []uint8 {
	x := make([]uint8, m.Input.Shape.Size())
	for i := range x {
		if rng.IntN(3) > 0 {
			x[i] = uint8(rng.IntN(256))
		}
	}
	return x
}

// TTFS turns a model from Random into a time-to-first-spike network: TTFS
// input coding over window timesteps, fire-once neurons in every weight
// layer (the output layer too) with thresholds drawn so that some samples
// decide early and some never, and the first-spike readout.
func TTFS(rng *rand.Rand, m *model.Model, window int) {
	m.Input.Coding, m.Input.Window = model.CodingTTFS, window
	m.Readout = model.ReadoutFirstSpike
	for i := range m.Layers {
		l := &m.Layers[i]
		if !l.HasWeights() {
			continue
		}
		l.Spiking, l.FireOnce, l.Reset = true, true, model.ResetZero
		l.Threshold = make([]int64, l.Outputs())
		for j := range l.Threshold {
			switch {
			case i == len(m.Layers)-1:
				l.Threshold[j] = 200 + rng.Int64N(400)
			case l.WeightBits > 1:
				l.Threshold[j] = 100 + rng.Int64N(300)
			default:
				l.Threshold[j] = 1 + rng.Int64N(4)
			}
		}
	}
	if err := m.Validate(); err != nil {
		panic(fmt.Sprintf("testmodel: invalid TTFS model: %v", err))
	}
}
