package train

import (
	"math"

	"github.com/nmsim/nmsim/workloads/model"
)

// spikeList is a layer's input spikes sorted by time: idx[e] fired at
// t[e], ascending.
type spikeList struct {
	idx, t []int32
}

// ttfsLayerState is one layer's result for one sample.
type ttfsLayerState struct {
	in spikeList // the layer's input spikes
	v  []int32   // membranes after the last input (only meaningful for neurons that did not fire)
	// at is each neuron's spike time (noSpike if it did not fire), vAt
	// its membrane at the end of that step.
	at, vAt []int32
	// cur is the crossing step's input (vAt − membrane one step before),
	// filled by the backward pass for fired neurons.
	cur []int32
	// delta is −∂L/∂t per neuron (the backward pass's error).
	delta []float64
	alive []int32
}

// ttfsPass is one worker's scratch memory for one sample at a time.
type ttfsPass struct {
	n      *TTFSNet
	layers []ttfsLayerState
	bucket []int32 // counting sort: spikes per timestep, then offsets
}

func newTTFSPass(n *TTFSNet) *ttfsPass {
	p := &ttfsPass{n: n, layers: make([]ttfsLayerState, len(n.Net.Layers)), bucket: make([]int32, n.Window+1)}
	for i := range n.Net.Layers {
		l := &n.Net.Layers[i]
		outs, fan := l.Outputs(), l.FanIn()
		p.layers[i] = ttfsLayerState{
			in: spikeList{idx: make([]int32, fan), t: make([]int32, fan)},
			v:  make([]int32, outs), at: make([]int32, outs), vAt: make([]int32, outs), cur: make([]int32, outs),
			delta: make([]float64, outs), alive: make([]int32, outs),
		}
	}
	return p
}

// sortSpikes fills dst with the entries of at that are below none, sorted
// by time (stable: by index within a timestep), by counting sort.
func (p *ttfsPass) sortSpikes(at []int32, none int32, dst *spikeList) {
	b := p.bucket
	clear(b)
	n := 0
	for _, t := range at {
		if t < none {
			b[t+1]++
			n++
		}
	}
	for t := 1; t < len(b); t++ {
		b[t] += b[t-1]
	}
	dst.idx, dst.t = dst.idx[:n], dst.t[:n]
	for i, t := range at {
		if t < none {
			e := b[t]
			b[t]++
			dst.idx[e], dst.t[e] = int32(i), t
		}
	}
}

// forward runs one image through the net and returns the class by the
// first-spike rule and the decision step (from 1; 0 if no output fired).
func (p *ttfsPass) forward(w *ttfsWeights, img []uint8) (class int, decision int) {
	none := p.n.noSpike()
	p.inputTimes(img)
	for i := range p.layers {
		st := &p.layers[i]
		if i > 0 {
			p.sortSpikes(p.layers[i-1].at, none, &st.in)
		}
		fireLayer(st, w.signT[i], w.th[i], none)
	}
	last := &p.layers[len(p.layers)-1]
	best, tBest := -1, none
	for k, t := range last.at {
		if t < tBest || (t == tBest && t < none && last.vAt[k] > last.vAt[best]) {
			best, tBest = k, t
		}
	}
	if best >= 0 {
		return best, int(tBest) + 1
	}
	best = 0
	for k, v := range last.v {
		if v > last.v[best] {
			best = k
		}
	}
	return best, 0
}

// inputTimes fills layer 0's input spike list from the image's TTFS
// spike times.
func (p *ttfsPass) inputTimes(img []uint8) {
	st := &p.layers[0]
	b := p.bucket
	clear(b)
	n := 0
	for _, x := range img {
		if t := model.SpikeTime(int(x), 8, p.n.Window); t >= 0 {
			b[t+1]++
			n++
		}
	}
	for t := 1; t < len(b); t++ {
		b[t] += b[t-1]
	}
	in := &st.in
	in.idx, in.t = in.idx[:n], in.t[:n]
	for i, x := range img {
		if t := model.SpikeTime(int(x), 8, p.n.Window); t >= 0 {
			e := b[t]
			b[t]++
			in.idx[e], in.t[e] = int32(i), int32(t)
		}
	}
}

// fireLayer integrates a layer's sorted input spikes: at each input
// timestep it adds the ±1 weight rows of the inputs that fire then, and
// every neuron o that has not fired yet and reaches th[o] fires.
func fireLayer(st *ttfsLayerState, signT []int8, th []int32, none int32) {
	outs := len(st.v)
	clear(st.v)
	alive := st.alive[:outs]
	for o := range alive {
		alive[o] = int32(o)
		st.at[o] = none
	}
	v := st.v
	in := st.in
	for e := 0; e < len(in.idx); {
		t := in.t[e]
		for ; e < len(in.idx) && in.t[e] == t; e++ {
			j := int(in.idx[e])
			row := signT[j*outs : (j+1)*outs]
			for o, s := range row {
				v[o] += int32(s)
			}
		}
		k := 0
		for _, o := range alive {
			if v[o] >= th[o] {
				st.at[o], st.vAt[o] = t, v[o]
			} else {
				alive[k] = o
				k++
			}
		}
		alive = alive[:k]
		if k == 0 {
			break
		}
	}
}

// crossTime is the spike time interpolated linearly within the crossing
// step t of a neuron whose membrane rises from vAt − cur to vAt ≥ θ:
// t* = (t − 1) + (θ − (vAt − cur))/cur, in (t − 1, t]. It also returns
// slope = ∂t*/∂θ = 1/cur and frac = t* − (t − 1), the factor by which an
// input of the crossing step moves t* relative to an earlier one.
func crossTime(t int32, vAt, cur, theta float64) (tStar, slope, frac float64) {
	frac = (theta - (vAt - cur)) / cur
	return float64(t) - 1 + frac, 1 / cur, frac
}

// addTimeGrad adds coef times ∂t*/∂w_i / (−slope) for every input i to
// row (a gradient row indexed by input): coef for inputs that fired before
// the crossing step t, frac·coef for those of step t itself, nothing for
// later ones. With S4NN's rule frac is 1, so every input that fired at or
// before t gets coef.
func addTimeGrad(row []float32, in spikeList, t int32, coef, frac float64) {
	c := float32(coef)
	cf := float32(coef * frac)
	for e, ti := range in.t {
		switch {
		case ti < t:
			row[in.idx[e]] += c
		case ti == t:
			row[in.idx[e]] += cf
		default:
			return
		}
	}
}

// crossingInput returns the input of the crossing step t of neuron o:
// the sum of the ±1 weights of its inputs that fired at t.
func crossingInput(in spikeList, signT []int8, outs, o int, t int32) int32 {
	var c int32
	for e, ti := range in.t {
		if ti > t {
			break
		}
		if ti == t {
			c += int32(signT[int(in.idx[e])*outs+o])
		}
	}
	return c
}

// spikeTime returns neuron o of layer i's spike time for the loss (the
// window if it did not fire), its slope ∂t/∂θ = −∂t/∂V and its crossing
// fraction (see crossTime): interpolated, or S4NN's integer time with
// slope and fraction 1.
func (p *ttfsPass) spikeTime(w *ttfsWeights, interpolate bool, i, o int) (t, slope, frac float64) {
	st := &p.layers[i]
	at := st.at[o]
	if at >= p.n.noSpike() || !interpolate {
		return float64(at), 1, 1
	}
	st.cur[o] = crossingInput(st.in, w.signT[i], len(st.v), o, at)
	return crossTime(at, float64(st.vAt[o]), float64(st.cur[o]), p.n.Threshold[i][o])
}

// backward computes, for the sample last run forward with label, the
// gradient of the loss with respect to every layer's weights (added to
// grad times scale) and thresholds (added to gth times scale, as
// ∂L/∂ln θ: gth[i] holds one value for layer i's shared threshold or one
// per neuron), and returns the loss.
func (p *ttfsPass) backward(w *ttfsWeights, cfg *TTFSConfig, label int, grad [][]float32, gth [][]float64, scale float64) float64 {
	n := p.n
	none := n.noSpike()
	L := len(p.layers)
	window := float64(n.Window)
	out := &p.layers[L-1]
	// Relative targets (S4NN): the correct class at the earliest output
	// time, every other output that fires within gamma of it at
	// earliest+gamma; if no output fires, the correct class at
	// window−gamma and the others at window.
	tMin := none
	for _, t := range out.at {
		tMin = min(tMin, t)
	}
	var loss, norm float64
	for k := range out.at {
		tk, _, _ := p.spikeTime(w, cfg.Interpolate, L-1, k)
		var target float64
		switch {
		case tMin >= none && k == label:
			target = window - cfg.Gamma
		case tMin >= none:
			target = window
		case k == label:
			target = float64(tMin)
		case float64(out.at[k]-tMin) < cfg.Gamma:
			target = min(float64(tMin)+cfg.Gamma, window)
		default:
			target = float64(out.at[k])
		}
		e := (target - tk) / window
		out.delta[k] = e
		loss += e * e
		norm += e * e
	}
	if norm == 0 {
		return 0
	}
	for i := L - 1; i >= 0; i-- {
		st := &p.layers[i]
		outs := len(st.v)
		// Normalise the layer's errors to unit length.
		var ss float64
		for _, d := range st.delta {
			ss += d * d
		}
		if ss == 0 {
			break
		}
		inv := 1 / math.Sqrt(ss)
		var below *ttfsLayerState
		if i > 0 {
			below = &p.layers[i-1]
			clear(below.delta)
		}
		fan := len(grad[i]) / outs
		perNeuron := len(gth[i]) > 1
		var dth float64
		for o := 0; o < outs; o++ {
			d := st.delta[o] * inv
			if d == 0 {
				continue
			}
			t := st.at[o]
			_, slope, frac := p.spikeTime(w, cfg.Interpolate, i, o)
			// ∂L/∂t_o = −d; ∂t/∂w = −slope·[input fired by t];
			// ∂t/∂θ = slope·θ per unit of ln θ.
			if perNeuron {
				gth[i][o] -= d * slope * n.Threshold[i][o] * scale
			} else {
				dth -= d * slope
			}
			tt := t
			if t >= none {
				tt = none // every input that fired counts
			}
			addTimeGrad(grad[i][o*fan:(o+1)*fan], st.in, tt, d*slope*scale, frac)
			if below == nil {
				continue
			}
			// −∂L/∂t_j = Σ_o d_o·slope_o·w_jo over the inputs j
			// that fired no later than o (S4NN: ∂V_o/∂t_j ≈ −w_jo).
			row := n.Latent[i][o*fan : (o+1)*fan]
			c := d * slope
			for e, ti := range st.in.t {
				if ti > tt {
					break
				}
				j := st.in.idx[e]
				below.delta[j] += c * float64(row[j])
			}
		}
		if !perNeuron {
			gth[i][0] += dth * n.Threshold[i][0] * scale
		}
	}
	return loss
}
