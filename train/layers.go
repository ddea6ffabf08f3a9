package train

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// shardSize is the number of samples one forward/backward pass handles. A
// minibatch is cut into shards of this fixed size whatever the worker count,
// and their gradients are summed in shard order, so training is bit-for-bit
// the same with 1 or 16 workers. 16 samples keep the im2col matrices of the
// preset nets within L2 while giving GEMM thousands of columns.
const shardSize = 16

// pass is one worker's scratch memory for the forward and backward passes
// of up to shardSize samples. Activations are sample-major CHW, the layout
// of model and snn, so a dense layer reads a conv output without a copy.
type pass struct {
	net *Net
	// act[i] is the input of layer i ([n][In.Size()]); act[len] holds
	// the logits. Hidden weight layers store their ReLU output.
	act [][]float32
	// dact[i] is the loss gradient with respect to act[i].
	dact [][]float32
	// cols[i] is the im2col matrix of a conv layer's input,
	// [FanIn][n·P] for P output positions, so one GEMM covers the shard.
	cols [][]float32
	// gout[i] is a conv output (or its gradient) in GEMM order [O][n·P].
	gout [][]float32
	// dcols[i] is the gradient of cols[i].
	dcols [][]float32
}

func newPass(net *Net) *pass {
	L := len(net.Layers)
	p := &pass{net: net, act: make([][]float32, L+1), dact: make([][]float32, L+1),
		cols: make([][]float32, L), gout: make([][]float32, L), dcols: make([][]float32, L)}
	p.act[0] = make([]float32, shardSize*net.In.Size())
	p.dact[0] = make([]float32, shardSize*net.In.Size())
	for i := range net.Layers {
		l := &net.Layers[i]
		p.act[i+1] = make([]float32, shardSize*l.Out.Size())
		p.dact[i+1] = make([]float32, shardSize*l.Out.Size())
		if l.Kind == Conv {
			np := shardSize * l.Out.H * l.Out.W
			p.cols[i] = make([]float32, l.FanIn()*np)
			p.dcols[i] = make([]float32, l.FanIn()*np)
			p.gout[i] = make([]float32, l.Out.C*np)
		}
	}
	return p
}

// load puts n images (pixels 0..255, CHW) into the input activations as
// x/255, the real input that conversion assumes.
func (p *pass) load(images [][]uint8) {
	size := p.net.In.Size()
	for b, img := range images {
		dst := p.act[0][b*size : (b+1)*size]
		for j, v := range img {
			dst[j] = float32(v) / 255
		}
	}
}

// forward runs n loaded samples through the net with weights w (the
// effective weights: α·sign(W) for binary layers).
func (p *pass) forward(w [][]float32, n int) {
	last := len(p.net.Layers) - 1
	for i := range p.net.Layers {
		l := &p.net.Layers[i]
		in := p.act[i][:n*l.In.Size()]
		out := p.act[i+1][:n*l.Out.Size()]
		switch l.Kind {
		case Conv:
			np := n * l.Out.H * l.Out.W
			cols := p.cols[i][:l.FanIn()*np]
			gout := p.gout[i][:l.Out.C*np]
			im2col(l, in, n, cols)
			gemm(false, false, l.Out.C, np, l.FanIn(), w[i], cols, gout)
			toSampleMajor(l, gout, out, n)
		case Dense:
			gemm(false, true, n, l.Outputs(), l.FanIn(), in, w[i], out)
		case Pool:
			poolForward(l, in, out, n)
		}
		if l.HasWeights() && i != last {
			for j, v := range out {
				out[j] = max(v, 0)
			}
		}
	}
}

// softmaxLoss turns the logits of n samples into the gradient of the summed
// cross-entropy times scale (1/batch, for a mean over the whole minibatch)
// in dact[len]. It returns the summed loss and the number of correct argmax.
func (p *pass) softmaxLoss(labels []uint8, scale float32) (loss float64, correct int) {
	L := len(p.net.Layers)
	classes := p.net.Classes()
	for b, y := range labels {
		z := p.act[L][b*classes : (b+1)*classes]
		dz := p.dact[L][b*classes : (b+1)*classes]
		best := 0
		zmax := z[0]
		for j, v := range z {
			if v > zmax {
				zmax, best = v, j
			}
		}
		if best == int(y) {
			correct++
		}
		var sum float64
		for j, v := range z {
			e := math.Exp(float64(v - zmax))
			dz[j] = float32(e)
			sum += e
		}
		loss += math.Log(sum) - float64(z[y]-zmax)
		for j := range dz {
			dz[j] = dz[j] / float32(sum) * scale
		}
		dz[y] -= scale
	}
	return loss, correct
}

// backward propagates dact[len] back to the first weight layer, writing the
// gradient of each weight layer's effective weights into grad (overwritten,
// not accumulated).
func (p *pass) backward(w, grad [][]float32, n int) {
	last := len(p.net.Layers) - 1
	first := 0
	for !p.net.Layers[first].HasWeights() {
		first++
	}
	for i := last; i >= first; i-- {
		l := &p.net.Layers[i]
		in := p.act[i][:n*l.In.Size()]
		din := p.dact[i][:n*l.In.Size()]
		dout := p.dact[i+1][:n*l.Out.Size()]
		if l.HasWeights() && i != last {
			for j, a := range p.act[i+1][:len(dout)] {
				if a <= 0 {
					dout[j] = 0
				}
			}
		}
		needIn := i > first
		switch l.Kind {
		case Dense:
			gemm(true, false, l.Outputs(), l.FanIn(), n, dout, in, grad[i])
			if needIn {
				gemm(false, false, n, l.FanIn(), l.Outputs(), dout, w[i], din)
			}
		case Conv:
			np := n * l.Out.H * l.Out.W
			cols := p.cols[i][:l.FanIn()*np]
			gout := p.gout[i][:l.Out.C*np]
			toChannelMajor(l, dout, gout, n)
			gemm(false, true, l.Out.C, l.FanIn(), np, gout, cols, grad[i])
			if needIn {
				dcols := p.dcols[i][:l.FanIn()*np]
				gemm(true, false, l.FanIn(), np, l.Out.C, w[i], gout, dcols)
				col2im(l, dcols, din, n)
			}
		case Pool:
			poolBackward(l, dout, din, n)
		}
	}
}

// gemm computes c = op(a)·op(b) for an m×k op(a) and a k×n op(b), all
// row-major and dense.
func gemm(transA, transB bool, m, n, k int, a, b, c []float32) {
	tA, lda := blas.NoTrans, k
	if transA {
		tA, lda = blas.Trans, m
	}
	tB, ldb := blas.NoTrans, n
	if transB {
		tB, ldb = blas.Trans, k
	}
	blas32.Implementation().Sgemm(tA, tB, m, n, k, 1, a, lda, b, ldb, 0, c, n)
}

// im2col lays out the receptive fields of n samples x ([n][C][H][W]) as the
// columns of cols ([C·k·k][n·P]), row order (c, ky, kx) as in model.Layer.
func im2col(l *Layer, x []float32, n int, cols []float32) {
	k, s, pad := l.Kernel, l.Stride, l.Pad
	H, W, Ho, Wo := l.In.H, l.In.W, l.Out.H, l.Out.W
	P, N := Ho*Wo, n*Ho*Wo
	for c := 0; c < l.In.C; c++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := cols[((c*k+ky)*k+kx)*N:][:N]
				for b := 0; b < n; b++ {
					plane := x[(b*l.In.C+c)*H*W:][:H*W]
					dst := row[b*P:][:P]
					for oy := 0; oy < Ho; oy++ {
						d := dst[oy*Wo:][:Wo]
						iy := oy*s - pad + ky
						if iy < 0 || iy >= H {
							clear(d)
							continue
						}
						src := plane[iy*W:][:W]
						for ox := range d {
							ix := ox*s - pad + kx
							if ix < 0 || ix >= W {
								d[ox] = 0
							} else {
								d[ox] = src[ix]
							}
						}
					}
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it sums the gradients of every
// receptive-field copy back into dx, which it overwrites.
func col2im(l *Layer, dcols, dx []float32, n int) {
	clear(dx)
	k, s, pad := l.Kernel, l.Stride, l.Pad
	H, W, Ho, Wo := l.In.H, l.In.W, l.Out.H, l.Out.W
	P, N := Ho*Wo, n*Ho*Wo
	for c := 0; c < l.In.C; c++ {
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := dcols[((c*k+ky)*k+kx)*N:][:N]
				for b := 0; b < n; b++ {
					plane := dx[(b*l.In.C+c)*H*W:][:H*W]
					src := row[b*P:][:P]
					for oy := 0; oy < Ho; oy++ {
						iy := oy*s - pad + ky
						if iy < 0 || iy >= H {
							continue
						}
						dst := plane[iy*W:][:W]
						for ox, g := range src[oy*Wo:][:Wo] {
							if ix := ox*s - pad + kx; ix >= 0 && ix < W {
								dst[ix] += g
							}
						}
					}
				}
			}
		}
	}
}

// toSampleMajor reorders a conv output from GEMM order [O][n][P] to [n][O][P].
func toSampleMajor(l *Layer, gout, out []float32, n int) {
	O, P := l.Out.C, l.Out.H*l.Out.W
	for o := 0; o < O; o++ {
		for b := 0; b < n; b++ {
			copy(out[(b*O+o)*P:][:P], gout[(o*n+b)*P:][:P])
		}
	}
}

// toChannelMajor is the inverse of toSampleMajor.
func toChannelMajor(l *Layer, out, gout []float32, n int) {
	O, P := l.Out.C, l.Out.H*l.Out.W
	for o := 0; o < O; o++ {
		for b := 0; b < n; b++ {
			copy(gout[(o*n+b)*P:][:P], out[(b*O+o)*P:][:P])
		}
	}
}

func poolForward(l *Layer, in, out []float32, n int) {
	k := l.Kernel
	inv := 1 / float32(k*k)
	H, W, Ho, Wo := l.In.H, l.In.W, l.Out.H, l.Out.W
	for pl := 0; pl < n*l.In.C; pl++ {
		src := in[pl*H*W:][:H*W]
		dst := out[pl*Ho*Wo:][:Ho*Wo]
		for oy := 0; oy < Ho; oy++ {
			for ox := 0; ox < Wo; ox++ {
				var s float32
				for dy := 0; dy < k; dy++ {
					for _, v := range src[(oy*k+dy)*W+ox*k:][:k] {
						s += v
					}
				}
				dst[oy*Wo+ox] = s * inv
			}
		}
	}
}

func poolBackward(l *Layer, dout, din []float32, n int) {
	k := l.Kernel
	inv := 1 / float32(k*k)
	H, W, Ho, Wo := l.In.H, l.In.W, l.Out.H, l.Out.W
	for pl := 0; pl < n*l.In.C; pl++ {
		src := dout[pl*Ho*Wo:][:Ho*Wo]
		dst := din[pl*H*W:][:H*W]
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				dst[y*W+x] = src[(y/k)*Wo+x/k] * inv
			}
		}
	}
}
