package train

import (
	"math"

	"github.com/nmsim/nmsim/workloads/dataset"
)

// spass is one worker's scratch memory for the surrogate-gradient forward
// and backward passes of up to surrogateShard samples over T timesteps.
// Weight layers are stateless, so a layer runs all T timesteps of all its
// samples as n·T "virtual samples" in one GEMM (virtual sample b·T+t is
// sample b at timestep t); only the neurons carry state from one timestep
// to the next, and their loop (and its backward, BPTT) runs over t per
// neuron. That is exactly BPTT through the unrolled network, since layer l
// at timestep t reads layer l−1's output of the same timestep.
//
// The embedded pass holds the buffers that the convert trainer's helpers
// expect: act[i] ([n·T][In.Size()]) is the input of layer i, spikes for the
// layers after a spiking layer; act[L] holds the logits ([n][classes]);
// dact the gradients; cols, gout, dcols the im2col buffers.
type spass struct {
	pass
	T int
	// pre[i] is a hidden weight layer's weighted sum z, normalised in
	// place to ẑ when batch statistics are used; vm[i] the membrane
	// before reset at each timestep (for the surrogate derivative).
	pre, vm [][]float32
	// zl is the output layer's weighted sum per timestep, dzl its gradient.
	zl, dzl []float32
	// mean, vari are this shard's batch statistics per hidden layer.
	mean, vari [][]float32
	// smooth replaces the Heaviside spike by σ(k(v−θ)) (tests: then the
	// backward pass is the exact gradient).
	smooth bool
	slope  float32
	detach bool
	// shifted is scratch for one shifted input frame.
	shifted []float32
}

// surrogateShard is the number of samples of one shard; with T timesteps
// the GEMMs see surrogateShard·T virtual samples. Batch-norm statistics are
// per shard (ghost batch norm), so they too do not depend on the worker
// count.
const surrogateShard = 16

func newSPass(net *Net, T int, slope float32, detach bool) *spass {
	L := len(net.Layers)
	nv := surrogateShard * T
	p := &spass{T: T, slope: slope, detach: detach,
		pre: make([][]float32, L), vm: make([][]float32, L),
		mean: make([][]float32, L), vari: make([][]float32, L)}
	p.net = net
	p.act, p.dact = make([][]float32, L+1), make([][]float32, L+1)
	p.cols, p.gout, p.dcols = make([][]float32, L), make([][]float32, L), make([][]float32, L)
	p.act[0] = make([]float32, nv*net.In.Size())
	p.dact[0] = make([]float32, nv*net.In.Size())
	p.shifted = make([]float32, net.In.H*net.In.W)
	for i := range net.Layers {
		l := &net.Layers[i]
		size := nv * l.Out.Size()
		if i == L-1 {
			p.act[i+1] = make([]float32, surrogateShard*l.Out.Size())
			p.dact[i+1] = make([]float32, surrogateShard*l.Out.Size())
			p.zl, p.dzl = make([]float32, size), make([]float32, size)
		} else {
			p.act[i+1], p.dact[i+1] = make([]float32, size), make([]float32, size)
			if l.HasWeights() {
				p.pre[i], p.vm[i] = make([]float32, size), make([]float32, size)
				p.mean[i], p.vari[i] = make([]float32, l.Out.C), make([]float32, l.Out.C)
			}
		}
		if l.Kind == Conv {
			np := nv * l.Out.H * l.Out.W
			p.cols[i] = make([]float32, l.FanIn()*np)
			p.dcols[i] = make([]float32, l.FanIn()*np)
			p.gout[i] = make([]float32, l.Out.C*np)
		}
	}
	return p
}

// sparams are the values a forward pass computes with. With batch
// statistics a hidden layer computes u = γ·ẑ + β; otherwise u = scale·z +
// shift. Neurons fire when their membrane reaches thr (1 in real units).
type sparams struct {
	w                  [][]float32
	gamma, beta        [][]float32
	scale, shift, thr  [][]float32
	bias               []float32 // output layer, added once per sample
	lastScale          float32   // output sums are multiplied by it (1/T, or 1 for integers)
	unit               float32   // the input's real value per integer unit (1/255, 1, or 1 for integer runs)
	frames, batchStats bool
	ones               []float32 // thresholds of 1 for batch-statistics runs
	shiftX, shiftY     []int8    // per-sample translation (augmentation), nil for none
	// sumPool makes pooling layers sum rather than average (integer
	// runs, as model.OpSumPool).
	sumPool bool
}

// load writes samples idx of data into act[0], each timestep its own
// virtual sample: the same image every timestep for constant coding, frame
// t at timestep t for frame coding.
func (p *spass) load(data *dataset.Set, idx []int, sp *sparams) {
	in := p.net.In
	size := in.Size()
	plane := in.H * in.W
	for b, i := range idx {
		img := data.Image(i)
		for t := 0; t < p.T; t++ {
			src := img
			if sp.frames {
				src = img[t*size : (t+1)*size]
			}
			dst := p.act[0][(b*p.T+t)*size:][:size]
			for c := 0; c < in.C; c++ {
				d := dst[c*plane:][:plane]
				s := src[c*plane:][:plane]
				if sp.shiftX == nil || sp.shiftX[b] == 0 && sp.shiftY[b] == 0 {
					for j, v := range s {
						d[j] = float32(v) * sp.unit
					}
					continue
				}
				dx, dy := int(sp.shiftX[b]), int(sp.shiftY[b])
				for y := 0; y < in.H; y++ {
					sy := y - dy
					row := d[y*in.W:][:in.W]
					if sy < 0 || sy >= in.H {
						clear(row)
						continue
					}
					for x := range row {
						sx := x - dx
						if sx < 0 || sx >= in.W {
							row[x] = 0
						} else {
							row[x] = float32(s[sy*in.W+sx]) * sp.unit
						}
					}
				}
			}
		}
	}
}

// forward runs n loaded samples through all T timesteps and writes the
// logits (mean output sum over timesteps plus bias) into act[L].
func (p *spass) forward(sp *sparams, n int) {
	layers := p.net.Layers
	last := len(layers) - 1
	nv := n * p.T
	for i := range layers {
		l := &layers[i]
		in := p.act[i][:nv*l.In.Size()]
		var out []float32
		switch {
		case i == last:
			out = p.zl[:nv*l.Out.Size()]
		case l.HasWeights():
			out = p.pre[i][:nv*l.Out.Size()]
		default:
			out = p.act[i+1][:nv*l.Out.Size()]
		}
		switch l.Kind {
		case Conv:
			np := nv * l.Out.H * l.Out.W
			cols := p.cols[i][:l.FanIn()*np]
			gout := p.gout[i][:l.Out.C*np]
			im2col(l, in, nv, cols)
			gemm(false, false, l.Out.C, np, l.FanIn(), sp.w[i], cols, gout)
			toSampleMajor(l, gout, out, nv)
		case Dense:
			gemm(false, true, nv, l.Outputs(), l.FanIn(), in, sp.w[i], out)
		case Pool:
			poolForward(l, in, out, nv)
			if sp.sumPool {
				k2 := float32(l.Kernel * l.Kernel)
				for j, v := range out {
					out[j] = float32(math.Round(float64(v * k2)))
				}
			}
		}
		if !l.HasWeights() || i == last {
			continue
		}
		if sp.batchStats {
			p.normalise(i, n)
			p.fire(i, n, sp.gamma[i], sp.beta[i], sp.ones)
		} else {
			p.fire(i, n, sp.scale[i], sp.shift[i], sp.thr[i])
		}
	}
	classes := layers[last].Out.Size()
	logits := p.act[last+1][:n*classes]
	for b := 0; b < n; b++ {
		z := logits[b*classes:][:classes]
		for c := range z {
			var s float32
			for t := 0; t < p.T; t++ {
				s += p.zl[(b*p.T+t)*classes+c]
			}
			z[c] = s*sp.lastScale + sp.bias[c]
		}
	}
}

// normalise replaces hidden layer i's weighted sums by ẑ = (z−μ)/√(σ²+ε)
// with this shard's per-channel mean and variance over samples, timesteps
// and positions, which it keeps in mean and vari.
func (p *spass) normalise(i, n int) {
	l := &p.net.Layers[i]
	C, P := l.Out.C, l.Out.H*l.Out.W
	nv := n * p.T
	pre := p.pre[i]
	count := float64(nv * P)
	for c := 0; c < C; c++ {
		var s, s2 float64
		for v := 0; v < nv; v++ {
			for _, x := range pre[(v*C+c)*P:][:P] {
				s += float64(x)
				s2 += float64(x) * float64(x)
			}
		}
		mean := s / count
		vari := max(0, s2/count-mean*mean)
		p.mean[i][c], p.vari[i][c] = float32(mean), float32(vari)
		m, istd := float32(mean), float32(1/math.Sqrt(vari+bnEps))
		for v := 0; v < nv; v++ {
			row := pre[(v*C+c)*P:][:P]
			for j, x := range row {
				row[j] = (x - m) * istd
			}
		}
	}
}

// bnEps is batch norm's ε.
const bnEps = 1e-5

// fire runs hidden layer i's integrate-and-fire neurons over the T
// timesteps: v += scale·pre + shift; a spike when v ≥ thr, then v −= thr
// (reset by subtraction). It keeps the membrane before reset in vm.
func (p *spass) fire(i, n int, scale, shift, thr []float32) {
	l := &p.net.Layers[i]
	C, P, T := l.Out.C, l.Out.H*l.Out.W, p.T
	stride := C * P
	pre, vm, s := p.pre[i], p.vm[i], p.act[i+1]
	k := p.slope
	for b := 0; b < n; b++ {
		for c := 0; c < C; c++ {
			a, sh, th := scale[c], shift[c], thr[c]
			base := b*T*stride + c*P
			for j := 0; j < P; j++ {
				var v float32
				for t := 0; t < T; t++ {
					idx := base + t*stride + j
					v += a*pre[idx] + sh
					vm[idx] = v
					switch {
					case p.smooth:
						o := sigmoid(k * (v - th))
						s[idx] = o
						v -= th * o
					case v >= th:
						s[idx] = 1
						v -= th
					default:
						s[idx] = 0
					}
				}
			}
		}
	}
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// sgrads are one shard's gradients.
type sgrads struct {
	w, gamma, beta [][]float32
	bias           []float32
	// mean and vari are the shard's batch statistics (for the running
	// averages), copied from the pass.
	mean, vari [][]float32
}

func newSGrads(s *SurrogateNet) *sgrads {
	g := &sgrads{w: make([][]float32, len(s.Latent)), gamma: make([][]float32, len(s.Latent)),
		beta: make([][]float32, len(s.Latent)), mean: make([][]float32, len(s.Latent)),
		vari: make([][]float32, len(s.Latent)), bias: make([]float32, len(s.Bias))}
	for i, w := range s.Latent {
		if w != nil {
			g.w[i] = make([]float32, len(w))
		}
		if s.Gamma[i] != nil {
			c := len(s.Gamma[i])
			g.gamma[i], g.beta[i] = make([]float32, c), make([]float32, c)
			g.mean[i], g.vari[i] = make([]float32, c), make([]float32, c)
		}
	}
	return g
}

// backward propagates the logits' gradient in dact[L] back through the
// net (batch-statistics forward only), overwriting g.
func (p *spass) backward(sp *sparams, g *sgrads, n int) {
	layers := p.net.Layers
	last := len(layers) - 1
	nv := n * p.T
	first := 0
	for !layers[first].HasWeights() {
		first++
	}
	classes := layers[last].Out.Size()
	dlog := p.dact[last+1][:n*classes]
	clear(g.bias)
	for b := 0; b < n; b++ {
		for c, d := range dlog[b*classes:][:classes] {
			g.bias[c] += d
			for t := 0; t < p.T; t++ {
				p.dzl[(b*p.T+t)*classes+c] = d * sp.lastScale
			}
		}
	}
	p.weightBackward(last, sp.w[last], p.dzl[:nv*classes], g.w[last], nv, last > first)
	for i := last - 1; i >= first; i-- {
		l := &layers[i]
		if !l.HasWeights() {
			poolBackward(l, p.dact[i+1][:nv*l.Out.Size()], p.dact[i][:nv*l.In.Size()], nv)
			continue
		}
		p.fireBackward(i, n)
		p.normBackward(i, n, sp.gamma[i], g.gamma[i], g.beta[i])
		copy(g.mean[i], p.mean[i])
		copy(g.vari[i], p.vari[i])
		p.weightBackward(i, sp.w[i], p.dact[i+1][:nv*l.Out.Size()], g.w[i], nv, i > first)
	}
}

// weightBackward writes the gradient of layer i's weights for output
// gradient dout into gw and, if needIn, the input gradient into dact[i].
func (p *spass) weightBackward(i int, w, dout, gw []float32, nv int, needIn bool) {
	l := &p.net.Layers[i]
	in := p.act[i][:nv*l.In.Size()]
	din := p.dact[i][:nv*l.In.Size()]
	switch l.Kind {
	case Dense:
		gemm(true, false, l.Outputs(), l.FanIn(), nv, dout, in, gw)
		if needIn {
			gemm(false, false, nv, l.FanIn(), l.Outputs(), dout, w, din)
		}
	case Conv:
		np := nv * l.Out.H * l.Out.W
		cols := p.cols[i][:l.FanIn()*np]
		gout := p.gout[i][:l.Out.C*np]
		toChannelMajor(l, dout, gout, nv)
		gemm(false, true, l.Out.C, l.FanIn(), np, gout, cols, gw)
		if needIn {
			dcols := p.dcols[i][:l.FanIn()*np]
			gemm(true, false, l.FanIn(), np, l.Out.C, w, gout, dcols)
			col2im(l, dcols, din, nv)
		}
	}
}

// fireBackward turns the gradient with respect to layer i's spikes (in
// dact[i+1]) into the gradient with respect to its input current u, in
// place, by BPTT through the membrane: with v_t = v_{t−1} − θ·s_{t−1} + u_t
// and s_t = H(v_t − θ) ≈ σ(k(v_t − θ)) for the derivative,
//
//	∂L/∂v_t = ∂L/∂s_t·s'(v_t) + ∂L/∂v_{t+1}·(1 − θ·s'(v_t)),  ∂L/∂u_t = ∂L/∂v_t,
//
// where the reset term θ·s'(v_t) is dropped when the reset is detached.
// Thresholds are 1 (batch-statistics runs).
func (p *spass) fireBackward(i, n int) {
	l := &p.net.Layers[i]
	C, P, T := l.Out.C, l.Out.H*l.Out.W, p.T
	stride := C * P
	vm, ds := p.vm[i], p.dact[i+1]
	k := p.slope
	for b := 0; b < n; b++ {
		for c := 0; c < C; c++ {
			base := b*T*stride + c*P
			for j := 0; j < P; j++ {
				var g float32
				for t := T - 1; t >= 0; t-- {
					idx := base + t*stride + j
					sg := sigmoid(k * (vm[idx] - 1))
					d := k * sg * (1 - sg)
					if p.detach {
						g = ds[idx]*d + g
					} else {
						g = ds[idx]*d + g*(1-d)
					}
					ds[idx] = g
				}
			}
		}
	}
}

// normBackward turns the gradient with respect to u = γ·ẑ + β (in
// dact[i+1]) into the gradient with respect to the weighted sum z, in
// place, and writes the gradients of γ and β.
func (p *spass) normBackward(i, n int, gamma, dgamma, dbeta []float32) {
	l := &p.net.Layers[i]
	C, P := l.Out.C, l.Out.H*l.Out.W
	nv := n * p.T
	du, xh := p.dact[i+1], p.pre[i]
	count := float32(nv * P)
	for c := 0; c < C; c++ {
		var sd, sdx float64
		for v := 0; v < nv; v++ {
			off := (v*C + c) * P
			for j, d := range du[off:][:P] {
				sd += float64(d)
				sdx += float64(d) * float64(xh[off+j])
			}
		}
		dgamma[c], dbeta[c] = float32(sdx), float32(sd)
		f := gamma[c] / float32(math.Sqrt(float64(p.vari[i][c])+bnEps)) / count
		msd, msdx := float32(sd), float32(sdx)
		for v := 0; v < nv; v++ {
			off := (v*C + c) * P
			row := du[off:][:P]
			for j, d := range row {
				row[j] = f * (count*d - msd - xh[off+j]*msdx)
			}
		}
	}
}
