package chip

import (
	"bytes"
	"math/bits"

	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/noc"
	"github.com/nmsim/nmsim/sim"
	"github.com/nmsim/nmsim/workloads/model"
)

// Result is one sample's outcome.
type Result struct {
	Class      int
	Potentials []int64 // output layer membranes
	// NoC holds the network's traffic statistics of this sample; NoCErr
	// is set when the network stalled (a deadlock the watchdog caught).
	NoC    noc.Stats
	NoCErr error
	Counts []int64 // output layer spike counts, for a model read out by spikes
	Cycles int64
	Layers []LayerStats // per weight layer
	// Decision is, for a first-spike readout, the timestep (from 1) at
	// whose end the class was known and the run stopped (Cycles then
	// counts up to there); 0 if no output neuron fired within the run.
	// With an early exit (SetEarlyExit) it is the timestep at which the
	// lead was settled, 0 if it never was.
	Decision int
}

// record is the activity of one layer at one timestep, replayed by the
// timing pass.
type record struct {
	tileCycles []int64 // per layer tile: busiest block's crossbar cycles
	psumVals   []int64 // per (tile, home) pair: partial sums sent over the network
	spikeCount []int64 // per flow set: spikes of neurons with those destinations
}

// layerState is a worker's private state for one layer.
type layerState struct {
	in, prevIn []uint8 // crossbar input values this and last timestep
	memo       bool    // acc and lastCounters are valid for prevIn
	acc        []int64 // input current, position-major
	v          []int64 // membranes
	spikes     bitvec.Vec
	// done marks the neurons of a fire-once layer that have fired; nil
	// for other layers.
	done bitvec.Vec
	// planeBuf holds the input bit-planes of every (position, row split):
	// InputBits planes of splitWords words each, built by scatter (not
	// for a fused layer without read noise). quiet holds, for a fused
	// layer with read noise, the currents without it.
	planeBuf  []uint64
	planes    []bitvec.Vec // views into planeBuf for one read
	quiet     []int64
	fused     *fusedState // for a fused layer
	blockCyc  []int64
	blockVals []int64
	counters  crossbar.Counters // of the last computed timestep
	// posInput marks the output positions that some driven row feeds at
	// the last computed timestep: their neurons receive input.
	posInput bitvec.Vec
	// hot marks the positions where a membrane may be at or above its
	// threshold (neuron.IF.StepEvents keeps it).
	hot     bitvec.Vec
	lastRec record
	// recs is a ring of the last len(layers) timesteps' records: the
	// timing pass runs slot t right after the functional pass of
	// timestep t and reads layer layerIdx's record of timestep t−layerIdx, so memory
	// does not grow with the timesteps.
	recs  []record
	stats LayerStats
}

// Worker runs samples on a chip; each goroutine needs its own.
type Worker struct {
	c       *Chip
	st      []layerState
	scratch crossbar.Scratch
	eng     sim.Engine
	net     noc.Network
	input   []uint8
	// flowCount is per spike flow of a layer, for source replication.
	flowCount []int64
	dst       [1]int // a one-tile destination list
	// counts are the output layer's spikes per neuron, for a model read
	// out by spike counts.
	counts []int64
	// For TTFS coding: the inputs that spike, in the order of their
	// spike times, and spikeEnd[t] the end of those that spike at
	// timestep t or before (see spiking).
	spikeOrder []int32
	spikeEnd   []int32
	// timing-pass state: per layer, the slot being timed; cycles so far
	// and the cycle the next slot starts at
	slot []slotLayer
	hs   []*layerHandlers
	// obs sees the timing pass; nil: nobody.
	obs Observer
	// exit is the early exit of rate-coded samples (SetEarlyExit).
	exit      exitRule
	cycles    int64
	slotStart sim.Cycle
}

// NewWorker prepares a worker with its own network (the model arch.toml's
// noc.model chooses).
func (c *Chip) NewWorker() *Worker {
	w := &Worker{c: c, st: make([]layerState, len(c.layers)), net: noc.New(c.cfg)}
	for layerIdx := range c.layers {
		s := &c.layers[layerIdx]
		ss := &w.st[layerIdx]
		ss.in = make([]uint8, s.inShape.Size())
		ss.prevIn = make([]uint8, s.inShape.Size())
		ss.acc = make([]int64, s.lm.Positions*s.lm.Outputs)
		ss.v = make([]int64, s.neurons.Neurons())
		ss.spikes = bitvec.New(s.neurons.Neurons())
		if s.fused != nil {
			ss.fused = s.fused.newState(s)
		}
		if s.fused == nil || s.noisy {
			ss.planeBuf = make([]uint64, s.lm.Positions*s.lm.RowSplits*s.lm.InputBits*s.splitWords)
			ss.planes = make([]bitvec.Vec, s.lm.InputBits)
		}
		if s.fused != nil && s.noisy {
			ss.quiet = make([]int64, len(ss.acc))
		}
		ss.posInput = bitvec.New(s.lm.Positions)
		ss.hot = bitvec.New(s.lm.Positions)
		ss.blockCyc = make([]int64, len(s.arrays))
		ss.blockVals = make([]int64, len(s.arrays))
		ss.lastRec = newRecord(s)
		ss.recs = make([]record, len(c.layers))
		for i := range ss.recs {
			ss.recs[i] = newRecord(s)
		}
		if s.layer.FireOnce {
			ss.done = bitvec.New(s.neurons.Neurons())
		}
	}
	if c.m.Input.Coding == model.CodingTTFS {
		w.spikeOrder = make([]int32, 0, c.m.Input.Shape.Size())
		w.spikeEnd = make([]int32, c.m.Input.Window)
	}
	w.slot = make([]slotLayer, len(c.layers))
	return w
}

func newRecord(s *hwLayer) record {
	return record{
		tileCycles: make([]int64, len(s.nl.Tiles)),
		psumVals:   make([]int64, len(s.nl.Pairs)),
		spikeCount: make([]int64, len(s.nl.FlowSets)),
	}
}

// noiseTag separates read-noise seeds from device-draw seeds.
const noiseTag = 0x9e3779b97f4a7c15

// Infer runs one sample (the model's input shape, CHW) for T timesteps.
// key names the sample (its index in the data set): read noise is drawn
// from (chip seed, key), so a sample's result does not depend on which
// worker runs it or what ran before.
func (w *Worker) Infer(sample []uint8, key uint64, T int, h model.Hooks) Result {
	w.input = sample
	if w.c.m.SpikeReadout() {
		if w.counts == nil {
			w.counts = make([]int64, w.c.layers[len(w.c.layers)-1].neurons.Neurons())
		}
		clear(w.counts)
	}
	// The tag keeps the noise streams apart from the arrays' device
	// streams, which are (seed, layer<<32 | block).
	w.scratch.Reseed(w.c.seed^noiseTag, key)
	if w.spikeEnd != nil {
		w.orderSpikes(sample)
	}
	for layerIdx := range w.st {
		ss := &w.st[layerIdx]
		clear(ss.v)
		clear(ss.hot)
		clear(ss.done)
		ss.memo = false
		ss.stats = LayerStats{Name: w.c.layers[layerIdx].lm.Name}
	}
	w.startTiming()
	decision := 0
	fired := false     // a first-spike output fired
	lead, run := -1, 0 // the early exit's leader and its run of steps
	for t := 0; t < T; t++ {
		for layerIdx := range w.c.layers {
			w.step(layerIdx, t, h)
		}
		// Every layer's record of timestep t−layerIdx is in: time slot t.
		w.runSlot(t, t+1)
		last := &w.st[len(w.st)-1]
		if w.counts != nil {
			for wi, word := range last.spikes {
				for word != 0 {
					w.counts[wi<<6+trailingZeros(word)]++
					word &= word - 1
				}
			}
		}
		scores := w.c.m.Scores(last.v, w.counts)
		if h.Step != nil {
			h.Step(t+1, scores)
		}
		if w.c.m.Stops(last.spikes) {
			// The class is known: the chip stops here.
			decision, fired = t+1, true
			break
		}
		if w.exit.steps > 0 {
			if lead, run = w.exit.settled(scores, lead, run); run >= w.exit.steps {
				decision = t + 1
				break
			}
		}
	}
	ran := T
	if decision > 0 {
		ran = decision
	}
	cycles := w.drain(ran)
	nocStats, nocErr := w.net.TakeStats(), w.net.Err()
	last := &w.st[len(w.st)-1]
	res := Result{Class: w.c.m.Class(last.v, w.counts, last.spikes, fired), Potentials: append([]int64(nil), last.v...),
		Counts: append([]int64(nil), w.counts...), Cycles: cycles, NoC: nocStats, NoCErr: nocErr, Decision: decision}
	for layerIdx := range w.st {
		res.Layers = append(res.Layers, w.st[layerIdx].stats)
	}
	return res
}

// step is the functional pass of layer layerIdx at timestep t.
func (w *Worker) step(layerIdx, t int, h model.Hooks) {
	s := &w.c.layers[layerIdx]
	ss := &w.st[layerIdx]
	w.loadInput(layerIdx, t)
	rec := &ss.recs[t%len(ss.recs)]
	// A fire-once layer skips reads for neurons that have fired, so the
	// same input need not cost the same: it is always computed.
	same := ss.memo && ss.done == nil && bytes.Equal(ss.in, ss.prevIn)
	switch {
	case same && !s.noisy:
		// The same input gives the same reads: reuse the currents and
		// charge the same operations again.
		copyRecord(rec, &ss.lastRec)
	case same && ss.quiet != nil:
		// The same noiseless currents; only the read noise is new.
		copy(ss.acc, ss.quiet)
		w.addReadNoise(s, ss)
		shiftSums(ss.acc, s.layer.SumShift)
		copyRecord(rec, &ss.lastRec)
	default:
		w.compute(layerIdx)
		shiftSums(ss.acc, s.layer.SumShift)
		copy(ss.prevIn, ss.in)
		ss.memo = true
		clear(rec.tileCycles)
		clear(rec.psumVals)
		for bi, cyc := range ss.blockCyc {
			if cyc == 0 {
				continue // no read (a read takes a cycle at least): no values sent
			}
			b := &s.lm.Blocks[bi]
			tileIdx := s.nl.TileOf[bi]
			rec.tileCycles[tileIdx] = max(rec.tileCycles[tileIdx], cyc)
			if b.Tile != s.lm.Home[b.Group] {
				rec.psumVals[s.nl.PairOf[bi]] += ss.blockVals[bi]
			}
		}
		copyRecord(&ss.lastRec, rec)
	}
	ss.stats.Crossbar.Add(ss.counters)
	live := s.neurons.Neurons()
	if ss.done != nil {
		live -= ss.done.Count() // a neuron that has fired is never updated again
	}
	// The current is zero wherever posInput has no input (no read ran
	// there), as StepEvents needs.
	fired, updates := 0, live
	if w.c.eventNeurons {
		fired, updates = s.neurons.StepEvents(ss.v, ss.acc, ss.spikes, ss.done, ss.posInput, ss.hot)
	} else {
		fired = s.neurons.Step(ss.v, ss.acc, ss.spikes, ss.done)
	}
	ss.stats.Neuron.Updates += int64(updates)
	ss.stats.Neuron.Skipped += int64(live - updates)
	ss.stats.Neuron.Spikes += int64(fired)
	clear(rec.spikeCount)
	if s.neurons.Threshold != nil {
		if h.Spikes != nil {
			h.Spikes(s.lm.Layer, t, ss.spikes)
		}
		if len(s.nl.FlowSetOf) > 0 {
			for wi, word := range ss.spikes {
				if f := s.wordFlow[wi]; f >= 0 {
					rec.spikeCount[f] += int64(bits.OnesCount64(word))
					continue
				}
				for word != 0 {
					n := wi<<6 + trailingZeros(word)
					word &= word - 1
					rec.spikeCount[s.nl.FlowSetOf[n]]++
				}
			}
		}
	}
}

// shiftSums shifts a layer's currents, its column sums (with their read
// noise), left by the layer's SumShift into the units of its membrane:
// in hardware, wiring between the shift-and-add units and the neuron's
// adder, so nothing is charged for it. A shift of 0 leaves them as they
// are. Positions without input stay zero, as StepEvents needs.
func shiftSums(acc []int64, k int) {
	if k == 0 {
		return
	}
	for i := range acc {
		acc[i] <<= uint(k)
	}
}

// orderSpikes sorts the inputs of a TTFS-coded sample by spike time (a
// counting sort) into spikeOrder and spikeEnd.
func (w *Worker) orderSpikes(sample []uint8) {
	in := w.c.m.Input
	clear(w.spikeEnd)
	for _, x := range sample {
		if at := model.SpikeTime(int(x), in.Bits, in.Window); at >= 0 {
			w.spikeEnd[at]++
		}
	}
	var n int32
	for t, k := range w.spikeEnd {
		w.spikeEnd[t] = n // the start of time t's inputs, until they are placed
		n += k
	}
	w.spikeOrder = w.spikeOrder[:n]
	for i, x := range sample {
		if at := model.SpikeTime(int(x), in.Bits, in.Window); at >= 0 {
			w.spikeOrder[w.spikeEnd[at]] = int32(i)
			w.spikeEnd[at]++
		}
	}
}

// spiking returns the inputs of a TTFS-coded sample that spike at
// timestep t (none for t < 0 or past the window).
func (w *Worker) spiking(t int) []int32 {
	if t < 0 || t >= len(w.spikeEnd) {
		return nil
	}
	lo := int32(0)
	if t > 0 {
		lo = w.spikeEnd[t-1]
	}
	return w.spikeOrder[lo:w.spikeEnd[t]]
}

// loadInput fills the layer's input values: the sample for the first
// layer, else the source layer's spikes of this timestep, summed over the
// pool window if there is one.
func (w *Worker) loadInput(layerIdx, t int) {
	s := &w.c.layers[layerIdx]
	ss := &w.st[layerIdx]
	if s.lm.Source < 0 {
		// A constant input is the same every timestep; frame coding
		// reads frame t, and zeros once the frames run out.
		n := len(ss.in)
		switch {
		case w.spikeEnd != nil:
			if t == 0 {
				clear(ss.in)
			}
			for _, i := range w.spiking(t - 1) {
				ss.in[i] = 0
			}
			for _, i := range w.spiking(t) {
				ss.in[i] = 1
			}
		case w.c.m.Input.Coding != model.CodingFrames:
			copy(ss.in, w.input)
		case (t+1)*n <= len(w.input):
			copy(ss.in, w.input[t*n:(t+1)*n])
		default:
			clear(ss.in)
		}
		return
	}
	clear(ss.in)
	for wi, word := range w.st[s.lm.Source].spikes {
		for word != 0 {
			ss.in[s.nl.PoolTo[wi<<6+trailingZeros(word)]]++
			word &= word - 1
		}
	}
}

// compute reads every block of layer layerIdx at every output position
// and marks in posInput the positions that receive input.
func (w *Worker) compute(layerIdx int) {
	s := &w.c.layers[layerIdx]
	ss := &w.st[layerIdx]
	ss.counters = crossbar.Counters{}
	if s.fused != nil {
		computeFused(s, ss)
		if ss.quiet != nil {
			copy(ss.quiet, ss.acc)
			w.scatterPlanes(s, ss)
			w.addReadNoise(s, ss)
		}
		return
	}
	clear(ss.acc)
	w.scatterPlanes(s, ss)
	for bi := range s.lm.Blocks {
		var cyc, vals int64
		for pos := 0; pos < s.lm.Positions; pos++ {
			c := w.read(s, ss, bi, pos)
			if c > 0 {
				cyc += c
				vals += int64(s.lm.Blocks[bi].Outputs())
			}
		}
		ss.blockCyc[bi], ss.blockVals[bi] = cyc, vals
	}
	markInputs(s, ss)
}

// read reads block bi at position pos into ss.acc and returns the array's
// busy cycles; none for a read whose neurons have all fired.
func (w *Worker) read(s *hwLayer, ss *layerState, bi, pos int) int64 {
	b := s.lm.Blocks[bi]
	if ss.done != nil && allDone(ss.done, pos, s.lm.Positions, b.OutLo, b.OutHi) {
		return 0 // every neuron this read would feed has fired
	}
	acc := ss.acc[pos*s.lm.Outputs+b.OutLo : pos*s.lm.Outputs+b.OutHi]
	return s.arrays[bi].Read(w.planesOf(s, ss, bi, pos), acc, &w.scratch, &ss.counters)
}

// planesOf sets ss.planes to the bit-planes that block bi reads at
// position pos.
func (w *Worker) planesOf(s *hwLayer, ss *layerState, bi, pos int) []bitvec.Vec {
	b := &s.lm.Blocks[bi]
	sw := s.splitWords
	nw := bitvec.Words(b.Rows())
	base := (pos*s.lm.RowSplits + b.RowLo/w.c.cfg.Crossbar.Rows) * s.lm.InputBits * sw
	for p := range ss.planes {
		ss.planes[p] = ss.planeBuf[base+p*sw : base+p*sw+nw]
	}
	return ss.planes
}

// addReadNoise adds to acc the read noise of every read of a fused layer
// with read noise, in compute's order of reads (block by block, position
// by position), so that each read draws what Read would have drawn. A
// position without input has no read, and a read whose neurons have all
// fired is not made.
func (w *Worker) addReadNoise(s *hwLayer, ss *layerState) {
	for bi, b := range s.lm.Blocks {
		for wi, word := range ss.posInput {
			for ; word != 0; word &= word - 1 {
				pos := wi<<6 + trailingZeros(word)
				if ss.done != nil && allDone(ss.done, pos, s.lm.Positions, b.OutLo, b.OutHi) {
					continue
				}
				acc := ss.acc[pos*s.lm.Outputs+b.OutLo : pos*s.lm.Outputs+b.OutHi]
				s.arrays[bi].AddNoise(w.planesOf(s, ss, bi, pos), acc, &w.scratch)
			}
		}
	}
}

// scatterPlanes sets, for every non-zero input value, its bits in the
// planes of every (position, row split) that reads it.
func (w *Worker) scatterPlanes(s *hwLayer, ss *layerState) {
	clear(ss.planeBuf)
	stride, sw := s.lm.InputBits*s.splitWords, s.splitWords
	for e, v := range ss.in {
		if v == 0 {
			continue
		}
		lo, hi := s.nl.ScatterOff[e], s.nl.ScatterOff[e+1]
		slots, rows := s.nl.ScatterSlot[lo:hi], s.nl.ScatterRow[lo:hi]
		rows = rows[:len(slots)]
		// Bit-plane by bit-plane: a spike (v = 1) sets one plane.
		for p := 0; v>>p != 0; p++ {
			if v>>p&1 == 0 {
				continue
			}
			buf := ss.planeBuf[p*sw:]
			for k, slot := range slots {
				r := uint(rows[k])
				buf[int(slot)*stride+int(r>>6)] |= 1 << (r & 63)
			}
		}
	}
}

// allDone reports whether the neurons of channels [lo, hi) at position pos
// (channel-major, positions per channel) have all fired.
func allDone(done bitvec.Vec, pos, positions, lo, hi int) bool {
	if positions == 1 { // a dense layer: the neurons are bits lo, …, hi−1
		for ch := lo; ch < hi; {
			n := min(64-ch&63, hi-ch)
			if want := ^uint64(0) >> (64 - n); done[ch>>6]>>(ch&63)&want != want {
				return false
			}
			ch += n
		}
		return true
	}
	for ch := lo; ch < hi; ch++ {
		if !done.Get(ch*positions + pos) {
			return false
		}
	}
	return true
}

// markInputs sets in ss.posInput the output positions whose input
// bit-planes (every row split, every bit) have a driven row.
func markInputs(s *hwLayer, ss *layerState) {
	ss.posInput.Clear()
	per := s.lm.RowSplits * s.lm.InputBits * s.splitWords
	for pos := 0; pos < s.lm.Positions; pos++ {
		for _, x := range ss.planeBuf[pos*per : (pos+1)*per] {
			if x != 0 {
				ss.posInput.Set(pos)
				break
			}
		}
	}
}

func copyRecord(dst, src *record) {
	copy(dst.tileCycles, src.tileCycles)
	copy(dst.psumVals, src.psumVals)
}
