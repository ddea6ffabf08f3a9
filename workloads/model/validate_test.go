package model

import (
	"math"
	"strings"
	"testing"
)

func TestValidateGood(t *testing.T) {
	if err := testModel().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := extendedModel().Validate(); err != nil {
		t.Fatal(err)
	}
	// The largest shift that keeps that sum within MaxShiftedSum:
	// 2^35 · 2^11 = 2^46 (the sum is just under 2^35).
	m := testModel()
	m.Input = Input{Shape: Shape{1, 64, 64}, Coding: CodingConstant, Bits: 16}
	m.Layers = []Layer{{Name: "fc", Op: OpDense, In: m.Input.Shape, Out: Shape{3, 1, 1}, WeightBits: 8,
		Weights: make([]int8, 3*4096), SumShift: 11}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	m.Layers[0].SumShift = 12
	if err := m.Validate(); err == nil {
		t.Fatal("a shifted sum of 2^47 passes")
	}
}

// TestValidate breaks one invariant per case and checks the message.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(m *Model)
		want   string
	}{
		{"no layers", func(m *Model) { m.Layers = nil }, "no layers"},
		{"input shape", func(m *Model) { m.Input.Shape.H = 0 }, "input shape 1x0x8: dimensions must be positive"},
		{"input bits 0", func(m *Model) { m.Input.Bits = 0 }, "input bits 0, want 1..16"},
		{"input bits 17", func(m *Model) { m.Input.Bits = 17 }, "input bits 17"},
		{"coding", func(m *Model) { m.Input.Coding = "rate" }, `input coding "rate" unknown`},
		{"max count of constant input", func(m *Model) { m.Input.MaxCount = 3 }, "input max count 3 set for constant coding, want 0"},
		{"max count above bits", func(m *Model) { m.Input.Coding, m.Input.MaxCount = CodingFrames, 256 }, "input max count 256, want 0..255 (8-bit values)"},
		{"timesteps", func(m *Model) { m.Timesteps = 0 }, "timesteps 0, want 1..65536"},
		{"timesteps 2^40", func(m *Model) { m.Timesteps = 1 << 40 }, "timesteps 1099511627776, want 1..65536"},
		{"first in", func(m *Model) { m.Input.Shape = Shape{1, 8, 9} }, `layer "conv1": in 1x8x8 does not match input shape 1x8x9`},
		{"chain", func(m *Model) { m.Layers[2].In = Shape{4, 4, 5} }, `layer "conv2": in 4x4x5 does not match layer "pool1" output 4x4x4`},
		{"empty name", func(m *Model) { m.Layers[1].Name = "" }, "layer 1: empty name"},
		{"bad name", func(m *Model) { m.Layers[1].Name = "a b" }, `character ' ' not allowed`},
		{"duplicate name", func(m *Model) { m.Layers[3].Name = "conv1" }, `layer 3: name "conv1" already used by layer 0`},
		{"huge dim", func(m *Model) { m.Layers[4].Out.C = MaxDim + 1 }, "exceeds"},
		{"unknown op", func(m *Model) { m.Layers[1].Op = "maxpool" }, `op "maxpool" unknown`},
		{"conv out", func(m *Model) { m.Layers[0].Pad = 0 }, "conv out 8x8, but in 8x8 with kernel 3 stride 1 pad 0 gives 6x6"},
		{"conv stride", func(m *Model) { m.Layers[0].Stride = 0 }, "conv stride 0"},
		{"conv kernel", func(m *Model) { m.Layers[0].Kernel = 0 }, "conv kernel 0"},
		{"conv pad", func(m *Model) { m.Layers[0].Pad = 3 }, "conv pad 3, want 0..kernel-1 (2)"},
		{"conv too big", func(m *Model) { m.Layers[2].Kernel = 5 }, "conv kernel 5 larger than padded input 4x4"},
		{"conv channels", func(m *Model) {
			m.Layers[0].Out.C = 5
			m.Layers[1].In.C = 5
			m.Layers[1].Out.C = 5
			m.Layers[2].In.C = 5
		}, `layer "conv1": 36 weights, want 5 outputs x 9 fan-in = 45`},
		{"pool divides", func(m *Model) { m.Layers[1].Kernel = 3 }, "sumpool kernel 3 does not divide in 8x8"},
		{"pool out", func(m *Model) { m.Layers[1].Out = Shape{3, 4, 4} }, "sumpool out 3x4x4, want 4x4x4"},
		{"pool weights", func(m *Model) { m.Layers[1].Weights = []int8{1} }, "sumpool has weights"},
		{"pool thresholds", func(m *Model) { m.Layers[1].Threshold = []int64{1} }, "sumpool has thresholds"},
		{"pool bits", func(m *Model) { m.Layers[1].WeightBits = 1 }, "sumpool has weight bits 1, want 0"},
		{"pool pad", func(m *Model) { m.Layers[1].Pad = 1 }, "sumpool pad 1"},
		{"pool kernel 1", func(m *Model) { m.Layers[1].Kernel = 1 }, "sumpool kernel 1, want 2..1048576"},
		{"input bits of pooled counts", func(m *Model) {
			m.Input = Input{Shape: Shape{4, 1024, 1024}, Coding: CodingConstant, Bits: 16}
			m.Layers = m.Layers[1:]
			m.Layers[0] = Layer{Name: "pool1", Op: OpSumPool, In: m.Input.Shape, Out: Shape{4, 1, 1}, Kernel: 1024}
		}, `layer "conv2" reads 36-bit inputs (pooled counts), at most 32`},
		{"pool stride", func(m *Model) { m.Layers[1].Stride = 1 }, "sumpool stride 1"},
		{"weight bits 0", func(m *Model) { m.Layers[2].WeightBits = 0 }, "weight bits 0, want 1..8"},
		{"weight bits 9", func(m *Model) { m.Layers[2].WeightBits = 9 }, "weight bits 9, want 1..8"},
		{"weight count", func(m *Model) { m.Layers[3].Weights = m.Layers[3].Weights[1:] }, "239 weights, want 10 outputs x 24 fan-in = 240"},
		{"binary zero", func(m *Model) { m.Layers[2].Weights[7] = 0 }, "binary weight [0][7] is 0, want ±1"},
		{"binary two", func(m *Model) { m.Layers[3].Weights[30] = 2 }, "binary weight [1][6] is 2"},
		{"8-bit -128", func(m *Model) { m.Layers[0].Weights[0] = -128 }, "8-bit weight [0][0] is -128, want -127..127"},
		{"4-bit 8", func(m *Model) { m.Layers[4].Weights[11] = 8 }, "4-bit weight [1][1] is 8, want -7..7"},
		{"threshold count", func(m *Model) { m.Layers[0].Threshold = m.Layers[0].Threshold[:3] }, "3 thresholds, want 4 (one per output)"},
		{"dense threshold count", func(m *Model) { m.Layers[3].Threshold = nil }, "0 thresholds, want 10"},
		{"threshold zero", func(m *Model) { m.Layers[2].Threshold[5] = 0 }, "threshold[5] is 0, want > 0"},
		{"threshold negative", func(m *Model) { m.Layers[2].Threshold[0] = -3 }, "threshold[0] is -3"},
		{"reset", func(m *Model) { m.Layers[0].Reset = "" }, `reset "", want "subtract" or "zero"`},
		{"reset unknown", func(m *Model) { m.Layers[0].Reset = "leak" }, `reset "leak"`},
		{"middle non-spiking", func(m *Model) { m.Layers[3].Spiking = false }, `layer "fc1": only the last layer may be non-spiking`},
		{"last spiking", func(m *Model) { m.Layers[4].Spiking = true }, "the last layer must be non-spiking"},
		{"last thresholds", func(m *Model) { m.Layers[4].Threshold = []int64{1, 1, 1} }, "non-spiking layer has 3 thresholds"},
		{"last pool", func(m *Model) {
			m.Layers = m.Layers[:2]
			m.Classes = 64
		}, "the last layer must be conv or dense, not sumpool"},
		{"classes", func(m *Model) { m.Classes = 10 }, `classes 10 but last layer "fc2" has 3 outputs`},
		{"scale count", func(m *Model) { m.Layers[0].Scale = []float64{1} }, "1 scales, want 0 or 4"},
		{"scale NaN", func(m *Model) { m.Layers[4].Scale[1] = math.NaN() }, "scale[1] is NaN"},
		{"scale Inf", func(m *Model) { m.Layers[4].Scale[1] = math.Inf(1) }, "scale[1] is +Inf"},
		{"scale zero", func(m *Model) { m.Layers[4].Scale[2] = 0 }, "scale[2] is 0"},
		{"bad utf-8", func(m *Model) { m.Provenance["x"] = "\xff" }, `provenance entry "x" is not valid UTF-8`},
		{"readout", func(m *Model) { m.Readout = "rate" }, `readout "rate" unknown`},
		{"readout spikes, last integrates", func(m *Model) { m.Readout = ReadoutSpikes }, `layer "fc2": the last layer must be spiking (readout by spikes)`},
		{"readout potential, last spikes", func(m *Model) {
			m.Layers[4].Spiking, m.Layers[4].Reset, m.Layers[4].Threshold = true, ResetZero, []int64{1, 1, 1}
		}, `the last layer must be non-spiking (its membrane gives the class; readout by spikes needs readout "spikes")`},
		{"bias count", func(m *Model) { m.Layers[0].Bias = []int64{1} }, `layer "conv1": 1 biases, want 0 or 4`},
		{"bias range", func(m *Model) { m.Layers[3].Bias = make([]int64, 10); m.Layers[3].Bias[9] = -MaxBias - 1 }, "bias[9] is -1099511627777"},
		{"pool bias", func(m *Model) { m.Layers[1].Bias = []int64{1} }, "sumpool has biases"},
		{"pool leak", func(m *Model) { m.Layers[1].Leak = 1 }, "sumpool has leak 1"},
		{"leak negative", func(m *Model) { m.Layers[2].Leak = -1 }, "leak -1, want 0..4096"},
		{"leak above one", func(m *Model) { m.Layers[4].Leak = LeakOne + 1 }, `layer "fc2": leak 4097, want 0..4096`},
		{"sum shift negative", func(m *Model) { m.Layers[2].SumShift = -1 }, `layer "conv2": sum shift -1, want 0..16`},
		{"sum shift above bound", func(m *Model) { m.Layers[4].SumShift = MaxSumShift + 1 }, `layer "fc2": sum shift 17, want 0..16`},
		{"pool sum shift", func(m *Model) { m.Layers[1].SumShift = 1 }, `layer "pool1": sumpool has sum shift 1, want 0`},
		{"shifted sum overflow", func(m *Model) {
			// 4096 inputs of 16 bits through 8-bit weights: a sum of
			// up to 2^35, 2^51 once shifted by 16.
			m.Input = Input{Shape: Shape{1, 64, 64}, Coding: CodingConstant, Bits: 16}
			m.Layers = []Layer{{Name: "fc", Op: OpDense, In: m.Input.Shape, Out: Shape{3, 1, 1}, WeightBits: 8,
				Weights: make([]int8, 3*4096), SumShift: MaxSumShift}}
		}, `layer "fc": sum shift 16: its largest weighted sum (4096 fan-in × 8-bit weights × inputs up to 65535), shifted, exceeds 70368744177664`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel()
			tc.mutate(m)
			err := m.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "model: ") {
				t.Fatalf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
