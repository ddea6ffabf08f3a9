package noc

import (
	"slices"

	"github.com/nmsim/nmsim/sim"
)

// wheel is a timing wheel: what each of the next len(slots) cycles brings
// (flits becoming ready, credits arriving, routers and NIs to look at
// again). Nothing is filed further ahead than the wheel reaches.
type wheel struct {
	slots   [][]wakeup
	mask    sim.Cycle
	pending int // entries filed
}

// wakeup is an entry of the timing wheel.
type wakeup struct {
	node     int32
	kind     uint8
	port, vc uint8
}

const (
	vcReady      = iota // the front flit of input VC port (port·maxVCs + vc) of router node becomes ready
	wakeNI              //
	creditRouter        // a credit for output VC (port, vc) of router node
	creditNI            // a credit for the NI's VC vc
)

// newWheel makes a wheel that reaches at least reach cycles ahead.
func newWheel(reach int) wheel {
	size := 1
	for size <= reach {
		size <<= 1
	}
	return wheel{slots: make([][]wakeup, size), mask: sim.Cycle(size - 1)}
}

// at files w for cycle c.
func (w *wheel) at(c sim.Cycle, e wakeup) {
	b := &w.slots[c&w.mask]
	*b = append(*b, e)
	w.pending++
}

// take returns the entries of cycle t and empties its slot; the slice is
// valid until something is filed again for that slot.
func (w *wheel) take(t sim.Cycle) []wakeup {
	b := &w.slots[t&w.mask]
	es := *b
	*b = es[:0]
	w.pending -= len(es)
	return es
}

// next is the first cycle after t with an entry; the wheel must not be
// empty.
func (w *wheel) next(t sim.Cycle) sim.Cycle {
	for c := t + 1; ; c++ {
		if len(w.slots[c&w.mask]) > 0 {
			return c
		}
	}
}

// clear drops every entry.
func (w *wheel) clear() {
	for i := range w.slots {
		w.slots[i] = w.slots[i][:0]
	}
	w.pending = 0
}

type ticker struct{ n *Net }

func (t *ticker) Handle(e sim.Event) { t.n.tick(e.At) }

// ensureTick queues a tick at cycle c unless one is queued already.
func (n *Net) ensureTick(c sim.Cycle) {
	if slices.Contains(n.ticks, c) {
		return
	}
	n.ticks = append(n.ticks, c)
	n.eng.Schedule(c, &n.tk)
}

func (n *Net) wakeNIAt(i int, c sim.Cycle) {
	if ni := &n.nis[i]; ni.wake != c+1 {
		ni.wake = c + 1
		n.wh.at(c, wakeup{node: int32(i), kind: wakeNI})
	}
}

func (n *Net) activateRouter(r int, t sim.Cycle) {
	if rt := &n.rt[r]; rt.seen != t+1 {
		rt.seen = t + 1
		n.activeR = append(n.activeR, int32(r))
	}
}

// activateNext puts router r, evaluated in cycle t, on the wake list of
// cycle t+1.
func (n *Net) activateNext(r int, t sim.Cycle) {
	if rt := &n.rt[r]; rt.seen != t+2 {
		rt.seen = t + 2
		n.nextR = append(n.nextR, int32(r))
	}
}

func (n *Net) activateNI(i int, t sim.Cycle) {
	if ni := &n.nis[i]; ni.seen != t+1 {
		ni.seen = t + 1
		n.activeN = append(n.activeN, int32(i))
	}
}
