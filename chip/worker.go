package chip

import (
	"bytes"

	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/energy"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/noc"
	"github.com/nmsim/nmsim/sim"
)

// Hooks observe a run without changing it; slices are valid during the
// call only.
type Hooks struct {
	// Spikes gets every spiking layer's output at every timestep, with
	// the layer's index in the model (as the golden model reports it).
	Spikes func(layer, t int, spikes bitvec.Vec)
}

// Result is one sample's outcome.
type Result struct {
	Class      int
	Potentials []int64 // output layer membranes
	Cycles     int64
	Layers     []LayerStats // per weight layer
}

// record is the activity of one stage at one timestep, replayed by the
// timing pass.
type record struct {
	tileCycles []int64 // per stage tile: busiest block's crossbar cycles
	psumVals   []int64 // per (tile, home) pair: partial sums sent over the network
	spikeCount []int64 // per spike flow
}

// stageState is a worker's private state for one stage.
type stageState struct {
	in, prevIn []uint8 // crossbar input values this and last timestep
	memo       bool    // acc and lastCounters are valid for prevIn
	acc        []int64 // input current, position-major
	v          []int64 // membranes
	spikes     bitvec.Vec
	planes     []bitvec.Vec
	blockCyc   []int64
	blockVals  []int64
	counters   crossbar.Counters // of the last computed timestep
	lastRec    record
	recs       []record // per timestep
	stats      LayerStats
}

// Worker runs samples on a chip; each goroutine needs its own.
type Worker struct {
	c       *Chip
	st      []stageState
	scratch crossbar.Scratch
	eng     sim.Engine
	net     noc.Network
	input   []uint8
	// timing-pass state
	slot []slotStage
	hs   []*stageHandlers
	sink handler
}

// NewWorker prepares a worker with a contention-free network.
func (c *Chip) NewWorker() *Worker {
	w := &Worker{c: c, st: make([]stageState, len(c.stages)), net: noc.NewZeroLoad(c.cfg)}
	for si := range c.stages {
		s := &c.stages[si]
		ss := &w.st[si]
		ss.in = make([]uint8, s.inShape.Size())
		ss.prevIn = make([]uint8, s.inShape.Size())
		ss.acc = make([]int64, s.lm.Positions*s.lm.Outputs)
		ss.v = make([]int64, s.neurons.Neurons())
		ss.spikes = bitvec.New(s.neurons.Neurons())
		rows := 0
		for _, b := range s.lm.Blocks {
			rows = max(rows, b.Rows())
		}
		for p := 0; p < s.lm.InputBits; p++ {
			ss.planes = append(ss.planes, bitvec.New(rows))
		}
		ss.blockCyc = make([]int64, len(s.arrays))
		ss.blockVals = make([]int64, len(s.arrays))
		ss.lastRec = newRecord(s)
	}
	w.slot = make([]slotStage, len(c.stages))
	w.sink = handler{w: w, kind: evSink}
	return w
}

func newRecord(s *stage) record {
	return record{
		tileCycles: make([]int64, len(s.tiles)),
		psumVals:   make([]int64, len(s.pairs)),
		spikeCount: make([]int64, len(s.spikeFlows)),
	}
}

// Infer runs one sample (the model's input shape, CHW) for T timesteps.
func (w *Worker) Infer(sample []uint8, T int, h Hooks) Result {
	w.input = sample
	for si := range w.st {
		ss := &w.st[si]
		clear(ss.v)
		ss.memo = false
		ss.stats = LayerStats{Name: w.c.stages[si].lm.Name}
		for len(ss.recs) < T {
			ss.recs = append(ss.recs, newRecord(&w.c.stages[si]))
		}
	}
	for t := 0; t < T; t++ {
		for si := range w.c.stages {
			w.step(si, t, h)
		}
	}
	cycles := w.replay(T)
	last := w.st[len(w.st)-1].v
	res := Result{Class: argmax(last), Potentials: append([]int64(nil), last...), Cycles: cycles}
	for si := range w.st {
		res.Layers = append(res.Layers, w.st[si].stats)
	}
	return res
}

func argmax(v []int64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// step is the functional pass of stage si at timestep t.
func (w *Worker) step(si, t int, h Hooks) {
	s := &w.c.stages[si]
	ss := &w.st[si]
	w.loadInput(si)
	rec := &ss.recs[t]
	if ss.memo && bytes.Equal(ss.in, ss.prevIn) {
		// The same input gives the same reads: reuse the currents and
		// charge the same operations again.
		copyRecord(rec, &ss.lastRec)
	} else {
		w.compute(si)
		copy(ss.prevIn, ss.in)
		ss.memo = true
		clear(rec.tileCycles)
		clear(rec.psumVals)
		for bi, b := range s.lm.Blocks {
			ti := s.tileOf[bi]
			rec.tileCycles[ti] = max(rec.tileCycles[ti], ss.blockCyc[bi])
			if b.Tile != s.lm.Home[b.Group] {
				rec.psumVals[s.pairOf[bi]] += ss.blockVals[bi]
			}
		}
		copyRecord(&ss.lastRec, rec)
	}
	addCrossbar(&ss.stats.Counters, ss.counters)
	ss.stats.Counters.NeuronUpdates += int64(s.neurons.Neurons())
	fired := s.neurons.Step(ss.v, ss.acc, ss.spikes)
	ss.stats.Spikes += int64(fired)
	clear(rec.spikeCount)
	if s.neurons.Threshold != nil {
		if h.Spikes != nil {
			h.Spikes(s.lm.Layer, t, ss.spikes)
		}
		if len(s.flowSetOf) > 0 {
			for wi, word := range ss.spikes {
				for word != 0 {
					n := wi<<6 + trailingZeros(word)
					word &= word - 1
					for _, f := range s.flowSets[s.flowSetOf[n]] {
						rec.spikeCount[f]++
					}
				}
			}
		}
	}
}

// loadInput fills the stage's input values: the sample for the first
// stage, else the source stage's spikes of this timestep, summed over the
// pool window if there is one.
func (w *Worker) loadInput(si int) {
	s := &w.c.stages[si]
	ss := &w.st[si]
	if s.lm.Source < 0 {
		copy(ss.in, w.input)
		return
	}
	spikes := w.st[s.lm.Source].spikes
	k := s.lm.PoolKernel
	if k == 1 {
		for i := range ss.in {
			ss.in[i] = uint8(spikes[i>>6] >> (uint(i) & 63) & 1)
		}
		return
	}
	clear(ss.in)
	src, dst := s.srcOut, s.inShape
	for c := 0; c < src.C; c++ {
		for y := 0; y < dst.H*k; y++ {
			for x := 0; x < dst.W*k; x++ {
				i := src.Index(c, y, x)
				ss.in[dst.Index(c, y/k, x/k)] += uint8(spikes[i>>6] >> (uint(i) & 63) & 1)
			}
		}
	}
}

// compute reads every block of stage si at every output position.
func (w *Worker) compute(si int) {
	s := &w.c.stages[si]
	ss := &w.st[si]
	clear(ss.acc)
	ss.counters = crossbar.Counters{}
	outs := s.lm.Outputs
	for bi, b := range s.lm.Blocks {
		arr := s.arrays[bi]
		var cyc, vals int64
		for pos := 0; pos < s.lm.Positions; pos++ {
			if !w.gatherPlanes(s, ss, b.RowLo, b.RowHi, pos) {
				continue
			}
			base := pos*outs + b.OutLo
			cyc += arr.Read(ss.planes, ss.acc[base:base+b.Outputs()], &w.scratch, &ss.counters)
			vals += int64(b.Outputs())
		}
		ss.blockCyc[bi], ss.blockVals[bi] = cyc, vals
	}
}

// gatherPlanes builds the bit-planes of rows [lo, hi) at an output
// position and reports whether any row is driven.
func (w *Worker) gatherPlanes(s *stage, ss *stageState, lo, hi, pos int) bool {
	nw := bitvec.Words(hi - lo)
	for p := range ss.planes {
		ss.planes[p] = ss.planes[p][:nw]
		clear(ss.planes[p])
	}
	any := false
	for r := lo; r < hi; r++ {
		idx := r
		if s.gather != nil {
			idx = int(s.gather[pos*s.lm.FanIn+r])
			if idx < 0 {
				continue
			}
		}
		v := ss.in[idx]
		if v == 0 {
			continue
		}
		any = true
		for p := 0; v != 0; p++ {
			if v&1 != 0 {
				ss.planes[p].Set(r - lo)
			}
			v >>= 1
		}
	}
	return any
}

func copyRecord(dst, src *record) {
	copy(dst.tileCycles, src.tileCycles)
	copy(dst.psumVals, src.psumVals)
}

func addCrossbar(c *energy.Counters, x crossbar.Counters) {
	c.Reads += x.Reads
	c.RowsDriven += x.RowsDriven
	c.CellReads += x.CellReads
	c.Conversions += x.Conversions
	c.ShiftAdds += x.ShiftAdds
}
