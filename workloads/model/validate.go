package model

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Limits that keep a hostile or mistaken model from overflowing the integer
// arithmetic of sizes (C·H·W, outputs·fanIn) or from describing a network
// that no chip could hold. They are far above any real BSNN.
const (
	// MaxDim bounds each of C, H, W and the kernel size.
	MaxDim = 1 << 20
	// MaxTensor bounds the number of weights (or neurons) of one layer.
	MaxTensor = 1 << 32
	// MaxNameLen bounds a layer name in bytes.
	MaxNameLen = 128
	// MaxInputBits bounds the width of the values any layer reads (pixels,
	// pooled spike counts), so that 1<<bits fits comfortably in an int.
	MaxInputBits = 32
	// MaxBias bounds the magnitude of a bias, so that a timestep's bias
	// plus its weighted sum cannot come near overflowing an int64 membrane.
	MaxBias = 1 << 40
	// MaxWindow bounds a TTFS coding window, in timesteps.
	MaxWindow = 1 << 16
	// MaxTimesteps bounds the timesteps of one inference (a model's
	// default and any run's). 65,536 is over 60 times the longest runs
	// of real BSNN workloads (conversion needs up to ~1,000 timesteps,
	// N-MNIST at 1 ms frames ~300, TTFS windows 256) and equals the
	// longest TTFS window; run time grows linearly with it, so a hostile
	// value such as 2^40 must be refused rather than run.
	MaxTimesteps = 1 << 16
	// MaxSumShift bounds Layer.SumShift: a membrane unit of 2^-16 of a
	// synapse is far finer than any trainer's threshold needs (the
	// surrogate trainer uses 2^-8), and the bound keeps the shifted sums
	// small (MaxShiftedSum).
	MaxSumShift = 16
	// MaxShiftedSum bounds the largest weighted sum (fan-in × largest
	// weight × largest input) of a layer with a SumShift, once shifted, so
	// that an output layer integrating MaxTimesteps of them (and of biases)
	// stays within an int64 membrane: 2^16 · (2^46 + 2^40) < 2^63. A layer
	// without a shift adds its sum as it is and is not bounded here.
	MaxShiftedSum = 1 << 46
)

// Validate checks every structural invariant of the model: shapes chain from
// the input through each layer, weights and thresholds have the sizes and
// ranges their layer implies, and only the output layer is non-spiking.
// It returns the first violation found.
func (m *Model) Validate() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

func (m *Model) validate() error {
	if !utf8.ValidString(m.Name) {
		return errors.New("model name is not valid UTF-8")
	}
	for k, v := range m.Provenance {
		// Invalid UTF-8 would be silently replaced by U+FFFD in model.bin's
		// JSON, so the model would not survive a save/load round trip.
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("provenance entry %q is not valid UTF-8", k)
		}
	}
	if err := checkShape(m.Input.Shape); err != nil {
		return fmt.Errorf("input shape %v: %w", m.Input.Shape, err)
	}
	if m.Input.Bits < 1 || m.Input.Bits > 16 {
		return fmt.Errorf("input bits %d, want 1..16", m.Input.Bits)
	}
	if !knownCoding(m.Input.Coding) {
		return fmt.Errorf("input coding %q unknown (known: %q, %q, %q)", m.Input.Coding, CodingConstant, CodingFrames, CodingTTFS)
	}
	switch {
	case m.Input.Coding == CodingTTFS && (m.Input.Window < 1 || m.Input.Window > MaxWindow):
		return fmt.Errorf("ttfs input window %d timesteps, want 1..%d", m.Input.Window, MaxWindow)
	case m.Input.Coding != CodingTTFS && m.Input.Window != 0:
		return fmt.Errorf("input window %d set for %s coding, want 0 (it is for ttfs coding only)", m.Input.Window, m.Input.Coding)
	case m.Input.FrameUS < 0:
		return fmt.Errorf("input frame length %d µs, want >= 0", m.Input.FrameUS)
	case m.Input.Coding != CodingFrames && m.Input.FrameUS != 0:
		return fmt.Errorf("input frame length %d µs set for %s coding, want 0 (it is for frame coding only)", m.Input.FrameUS, m.Input.Coding)
	case m.Input.MaxCount < 0 || m.Input.MaxCount > 1<<m.Input.Bits-1:
		return fmt.Errorf("input max count %d, want 0..%d (%d-bit values)", m.Input.MaxCount, 1<<m.Input.Bits-1, m.Input.Bits)
	case m.Input.Coding != CodingFrames && m.Input.MaxCount != 0:
		return fmt.Errorf("input max count %d set for %s coding, want 0 (it is for frame coding only)", m.Input.MaxCount, m.Input.Coding)
	}
	switch m.Readout {
	case "", ReadoutPotential, ReadoutSpikes, ReadoutFirstSpike:
	default:
		return fmt.Errorf("readout %q unknown (known: %q, %q, %q)", m.Readout, ReadoutPotential, ReadoutSpikes, ReadoutFirstSpike)
	}
	if m.Timesteps < 1 || m.Timesteps > MaxTimesteps {
		return fmt.Errorf("timesteps %d, want 1..%d", m.Timesteps, MaxTimesteps)
	}
	if len(m.Layers) == 0 {
		return errors.New("no layers")
	}
	seen := make(map[string]int, len(m.Layers))
	prev := m.Input.Shape
	for i := range m.Layers {
		l := &m.Layers[i]
		if err := checkName(l.Name); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if j, dup := seen[l.Name]; dup {
			return fmt.Errorf("layer %d: name %q already used by layer %d", i, l.Name, j)
		}
		seen[l.Name] = i
		// Layers before i are valid here, so InputBits is well defined.
		if bits := m.InputBits(i); bits > MaxInputBits {
			return fmt.Errorf("layer %q reads %d-bit inputs (pooled counts), at most %d", l.Name, bits, MaxInputBits)
		}
		if l.In != prev {
			from := "input shape"
			if i > 0 {
				from = fmt.Sprintf("layer %q output", m.Layers[i-1].Name)
			}
			return fmt.Errorf("layer %q: in %v does not match %s %v", l.Name, l.In, from, prev)
		}
		if err := l.validate(i == len(m.Layers)-1, m.OutputSpikes()); err != nil {
			return fmt.Errorf("layer %q: %w", l.Name, err)
		}
		if l.SumShift > 0 && !shiftedSumFits(l, maxInput(m, i)) {
			return fmt.Errorf("layer %q: sum shift %d: its largest weighted sum (%d fan-in × %d-bit weights × inputs up to %d), shifted, exceeds %d", l.Name, l.SumShift, l.FanIn(), l.WeightBits, maxInput(m, i), int64(MaxShiftedSum))
		}
		prev = l.Out
	}
	last := &m.Layers[len(m.Layers)-1]
	if m.FirstSpikeReadout() && !last.FireOnce {
		return fmt.Errorf("readout %q needs a fire-once last layer; layer %q is not", ReadoutFirstSpike, last.Name)
	}
	if m.Classes != last.Out.Size() {
		return fmt.Errorf("classes %d but last layer %q has %d outputs (%v)", m.Classes, last.Name, last.Out.Size(), last.Out)
	}
	return nil
}

// knownCoding reports whether c is an input coding nmsim implements.
func knownCoding(c Coding) bool { return c == CodingConstant || c == CodingFrames || c == CodingTTFS }

// checkName keeps layer names to characters that are safe in tensor names
// ("<layer>.weight"), file names and reports, and that need no JSON escaping.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name %.20q… is %d bytes, at most %d", name, len(name), MaxNameLen)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '_' || r == '-' || r == '.' || r == '/'
		if !ok {
			return fmt.Errorf("name %q: character %q not allowed (letters, digits, _ - . / only)", name, r)
		}
	}
	return nil
}

// checkShape requires positive dimensions small enough that Size cannot
// overflow.
func checkShape(s Shape) error {
	for _, d := range [...]int{s.C, s.H, s.W} {
		if d < 1 {
			return errors.New("dimensions must be positive")
		}
		if d > MaxDim {
			return fmt.Errorf("dimension %d exceeds %d", d, MaxDim)
		}
	}
	if _, ok := mulCap(s.C, s.H, s.W); !ok {
		return fmt.Errorf("size exceeds %d", MaxTensor)
	}
	return nil
}

// mulCap multiplies positive factors, reporting false when the product
// would exceed MaxTensor (and so before it could overflow an int).
func mulCap(factors ...int) (int, bool) {
	p := 1
	for _, f := range factors {
		if f < 0 || f > 0 && p > MaxTensor/f {
			return 0, false
		}
		p *= f
	}
	return p, true
}

// shiftedSumFits reports whether a weighted layer's largest weighted sum,
// its fan-in times its largest weight times maxIn, shifted left by its
// SumShift, is at most MaxShiftedSum. The layer must be valid on its own.
func shiftedSumFits(l *Layer, maxIn int) bool {
	maxWeight := int64(1) // ±1
	if l.WeightBits > 1 {
		maxWeight = 1<<(l.WeightBits-1) - 1
	}
	limit := int64(MaxShiftedSum) >> l.SumShift
	p := int64(1)
	for _, f := range [...]int64{int64(l.FanIn()), maxWeight, int64(maxIn)} {
		if f > limit/p {
			return false
		}
		p *= f
	}
	return true
}

// tensorSizes returns the layer's outputs and fan-in, checked so that
// outputs·fanIn fits within MaxTensor. Only meaningful for weighted layers
// whose shapes passed checkShape.
func (l *Layer) tensorSizes() (outputs, fanIn int, err error) {
	if l.Kernel > MaxDim {
		return 0, 0, fmt.Errorf("kernel %d exceeds %d", l.Kernel, MaxDim)
	}
	outputs, fanIn = l.Outputs(), l.FanIn()
	if _, ok := mulCap(outputs, fanIn); !ok {
		return 0, 0, fmt.Errorf("%d outputs x %d fan-in exceeds %d weights", outputs, fanIn, MaxTensor)
	}
	return outputs, fanIn, nil
}

// validate checks one layer on its own; last tells whether it is the output
// layer, and spikeReadout whether that layer spikes (it integrates without
// firing otherwise).
func (l *Layer) validate(last, spikeReadout bool) error {
	if err := checkShape(l.In); err != nil {
		return fmt.Errorf("in %v: %w", l.In, err)
	}
	if err := checkShape(l.Out); err != nil {
		return fmt.Errorf("out %v: %w", l.Out, err)
	}
	switch l.Op {
	case OpConv:
		if err := l.validateConv(); err != nil {
			return err
		}
	case OpDense:
		// Any output shape is accepted: its Size is the neuron count.
	case OpSumPool:
		return l.validateSumPool(last)
	default:
		return fmt.Errorf("op %q unknown (known: %q, %q, %q)", l.Op, OpConv, OpDense, OpSumPool)
	}
	if err := l.validateWeights(); err != nil {
		return err
	}
	return l.validateNeurons(last, spikeReadout)
}

func (l *Layer) validateConv() error {
	if l.Kernel < 1 || l.Kernel > MaxDim {
		return fmt.Errorf("conv kernel %d, want 1..%d", l.Kernel, MaxDim)
	}
	if l.Stride < 1 || l.Stride > MaxDim {
		return fmt.Errorf("conv stride %d, want 1..%d", l.Stride, MaxDim)
	}
	if l.Pad < 0 || l.Pad >= l.Kernel {
		return fmt.Errorf("conv pad %d, want 0..kernel-1 (%d)", l.Pad, l.Kernel-1)
	}
	if l.In.H+2*l.Pad < l.Kernel || l.In.W+2*l.Pad < l.Kernel {
		return fmt.Errorf("conv kernel %d larger than padded input %dx%d", l.Kernel, l.In.H+2*l.Pad, l.In.W+2*l.Pad)
	}
	h := (l.In.H+2*l.Pad-l.Kernel)/l.Stride + 1
	w := (l.In.W+2*l.Pad-l.Kernel)/l.Stride + 1
	if l.Out.H != h || l.Out.W != w {
		return fmt.Errorf("conv out %dx%d, but in %dx%d with kernel %d stride %d pad %d gives %dx%d",
			l.Out.H, l.Out.W, l.In.H, l.In.W, l.Kernel, l.Stride, l.Pad, h, w)
	}
	return nil
}

// validateSumPool checks a sum pool: shape arithmetic only, since it has no
// weights and no neurons. Its Spiking flag carries no meaning and is ignored.
func (l *Layer) validateSumPool(last bool) error {
	if last {
		return errors.New("the last layer must be conv or dense, not sumpool (it has no neurons to give the class)")
	}
	// A kernel of 1 would be an identity; requiring 2 or more also bounds a
	// run of consecutive pools (each halves H and W at least), which keeps
	// InputBits' recursion short and its bit widths small.
	if l.Kernel < 2 || l.Kernel > MaxDim {
		return fmt.Errorf("sumpool kernel %d, want 2..%d", l.Kernel, MaxDim)
	}
	if l.Stride != 0 && l.Stride != l.Kernel {
		return fmt.Errorf("sumpool stride %d, want 0 or the kernel %d (windows never overlap)", l.Stride, l.Kernel)
	}
	if l.Pad != 0 {
		return fmt.Errorf("sumpool pad %d, want 0", l.Pad)
	}
	if l.In.H%l.Kernel != 0 || l.In.W%l.Kernel != 0 {
		return fmt.Errorf("sumpool kernel %d does not divide in %dx%d", l.Kernel, l.In.H, l.In.W)
	}
	want := Shape{C: l.In.C, H: l.In.H / l.Kernel, W: l.In.W / l.Kernel}
	if l.Out != want {
		return fmt.Errorf("sumpool out %v, want %v", l.Out, want)
	}
	switch {
	case l.WeightBits != 0:
		return fmt.Errorf("sumpool has weight bits %d, want 0", l.WeightBits)
	case len(l.Weights) != 0:
		return errors.New("sumpool has weights")
	case len(l.Threshold) != 0:
		return errors.New("sumpool has thresholds")
	case len(l.Scale) != 0:
		return errors.New("sumpool has scales")
	case len(l.Bias) != 0:
		return errors.New("sumpool has biases")
	case l.Leak != 0:
		return fmt.Errorf("sumpool has leak %d, want 0", l.Leak)
	case l.SumShift != 0:
		return fmt.Errorf("sumpool has sum shift %d, want 0", l.SumShift)
	case l.Reset != "" && l.Reset != ResetSubtract && l.Reset != ResetZero:
		return fmt.Errorf("reset %q unknown", l.Reset)
	case l.FireOnce:
		return errors.New("sumpool is fire-once, but it has no neurons")
	}
	return nil
}

func (l *Layer) validateWeights() error {
	if l.WeightBits < 1 || l.WeightBits > 8 {
		return fmt.Errorf("weight bits %d, want 1..8", l.WeightBits)
	}
	outputs, fanIn, err := l.tensorSizes()
	if err != nil {
		return err
	}
	if len(l.Weights) != outputs*fanIn {
		return fmt.Errorf("%d weights, want %d outputs x %d fan-in = %d", len(l.Weights), outputs, fanIn, outputs*fanIn)
	}
	if l.WeightBits == 1 {
		for i, w := range l.Weights {
			if w != 1 && w != -1 {
				return fmt.Errorf("binary weight [%d][%d] is %d, want ±1", i/fanIn, i%fanIn, w)
			}
		}
		return nil
	}
	limit := int8(1<<(l.WeightBits-1) - 1)
	for i, w := range l.Weights {
		if w > limit || w < -limit {
			return fmt.Errorf("%d-bit weight [%d][%d] is %d, want -%d..%d", l.WeightBits, i/fanIn, i%fanIn, w, limit, limit)
		}
	}
	return nil
}

func (l *Layer) validateNeurons(last, spikeReadout bool) error {
	outputs := l.Outputs()
	if len(l.Bias) != 0 {
		if len(l.Bias) != outputs {
			return fmt.Errorf("%d biases, want 0 or %d (one per output)", len(l.Bias), outputs)
		}
		for i, b := range l.Bias {
			if b > MaxBias || b < -MaxBias {
				return fmt.Errorf("bias[%d] is %d, want -%d..%d", i, b, int64(MaxBias), int64(MaxBias))
			}
		}
	}
	if l.Leak < 0 || l.Leak > LeakOne {
		return fmt.Errorf("leak %d, want 0..%d", l.Leak, LeakOne)
	}
	if l.SumShift < 0 || l.SumShift > MaxSumShift {
		return fmt.Errorf("sum shift %d, want 0..%d", l.SumShift, MaxSumShift)
	}
	if len(l.Scale) != 0 {
		if len(l.Scale) != outputs {
			return fmt.Errorf("%d scales, want 0 or %d (one per output)", len(l.Scale), outputs)
		}
		for i, s := range l.Scale {
			if !(s > 0) || math.IsInf(s, 0) {
				return fmt.Errorf("scale[%d] is %v, want finite and > 0", i, s)
			}
		}
	}
	if last && !spikeReadout {
		if l.Spiking {
			return errors.New("the last layer must be non-spiking (its membrane gives the class; readout by spikes needs readout \"spikes\")")
		}
		if len(l.Threshold) != 0 {
			return fmt.Errorf("non-spiking layer has %d thresholds, want none", len(l.Threshold))
		}
		if l.FireOnce {
			return errors.New("a non-spiking layer cannot be fire-once")
		}
		if l.Reset != "" && l.Reset != ResetSubtract && l.Reset != ResetZero {
			return fmt.Errorf("reset %q unknown", l.Reset)
		}
		return nil
	}
	if !l.Spiking {
		if l.FireOnce {
			return errors.New("a non-spiking layer cannot be fire-once")
		}
		if last {
			return errors.New("the last layer must be spiking (readout by spikes)")
		}
		return errors.New("only the last layer may be non-spiking")
	}
	if l.Reset != ResetSubtract && l.Reset != ResetZero {
		return fmt.Errorf("reset %q, want %q or %q", l.Reset, ResetSubtract, ResetZero)
	}
	if len(l.Threshold) != outputs {
		return fmt.Errorf("%d thresholds, want %d (one per output)", len(l.Threshold), outputs)
	}
	for i, t := range l.Threshold {
		if t <= 0 {
			return fmt.Errorf("threshold[%d] is %d, want > 0", i, t)
		}
	}
	return nil
}
