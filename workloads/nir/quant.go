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
//
// th, when not nil, holds per output the threshold that a neuron subtracts
// when it fires. A neuron that subtracts a threshold keeps the remainder,
// so the threshold must be a whole number of steps for the integer neuron
// to keep NIR's firing rate: the exact units are then refined (a unit 1/m
// for the smallest m that makes m·θ whole and still fits bits), and a
// rounding step s becomes θ/⌊θ/s⌋ or θ/(⌊θ/s⌋+1), whichever stores the
// output's weights with the smaller error. Forced binarization cannot move its step α; its thresholds round.
func quantize(w []float64, outs, bits int, force, shared bool, exact func(scale []float64) bool, th []float64) quantized {
	fan := len(w) / outs
	if !force && bits <= 1 {
		if alpha, ok := binaryRows(w, outs, fan, shared); ok && exact(alpha) && whole(th, alpha) {
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
	top := make([]float64, outs) // max|W| per output
	for o := range outs {
		for _, x := range w[o*fan : (o+1)*fan] {
			top[o] = max(top[o], math.Abs(x))
		}
	}
	if !force && integral(w, limit) {
		if unit, ok := integerUnits(top, limit, th); ok && exact(unit) {
			return finishQuant(w, outs, unit, bits, "integers")
		}
	}
	scale := make([]float64, outs)
	var most float64
	for o, t := range top {
		scale[o] = t / limit
		most = max(most, t)
	}
	if shared {
		for o := range scale {
			scale[o] = most / limit
		}
	}
	fillZero(scale)
	for o := range th {
		// Make the threshold n whole steps: n = ⌊θ/s⌋ widens the step
		// (every weight stays in range), n + 1 narrows it (the largest
		// weights clip); the one that stores the output's weights better.
		n := math.Floor(th[o] / scale[o])
		if n < 1 {
			continue
		}
		row := w[o*fan : (o+1)*fan]
		if rowError(row, th[o]/(n+1), limit) < rowError(row, th[o]/n, limit) {
			n++
		}
		scale[o] = th[o] / n
	}
	return finishQuant(w, outs, scale, bits, fmt.Sprintf("quantized to %d bits", bits))
}

// rowError is the squared error of storing row in steps of s, rounded and
// clipped to ±limit.
func rowError(row []float64, s, limit float64) float64 {
	var e float64
	for _, x := range row {
		d := x - s*max(-limit, min(limit, math.Round(x/s)))
		e += d * d
	}
	return e
}

// integerUnits returns, for integer weights whose largest magnitude per
// output is top, the unit 1/m of each output: m = 1, or with thresholds th
// the smallest m that makes m·θ whole with m·top within limit.
func integerUnits(top []float64, limit float64, th []float64) ([]float64, bool) {
	unit := make([]float64, len(top))
	for o := range unit {
		unit[o] = 1
		if th == nil {
			continue
		}
		m := 1.0
		for ; !isWhole(m * th[o]); m++ {
			if (m+1)*top[o] > limit {
				return nil, false
			}
		}
		unit[o] = 1 / m
	}
	return unit, true
}

// whole reports whether every threshold is a whole number of its output's
// unit (true when there are no thresholds to align).
func whole(th, unit []float64) bool {
	for o, t := range th {
		if !isWhole(t / unit[o]) {
			return false
		}
	}
	return true
}

// isWhole reports whether x is an integer up to floating-point rounding.
func isWhole(x float64) bool {
	return math.Abs(x-math.Round(x)) <= 1e-9*max(1, math.Abs(x))
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
// and α·r need not be exactly 1 in floating point). The tolerance is
// relative to the largest weight, so weights that are all tiny (1e-11) are
// not taken for zeros.
func integral(w []float64, limit float64) bool {
	var top float64
	for _, x := range w {
		top = max(top, math.Abs(x))
	}
	for _, x := range w {
		r := math.Round(x)
		if math.Abs(x-r) > 1e-9*top || math.Abs(r) > limit {
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
// and measures the error. The sums are taken relative to the largest
// weight, so that weights of any magnitude (1e-11 as well as 1e3) give the
// same relative error and no square underflows.
func finishQuant(w []float64, outs int, scale []float64, bits int, method string) quantized {
	fan := len(w) / outs
	q := quantized{w: make([]int8, len(w)), bits: bits, scale: scale, method: method}
	limit := float64(int(1)<<(bits-1) - 1)
	var top float64
	for _, x := range w {
		top = max(top, math.Abs(x))
	}
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
		if top > 0 {
			d, r := (x-s*v)/top, x/top
			num += d * d
			den += r * r
		}
	}
	if den > 0 {
		q.err = math.Sqrt(num / den)
	}
	return q
}
