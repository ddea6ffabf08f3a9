package nir

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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

// metaKey is the graph metadata entry where Export records what NIR cannot
// hold (names, provenance, input coding, weight widths, ...).
const metaKey = "nmsim"

// metaFormat identifies Export's metadata.
const metaFormat = "nmsim-model"

// meta is Export's metadata, JSON in the graph's "nmsim" entry.
type meta struct {
	Format     string            `json:"format"`
	Name       string            `json:"name"`
	Coding     model.Coding      `json:"coding"`
	InputBits  int               `json:"input_bits"`
	Window     int               `json:"window,omitempty"`   // TTFS coding's window, timesteps
	FrameUS    int               `json:"frame_us,omitempty"` // event frames' length
	Timesteps  int               `json:"timesteps"`
	Readout    model.Readout     `json:"readout,omitempty"`
	DT         float64           `json:"dt"`
	Provenance map[string]string `json:"provenance,omitempty"`
	Layers     []metaLayer       `json:"layers"`
}

// metaLayer is one layer's entry, found by the name of its first node (the
// weight or pooling node).
type metaLayer struct {
	Layer      string      `json:"layer"`
	Node       string      `json:"node"`
	WeightBits int         `json:"weight_bits,omitempty"`
	Reset      model.Reset `json:"reset,omitempty"`
	Spiking    bool        `json:"spiking,omitempty"` // sum pools only: the flag carries no meaning there
	Stride     int         `json:"stride,omitempty"`  // sum pools only: 0 or the kernel
	Out        []int       `json:"out,omitempty"`     // dense layers whose output is not a vector
	Scale      []float64   `json:"scale,omitempty"`
	FireOnce   bool        `json:"fire_once,omitempty"`
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

func parseMeta(s string) (*meta, error) {
	if s == "" {
		return nil, nil
	}
	var md meta
	if err := json.Unmarshal([]byte(s), &md); err != nil {
		return nil, err
	}
	if md.Format != metaFormat {
		return nil, fmt.Errorf("format %q, want %q", md.Format, metaFormat)
	}
	return &md, nil
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

// metaFor returns the metadata entry of the layer whose first node is node.
func (b *builder) metaFor(node string) *metaLayer {
	if b.md == nil {
		return nil
	}
	for i := range b.md.Layers {
		if b.md.Layers[i].Node == node {
			return &b.md.Layers[i]
		}
	}
	return nil
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

func (b *builder) dense(name string, n *Node) error {
	if err := b.noPending(name); err != nil {
		return err
	}
	w, ok := n.Params["weight"]
	if !ok {
		return errors.New("no weight")
	}
	if len(w.Shape) != 2 || w.Strings != nil || len(w.Numbers) != prod(w.Shape) {
		return fmt.Errorf("weight of shape %v, want a numeric matrix [out, in]", w.Shape)
	}
	if err := finite(w, "weight"); err != nil {
		return err
	}
	out, in := w.Shape[0], w.Shape[1]
	// A Flatten right before counts its start_dim from a batch axis when
	// the graph came from PyTorch (nn.Flatten's default start_dim=1 written
	// as it is): it meant the whole tensor, which is what Affine reads.
	if len(b.dims) != 1 && !(b.flattened && prod(b.dims) == in) || len(b.dims) == 1 && b.dims[0] != in {
		if prod(b.dims) == in {
			return fmt.Errorf("reads a %v tensor; NIR's %s acts on the last axis, so put a Flatten before it", b.dims, n.Type)
		}
		return fmt.Errorf("weight %v reads %d values, but its input is %v", w.Shape, in, b.dims)
	}
	if out < 1 || out > model.MaxDim {
		return fmt.Errorf("%d outputs, want 1..%d", out, model.MaxDim)
	}
	bias, err := b.biasOf(n, out)
	if err != nil {
		return err
	}
	wv := slices.Clone(w.Numbers)
	if b.inScale != nil {
		for o := range out {
			for i := range in {
				wv[o*in+i] *= b.inScale[i]
			}
		}
		b.inScale = nil
	}
	l := model.Layer{Op: model.OpDense, In: b.shape, Out: model.Shape{C: out, H: 1, W: 1}}
	b.cur = &pending{node: name, nodes: []string{name}, layer: l, w: wv, b: bias, dims: []int{out}}
	return nil
}

// biasOf returns an Affine's or Conv2d's bias (zeros for Linear).
func (b *builder) biasOf(n *Node, out int) ([]float64, error) {
	a, ok := n.Params["bias"]
	if !ok || n.Type == "Linear" {
		return make([]float64, out), nil
	}
	if a.Strings != nil || a.Size() != out {
		return nil, fmt.Errorf("bias of shape %v, want %d values", a.Shape, out)
	}
	if err := finite(a, "bias"); err != nil {
		return nil, err
	}
	return slices.Clone(a.Numbers), nil
}

// finite refuses a parameter holding NaN or ±Inf, naming the element by
// its index in the parameter's shape.
func finite(a Array, key string) error {
	for i, x := range a.Numbers {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if len(a.Shape) == 0 {
				return fmt.Errorf("%s is %v: nmsim needs finite numbers", key, x)
			}
			idx := make([]int, len(a.Shape))
			for k := len(a.Shape) - 1; k >= 0; k-- {
				idx[k] = i % max(a.Shape[k], 1)
				i /= max(a.Shape[k], 1)
			}
			return fmt.Errorf("%s%v is %v: nmsim needs finite numbers", key, idx, x)
		}
	}
	return nil
}

func (b *builder) conv(name string, n *Node) error {
	if err := b.noPending(name); err != nil {
		return err
	}
	w, ok := n.Params["weight"]
	if !ok {
		return errors.New("no weight")
	}
	if len(w.Shape) != 4 || w.Strings != nil || len(w.Numbers) != prod(w.Shape) {
		return fmt.Errorf("weight of shape %v, want numbers [out, in, kh, kw]", w.Shape)
	}
	if err := finite(w, "weight"); err != nil {
		return err
	}
	out, in, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	// Groups first: a grouped weight reads in/groups channels, which the
	// channel check below would misreport.
	groups := 1
	if _, ok := n.Params["groups"]; ok {
		gv, err := ints(n, "groups")
		if err != nil {
			return err
		}
		if len(gv) != 1 {
			return fmt.Errorf("groups %v, want one number", gv)
		}
		groups = gv[0]
	}
	if groups != 1 {
		return fmt.Errorf("groups %d is not supported: nmsim's convolutions connect every input channel to every output channel; grouped convolutions need block-diagonal weights (write them out with zeros and groups 1)", groups)
	}
	if kh != kw {
		return fmt.Errorf("kernel %d×%d: nmsim's convolutions have square kernels", kh, kw)
	}
	if len(b.dims) != 3 || b.dims[0] != in {
		return fmt.Errorf("weight %v reads %d channels, but its input is %v", w.Shape, in, b.dims)
	}
	k := kh
	stride, err := pair(n, "stride", 1)
	if err != nil {
		return err
	}
	dil, err := pair(n, "dilation", 1)
	if err != nil {
		return err
	}
	if dil != 1 {
		return fmt.Errorf("dilation %d: nmsim's convolutions read dense kernels; this needs dilated kernels (or the kernel spread out with zeros, %d×%d)", dil, (k-1)*dil+1, (k-1)*dil+1)
	}
	pad, err := padding(n, k, stride)
	if err != nil {
		return err
	}
	h, wd := b.dims[1], b.dims[2]
	if a, ok := n.Params["input_shape"]; ok && a.Size() == 2 && (int(a.Numbers[0]) != h || int(a.Numbers[1]) != wd) {
		return fmt.Errorf("input_shape %v, but its input is %v", a.Numbers, b.dims)
	}
	if pad > k-1 {
		return fmt.Errorf("padding %d with kernel %d: nmsim pads by at most kernel-1", pad, k)
	}
	if stride < 1 || h+2*pad < k || wd+2*pad < k {
		return fmt.Errorf("stride %d, padding %d, kernel %d do not fit the %d×%d input", stride, pad, k, h, wd)
	}
	oh, ow := (h+2*pad-k)/stride+1, (wd+2*pad-k)/stride+1
	if out < 1 || out > model.MaxDim || out*oh*ow > maxActivations {
		return fmt.Errorf("output %d×%d×%d: more than the %d elements nmsim imports", out, oh, ow, maxActivations)
	}
	bias, err := b.biasOf(n, out)
	if err != nil {
		return err
	}
	wv := slices.Clone(w.Numbers)
	if b.inScale != nil {
		cs, err := perChannel(b.inScale, in, h*wd, "the scale of its input")
		if err != nil {
			return err
		}
		fan := in * k * k
		for o := range out {
			for j := range fan {
				wv[o*fan+j] *= cs[j/(k*k)]
			}
		}
		b.inScale = nil
	}
	l := model.Layer{Op: model.OpConv, In: b.shape, Out: model.Shape{C: out, H: oh, W: ow}, Kernel: k, Stride: stride, Pad: pad}
	b.cur = &pending{node: name, nodes: []string{name}, layer: l, w: wv, b: bias, dims: []int{out, oh, ow}}
	return nil
}

// pair reads a parameter that is one number or two equal ones (NIR's
// (height, width) pairs); def when absent.
func pair(n *Node, key string, def int) (int, error) {
	if _, ok := n.Params[key]; !ok {
		return def, nil
	}
	v, err := ints(n, key)
	if err != nil {
		return 0, err
	}
	if len(v) < 1 || len(v) > 2 || v[0] != v[len(v)-1] {
		return 0, fmt.Errorf("%s %v: nmsim needs the same value for height and width", key, v)
	}
	return v[0], nil
}

// padding reads a Conv2d padding: numbers, or "valid" / "same".
func padding(n *Node, k, stride int) (int, error) {
	a, ok := n.Params["padding"]
	if ok && a.Strings != nil {
		switch strings.Join(a.Strings, "") {
		case "valid":
			return 0, nil
		case "same":
			if k%2 == 1 && stride == 1 {
				return (k - 1) / 2, nil
			}
			return 0, fmt.Errorf("padding \"same\" with kernel %d and stride %d is uneven; nmsim pads every side alike", k, stride)
		}
		return 0, fmt.Errorf("padding %q, want numbers, \"valid\" or \"same\"", a.Strings)
	}
	return pair(n, "padding", 0)
}

func (b *builder) scale(name string, n *Node) error {
	a, ok := n.Params["scale"]
	if !ok || a.Strings != nil {
		return errors.New("no numeric scale")
	}
	if c := b.cur; c != nil {
		// Between weights and neurons: scale each output's row and bias.
		size := prod(c.dims)
		s, err := broadcast(a, size, "scale")
		if err != nil {
			return err
		}
		outs := c.layer.Outputs()
		per, err := perChannel(s, outs, size/outs, "scale")
		if err != nil {
			return err
		}
		fan := len(c.w) / outs
		for o, f := range per {
			for j := range fan {
				c.w[o*fan+j] *= f
			}
			c.b[o] *= f
		}
		c.nodes = append(c.nodes, name)
		return nil
	}
	// After neurons or pools (or on the input): scale what the next weight
	// layer reads.
	size := prod(b.dims)
	s, err := broadcast(a, size, "scale")
	if err != nil {
		return err
	}
	if b.inScale == nil {
		b.inScale = s
		return nil
	}
	for i := range s {
		b.inScale[i] *= s[i]
	}
	return nil
}

func (b *builder) flatten(n *Node) error {
	if b.cur != nil {
		return fmt.Errorf("comes between the weights of %q and their neurons; nmsim flattens spikes, so put it after the neuron node", b.cur.node)
	}
	start, end := 0, -1
	if _, ok := n.Params["start_dim"]; ok {
		v, err := ints(n, "start_dim")
		if err != nil || len(v) != 1 {
			return fmt.Errorf("start_dim: want one integer (%v)", err)
		}
		start = v[0]
	}
	if _, ok := n.Params["end_dim"]; ok {
		v, err := ints(n, "end_dim")
		if err != nil || len(v) != 1 {
			return fmt.Errorf("end_dim: want one integer (%v)", err)
		}
		end = v[0]
	}
	r := len(b.dims)
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	if start < 0 || end >= r || start > end {
		return fmt.Errorf("start_dim %d, end_dim %d do not fit its %v input", start, end, b.dims)
	}
	dims := append(slices.Clone(b.dims[:start]), prod(b.dims[start:end+1]))
	b.dims = append(dims, b.dims[end+1:]...)
	return nil
}

func (b *builder) pool(name string, n *Node) error {
	if b.cur != nil {
		return fmt.Errorf("comes between the weights of %q and their neurons; nmsim pools spikes, so the neuron node must come first", b.cur.node)
	}
	if len(b.dims) != 3 {
		return fmt.Errorf("its input %v is not [C, H, W]", b.dims)
	}
	k, err := pair(n, "kernel_size", 0)
	if err != nil {
		return err
	}
	stride, err := pair(n, "stride", k)
	if err != nil {
		return err
	}
	pad, err := pair(n, "padding", 0)
	if err != nil {
		return err
	}
	c, h, w := b.dims[0], b.dims[1], b.dims[2]
	switch {
	case k < 1:
		return fmt.Errorf("kernel_size %d", k)
	case stride != k || pad != 0:
		return fmt.Errorf("kernel %d, stride %d, padding %d: nmsim pools non-overlapping windows (stride = kernel, no padding)", k, stride, pad)
	case h%k != 0 || w%k != 0:
		return fmt.Errorf("kernel %d does not divide its %d×%d input; nmsim's pools use every input", k, h, w)
	}
	outDims := []int{c, h / k, w / k}
	if b.inScale != nil || n.Type == "AvgPool2d" {
		s := b.inScale
		if s == nil {
			s = ones(c * h * w)
		}
		per, err := perChannel(s, c, h*w, "the scale of its input")
		if err != nil {
			return err
		}
		if n.Type == "AvgPool2d" {
			for i := range per {
				per[i] /= float64(k * k) // the mean is the sum over k²
			}
		}
		b.inScale = make([]float64, prod(outDims))
		for i := range b.inScale {
			b.inScale[i] = per[i/(outDims[1]*outDims[2])]
		}
	}
	if k == 1 {
		return nil // a 1×1 pool is the identity
	}
	out := model.Shape{C: c, H: h / k, W: w / k}
	l := model.Layer{Name: b.layerName(name), Op: model.OpSumPool, In: b.shape, Out: out, Kernel: k}
	if ml := b.metaFor(name); ml != nil {
		l.Spiking, l.Stride, l.Reset = ml.Spiking, ml.Stride, ml.Reset
	}
	b.layers = append(b.layers, l)
	b.rep.Layers = append(b.rep.Layers, LayerReport{Layer: l.Name, Op: l.Op, Nodes: []string{name}})
	b.shape, b.dims = out, outDims
	return nil
}

// noPending refuses a weight node right after another one.
func (b *builder) noPending(name string) error {
	if b.cur != nil {
		return fmt.Errorf("follows the weights of %q with no neurons between; nmsim layers are weights followed by neurons (multiply the two weight matrices into one)", b.cur.node)
	}
	return nil
}

// neuronModel is a neuron node reduced to what nmsim's neuron does: per
// output, a gain on the input current, an extra constant current, and a
// threshold (spiking only); per layer, a leak.
type neuronModel struct {
	gain, extra, threshold []float64 // per neuron; threshold nil when not spiking
	alpha                  float64   // fraction of the membrane lost per step
}

func (b *builder) neuron(name string, n *Node) error {
	c := b.cur
	if c == nil {
		return errors.New("has no weights before it; nmsim's neurons sit behind a conv or dense layer (add an identity Linear)")
	}
	size := prod(c.dims)
	nm, err := b.neuronModel(n, size)
	if err != nil {
		return err
	}
	c.nodes = append(c.nodes, name)
	l := c.layer
	outs := l.Outputs()
	per := size / outs
	gain, err := perChannel(nm.gain, outs, per, "the input gain (r, and dt/tau for leaky neurons)")
	if err != nil {
		return err
	}
	extra, err := perChannel(nm.extra, outs, per, "v_leak")
	if err != nil {
		return err
	}
	fan := len(c.w) / outs
	for o := range outs {
		for j := range fan {
			c.w[o*fan+j] *= gain[o]
		}
		c.b[o] = c.b[o]*gain[o] + extra[o]
	}
	var th []float64
	if nm.threshold != nil {
		if th, err = perChannel(nm.threshold, outs, per, "the threshold"); err != nil {
			return err
		}
	}
	if err := b.finish(c, th, nm.alpha); err != nil {
		return err
	}
	b.cur = nil
	return nil
}

// neuronModel reads a neuron node's parameters for size neurons. Leaky
// neurons follow τ dv/dt = (v_leak − v) + r·I, integrated exactly over a
// timestep with I held constant: v' = v + α(v_leak − v + r·I) with
// α = 1 − exp(−dt/τ).
func (b *builder) neuronModel(n *Node, size int) (neuronModel, error) {
	get := func(key string, def float64, required bool) ([]float64, error) {
		a, ok := n.Params[key]
		if !ok {
			if required {
				return nil, fmt.Errorf("%s: %w", key, errNoParam)
			}
			v := make([]float64, size)
			for i := range v {
				v[i] = def
			}
			return v, nil
		}
		return broadcast(a, size, key)
	}
	var nm neuronModel
	var err error
	if nm.gain, err = get("r", 1, false); err != nil {
		return nm, err
	}
	nm.extra = make([]float64, size)
	switch n.Type {
	case "IF", "LIF", "Threshold":
		key := "v_threshold"
		if n.Type == "Threshold" {
			key = "threshold"
		}
		if nm.threshold, err = get(key, 0, true); err != nil {
			return nm, err
		}
		if n.Type == "Threshold" {
			nm.alpha = 1 // no memory: the membrane is the current input alone
			nm.gain = ones(size)
		}
		if vr, err := get("v_reset", 0, false); err != nil {
			return nm, err
		} else if slices.ContainsFunc(vr, func(x float64) bool { return x != 0 }) {
			return nm, errors.New("v_reset is not 0: nmsim neurons reset to 0 or by subtracting the threshold")
		}
	}
	if n.Type == "LIF" || n.Type == "LI" {
		tau, err := get("tau", 0, true)
		if err != nil {
			return nm, err
		}
		leak, err := get("v_leak", 0, false)
		if err != nil {
			return nm, err
		}
		for i, t := range tau {
			if !(t > 0) || math.IsInf(t, 0) {
				return nm, fmt.Errorf("tau[%d] is %v, want a positive time in seconds", i, t)
			}
			a := -math.Expm1(-b.o.DT / t)
			if i == 0 {
				nm.alpha = a
			} else if !near(a, nm.alpha) {
				return nm, fmt.Errorf("tau differs between neurons (%v and %v): nmsim has one leak per layer; it would need a leak per neuron", tau[0], t)
			}
			nm.gain[i] *= a
			nm.extra[i] = a * leak[i]
		}
	}
	return nm, nil
}

// finish quantises a pending layer and appends it. th holds the real
// thresholds per output (nil for a non-spiking layer) and alpha the leak.
func (b *builder) finish(c *pending, th []float64, alpha float64) error {
	l := c.layer
	l.Name = b.layerName(c.node)
	outs := l.Outputs()
	ml := b.metaFor(c.node)
	spiking := th != nil
	leak := 0
	if alpha > 0 {
		leak = int(math.Round(alpha * model.LeakOne))
	}
	bits := b.o.WeightBits
	if bits == 0 && ml != nil {
		bits = ml.WeightBits
	}
	l.Reset = ""
	switch {
	case ml != nil:
		l.Reset = ml.Reset
	case spiking:
		l.Reset = model.ResetSubtract
	}
	if b.o.Reset != "" && spiking {
		l.Reset = b.o.Reset
	}
	// A neuron that subtracts its threshold keeps the remainder, so the
	// threshold it subtracts must be a whole number of weight steps (see
	// quantize); one that resets to zero, or whose membrane is wiped every
	// step (Threshold nodes), only compares, which the integer grid does
	// exactly for any threshold. nmsim's own graphs keep their integers.
	var align []float64
	if spiking && ml == nil && l.Reset == model.ResetSubtract && leak != model.LeakOne {
		align = th
		for o, t := range th {
			if !(t > 0) {
				return fmt.Errorf("threshold %v of output %d: a neuron that subtracts its threshold needs a positive one (--reset zero resets instead)", t, o)
			}
		}
	}
	// The weights' own unit (±α, or 1 for integers) is kept only where it
	// loses nothing: every bias a whole number of units, and no leak unless
	// nmsim wrote the layer or the leak wipes the membrane every step (a
	// partial leak rounds the membrane to whole units every step, which a
	// coarse unit turns into a different neuron).
	exact := func(scale []float64) bool {
		if leak > 0 && leak != model.LeakOne && ml == nil {
			return false
		}
		for o, s := range scale {
			if !isWhole(c.b[o] / s) {
				return false
			}
		}
		return true
	}
	q := quantize(c.w, outs, bits, b.o.Binarize || b.o.WeightBits == 1, !spiking, exact, align)
	l.Weights, l.WeightBits = q.w, q.bits
	r := LayerReport{Layer: l.Name, Op: l.Op, Nodes: c.nodes, WeightBits: q.bits, Method: q.method, WeightError: q.err}
	if err := b.judge(c, &r, q); err != nil {
		return err
	}

	var nonzero bool
	bias := make([]int64, outs)
	for o := range outs {
		x := math.Round(c.b[o] / q.scale[o])
		if !(math.Abs(x) <= model.MaxBias) {
			return fmt.Errorf("bias %v is %v units of the weights' step %v, beyond nmsim's ±%d", c.b[o], x, q.scale[o], int64(model.MaxBias))
		}
		r.BiasError = max(r.BiasError, math.Abs(c.b[o]/q.scale[o]-x))
		bias[o] = int64(x)
		nonzero = nonzero || bias[o] != 0
	}
	if nonzero {
		l.Bias = bias
	}
	if spiking {
		l.Spiking = true
		l.Threshold = make([]int64, outs)
		worst := 0
		for o, t := range th {
			x := t / q.scale[o]
			var v float64
			if align != nil {
				// Subtracting: θ' = θ/s, whole where the step could be
				// aligned (else rounded, the rate error reported).
				v = max(1, math.Round(x))
				if e := math.Abs(v-x) / x; !isWhole(x) && e > r.ThresholdError {
					r.ThresholdError, worst = e, o
				}
			} else {
				// NIR fires when v > θ; on the integer grid of steps s
				// that is v ≥ ⌊θ/s⌋ + 1.
				v = math.Floor(x) + 1
				if !(v >= 1) {
					return fmt.Errorf("threshold %v is below zero by more than one weight step (%v): the neuron would fire with no input; nmsim needs positive thresholds", t, q.scale[o])
				}
			}
			if v > 1<<62 {
				return fmt.Errorf("threshold %v is %v weight steps (%v), too many for nmsim's integers", t, v, q.scale[o])
			}
			l.Threshold[o] = int64(v)
		}
		if r.ThresholdError > maxError && !b.o.Force && !b.chosenWidth() {
			return fmt.Errorf("threshold %v of output %d is stored %.3g %% off: it is not a whole number of the weight step %v, which no step that keeps the weights can fix; refused without --force", th[worst], worst, 100*r.ThresholdError, q.scale[worst])
		}
	}
	if alpha > 0 {
		l.Leak = leak
		r.Leak = alpha
		r.LeakError = math.Abs(float64(l.Leak)/model.LeakOne-alpha) / alpha
	}
	l.Scale = q.scale
	if ml != nil {
		l.Scale = ml.Scale
		l.FireOnce = ml.FireOnce
		if len(ml.Out) == 3 && l.Op == model.OpDense && ml.Out[0]*ml.Out[1]*ml.Out[2] == l.Out.Size() {
			l.Out = model.Shape{C: ml.Out[0], H: ml.Out[1], W: ml.Out[2]}
		}
	}
	b.layers = append(b.layers, l)
	b.rep.Layers = append(b.rep.Layers, r)
	b.shape, b.dims = l.Out, c.dims
	return nil
}

// maxError is the largest relative error of a layer's stored weights (or
// subtracted thresholds) that Import accepts at the default width without
// Options.Force: beyond it the integer layer is a different network.
const maxError = 0.5

// chosenWidth reports whether the user chose the weights' width, whose
// errors Import then reports without refusing.
func (b *builder) chosenWidth() bool { return b.o.WeightBits != 0 || b.o.Binarize }

// judge refuses, unless Options.Force, a layer with an output whose
// weights were all stored as 0 although the graph's are not (the readout
// layer's shared step can do that to an output with small weights), and
// one whose weights lost more than maxError at a width the user did not
// choose. It fills r.ZeroOutputs.
func (b *builder) judge(c *pending, r *LayerReport, q quantized) error {
	outs := len(q.scale)
	fan := len(q.w) / outs
	first := -1
	for o := range outs {
		row := c.w[o*fan : (o+1)*fan]
		if slices.ContainsFunc(row, func(x float64) bool { return x != 0 }) &&
			!slices.ContainsFunc(q.w[o*fan:(o+1)*fan], func(x int8) bool { return x != 0 }) {
			r.ZeroOutputs++
			if first < 0 {
				first = o
			}
		}
	}
	switch {
	case b.o.Force:
		return nil
	case first >= 0:
		var top float64
		for _, x := range c.w[first*fan : (first+1)*fan] {
			top = max(top, math.Abs(x))
		}
		return fmt.Errorf("outputs whose weights were all stored as 0: %d of %d (the first, output %d: weights up to %g, step %g; %s, %d-bit); those neurons lose their input; refused without --force", r.ZeroOutputs, outs, first, top, q.scale[first], r.Method, r.WeightBits)
	case r.WeightError > maxError && !b.chosenWidth():
		return fmt.Errorf("its weights were stored %.3g %% off (%s, %d-bit; more than %.0f %%); refused without --force (or choose --weight-bits)", 100*r.WeightError, r.Method, r.WeightBits, 100*maxError)
	}
	return nil
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
			m.Input.Window, m.Input.FrameUS = md.Window, md.FrameUS
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

// ints reads an integer-valued numeric parameter.
func ints(n *Node, key string) ([]int, error) {
	a, ok := n.Params[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, errNoParam)
	}
	if a.Strings != nil {
		return nil, fmt.Errorf("%s is text %q, want integers", key, a.Strings)
	}
	for _, x := range a.Numbers {
		if x != math.Trunc(x) || math.Abs(x) > 1<<31 {
			return nil, fmt.Errorf("%s %v: want integers", key, a.Numbers)
		}
	}
	return floatsToInts(a.Numbers), nil
}

func floatsToInts(f []float64) []int {
	v := make([]int, len(f))
	for i, x := range f {
		v[i] = int(x)
	}
	return v
}

// broadcast returns a parameter with size values: its own, or one value
// repeated.
func broadcast(a Array, size int, key string) ([]float64, error) {
	if a.Strings != nil {
		return nil, fmt.Errorf("%s is text, want numbers", key)
	}
	if err := finite(a, key); err != nil {
		return nil, err
	}
	switch len(a.Numbers) {
	case size:
		return slices.Clone(a.Numbers), nil
	case 1:
		v := make([]float64, size)
		for i := range v {
			v[i] = a.Numbers[0]
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s has %d values (shape %v), want %d or 1", key, len(a.Numbers), a.Shape, size)
}

// perChannel reduces per-element values to one per channel of outs
// channels of per elements each, which must agree within a channel.
func perChannel(v []float64, outs, per int, what string) ([]float64, error) {
	out := make([]float64, outs)
	for c := range outs {
		out[c] = v[c*per]
		for _, x := range v[c*per : (c+1)*per] {
			if !near(x, out[c]) {
				return nil, fmt.Errorf("%s differs within channel %d (%v and %v): nmsim's conv neurons share one value per channel; it would need per-neuron values", what, c, out[c], x)
			}
		}
	}
	return out, nil
}

// near reports whether two parameters are equal up to float32 rounding.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*max(math.Abs(a), math.Abs(b))
}

func prod(d []int) int {
	p := 1
	for _, x := range d {
		p *= x
	}
	return p
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
