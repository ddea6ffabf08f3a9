// Package neuron models the digital neuron units of a tile: integrate-and-
// fire neurons with an int64 membrane register each, a positive integer
// threshold and an optional integer bias per output channel, an optional
// leak (a fixed-point fraction of the membrane removed each timestep,
// rounded half away from zero), and reset by subtraction or to zero. A layer
// without thresholds only integrates (the output layer read out by
// potential).
package neuron

import "github.com/nmsim/nmsim/internal/bitvec"

// IF is a layer of integrate-and-fire neurons: Channels × Positions
// neurons, membranes in channel-major order.
type IF struct {
	Channels, Positions int
	// Threshold per channel; nil for an integrating, non-firing layer.
	Threshold   []int64
	ResetToZero bool
	// Bias per channel, added every timestep; nil for none.
	Bias []int64
	// Leak/LeakOne of the membrane decays before each timestep's input;
	// Leak 0 is a plain integrate-and-fire neuron.
	Leak, LeakOne int64
}

// Neurons is the number of neurons.
func (n *IF) Neurons() int { return n.Channels * n.Positions }

// Step integrates one timestep's input current, given position-major
// (current[pos·Channels + ch], the order crossbar columns produce it),
// into the membranes v (channel-major), fires and resets. Spikes are
// written channel-major into spikes, which is cleared first. It returns the
// number of spikes.
func (n *IF) Step(v, current []int64, spikes bitvec.Vec) int {
	fired := 0
	spikes.Clear()
	for ch := 0; ch < n.Channels; ch++ {
		mem := v[ch*n.Positions : (ch+1)*n.Positions]
		var bias int64
		if n.Bias != nil {
			bias = n.Bias[ch]
		}
		if n.Leak != 0 {
			for pos := range mem {
				mem[pos] -= n.leak(mem[pos])
			}
		}
		if n.Threshold == nil {
			for pos := range mem {
				mem[pos] += current[pos*n.Channels+ch] + bias
			}
			continue
		}
		th := n.Threshold[ch]
		base := ch * n.Positions
		for pos := range mem {
			m := mem[pos] + current[pos*n.Channels+ch] + bias
			if m >= th {
				fired++
				spikes.Set(base + pos)
				if n.ResetToZero {
					m = 0
				} else {
					m -= th
				}
			}
			mem[pos] = m
		}
	}
	return fired
}

// leak is v·Leak/LeakOne rounded half away from zero, so that the decay
// pulls positive and negative membranes toward zero alike.
func (n *IF) leak(v int64) int64 {
	if v < 0 {
		return -((-v*n.Leak + n.LeakOne/2) / n.LeakOne)
	}
	return (v*n.Leak + n.LeakOne/2) / n.LeakOne
}

// Argmax is the read-out of an integrating output layer: the index of the
// largest membrane, the lowest index on ties.
func Argmax(v []int64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
