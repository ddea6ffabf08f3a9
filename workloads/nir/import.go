package nir

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// Defaults of Options.
const (
	DefaultTimesteps  = 100
	DefaultDT         = 1e-4 // seconds; the NIR paper's LIF example runs at 0.1 ms
	DefaultWeightBits = 8
	DefaultInputBits  = 8
)

// Options control Import. A zero field takes the value that nmsim's Export
// recorded in the graph's metadata, when there is one, and otherwise the
// default; so an exported model imports back as it was, and a flag the user
// sets always wins.
type Options struct {
	// Name of the model (default "nir").
	Name string
	// Timesteps is the model's default run length (DefaultTimesteps).
	Timesteps int
	// DT is the duration of one timestep in seconds, which turns the time
	// constants of leaky neurons into per-step leaks (DefaultDT).
	DT float64
	// WeightBits is the width that real-valued weights are quantised to,
	// 1..8; 1 means Binarize (DefaultWeightBits).
	WeightBits int
	// Binarize replaces every weight layer's weights by α·sign(W), α the
	// mean |W| of each output, whatever they were.
	Binarize bool
	// Reset is what IF and LIF neurons do after a spike
	// (model.ResetSubtract, as Sinabs and the NIR paper's exact LIF
	// simulation do; NIR's text says reset to v_reset = 0, which is
	// model.ResetZero).
	Reset model.Reset
	// Coding and InputBits describe the input (model.CodingConstant,
	// DefaultInputBits): NIR says nothing about how a sample is fed.
	Coding    model.Coding
	InputBits int
	// Source names the file in the model's provenance.
	Source string
	// Force imports layers that Import otherwise refuses as lost in
	// quantisation: weights stored as all zeros, or a weight or threshold
	// error above 50 % at the default width.
	Force bool
}

// Report says how each layer was made from the graph.
type Report struct {
	Layers []LayerReport
	// Notes are remarks on the whole import (metadata used or ignored).
	Notes []string
}

// LayerReport describes one layer of the imported model.
type LayerReport struct {
	Layer string
	Op    model.Op
	// Nodes are the NIR nodes folded into the layer, in chain order.
	Nodes []string
	// WeightBits and Method say how the weights were stored: "integers"
	// (already integers, kept exactly), "binary ±α" (already α·sign per
	// output, detected), "binarized α·sign(W)" or "quantized".
	WeightBits int
	Method     string
	// WeightError is ‖W − s·Wq‖/‖W‖ over the layer: the relative RMS error
	// of the stored weights against the graph's (after folding gains).
	WeightError float64
	// BiasError is the largest |b/s − bq| over the outputs, in units of
	// the integer sum (at most 0.5).
	BiasError float64
	// Leak is the per-step leak α = 1 − exp(−dt/τ) of a leaky layer and
	// LeakError |Leak/LeakOne − α|/α, the relative error of its rounding.
	Leak, LeakError float64
	// ThresholdError is, for a layer whose neurons subtract their
	// threshold, the largest |θ'·s − θ|/θ over the outputs: how far the
	// subtracted amount, and so the firing rate, is from the graph's (0
	// when every threshold is a whole number of steps).
	ThresholdError float64
	// ZeroOutputs counts the outputs whose stored weights are all 0
	// although the graph's are not (imported only with Options.Force).
	ZeroOutputs int
}

// Import converts a NIR graph into an nmsim model, or says why it cannot.
// The graph must be one chain Input → … → Output; each weight node (Affine,
// Linear, Conv2d), with the Scale nodes around it and the neuron node after
// it (IF, LIF, Threshold; I or LI for the last layer), becomes a conv or
// dense layer; SumPool2d and AvgPool2d become sum pools; Flatten only
// reshapes. docs/nir.md gives the exact mapping and rounding.
func Import(g *Graph, o Options) (*model.Model, *Report, error) {
	rep := &Report{}
	md, err := parseMeta(g.Metadata[metaKey])
	if err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("ignored the %q metadata: %v", metaKey, err))
	} else if md != nil {
		rep.Notes = append(rep.Notes, "used nmsim's export metadata (names, widths, provenance)")
	}
	order, err := chain(g)
	if err != nil {
		return nil, nil, fmt.Errorf("nir: %w", err)
	}
	b := &builder{g: g, o: o, md: md, rep: rep, names: map[string]bool{}}
	if err := b.defaults(); err != nil {
		return nil, nil, fmt.Errorf("nir: %w", err)
	}
	for _, name := range order {
		if err := b.node(name, g.Nodes[name]); err != nil {
			return nil, nil, fmt.Errorf("nir: node %q (%s): %w", name, g.Nodes[name].Type, err)
		}
	}
	m, err := b.model()
	if err != nil {
		return nil, nil, fmt.Errorf("nir: %w", err)
	}
	return m, rep, nil
}

// builder walks the chain and assembles the model.
type builder struct {
	g   *Graph
	o   Options
	md  *meta
	rep *Report

	input  model.Shape
	dims   []int       // NIR shape of the current tensor
	shape  model.Shape // model shape of the current tensor (the last layer's output)
	layers []model.Layer
	names  map[string]bool
	// inScale multiplies the current tensor element-wise before the next
	// weight layer reads it (Scale and AvgPool2d nodes after neurons or
	// pools); nil means 1.
	inScale []float64
	cur     *pending // a weight node waiting for its neuron node
	ended   bool     // the Output was reached
	// flattened is set when the last node that changed the tensor's
	// shape was a Flatten.
	flattened bool
}

// pending is a weight layer between its weight node and its neuron node.
type pending struct {
	node  string
	nodes []string
	layer model.Layer
	w     []float64 // [outputs][fanIn], row-major, the real weights
	b     []float64 // per output
	dims  []int     // NIR shape of the output
}

// defaults resolves the options against the metadata and the defaults.
func (b *builder) defaults() error {
	o := &b.o
	if md := b.md; md != nil {
		o.Name = cmp(o.Name, md.Name)
		o.Timesteps = cmp(o.Timesteps, md.Timesteps)
		o.DT = cmp(o.DT, md.DT)
		o.Coding = cmp(o.Coding, md.Coding)
		o.InputBits = cmp(o.InputBits, md.InputBits)
	}
	o.Name = cmp(o.Name, "nir")
	o.Timesteps = cmp(o.Timesteps, DefaultTimesteps)
	o.DT = cmp(o.DT, DefaultDT)
	o.Coding = cmp(o.Coding, model.CodingConstant)
	o.InputBits = cmp(o.InputBits, DefaultInputBits)
	switch {
	case !(o.DT > 0) || math.IsInf(o.DT, 0):
		return fmt.Errorf("dt %v, want a positive number of seconds", o.DT)
	case o.WeightBits < 0 || o.WeightBits > 8:
		return fmt.Errorf("weight bits %d, want 1..8", o.WeightBits)
	case o.Reset != "" && o.Reset != model.ResetSubtract && o.Reset != model.ResetZero:
		return fmt.Errorf("reset %q, want %q or %q", o.Reset, model.ResetSubtract, model.ResetZero)
	}
	return nil
}

// cmp returns a unless it is the zero value, else b.
func cmp[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func (b *builder) node(name string, n *Node) error {
	if b.ended {
		return errors.New("follows the Output")
	}
	if n.Type == "Flatten" {
		b.flattened = true
	} else if n.Type != "Scale" {
		defer func() { b.flattened = false }()
	}
	switch n.Type {
	case "Input":
		return b.inputNode(n)
	case "Output":
		return b.outputNode(n)
	case "Affine", "Linear":
		return b.dense(name, n)
	case "Conv2d":
		return b.conv(name, n)
	case "Scale":
		return b.scale(name, n)
	case "Flatten":
		return b.flatten(n)
	case "SumPool2d", "AvgPool2d":
		return b.pool(name, n)
	default: // IF, LIF, I, LI, Threshold: chain admitted nothing else
		return b.neuron(name, n)
	}
}

func (b *builder) inputNode(n *Node) error {
	a, err := ints(n, "shape")
	if err != nil {
		return err
	}
	s, err := shapeOf(a)
	if err != nil {
		return fmt.Errorf("shape %v: %w", a, err)
	}
	b.input, b.shape, b.dims = s, s, a
	return nil
}

// maxActivations bounds the elements of any tensor the chain produces.
// Per-element parameters are expanded to it, so a small hostile file could
// otherwise ask for gigabytes; real NIR networks are far below it.
const maxActivations = 1 << 22

// shapeOf maps a NIR tensor shape to a model shape: [n] is n×1×1, [C, L]
// is C×1×L, [C, H, W] is itself.
func shapeOf(d []int) (model.Shape, error) {
	for _, x := range d {
		if x < 1 || x > model.MaxDim {
			return model.Shape{}, fmt.Errorf("dimensions must be 1..%d", model.MaxDim)
		}
	}
	if len(d) <= 3 && prod(d) > maxActivations {
		return model.Shape{}, fmt.Errorf("%d elements, more than the %d nmsim imports", prod(d), maxActivations)
	}
	switch len(d) {
	case 1:
		return model.Shape{C: d[0], H: 1, W: 1}, nil
	case 2:
		return model.Shape{C: d[0], H: 1, W: d[1]}, nil
	case 3:
		return model.Shape{C: d[0], H: d[1], W: d[2]}, nil
	}
	return model.Shape{}, fmt.Errorf("rank %d: nmsim tensors are [n], [C, L] or [C, H, W]", len(d))
}

func (b *builder) outputNode(n *Node) error {
	if c := b.cur; c != nil {
		// Weights straight into the Output: the output layer integrates
		// them (the class is the argmax of the summed output).
		if err := b.finish(c, nil, 0); err != nil {
			return fmt.Errorf("closing %q: %w", c.node, err)
		}
		b.cur = nil
	}
	if a, ok := n.Params["shape"]; ok && a.Strings == nil {
		if want := prod(floatsToInts(a.Numbers)); want != prod(b.dims) {
			return fmt.Errorf("shape %v holds %d values, but its input %v holds %d", a.Numbers, want, b.dims, prod(b.dims))
		}
	}
	if b.inScale != nil {
		for _, s := range b.inScale {
			if !(s > 0) || s != b.inScale[0] {
				return errors.New("a Scale after the last neurons changes which output is largest; nmsim reads the class from the last layer directly")
			}
		}
	}
	b.ended = true
	return nil
}

// model assembles and validates the model.
func (b *builder) model() (*model.Model, error) {
	if len(b.layers) == 0 {
		return nil, errors.New("no weight layers between Input and Output")
	}
	for i, l := range b.layers[:len(b.layers)-1] {
		if l.HasWeights() && !l.Spiking {
			return nil, fmt.Errorf("layer %q (from %v) does not spike but feeds layer %q; only the last layer may integrate without firing", l.Name, b.rep.Layers[i].Nodes, b.layers[i+1].Name)
		}
	}
	last := &b.layers[len(b.layers)-1]
	if !last.HasWeights() {
		return nil, fmt.Errorf("the last layer %q is a pool; nmsim reads the class from a conv or dense layer's neurons", last.Name)
	}
	m := &model.Model{
		Name:      b.o.Name,
		Input:     model.Input{Shape: b.input, Coding: b.o.Coding, Bits: b.o.InputBits},
		Layers:    b.layers,
		Classes:   last.Out.Size(),
		Timesteps: b.o.Timesteps,
	}
	if last.Spiking {
		m.Readout = model.ReadoutSpikes
	}
	if md := b.md; md != nil {
		if md.Readout != "" || !last.Spiking {
			m.Readout = md.Readout
		}
		if m.Input.Coding == md.Coding {
			m.Input.Window, m.Input.FrameUS, m.Input.MaxCount = md.Window, md.FrameUS, md.MaxCount
		}
		m.Provenance = md.Provenance
	} else {
		m.Provenance = b.provenance()
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func (b *builder) provenance() map[string]string {
	p := map[string]string{"method": "NIR import", "nir_version": b.g.Version}
	if b.o.Source != "" {
		p["source"] = b.o.Source
	}
	var parts []string
	for _, r := range b.rep.Layers {
		if r.Method != "" {
			parts = append(parts, fmt.Sprintf("%s: %s, %d-bit, weight error %.3g%%", r.Layer, r.Method, r.WeightBits, 100*r.WeightError))
		}
	}
	p["quantization"] = strings.Join(parts, "; ")
	p["dt"] = fmt.Sprint(b.o.DT)
	return p
}

// layerName turns a node name into a unique valid layer name.
func (b *builder) layerName(node string) string {
	if ml := b.metaFor(node); ml != nil && !b.names[ml.Layer] {
		b.names[ml.Layer] = true
		return ml.Layer
	}
	var s strings.Builder
	for _, r := range node {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./", r) {
			s.WriteRune(r)
		} else {
			s.WriteByte('_')
		}
	}
	base := s.String()
	if len(base) > model.MaxNameLen-8 {
		base = base[:model.MaxNameLen-8]
	}
	if base == "" {
		base = "layer"
	}
	name := base
	for i := 2; b.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	b.names[name] = true
	return name
}
