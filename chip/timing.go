package chip

import (
	"math/bits"

	"github.com/nmsim/nmsim/sim"
)

// The timing pass. Every stage active in a slot is a small event graph on
// the engine: each tile's crossbars finish (tileDone); tiles whose blocks
// belong to a remote home send it their partial sums; when a home has
// heard from every contributing tile its neuron units update (neuronDone)
// and its spikes leave for the next stage's tiles. The slot ends when the
// engine has nothing left: the global barrier.

// slotStage is one stage's progress within the current slot.
type slotStage struct {
	active  bool
	t       int // the timestep the stage replays
	rec     *record
	pending []int // per home: contributions still missing
}

// handler kinds
const (
	evTileDone = iota
	evArrive
	evNeuronDone
)

// handler is a pre-built event target, so events carry no payload and
// allocate nothing.
type handler struct {
	w       *Worker
	kind    int
	si, idx int
}

func (h *handler) Handle(sim.Event) {
	w := h.w
	switch h.kind {
	case evTileDone:
		w.tileDone(h.si, h.idx)
	case evArrive:
		w.arrive(h.si, h.idx)
	case evNeuronDone:
		w.neuronDone(h.si, h.idx)
	}
}

// handlers are built lazily per worker: tile, arrive and neuron handlers
// per stage.
type stageHandlers struct {
	tile, arrive, neuron []*handler
}

func (w *Worker) handlersFor(si int) *stageHandlers {
	for len(w.hs) <= si {
		w.hs = append(w.hs, nil)
	}
	if w.hs[si] != nil {
		return w.hs[si]
	}
	s := &w.c.stages[si]
	sh := &stageHandlers{}
	for ti := range s.nl.Tiles {
		sh.tile = append(sh.tile, &handler{w: w, kind: evTileDone, si: si, idx: ti})
	}
	for hi := range s.nl.Homes {
		sh.arrive = append(sh.arrive, &handler{w: w, kind: evArrive, si: si, idx: hi})
		sh.neuron = append(sh.neuron, &handler{w: w, kind: evNeuronDone, si: si, idx: hi})
	}
	w.hs[si] = sh
	return sh
}

// startTiming resets the timing pass for a new sample.
func (w *Worker) startTiming() {
	w.net.Reset()
	w.cycles, w.slotStart = 0, 0
}

// runSlot runs time slot k of the pipelined timing model: stage si replays
// its record of timestep k−si, for the timesteps below ran. The slot ends
// at the global barrier, when the engine has nothing left.
func (w *Worker) runSlot(k, ran int) {
	start := w.slotStart
	w.eng.Reset(start)
	for si := range w.c.stages {
		sl := &w.slot[si]
		t := k - si
		sl.active = t >= 0 && t < ran
		if !sl.active {
			continue
		}
		sl.t = t
		s := &w.c.stages[si]
		recs := w.st[si].recs
		sl.rec = &recs[t%len(recs)]
		sl.pending = sl.pending[:0]
		for hi := range s.nl.Homes {
			sl.pending = append(sl.pending, len(s.nl.Contrib[hi]))
		}
		sh := w.handlersFor(si)
		for ti, tile := range s.nl.Tiles {
			done := start + sim.Cycle(sl.rec.tileCycles[ti])
			w.eng.Schedule(done, sh.tile[ti])
			if w.obs != nil && done > start {
				w.obs.Read(si, t, tile, start, done)
			}
		}
	}
	end := w.eng.Run()
	length := max(int64(end-start), 1)
	if w.obs != nil {
		w.obs.Barrier(k, start, start+sim.Cycle(length))
	}
	w.cycles += length
	w.slotStart = start + sim.Cycle(length)
}

// drain runs the slots that empty the pipeline after the last of ran
// timesteps and returns the sample's total cycles.
func (w *Worker) drain(ran int) int64 {
	for k := ran; k < ran+len(w.c.stages)-1; k++ {
		w.runSlot(k, ran)
	}
	return w.cycles
}

// tileDone: tile ti of stage si has finished its reads; it hands its
// partial sums to each home it feeds.
func (w *Worker) tileDone(si, ti int) {
	s := &w.c.stages[si]
	sh := w.handlersFor(si)
	for pi, p := range s.nl.Pairs {
		if p.Src != ti {
			continue
		}
		hi := p.Dst
		vals := w.slot[si].rec.psumVals[pi]
		if s.nl.Tiles[ti] == s.nl.Homes[hi] || vals == 0 {
			w.arrive(si, hi)
			continue
		}
		// A partial sum takes two spike slots: a neuron address and a
		// value of the same width. The home waits for every injection.
		w.dst[0] = s.nl.Homes[hi]
		calls := w.send(si, s.nl.Tiles[ti], w.dst[:1], 2*vals, sh.arrive[hi])
		w.slot[si].pending[hi] += calls - 1
	}
}

// arrive: one contribution to home hi of stage si is in; the last one
// starts the neuron update.
func (w *Worker) arrive(si, hi int) {
	sl := &w.slot[si]
	sl.pending[hi]--
	if sl.pending[hi] > 0 {
		return
	}
	s := &w.c.stages[si]
	n := w.c.cfg.Neuron
	batches := (s.nl.HomeNeurons[hi] + n.UnitsPerTile - 1) / n.UnitsPerTile
	now := w.eng.Now()
	w.eng.Schedule(now+sim.Cycle(batches*n.UpdateCycles), w.handlersFor(si).neuron[hi])
	if w.obs != nil {
		w.obs.Update(si, sl.t, s.nl.Homes[hi], now, now+sim.Cycle(batches*n.UpdateCycles), s.nl.HomeNeurons[hi])
	}
}

// neuronDone: home hi's neurons have fired; their spikes leave, either
// replicated at the source (one stream of packets per destination tile,
// spikes bound for the same tile sharing packets) or as one tree multicast
// per destination set that the routers fork.
func (w *Worker) neuronDone(si, hi int) {
	s := &w.c.stages[si]
	rec := w.slot[si].rec
	src := s.nl.Homes[hi]
	if w.c.cfg.NoC.Multicast == "tree" {
		for _, set := range s.nl.HomeSets[hi] {
			if n := rec.spikeCount[set]; n > 0 && len(s.nl.SetDsts[set]) > 0 {
				w.send(si, src, s.nl.SetDsts[set], n, nil)
			}
		}
		return
	}
	if len(w.flowCount) < len(s.nl.SpikeFlows) {
		w.flowCount = make([]int64, len(s.nl.SpikeFlows))
	}
	for _, set := range s.nl.HomeSets[hi] {
		if n := rec.spikeCount[set]; n > 0 {
			for _, fi := range s.nl.FlowSets[set] {
				w.flowCount[fi] += n
			}
		}
	}
	for _, fi := range s.nl.HomeFlows[hi] {
		if n := w.flowCount[fi]; n > 0 {
			w.flowCount[fi] = 0
			w.dst[0] = s.nl.SpikeFlows[fi].Dst
			w.send(si, src, w.dst[:1], n, nil)
		}
	}
}

// send packs slots spike-address slots into AER packets and injects them
// from src to the tiles dsts (a tree multicast when there are several),
// charging the network's events to stage si. Full packets and a last,
// partial one go as two injections; done (if any) is scheduled once for
// each, and send returns how many that is.
func (w *Worker) send(si, src int, dsts []int, slots int64, done sim.Handler) int {
	cfg := w.c.cfg.NoC
	per := int64(cfg.MaxSpikesPerPacket)
	flits := func(n int64) int {
		return int((int64(cfg.HeaderBits) + n*int64(cfg.SpikeBits) + int64(cfg.FlitBits) - 1) / int64(cfg.FlitBits))
	}
	inject := func(packets int64, flits int) {
		if len(dsts) == 1 {
			w.net.Send(&w.eng, src, dsts[0], int(packets), flits, done)
		} else {
			w.net.Multicast(&w.eng, src, dsts, int(packets), flits, done)
		}
	}
	calls := 0
	if full := slots / per; full > 0 {
		inject(full, flits(per))
		calls++
	}
	if rest := slots % per; rest > 0 {
		inject(1, flits(rest))
		calls++
	}
	w.st[si].stats.NoC.Add(w.net.TakeCounters())
	return calls
}

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }
