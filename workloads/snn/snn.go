// Package snn is the reference software SNN: the golden model whose spikes
// the simulated chip must reproduce exactly. It follows the integer
// semantics of package model with plain integer arithmetic (an event-driven
// scatter of each non-zero input through a transposed weight matrix), so it
// shares no arithmetic code with the chip's bit-packed crossbars.
//
// Timing semantics: within a timestep every layer runs in order, so layer l
// at timestep t reads what layer l-1 produced at the same timestep. (The
// chip may pipeline layers across timesteps; that changes cycles, not
// spikes.)
package snn

import (
	"fmt"

	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/workloads/model"
)

// Result is the outcome of one sample.
type Result struct {
	Class      int     // argmax of the scores (Potentials, or Counts for a spike readout), lowest index on ties
	Potentials []int64 // the output layer's membranes after the last step
	Counts     []int64 // the output layer's spikes per neuron over the run; nil unless the model is read out by spikes
	Spikes     []int   // spikes fired per layer over the whole run (0 for non-spiking layers)
	// Decision is, for a first-spike readout, the timestep (from 1) at
	// whose end the class was decided and the run stopped; 0 if no output
	// neuron fired within the run.
	Decision int
}

// layerState is the per-layer working memory, reused across samples.
type layerState struct {
	wT  []int32 // transposed weights [fanIn][outputs]
	hwc []int64 // conv input current this timestep, HWC order
	acc []int64 // input current this timestep, CHW order
	v   []int64 // membrane potentials, CHW order
	out []int32 // output values this timestep (spikes 0/1 or pooled counts), CHW
	bit bitvec.Vec
	// fired marks the neurons of a fire-once layer that have fired.
	fired []bool
}

// Runner runs samples through one model. It is not safe for concurrent use;
// give each worker its own.
type Runner struct {
	m      *model.Model
	layers []layerState
	input  []int32
	// spikeAt is each input's TTFS spike time (-1: never), for TTFS coding.
	spikeAt []int
}

// NewRunner prepares a runner; m must be valid (model.Validate).
func NewRunner(m *model.Model) *Runner {
	r := &Runner{m: m, layers: make([]layerState, len(m.Layers)), input: make([]int32, m.Input.Shape.Size())}
	for i := range m.Layers {
		l := &m.Layers[i]
		st := &r.layers[i]
		n := l.Out.Size()
		st.out = make([]int32, n)
		if l.HasWeights() {
			fan, outs := l.FanIn(), l.Outputs()
			st.wT = make([]int32, fan*outs)
			for o := 0; o < outs; o++ {
				for j := 0; j < fan; j++ {
					st.wT[j*outs+o] = int32(l.Weight(o, j))
				}
			}
			st.acc = make([]int64, n)
			if l.Op == model.OpConv {
				st.hwc = make([]int64, n)
			}
			st.v = make([]int64, n)
			st.bit = bitvec.New(n)
			if l.FireOnce {
				st.fired = make([]bool, n)
			}
		}
	}
	if m.Input.Coding == model.CodingTTFS {
		r.spikeAt = make([]int, m.Input.Shape.Size())
	}
	return r
}

// Run feeds one sample for T timesteps: Input.Shape values (CHW) for
// constant coding, or a whole number of such frames for frame coding (see
// model.CodingFrames). It panics if the sample's length does not fit the
// coding, a programmer error.
func (r *Runner) Run(sample []uint8, T int, h model.Hooks) Result {
	size := len(r.input)
	frames := 1
	if r.m.Input.Coding == model.CodingFrames {
		frames = len(sample) / size
	}
	if len(sample) != frames*size || frames < 1 {
		panic(fmt.Sprintf("snn: sample of %d values for %s coding of %v inputs", len(sample), r.m.Input.Coding, r.m.Input.Shape))
	}
	spikes := make([]int, len(r.m.Layers))
	for i := range r.layers {
		clear(r.layers[i].v)
		clear(r.layers[i].fired)
	}
	for i := range r.spikeAt {
		r.spikeAt[i] = model.SpikeTime(int(sample[i]), r.m.Input.Bits, r.m.Input.Window)
	}
	decision := 0
	var counts []int64
	if r.m.SpikeReadout() {
		counts = make([]int64, r.m.Layers[len(r.m.Layers)-1].Out.Size())
	}
	for t := 0; t < T; t++ {
		// A constant input is loaded once; frame t is loaded at step t,
		// and steps past the last frame read zeros.
		switch {
		case r.spikeAt != nil:
			for i, at := range r.spikeAt {
				r.input[i] = b2i(at == t)
			}
		case t < frames:
			for i, p := range sample[t*size : (t+1)*size] {
				r.input[i] = int32(p)
			}
		case t == frames:
			if r.m.Input.Coding == model.CodingFrames {
				clear(r.input)
			}
		}
		in := r.input
		for i := range r.m.Layers {
			l := &r.m.Layers[i]
			st := &r.layers[i]
			switch l.Op {
			case model.OpSumPool:
				sumPool(l, in, st.out)
			case model.OpConv:
				convScatter(l, in, st)
			case model.OpDense:
				denseScatter(l, in, st)
			}
			if l.HasWeights() {
				if l.Spiking {
					spikes[i] += fire(l, st)
					if h.Spikes != nil {
						h.Spikes(i, t, st.bit)
					}
				} else {
					integrate(l, st)
				}
			}
			in = st.out
		}
		last := &r.layers[len(r.layers)-1]
		for j := range counts {
			counts[j] += int64(last.out[j])
		}
		if h.Step != nil {
			h.Step(t+1, r.m.Scores(last.v, counts))
		}
		if r.m.Stops(last.bit) {
			decision = t + 1
			break
		}
	}
	last := &r.layers[len(r.layers)-1]
	return Result{Class: r.m.Class(last.v, counts, last.bit, decision > 0), Potentials: append([]int64(nil), last.v...),
		Counts: counts, Spikes: spikes, Decision: decision}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func sumPool(l *model.Layer, in, out []int32) {
	k := l.Kernel
	for c := 0; c < l.Out.C; c++ {
		for y := 0; y < l.Out.H; y++ {
			for x := 0; x < l.Out.W; x++ {
				var s int32
				for dy := 0; dy < k; dy++ {
					for dx := 0; dx < k; dx++ {
						s += in[l.In.Index(c, y*k+dy, x*k+dx)]
					}
				}
				out[l.Out.Index(c, y, x)] = s
			}
		}
	}
}

// convScatter adds every non-zero input times its weights to the outputs it
// reaches; acc is HWC so the inner loop over output channels is contiguous.
func convScatter(l *model.Layer, in []int32, st *layerState) {
	clear(st.hwc)
	k, s, p := l.Kernel, l.Stride, l.Pad
	outs := l.Out.C
	for c := 0; c < l.In.C; c++ {
		for y := 0; y < l.In.H; y++ {
			for x := 0; x < l.In.W; x++ {
				v := int64(in[l.In.Index(c, y, x)])
				if v == 0 {
					continue
				}
				for ky := 0; ky < k; ky++ {
					oy := y + p - ky
					if oy < 0 || oy%s != 0 || oy/s >= l.Out.H {
						continue
					}
					oy /= s
					for kx := 0; kx < k; kx++ {
						ox := x + p - kx
						if ox < 0 || ox%s != 0 || ox/s >= l.Out.W {
							continue
						}
						ox /= s
						j := (c*k+ky)*k + kx
						row := st.wT[j*outs : (j+1)*outs]
						acc := st.hwc[(oy*l.Out.W+ox)*outs : (oy*l.Out.W+ox+1)*outs]
						for o, w := range row {
							acc[o] += v * int64(w)
						}
					}
				}
			}
		}
	}
	hw := l.Out.H * l.Out.W
	for pos := 0; pos < hw; pos++ {
		for o := 0; o < outs; o++ {
			st.acc[o*hw+pos] = st.hwc[pos*outs+o]
		}
	}
}

func denseScatter(l *model.Layer, in []int32, st *layerState) {
	clear(st.acc)
	outs := l.Outputs()
	for j, x := range in {
		if x == 0 {
			continue
		}
		v := int64(x)
		row := st.wT[j*outs : (j+1)*outs]
		for o, w := range row {
			st.acc[o] += v * int64(w)
		}
	}
}

// update is one neuron's membrane after a timestep's leak, current a
// (shifted by the layer's SumShift) and bias b, before any firing: the
// model package's neuron equation.
func update(l *model.Layer, v, a, b int64) int64 {
	if l.Leak != 0 {
		// v·Leak/LeakOne rounded half away from zero.
		if v >= 0 {
			v -= (v*int64(l.Leak) + model.LeakOne/2) >> model.LeakShift
		} else {
			v += (-v*int64(l.Leak) + model.LeakOne/2) >> model.LeakShift
		}
	}
	return v + a<<uint(l.SumShift) + b
}

// bias returns the bias of neuron j, whose output channel (or dense neuron)
// is j/per.
func bias(l *model.Layer, j, per int) int64 {
	if l.Bias == nil {
		return 0
	}
	return l.Bias[j/per]
}

// integrate updates the membranes of a non-spiking layer.
func integrate(l *model.Layer, st *layerState) {
	per := l.Out.Size() / l.Outputs() // neurons sharing one channel
	for j, a := range st.acc {
		st.v[j] = update(l, st.v[j], a, bias(l, j, per))
	}
}

// fire updates the membranes, fires every neuron at or above its channel's
// threshold and resets it; it returns the number of spikes. A fire-once
// neuron that has fired is left alone.
func fire(l *model.Layer, st *layerState) int {
	st.bit.Clear()
	per := l.Out.Size() / l.Outputs() // neurons sharing one threshold and bias
	n := 0
	for j, a := range st.acc {
		st.out[j] = 0
		if st.fired != nil && st.fired[j] {
			continue
		}
		v := update(l, st.v[j], a, bias(l, j, per))
		th := l.Threshold[j/per]
		var s int32
		if v >= th {
			s = 1
			n++
			st.bit.Set(j)
			switch {
			case st.fired != nil:
				st.fired[j] = true // frozen: no reset
			case l.Reset == model.ResetZero:
				v = 0
			default:
				v -= th
			}
		}
		st.v[j] = v
		st.out[j] = s
	}
	return n
}
