package nir

// This file lowers NIR's neuron nodes (IF, LIF, Threshold, I, LI) onto
// the pending weight layer and quantises the finished layer.

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/nmsim/nmsim/workloads/model"
)

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
	if ml != nil && ml.SumShift > 0 {
		// nmsim wrote the shift as the factor 2^k in r, which the weights
		// now hold: take it out again (a power of two: exactly), so that
		// they come back as nmsim's integers, while the biases and
		// thresholds, divided by the weights' step below, stay in the
		// membrane's units (2^-k of the sum's).
		l.SumShift = ml.SumShift
		for i := range c.w {
			c.w[i] = math.Ldexp(c.w[i], -ml.SumShift)
		}
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
