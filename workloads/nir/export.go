package nir

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// ExportVersion is the NIR version whose layout Export writes: node
// parameters as NIR 0.2 stores them (Input and Output "shape", IF without
// v_reset), which NIR's readers since 0.2 accept.
const ExportVersion = "0.2.0"

// Export converts a model into a NIR graph that computes the same spikes:
//
//   - each conv or dense layer is a Conv2d or Affine node holding the
//     integer weights and biases as numbers (a dense layer reading a
//     [C, H, W] tensor gets a Flatten first), followed by its neurons: IF
//     (r = 1) for a spiking layer without leak, LIF for one with a leak, I
//     or LI for an output layer read out by potential;
//   - thresholds are written as θ − ½: NIR fires when v > v_threshold, and
//     on the integer grid v > θ − ½ is exactly nmsim's v ≥ θ;
//   - a leak L becomes τ = −dt/ln(1 − L/4096) with r = 1/α (α = L/4096), so
//     that α·r = 1 leaves the integer weights as they are;
//   - a layer whose sums are shifted left k bits (SumShift) multiplies r
//     by 2^k and writes its biases divided by 2^k (exact in float64), so
//     that the membrane gains 2^k·(weighted sum) + bias as nmsim's does;
//   - a sum pool is a SumPool2d.
//
// What NIR cannot hold (layer names, weight widths, input coding,
// provenance, real scales ...) goes into the graph's metadata, from which
// Import restores the model exactly. dt is the timestep in seconds that the
// time constants assume (DefaultDT when 0).
func Export(m *model.Model, dt float64) (*Graph, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("nir: export: %w", err)
	}
	if dt == 0 {
		dt = DefaultDT
	}
	if !(dt > 0) || math.IsInf(dt, 0) {
		return nil, fmt.Errorf("nir: export: dt %v, want a positive number of seconds", dt)
	}
	e := &exporter{g: &Graph{Version: ExportVersion, Nodes: map[string]*Node{}}, used: map[string]bool{}, dt: dt}
	md := meta{
		Format: metaFormat, Name: m.Name, Coding: m.Input.Coding, InputBits: m.Input.Bits,
		Window: m.Input.Window, FrameUS: m.Input.FrameUS, MaxCount: m.Input.MaxCount, Timesteps: m.Timesteps, Readout: m.Readout, DT: dt, Provenance: m.Provenance,
	}
	in := e.unique("input")
	out := e.unique("output")
	dims := dimsOf(m.Input.Shape)
	if m.Layers[0].Op == model.OpDense && m.Input.Shape.H == 1 && m.Input.Shape.W == 1 {
		dims = []int{m.Input.Shape.C}
	}
	e.add(in, "Input", map[string]Array{"shape": Ints([]int{len(dims)}, dims...)})
	for i := range m.Layers {
		l := &m.Layers[i]
		ml := metaLayer{Layer: l.Name, WeightBits: l.WeightBits, Reset: l.Reset, Scale: l.Scale, FireOnce: l.FireOnce, SumShift: l.SumShift}
		switch l.Op {
		case model.OpSumPool:
			ml.Node = e.unique(l.Name)
			ml.Spiking, ml.Stride = l.Spiking, l.Stride
			k := []int{2}
			e.add(ml.Node, "SumPool2d", map[string]Array{
				"kernel_size": Ints(k, l.Kernel, l.Kernel), "stride": Ints(k, l.Kernel, l.Kernel), "padding": Ints(k, 0, 0),
			})
			dims = dimsOf(l.Out)
		case model.OpConv:
			ml.Node = e.unique(l.Name)
			e.add(ml.Node, "Conv2d", map[string]Array{
				"weight":      Floats([]int{l.Out.C, l.In.C, l.Kernel, l.Kernel}, e.weights(l)),
				"bias":        Floats([]int{l.Out.C}, e.bias(l)),
				"stride":      Ints([]int{2}, l.Stride, l.Stride),
				"padding":     Ints([]int{2}, l.Pad, l.Pad),
				"dilation":    Ints([]int{2}, 1, 1),
				"groups":      Scalar(1),
				"input_shape": Ints([]int{2}, l.In.H, l.In.W),
			})
			dims = dimsOf(l.Out)
			e.neurons(l, dims)
		case model.OpDense:
			if len(dims) != 1 {
				e.add(e.unique(l.Name+".flatten"), "Flatten", map[string]Array{
					"start_dim": Scalar(0), "end_dim": Scalar(-1), "input_type": Ints([]int{len(dims)}, dims...),
				})
			}
			ml.Node = e.unique(l.Name)
			outs := l.Out.Size()
			e.add(ml.Node, "Affine", map[string]Array{
				"weight": Floats([]int{outs, l.FanIn()}, e.weights(l)),
				"bias":   Floats([]int{outs}, e.bias(l)),
			})
			if l.Out.H != 1 || l.Out.W != 1 {
				// NIR has no reshape back from a vector, so only dense
				// layers (which read it flat) may follow.
				if i+1 < len(m.Layers) && m.Layers[i+1].Op != model.OpDense {
					return nil, fmt.Errorf("nir: export: dense layer %q has a %v output read by %s layer %q; NIR cannot reshape a vector back to [C, H, W]", l.Name, l.Out, m.Layers[i+1].Op, m.Layers[i+1].Name)
				}
				ml.Out = []int{l.Out.C, l.Out.H, l.Out.W}
			}
			dims = []int{outs}
			e.neurons(l, dims)
		}
		md.Layers = append(md.Layers, ml)
	}
	e.add(out, "Output", map[string]Array{"shape": Ints([]int{len(dims)}, dims...)})
	for i := 1; i < len(e.order); i++ {
		e.g.Edges = append(e.g.Edges, Edge{From: e.order[i-1], To: e.order[i]})
	}
	js, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("nir: export: %w", err)
	}
	e.g.Metadata = map[string]string{metaKey: string(js)}
	return e.g, nil
}

// exporter builds the chain of nodes.
type exporter struct {
	g     *Graph
	order []string
	used  map[string]bool
	dt    float64
}

func (e *exporter) add(name, typ string, params map[string]Array) {
	e.g.Nodes[name] = &Node{Type: typ, Params: params}
	e.order = append(e.order, name)
}

// unique turns a layer name into an unused node name. HDF5 link names
// cannot hold '/', which layer names may.
func (e *exporter) unique(base string) string {
	base = strings.ReplaceAll(base, "/", "_")
	name := base
	for i := 2; e.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	e.used[name] = true
	return name
}

func dimsOf(s model.Shape) []int { return []int{s.C, s.H, s.W} }

// weights returns the integer weights as numbers, [out][fanIn] (for a
// conv, [out][in][ky][kx]: the im2col order is NIR's own).
func (e *exporter) weights(l *model.Layer) []float64 {
	w := make([]float64, len(l.Weights))
	for i, x := range l.Weights {
		w[i] = float64(x)
	}
	return w
}

// bias returns the biases in units of the weighted sum (see neurons' r).
func (e *exporter) bias(l *model.Layer) []float64 {
	b := make([]float64, l.Outputs())
	for i, x := range l.Bias {
		b[i] = math.Ldexp(float64(x), -l.SumShift)
	}
	return b
}

// neurons adds the neuron node of a weight layer whose output has NIR
// shape dims.
func (e *exporter) neurons(l *model.Layer, dims []int) {
	size := prod(dims)
	per := size / l.Outputs()
	expand := func(f func(o int) float64) Array {
		v := make([]float64, size)
		for j := range v {
			v[j] = f(j / per)
		}
		return Floats(dims, v)
	}
	const1 := func(x float64) Array { return expand(func(int) float64 { return x }) }
	p := map[string]Array{}
	var typ string
	gain := math.Ldexp(1, l.SumShift) // the membrane's units per unit of the sum
	if l.Leak == 0 {
		typ = "I"
		p["r"] = const1(gain)
	} else {
		alpha := float64(l.Leak) / model.LeakOne
		tau := e.dt / 64 // α = 1 − e^−64 is 1 in float64
		if l.Leak < model.LeakOne {
			tau = -e.dt / math.Log1p(-alpha)
		}
		typ = "LI"
		p["tau"] = const1(tau)
		p["r"] = const1(gain / alpha)
		p["v_leak"] = const1(0)
	}
	if l.Spiking {
		typ = map[string]string{"I": "IF", "LI": "LIF"}[typ]
		p["v_threshold"] = expand(func(o int) float64 { return float64(l.Threshold[o]) - 0.5 })
	}
	e.add(e.unique(l.Name+".neuron"), typ, p)
}
