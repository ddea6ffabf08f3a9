// Package model defines the network that nmsim runs: a feed-forward binary
// spiking neural network (BSNN) with exact integer semantics, shared by the
// trainer (which produces it), the reference software SNN (the golden model),
// the mapper and the chip (which consume it). model.bin is its file form.
//
// Integer semantics, so that the chip and the golden model can be compared
// bit for bit: inputs are small unsigned integers (spikes are 0/1, pixels
// 0..255, pooled spike counts 0..k², binned event counts), weights are
// signed integers (WeightBits = 1 means ±1), membrane potentials are int64
// and thresholds and biases are integers in the units of the membrane: the
// units of the weighted input sum, or 2^-SumShift of them for a layer with
// a SumShift. Any real-valued scale (α per channel, quantisation steps, the
// 1/k² of average pooling) is folded into the threshold by the trainer or
// the importer.
//
// One timestep of a weighted layer, for each of its neurons, in this order:
//
//	v = v - sign(v)*((|v|*Leak + LeakOne/2) >> 12)  // leak, rounded half away from zero
//	v = v + current<<SumShift + bias                // current: the integer weighted input sum
//	if spiking && v >= threshold { spike; v = v - threshold (or 0) }
//
// The leak removes v·Leak/LeakOne rounded to the nearest integer (halves
// away from zero), so it never pushes v past zero and, unlike truncation,
// does not bias the membrane upwards. With Leak = 0 (every converted or
// BSNN model) the first line does nothing and the neuron is the plain
// integrate-and-fire neuron. With SumShift = 0 (every model but the
// multi-timestep surrogate models with binary layers) the sum is added as
// it is.
package model

import (
	"fmt"
)

// Op is the operation of a layer.
type Op string

// Layer operations.
const (
	// OpConv is a 2-D convolution (no bias) followed by integrate-and-fire
	// neurons, one per output (channel, y, x).
	OpConv Op = "conv"
	// OpDense is a fully connected layer (no bias) followed by
	// integrate-and-fire neurons, one per output.
	OpDense Op = "dense"
	// OpSumPool sums its input over non-overlapping Kernel×Kernel windows
	// (stride = Kernel). It has no weights and no neurons: its output is a
	// per-timestep count in 0..Kernel², which the next layer reads as a
	// multi-bit input. Average pooling is a sum pool whose 1/Kernel² is
	// folded into the next layer's threshold.
	OpSumPool Op = "sumpool"
)

// Reset is what a neuron's membrane does after it fires.
type Reset string

// Reset modes.
const (
	ResetSubtract Reset = "subtract" // V -= threshold (the conversion paper's choice)
	ResetZero     Reset = "zero"     // V = 0
)

// Coding is how the input sample reaches the first layer.
type Coding string

// Input codings.
const (
	// CodingConstant feeds the raw integer input (e.g. the 8-bit pixel)
	// as a constant current at every timestep (the conversion paper's
	// choice); the first layer reads it bit-serially, Input.Bits planes.
	CodingConstant Coding = "constant"
	// CodingFrames feeds a sequence of frames, such as event-camera events
	// binned in time: a sample holds F ≥ 1 frames of Input.Shape values
	// back to back (F·C·H·W values, frame-major, each frame CHW), layer 0
	// reads frame t at timestep t, and timesteps t ≥ F read all zeros (as a
	// shorter recording padded to a longer one). Each frame is read
	// bit-serially like a constant input, Input.Bits planes.
	CodingFrames Coding = "frames"
	// CodingTTFS is time-to-first-spike coding: every non-zero input value
	// fires one spike, brighter values earlier, spread over Input.Window
	// timesteps (see SpikeTime); a zero never fires. The first layer reads
	// one bit per input per timestep.
	CodingTTFS Coding = "ttfs"
)

// SpikeTime is the timestep (0-based) at which TTFS coding fires input
// value x of a bits-wide input over a window of timesteps, or -1 if x is 0
// and never fires: t = ⌊(2^bits − 1 − x)·window / 2^bits⌋, so the largest
// value fires at 0 and every value fires before window.
func SpikeTime(x, bits, window int) int {
	if x <= 0 {
		return -1
	}
	return ((1<<bits - 1 - x) * window) >> bits
}

// LeakShift and LeakOne give the unit of Layer.Leak: a leak of LeakOne/4
// removes a quarter of the membrane each timestep.
const (
	LeakShift = 12
	LeakOne   = 1 << LeakShift
)

// Shape is a channels × height × width tensor shape. A vector of n values is
// {C: n, H: 1, W: 1}.
type Shape struct {
	C, H, W int
}

// Size is the number of elements.
func (s Shape) Size() int { return s.C * s.H * s.W }

// Index is the flat position of (c, y, x) in C-major (CHW) order, the order
// used for every activation vector in nmsim.
func (s Shape) Index(c, y, x int) int { return (c*s.H+y)*s.W + x }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// Input describes the network input.
type Input struct {
	Shape  Shape
	Coding Coding
	// Bits is the width of each input value (8 for pixels): values lie in
	// [0, 2^Bits).
	Bits int
	// Window is, for TTFS coding only, the number of timesteps over which
	// the input spike times spread (see SpikeTime); 0 otherwise.
	Window int
	// FrameUS is, for frame coding of event-camera data only, the length
	// of one frame in µs that the model was trained with; 0 when unknown
	// or not event data (readers then use their default, 1 ms for N-MNIST).
	FrameUS int
	// MaxCount is, for frame coding only, the count at which the frames'
	// values were clipped in training (N-MNIST events per pixel and
	// frame), and are clipped when data is read; 0 means the largest value
	// of Bits bits. See Max.
	MaxCount int
}

// Max is the largest value an input carries: MaxCount when set, else
// 2^Bits − 1.
func (in Input) Max() int {
	if in.MaxCount > 0 {
		return in.MaxCount
	}
	return 1<<in.Bits - 1
}

// Layer is one layer of the network. Activations flow in CHW order.
type Layer struct {
	Name string
	Op   Op
	In   Shape
	Out  Shape

	// Kernel, Stride and Pad apply to OpConv (square kernels); OpSumPool
	// uses Kernel only (stride = Kernel, no padding).
	Kernel, Stride, Pad int

	// WeightBits is 1 for a binary layer (weights ±1, stored bit-packed in
	// model.bin) or k ≥ 2 for a multi-bit layer whose weights lie in
	// [-(2^(k-1)-1), 2^(k-1)-1] (sign-magnitude, k-1 magnitude bit-slices
	// on the crossbar).
	WeightBits int
	// Weights is row-major [out][fanIn]; for OpConv fanIn is ordered
	// (in channel, ky, kx), the im2col order. Nil for OpSumPool.
	Weights []int8

	// Bias holds one integer per output channel (per neuron for dense
	// layers), in units of the membrane (see SumShift), added to every
	// neuron's membrane at every timestep whatever the input. Nil means no
	// bias.
	Bias []int64
	// SumShift is k in 0..MaxSumShift: the neuron adds its integer weighted
	// sum shifted left by k bits (times 2^k) to the membrane, so that
	// Threshold and Bias are in units of 2^-k of one unit of the sum (one
	// ±1 synapse of a binary layer). It gives a binary layer, whose
	// threshold is otherwise a few synapses, a fine enough unit for its
	// threshold and bias to stay exact over many timesteps; in hardware
	// it is wiring between the column sums and the neuron's adder (the
	// membrane register is k bits wider), no operation. 0 for a plain
	// neuron.
	SumShift int
	// Leak is the fraction of the membrane that decays each timestep, in
	// units of 1/LeakOne (0..LeakOne): v loses v·Leak/LeakOne rounded half
	// away from zero, before the timestep's input is added (see the
	// package documentation for the exact integer formula). 0 (no leak) for
	// integrate-and-fire neurons; the importer derives it from a leaky
	// neuron's time constant (Leak ≈ LeakOne·dt/τ).
	Leak int

	// Spiking is false only for the output layer of a model read out by
	// potential, whose neurons integrate without firing; the class is the
	// argmax of their membrane.
	Spiking bool
	Reset   Reset
	// FireOnce makes every neuron of a spiking layer fire at most once
	// per sample (time-to-first-spike networks): once it has fired, its
	// membrane is frozen, it is never updated again, and Reset does not
	// apply.
	FireOnce bool
	// Threshold holds one positive threshold per output channel (per
	// neuron for dense layers), in units of the membrane (see SumShift).
	// Nil when Spiking is false. A neuron fires when v >= its threshold.
	Threshold []int64

	// Scale is the real value of one unit of this layer's integer weighted
	// sum, per output channel (α times the quantisation steps); one unit of
	// the membrane is worth Scale·2^-SumShift. Kept for inspection and
	// export, never used by the integer semantics.
	Scale []float64
}

// FanIn is the number of inputs that feed one output neuron.
func (l *Layer) FanIn() int {
	switch l.Op {
	case OpConv:
		return l.In.C * l.Kernel * l.Kernel
	case OpDense:
		return l.In.Size()
	case OpSumPool:
		return l.Kernel * l.Kernel
	}
	return 0
}

// Outputs is the number of weight columns (output channels for a conv,
// output neurons for a dense layer).
func (l *Layer) Outputs() int {
	if l.Op == OpDense {
		return l.Out.Size()
	}
	return l.Out.C
}

// HasWeights reports whether the layer is computed on crossbars.
func (l *Layer) HasWeights() bool { return l.Op == OpConv || l.Op == OpDense }

// Weight returns the weight from fan-in position i to output column o.
func (l *Layer) Weight(o, i int) int8 { return l.Weights[o*l.FanIn()+i] }

// Model is a whole network with its provenance.
type Model struct {
	Name   string
	Input  Input
	Layers []Layer
	// Classes is the number of output classes (the last layer's outputs).
	Classes int
	// Timesteps is the default number of timesteps to run (for frame
	// coding, the number of frames a sample is expected to hold).
	Timesteps int
	// Readout says how the class is read; "" is ReadoutPotential.
	Readout Readout
	// Provenance records how the model was made (method, dataset, command,
	// measured accuracies, nmsim version …), free-form key → value.
	Provenance map[string]string
}

// InputBits returns the bit width of the values that layer i reads: the
// model input's bits for layer 0, the pooled count width after a sum pool,
// and 1 (spikes) otherwise.
func (m *Model) InputBits(i int) int {
	if i == 0 {
		if m.Input.Coding == CodingTTFS {
			return 1
		}
		return m.Input.Bits
	}
	prev := &m.Layers[i-1]
	if prev.Op == OpSumPool {
		return bitsFor(prev.Kernel * prev.Kernel * maxInput(m, i-1))
	}
	return 1
}

// maxInput is the largest value that layer i can read.
func maxInput(m *Model, i int) int { return 1<<m.InputBits(i) - 1 }

// bitsFor is the number of bits needed to hold values 0..v.
func bitsFor(v int) int {
	b := 0
	for v > 0 {
		b++
		v >>= 1
	}
	if b == 0 {
		b = 1
	}
	return b
}
