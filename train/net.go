package train

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// Kind is what a layer of a Net computes.
type Kind int

// Layer kinds.
const (
	// Conv is a square 2-D convolution without bias, followed by ReLU
	// (or by nothing when it is the output layer).
	Conv Kind = iota
	// Pool is non-overlapping average pooling (stride = kernel).
	Pool
	// Dense is a fully connected layer without bias, followed by ReLU
	// (or by nothing when it is the output layer).
	Dense
)

func (k Kind) String() string {
	switch k {
	case Conv:
		return "conv"
	case Pool:
		return "pool"
	case Dense:
		return "dense"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Layer is one layer of a Net with its shapes resolved.
type Layer struct {
	Kind    Kind
	In, Out model.Shape
	// Kernel, Stride and Pad apply to Conv; Pool uses Kernel.
	Kernel, Stride, Pad int
	// Binary marks a layer whose weights are α·sign(W). The first and the
	// last weight layers stay full precision (Lu & Sengupta 2020): the first sees
	// analog pixels and the last decides the class, and binarising either
	// costs far more accuracy than binarising a hidden layer.
	Binary bool
}

// HasWeights reports whether the layer has trainable weights.
func (l *Layer) HasWeights() bool { return l.Kind != Pool }

// FanIn is the number of inputs of one output neuron (weights per row).
func (l *Layer) FanIn() int {
	switch l.Kind {
	case Conv:
		return l.In.C * l.Kernel * l.Kernel
	case Dense:
		return l.In.Size()
	}
	return l.Kernel * l.Kernel
}

// Outputs is the number of weight rows: output channels of a conv, units of
// a dense layer.
func (l *Layer) Outputs() int {
	if l.Kind == Conv {
		return l.Out.C
	}
	return l.Out.Size()
}

// Net is a parsed network description: the layers in order, the last one
// dense with one output per class.
type Net struct {
	// Spec is the layer string the net was parsed from, presets expanded.
	Spec   string
	In     model.Shape
	Layers []Layer
}

// Classes is the number of outputs of the last layer.
func (n *Net) Classes() int { return n.Layers[len(n.Layers)-1].Out.Size() }

// Presets lists the preset names ParseNet accepts, in help order.
func Presets() []string { return []string{"mlp", "conv"} }

// PresetSpec returns the layer string of a preset, or false if name is not
// one. Both presets end in 10 outputs, the class count of (Fashion-)MNIST.
func PresetSpec(name string) (string, bool) {
	switch name {
	case "mlp":
		// One binary hidden layer between the full-precision first and
		// last layers.
		return "512-512-10", true
	case "conv":
		// The second conv is the binary layer. 3×3 kernels with 32/64
		// channels beat 5×5 with 16/32 on Fashion-MNIST for 1.3× the
		// training time, and stay small enough for the chip
		// simulator to run 10k images at T=64.
		return "32c3p1-ap2-64c3p1-ap2-10", true
	}
	return "", false
}

// NetSyntax documents the layer string for --help texts.
const NetSyntax = `A net is a preset name or a list of layers joined by '-':
  <n>c<k>[s<s>][p<p>]  convolution: n output channels, k×k kernel, stride s
                       (default 1), zero padding p (default 0), then ReLU
  ap<k>                average pooling over non-overlapping k×k windows
  gap                  global average pooling: one value per channel (the
                       input must be square; it is ap<k> with k its side)
  <n>                  fully connected layer of n units, then ReLU
A leading number equal to the input size (784 for 28×28 images) names the
input and is skipped, so "784-512-512-10" and "512-512-10" are the same MLP.
The last layer must be fully connected with one unit per class; it has no
ReLU (its summed input gives the class). The first and last weight layers
are full precision, every other weight layer is binary (α·sign(W)).`

// ParseNet parses a preset name or a layer string (see NetSyntax) for inputs
// of shape in, resolving every layer's shapes. It does not know the class
// count; callers compare Net.Classes with their data set.
func ParseNet(spec string, in model.Shape) (Net, error) {
	if in.Size() < 1 {
		return Net{}, fmt.Errorf("net %q: input shape %v is empty", spec, in)
	}
	text := strings.TrimSpace(spec)
	if p, ok := PresetSpec(text); ok {
		text = p
	}
	if text == "" {
		return Net{}, fmt.Errorf("empty net: give a preset (%s) or layers like 16c5p2-ap2-32c5p2-ap2-10", strings.Join(Presets(), ", "))
	}
	tokens := strings.Split(text, "-")
	if len(tokens) > 1 && tokens[0] == strconv.Itoa(in.Size()) {
		tokens = tokens[1:]
	}
	n := Net{Spec: text, In: in}
	cur := in
	for i, tok := range tokens {
		l, err := parseLayer(tok, cur)
		if err != nil {
			return Net{}, fmt.Errorf("net %q: layer %d %q: %w", spec, i+1, tok, err)
		}
		n.Layers = append(n.Layers, l)
		cur = l.Out
	}
	if last := n.Layers[len(n.Layers)-1]; last.Kind != Dense {
		return Net{}, fmt.Errorf("net %q: the last layer must be fully connected (a plain number of classes), not %s", spec, last.Kind)
	}
	first, last := -1, -1
	for i := range n.Layers {
		if n.Layers[i].HasWeights() {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	for i := range n.Layers {
		n.Layers[i].Binary = n.Layers[i].HasWeights() && i != first && i != last
	}
	return n, nil
}

// parseLayer parses one token for an input of shape in.
func parseLayer(tok string, in model.Shape) (Layer, error) {
	if tok == "" {
		return Layer{}, errors.New("empty layer (two '-' in a row?)")
	}
	if tok == "gap" {
		if in.H != in.W || in.H < 2 {
			return Layer{}, fmt.Errorf("global average pooling needs a square input of side >= 2, not %dx%d", in.H, in.W)
		}
		return Layer{Kind: Pool, In: in, Out: model.Shape{C: in.C, H: 1, W: 1}, Kernel: in.H}, nil
	}
	if rest, ok := strings.CutPrefix(tok, "ap"); ok {
		k, err := positive(rest, "pool size")
		if err != nil {
			return Layer{}, err
		}
		if in.H%k != 0 || in.W%k != 0 {
			return Layer{}, fmt.Errorf("pool size %d does not divide the %dx%d input (windows must tile it exactly)", k, in.H, in.W)
		}
		return Layer{Kind: Pool, In: in, Out: model.Shape{C: in.C, H: in.H / k, W: in.W / k}, Kernel: k}, nil
	}
	if !strings.Contains(tok, "c") {
		units, err := positive(tok, "units")
		if err != nil {
			return Layer{}, fmt.Errorf("%w (want <n>, <n>c<k>[s<s>][p<p>] or ap<k>)", err)
		}
		return Layer{Kind: Dense, In: in, Out: model.Shape{C: units, H: 1, W: 1}}, nil
	}
	if in.H == 1 && in.W == 1 && in.C > 1 {
		return Layer{}, errors.New("convolution after a fully connected layer (its output has no spatial extent)")
	}
	m := regexp.MustCompile(`^(\d+)c(\d+)(?:s(\d+))?(?:p(\d+))?$`).FindStringSubmatch(tok)
	if m == nil {
		return Layer{}, errors.New("not a convolution: want <n>c<k>[s<s>][p<p>], e.g. 16c5p2 or 32c3s2p1")
	}
	l := Layer{Kind: Conv, In: in, Stride: 1}
	chans, err := positive(m[1], "channels")
	if err != nil {
		return Layer{}, err
	}
	if l.Kernel, err = positive(m[2], "kernel"); err != nil {
		return Layer{}, err
	}
	if m[3] != "" {
		if l.Stride, err = positive(m[3], "stride"); err != nil {
			return Layer{}, err
		}
	}
	if m[4] != "" {
		// The regexp admits digits only, so Atoi cannot fail short of
		// overflow, which the kernel comparison below then rejects.
		l.Pad, _ = strconv.Atoi(m[4])
		if l.Pad < 0 || strconv.Itoa(l.Pad) != m[4] {
			return Layer{}, fmt.Errorf("padding %q is not a plain number", m[4])
		}
	}
	if l.Pad >= l.Kernel {
		return Layer{}, fmt.Errorf("padding %d must be smaller than the kernel %d", l.Pad, l.Kernel)
	}
	h := in.H + 2*l.Pad - l.Kernel
	w := in.W + 2*l.Pad - l.Kernel
	if h < 0 || w < 0 {
		return Layer{}, fmt.Errorf("kernel %d is larger than the %dx%d input padded by %d", l.Kernel, in.H, in.W, l.Pad)
	}
	l.Out = model.Shape{C: chans, H: h/l.Stride + 1, W: w/l.Stride + 1}
	return l, nil
}

// positive parses a decimal integer >= 1 named what.
func positive(s, what string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || strconv.Itoa(v) != s {
		return 0, fmt.Errorf("%s %q is not a whole number >= 1", what, s)
	}
	return v, nil
}

// modelLayer is the model.Layer skeleton of layer i (name, shapes,
// operation and its geometry; pooling becomes a sum pool whose 1/k² the
// caller folds into the next layer), without weights or neurons.
func (l *Layer) modelLayer(i int) model.Layer {
	ml := model.Layer{Name: fmt.Sprintf("%s%d", l.Kind, i+1), In: l.In, Out: l.Out, Op: model.OpDense}
	switch l.Kind {
	case Pool:
		ml.Op, ml.Kernel = model.OpSumPool, l.Kernel
	case Conv:
		ml.Op, ml.Kernel, ml.Stride, ml.Pad = model.OpConv, l.Kernel, l.Stride, l.Pad
	}
	return ml
}
