package nir

import (
	"fmt"
	"math"
)

// quantized is a weight matrix stored as integers: real ≈ scale[o]·w.
type quantized struct {
	w      []int8
	bits   int
	scale  []float64 // per output: the real value of one integer unit
	method string
	err    float64 // relative RMS error of scale·w against the real weights
}

// quantize stores the real weights w ([outs][fanIn]) as integers.
//
// In order, when exact is set: weights that are already ±α per output
// become a binary layer (unless bits asks for more), and integers that fit
// bits are kept exactly (scale 1, as Export writes them). Otherwise, or
// when neither applies, force (or bits = 1) binarizes to
// α·sign(W) with α the mean |W| of each output; anything else is rounded
// to bits (default DefaultWeightBits) with a step of max|W|/(2^(bits−1)−1)
// per output. shared uses one scale for all outputs, as a layer whose
// membranes are compared with each other (the output layer read out by
// potential) needs.
//
// exact(scale) tells whether a unit keeps the rest of the layer exact (its
// biases whole multiples of it, its leak not coarsened): the caller's
// judgement, since quantize sees only the weights.
func quantize(w []float64, outs, bits int, force, shared bool, exact func(scale []float64) bool) quantized {
	fan := len(w) / outs
	if !force && bits <= 1 {
		if alpha, ok := binaryRows(w, outs, fan, shared); ok && exact(alpha) {
			return finishQuant(w, outs, alpha, 1, "binary ±α")
		}
	}
	if bits == 0 {
		bits = DefaultWeightBits
	}
	if force || bits == 1 {
		alpha := make([]float64, outs)
		var all float64
		for o := range outs {
			for _, x := range w[o*fan : (o+1)*fan] {
				alpha[o] += math.Abs(x)
			}
			all += alpha[o]
			alpha[o] /= float64(fan)
		}
		if shared {
			for o := range alpha {
				alpha[o] = all / float64(len(w))
			}
		}
		return finishQuant(w, outs, fillZero(alpha), 1, "binarized α·sign(W)")
	}
	limit := float64(int(1)<<(bits-1) - 1)
	unit := make([]float64, outs)
	for o := range unit {
		unit[o] = 1
	}
	if !force && integral(w, limit) && exact(unit) {
		return finishQuant(w, outs, unit, bits, "integers")
	}
	scale := make([]float64, outs)
	var top float64
	for o := range outs {
		for _, x := range w[o*fan : (o+1)*fan] {
			scale[o] = max(scale[o], math.Abs(x))
		}
		top = max(top, scale[o])
		scale[o] /= limit
	}
	if shared {
		for o := range scale {
			scale[o] = top / limit
		}
	}
	return finishQuant(w, outs, fillZero(scale), bits, fmt.Sprintf("quantized to %d bits", bits))
}

// binaryRows reports whether every output's weights are ±α for one α > 0
// per output (one α for all when shared), and returns the α.
func binaryRows(w []float64, outs, fan int, shared bool) ([]float64, bool) {
	alpha := make([]float64, outs)
	for o := range outs {
		alpha[o] = math.Abs(w[o*fan])
		if alpha[o] == 0 || shared && !near(alpha[o], alpha[0]) {
			return nil, false
		}
		for _, x := range w[o*fan : (o+1)*fan] {
			if !near(math.Abs(x), alpha[o]) {
				return nil, false
			}
		}
	}
	return alpha, true
}

// integral reports whether every weight is an integer within ±limit, up
// to the rounding of gains that multiply to 1 (Export's LIF writes r = 1/α,
// and α·r need not be exactly 1 in floating point).
func integral(w []float64, limit float64) bool {
	for _, x := range w {
		r := math.Round(x)
		if math.Abs(x-r) > 1e-9*max(1, math.Abs(x)) || math.Abs(r) > limit {
			return false
		}
	}
	return true
}

// fillZero gives outputs whose weights are all zero (scale 0) the largest
// scale of the layer, or 1: any positive step stores their zeros exactly,
// and a shared size keeps their bias and threshold in familiar units.
func fillZero(scale []float64) []float64 {
	var top float64
	for _, s := range scale {
		top = max(top, s)
	}
	if top == 0 {
		top = 1
	}
	for o, s := range scale {
		if s == 0 {
			scale[o] = top
		}
	}
	return scale
}

// finishQuant rounds w to integers in units of scale (to ±1 for one bit)
// and measures the error.
func finishQuant(w []float64, outs int, scale []float64, bits int, method string) quantized {
	fan := len(w) / outs
	q := quantized{w: make([]int8, len(w)), bits: bits, scale: scale, method: method}
	limit := float64(int(1)<<(bits-1) - 1)
	var num, den float64
	for i, x := range w {
		s := scale[i/fan]
		var v float64
		if bits == 1 {
			v = 1
			if x < 0 {
				v = -1
			}
		} else {
			v = max(-limit, min(limit, math.Round(x/s)))
		}
		q.w[i] = int8(v)
		num += (x - s*v) * (x - s*v)
		den += x * x
	}
	if den > 0 {
		q.err = math.Sqrt(num / den)
	}
	return q
}
