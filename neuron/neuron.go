// Package neuron models the digital neuron units of a tile: integrate-and-
// fire neurons with an int64 membrane register each, a positive integer
// threshold and an optional integer bias per output channel, an optional
// leak (a fixed-point fraction of the membrane removed each timestep,
// rounded half away from zero), and reset by subtraction or to zero. A layer
// without thresholds only integrates (the output layer read out by
// potential).
package neuron

import (
	"math/bits"
	"slices"

	"github.com/nmsim/nmsim/internal/bitvec"
)

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

// Counters count the work of a layer's neuron units; the energy model
// prices them.
type Counters struct {
	// Updates are the neuron updates performed: read the membrane, add the
	// input (and bias, leak), compare with the threshold, write it back.
	Updates int64 `json:"updates"`
	// Skipped are the neurons an event-driven unit passes over because
	// nothing would change them (no input, bias or leak): one read of the
	// neuron's activity bit each. Updates + Skipped is what a synchronous
	// unit, updating every neuron every timestep, performs.
	Skipped int64 `json:"skipped"`
	// Spikes are the spikes fired, each written to the output spike buffer.
	Spikes int64 `json:"spikes"`
}

// Add accumulates o into c.
func (c *Counters) Add(o Counters) {
	c.Updates += o.Updates
	c.Skipped += o.Skipped
	c.Spikes += o.Spikes
}

// Pending is the number of neurons whose update this timestep does work,
// which is what an event-driven neuron unit updates: a neuron at a position
// that receives input (set in posInput, one bit per position), of a channel
// with a non-zero bias, with a leak and a non-zero membrane, or whose
// membrane is still at or above its threshold (a reset by subtraction can
// leave it there). A neuron marked in done (fire-once, already fired; done
// may be nil) is never updated. Any other neuron's update would leave it
// as it is, so skipping it changes no spike. Call it before Step, with the
// membranes Step will read.
func (n *IF) Pending(v []int64, posInput, done bitvec.Vec) int {
	if n.Bias == nil && n.Leak == 0 && n.Threshold == nil && done == nil {
		return posInput.Count() * n.Channels
	}
	count := 0
	for ch := 0; ch < n.Channels; ch++ {
		base := ch * n.Positions
		for pos, m := range v[base : base+n.Positions] {
			if (done == nil || !done.Get(base+pos)) && n.hasWork(ch, pos, m, posInput) {
				count++
			}
		}
	}
	return count
}

// hasWork reports whether the neuron of channel ch at position pos, with
// membrane m and not done, has work this timestep (see Pending).
func (n *IF) hasWork(ch, pos int, m int64, posInput bitvec.Vec) bool {
	return n.Bias != nil && n.Bias[ch] != 0 || n.Leak != 0 && m != 0 ||
		n.Threshold != nil && m >= n.Threshold[ch] || posInput.Get(pos)
}

// Step integrates one timestep's input current, given position-major
// (current[pos·Channels + ch], the order crossbar columns produce it),
// into the membranes v (channel-major), fires and resets. Spikes are
// written channel-major into spikes, which is cleared first. It returns the
// number of spikes.
//
// done, for a fire-once layer, marks the neurons that have fired: they are
// skipped (membrane frozen, no reset), and a neuron that fires is marked
// instead of reset. nil for an ordinary layer.
func (n *IF) Step(v, current []int64, spikes, done bitvec.Vec) int {
	spikes.Clear()
	if done != nil || n.Leak != 0 {
		fired, _ := n.stepGeneral(v, current, spikes, done, nil)
		return fired
	}
	fired, _ := n.stepPlain(v, current, spikes, nil)
	return fired
}

// StepEvents is Step for an event-driven neuron unit: it also returns the
// neurons updated, Pending(v, posInput, done) as it was before the step.
// The current must be zero at the positions posInput leaves out (no
// driven row feeds them). For a layer without leak or fire-once marks the
// count comes with the step itself: the input positions of each channel
// without bias, every position of one with, and the neurons that fire
// without input (a membrane left at its threshold), so it costs no pass
// of its own; for other layers the step tests each neuron it visits.
//
// hot (one bit per position) is the caller's to keep between steps and to
// clear with the membranes (a cleared membrane is below every positive
// threshold): it marks the positions where some membrane may be at or
// above its threshold. A layer of thresholds without bias or leak visits
// only the positions in posInput or hot, since no other neuron's update
// changes anything, and leaves in hot the positions whose membranes stay
// at or above threshold after their reset (with fire-once marks none: a
// neuron that reaches its threshold is marked); other layers visit every
// neuron and leave hot as it is.
func (n *IF) StepEvents(v, current []int64, spikes, done, posInput, hot bitvec.Vec) (fired, updates int) {
	spikes.Clear()
	if done != nil && n.Leak == 0 && n.Bias == nil && n.Threshold != nil {
		return fireOnceEvents(v, current, n.Threshold, spikes, done, posInput, hot, n.Positions)
	}
	if done != nil || n.Leak != 0 {
		return n.stepGeneral(v, current, spikes, done, posInput)
	}
	var residual int
	if n.Bias == nil && n.Threshold != nil {
		fired, residual = fireEvents(v, current, n.Threshold, spikes, posInput, hot, n.Positions, n.ResetToZero)
	} else {
		fired, residual = n.stepPlain(v, current, spikes, posInput)
	}
	inputs := posInput.Count()
	for ch := 0; ch < n.Channels; ch++ {
		if n.Bias != nil && n.Bias[ch] != 0 {
			updates += n.Positions
		} else {
			updates += inputs
		}
	}
	return fired, updates + residual
}

// stepPlain is Step for a layer without leak or fire-once marks: positions
// in tiles of stepTile, so that both the position-major currents and the
// channel-major membranes of a tile are read a cache line at a time. With
// posInput it also returns how many neurons of unbiased channels fired at
// positions without input.
func (n *IF) stepPlain(v, current []int64, spikes, posInput bitvec.Vec) (fired, residual int) {
	C, P := n.Channels, n.Positions
	if n.Bias == nil && n.Threshold != nil {
		for pos := 0; pos < P; pos++ {
			f, _ := firePos(v, current[pos*C:(pos+1)*C], n.Threshold, spikes, pos, P, n.ResetToZero)
			fired += f
		}
		return fired, 0
	}
	if n.Bias != nil && n.Threshold != nil && !n.ResetToZero && (posInput == nil || !slices.Contains(n.Bias, 0)) {
		for lo := 0; lo < P; lo += stepTile {
			fired += fireTileBiased(v, current, n.Threshold, n.Bias, spikes, lo, min(lo+stepTile, P), P)
		}
		return fired, 0
	}
	for lo := 0; lo < P; lo += stepTile {
		hi := min(lo+stepTile, P)
		for ch := 0; ch < C; ch++ {
			var bias int64
			if n.Bias != nil {
				bias = n.Bias[ch]
			}
			mem := v[ch*P+lo : ch*P+hi]
			cur := current[lo*C+ch:]
			if n.Threshold == nil {
				for i := range mem {
					mem[i] += cur[i*C] + bias
				}
				continue
			}
			thr := n.Threshold[ch]
			for i, m := range mem {
				m += cur[i*C] + bias
				if m >= thr {
					fired++
					spikes.Set(ch*P + lo + i)
					if posInput != nil && bias == 0 && !posInput.Get(lo+i) {
						residual++
					}
					if n.ResetToZero {
						m = 0
					} else {
						m -= thr
					}
				}
				mem[i] = m
			}
		}
	}
	return fired, residual
}

// fireTileBiased updates the positions lo to hi of every channel of a
// layer with thresholds thr and biases bias, reset by subtraction, and
// returns how many fired.
// With a bias every neuron is updated and which of them fire is a coin
// toss to a branch predictor, so the update (fireRun) has no branch on
// the membrane (BenchmarkStepBias: a fifth firing).
func fireTileBiased(v, current, thr, bias []int64, spikes bitvec.Vec, lo, hi, P int) (fired int) {
	C, n := len(thr), hi-lo
	cur := current[lo*C : hi*C]
	for ch, th := range thr {
		base := ch*P + lo
		word := fireRun(v[base:base+n], cur[ch:], C, th, bias[ch])
		fired += bits.OnesCount64(word)
		w, s := base>>6, uint(base)&63
		spikes[w] |= word << s
		if int(s)+n > 64 {
			spikes[w+1] |= word >> (64 - s)
		}
	}
	return fired
}

// fireRun adds to each membrane mem[i] cur[i·stride] and the bias b, and
// returns the fired ones as bits (bit i for mem[i]; at most 64): a fired
// membrane loses its threshold th (reset by subtraction). Not inlined, so that its loop keeps its values in registers.
//
//go:noinline
func fireRun(mem, cur []int64, stride int, th, b int64) (fired uint64) {
	j := 0
	for i, m := range mem {
		m += cur[j] + b
		j += stride
		f := (th - 1 - m) >> 63 // −1 if m ≥ th, else 0
		fired |= uint64(f&1) << (uint(i) & 63)
		mem[i] = m - th&f
	}
	return fired
}

// stepTile is the number of positions stepPlain updates channel by
// channel before it moves on: 8 membranes fill a 64-byte cache line.
const stepTile = 8

// fireEvents is StepEvents for the common layer, thresholds and no bias,
// leak or fire-once marks: only the positions in posInput or hot can
// change (see StepEvents), and it returns the spikes and how many of them
// fired at positions without input.
func fireEvents(v, current, thr []int64, spikes, posInput, hot bitvec.Vec, P int, toZero bool) (fired, residual int) {
	C := len(thr)
	for wi, in := range posInput {
		visit := in | hot[wi]
		hot[wi] = 0
		for visit != 0 {
			bit := uint(bits.TrailingZeros64(visit))
			visit &= visit - 1
			pos := wi<<6 + int(bit)
			f, still := firePos(v, current[pos*C:(pos+1)*C], thr, spikes, pos, P, toZero)
			fired += f
			if in>>bit&1 == 0 {
				residual += f
			}
			if still {
				hot[wi] |= 1 << bit
			}
		}
	}
	return fired, residual
}

// fireOnceEvents is StepEvents for a fire-once layer of thresholds without
// bias or leak: only the positions in posInput or hot can change, and a
// neuron marked in done never does. It returns the spikes and the
// neurons updated (Pending's count).
func fireOnceEvents(v, current, thr []int64, spikes, done, posInput, hot bitvec.Vec, P int) (fired, updates int) {
	C := len(thr)
	if P == 1 {
		visit, input := (posInput[0]|hot[0])&1 != 0, posInput[0]&1 != 0
		hot[0] = 0 // a neuron that reaches its threshold is marked done
		if !visit {
			return 0, 0
		}
		return fireOnceDense(v, current[:C], thr, spikes, done, input)
	}
	for wi, in := range posInput {
		visit := in | hot[wi]
		hot[wi] = 0 // a neuron that reaches its threshold is marked done
		for visit != 0 {
			bit := uint(bits.TrailingZeros64(visit))
			visit &= visit - 1
			pos, input := wi<<6+int(bit), in>>bit&1 != 0
			cur := current[pos*C : (pos+1)*C]
			for ch, t := range thr[:len(cur)] {
				if k := ch*P + pos; !done.Get(k) {
					f, u := fireOnce(v, k, cur[ch], t, input, spikes, done)
					fired, updates = fired+f, updates+u
				}
			}
		}
	}
	return fired, updates
}

// fireOnceDense is fireOnceEvents for a dense layer (one position, with
// input if input is set): its neurons are its channels, and the live ones
// are found 64 at a time from done's words. It is not inlined, so that
// its loop keeps its values in registers.
//
//go:noinline
func fireOnceDense(v, current, thr []int64, spikes, done bitvec.Vec, input bool) (fired, updates int) {
	C := len(current)
	for wi := 0; wi*64 < C; wi++ {
		live := ^done[wi]
		if n := C - wi*64; n < 64 {
			live &= 1<<n - 1
		}
		if input {
			updates += bits.OnesCount64(live) // every live neuron has input
		}
		for ; live != 0; live &= live - 1 {
			ch := wi<<6 + bits.TrailingZeros64(live)
			m, t := v[ch], thr[ch]
			if !input && m >= t {
				updates++
			}
			if m += current[ch]; m >= t {
				fired++
				spikes.Set(ch)
				done.Set(ch)
			}
			v[ch] = m
		}
	}
	return fired, updates
}

// fireOnce updates neuron k of a fire-once layer, not marked done, with
// current x and threshold t: it fires and is marked if it reaches t. It
// returns whether it fired and whether it counts as updated (input at its
// position, or a membrane at its threshold).
func fireOnce(v []int64, k int, x, t int64, input bool, spikes, done bitvec.Vec) (fired, updated int) {
	m := v[k]
	if input || m >= t {
		updated = 1
	}
	m += x
	if m >= t {
		fired = 1
		spikes.Set(k)
		done.Set(k)
	}
	v[k] = m
	return fired, updated
}

// firePos updates the neurons of position pos, whose currents cur holds
// (one per channel, contiguous; the membranes are P apart), fires and
// resets them, and reports the spikes and whether a membrane is still at or
// above its threshold. Its loop keeps few enough live values that the
// compiler holds most of them in registers, and steps the membrane's index
// by P instead of multiplying.
func firePos(v, cur, thr []int64, spikes bitvec.Vec, pos, P int, toZero bool) (fired int, hot bool) {
	thr = thr[:len(cur)]
	k := pos
	for ch := range cur {
		m := v[k] + cur[ch]
		if t := thr[ch]; m >= t {
			fired++
			spikes.Set(k)
			m -= t
			if toZero {
				m = 0
			}
			hot = hot || m >= t
		}
		v[k] = m
		k += P
	}
	return fired, hot
}

// stepGeneral is Step for a leaky or fire-once layer. With posInput it
// also returns the neurons updated, Pending's count.
func (n *IF) stepGeneral(v, current []int64, spikes, done, posInput bitvec.Vec) (fired, updates int) {
	for ch := 0; ch < n.Channels; ch++ {
		mem := v[ch*n.Positions : (ch+1)*n.Positions]
		var bias int64
		if n.Bias != nil {
			bias = n.Bias[ch]
		}
		base := ch * n.Positions
		for pos := range mem {
			if done != nil && done.Get(base+pos) {
				continue
			}
			m := mem[pos]
			if posInput != nil && n.hasWork(ch, pos, m, posInput) {
				updates++
			}
			if n.Leak != 0 {
				m -= n.leak(m)
			}
			m += current[pos*n.Channels+ch] + bias
			if n.Threshold != nil && m >= n.Threshold[ch] {
				fired++
				spikes.Set(base + pos)
				switch {
				case done != nil:
					done.Set(base + pos)
				case n.ResetToZero:
					m = 0
				default:
					m -= n.Threshold[ch]
				}
			}
			mem[pos] = m
		}
	}
	return fired, updates
}

// leak is v·Leak/LeakOne rounded half away from zero, so that the decay
// pulls positive and negative membranes toward zero alike.
func (n *IF) leak(v int64) int64 {
	if v < 0 {
		return -((-v*n.Leak + n.LeakOne/2) / n.LeakOne)
	}
	return (v*n.Leak + n.LeakOne/2) / n.LeakOne
}
