package chip

import (
	"math/bits"

	"github.com/nmsim/nmsim/sim"
)

// The timing pass. Every layer active in a slot is a small event graph on
// the engine: each tile's crossbars finish (tileDone); tiles whose blocks
// belong to a remote home send it their partial sums; when a home has
// heard from every contributing tile its neuron units update (neuronDone)
// and its spikes leave for the next layer's tiles. The slot ends when the
// engine has nothing left: the global barrier.

// slotLayer is one layer's progress within the current slot.
type slotLayer struct {
	active  bool
	t       int // the timestep the layer replays
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
	w             *Worker
	kind          int
	layerIdx, idx int
}

func (h *handler) Handle(sim.Event) {
	w := h.w
	switch h.kind {
	case evTileDone:
		w.tileDone(h.layerIdx, h.idx)
	case evArrive:
		w.arrive(h.layerIdx, h.idx)
	case evNeuronDone:
		w.neuronDone(h.layerIdx, h.idx)
	}
}

// handlers are built lazily per worker: tile, arrive and neuron handlers
// per layer.
type layerHandlers struct {
	tile, arrive, neuron []*handler
}

func (w *Worker) handlersFor(layerIdx int) *layerHandlers {
	for len(w.hs) <= layerIdx {
		w.hs = append(w.hs, nil)
	}
	if w.hs[layerIdx] != nil {
		return w.hs[layerIdx]
	}
	s := &w.c.layers[layerIdx]
	sh := &layerHandlers{}
	for tileIdx := range s.nl.Tiles {
		sh.tile = append(sh.tile, &handler{w: w, kind: evTileDone, layerIdx: layerIdx, idx: tileIdx})
	}
	for homeIdx := range s.nl.Homes {
		sh.arrive = append(sh.arrive, &handler{w: w, kind: evArrive, layerIdx: layerIdx, idx: homeIdx})
		sh.neuron = append(sh.neuron, &handler{w: w, kind: evNeuronDone, layerIdx: layerIdx, idx: homeIdx})
	}
	w.hs[layerIdx] = sh
	return sh
}

// startTiming resets the timing pass for a new sample.
func (w *Worker) startTiming() {
	w.net.Reset()
	w.cycles, w.slotStart = 0, 0
}

// runSlot runs time slot k of the pipelined timing model: layer layerIdx replays
// its record of timestep k−layerIdx, for the timesteps below ran. The slot ends
// at the global barrier, when the engine has nothing left.
func (w *Worker) runSlot(k, ran int) {
	start := w.slotStart
	w.eng.Reset(start)
	for layerIdx := range w.c.layers {
		sl := &w.slot[layerIdx]
		t := k - layerIdx
		sl.active = t >= 0 && t < ran
		if !sl.active {
			continue
		}
		sl.t = t
		s := &w.c.layers[layerIdx]
		recs := w.st[layerIdx].recs
		sl.rec = &recs[t%len(recs)]
		sl.pending = sl.pending[:0]
		for homeIdx := range s.nl.Homes {
			sl.pending = append(sl.pending, len(s.nl.Contrib[homeIdx]))
		}
		sh := w.handlersFor(layerIdx)
		for tileIdx, tile := range s.nl.Tiles {
			done := start + sim.Cycle(sl.rec.tileCycles[tileIdx])
			w.eng.Schedule(done, sh.tile[tileIdx])
			if w.obs != nil && done > start {
				w.obs.Read(layerIdx, t, tile, start, done)
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
	for k := ran; k < ran+len(w.c.layers)-1; k++ {
		w.runSlot(k, ran)
	}
	return w.cycles
}

// tileDone: tile tileIdx of layer layerIdx has finished its reads; it hands its
// partial sums to each home it feeds.
func (w *Worker) tileDone(layerIdx, tileIdx int) {
	s := &w.c.layers[layerIdx]
	sh := w.handlersFor(layerIdx)
	for pairIdx, p := range s.nl.Pairs {
		if p.Src != tileIdx {
			continue
		}
		homeIdx := p.Dst
		vals := w.slot[layerIdx].rec.psumVals[pairIdx]
		if s.nl.Tiles[tileIdx] == s.nl.Homes[homeIdx] || vals == 0 {
			w.arrive(layerIdx, homeIdx)
			continue
		}
		// A partial sum takes two spike slots: a neuron address and a
		// value of the same width. The home waits for every injection.
		w.dst[0] = s.nl.Homes[homeIdx]
		calls := w.send(layerIdx, s.nl.Tiles[tileIdx], w.dst[:1], 2*vals, sh.arrive[homeIdx])
		w.slot[layerIdx].pending[homeIdx] += calls - 1
	}
}

// arrive: one contribution to home homeIdx of layer layerIdx is in; the last one
// starts the neuron update.
func (w *Worker) arrive(layerIdx, homeIdx int) {
	sl := &w.slot[layerIdx]
	sl.pending[homeIdx]--
	if sl.pending[homeIdx] > 0 {
		return
	}
	s := &w.c.layers[layerIdx]
	n := w.c.cfg.Neuron
	batches := (s.nl.HomeNeurons[homeIdx] + n.UnitsPerTile - 1) / n.UnitsPerTile
	now := w.eng.Now()
	w.eng.Schedule(now+sim.Cycle(batches*n.UpdateCycles), w.handlersFor(layerIdx).neuron[homeIdx])
	if w.obs != nil {
		w.obs.Update(layerIdx, sl.t, s.nl.Homes[homeIdx], now, now+sim.Cycle(batches*n.UpdateCycles), s.nl.HomeNeurons[homeIdx])
	}
}

// neuronDone: home homeIdx's neurons have fired; their spikes leave, either
// replicated at the source (one stream of packets per destination tile,
// spikes bound for the same tile sharing packets) or as one tree multicast
// per destination set that the routers fork.
func (w *Worker) neuronDone(layerIdx, homeIdx int) {
	s := &w.c.layers[layerIdx]
	rec := w.slot[layerIdx].rec
	src := s.nl.Homes[homeIdx]
	if w.c.cfg.NoC.Multicast == "tree" {
		for _, set := range s.nl.HomeSets[homeIdx] {
			if n := rec.spikeCount[set]; n > 0 && len(s.nl.SetDsts[set]) > 0 {
				w.send(layerIdx, src, s.nl.SetDsts[set], n, nil)
			}
		}
		return
	}
	if len(w.flowCount) < len(s.nl.SpikeFlows) {
		w.flowCount = make([]int64, len(s.nl.SpikeFlows))
	}
	for _, set := range s.nl.HomeSets[homeIdx] {
		if n := rec.spikeCount[set]; n > 0 {
			for _, flowIdx := range s.nl.FlowSets[set] {
				w.flowCount[flowIdx] += n
			}
		}
	}
	for _, flowIdx := range s.nl.HomeFlows[homeIdx] {
		if n := w.flowCount[flowIdx]; n > 0 {
			w.flowCount[flowIdx] = 0
			w.dst[0] = s.nl.SpikeFlows[flowIdx].Dst
			w.send(layerIdx, src, w.dst[:1], n, nil)
		}
	}
}

// send packs slots spike-address slots into AER packets and injects them
// from src to the tiles dsts (a tree multicast when there are several),
// charging the network's events to layer layerIdx. Full packets and a last,
// partial one go as two injections; done (if any) is scheduled once for
// each, and send returns how many that is.
func (w *Worker) send(layerIdx, src int, dsts []int, slots int64, done sim.Handler) int {
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
	w.st[layerIdx].stats.NoC.Add(w.net.TakeCounters())
	return calls
}

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }
