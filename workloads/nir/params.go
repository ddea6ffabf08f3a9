package nir

// This file reads and shapes node parameters.

import (
	"fmt"
	"math"
	"slices"
)

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
