package nir

// This file lowers NIR's weight and shape nodes (Affine, Linear, Conv2d,
// Scale, Flatten, SumPool2d, AvgPool2d) into pending layers and pools.

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

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
