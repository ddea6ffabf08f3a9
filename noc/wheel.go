package noc

import (
	"slices"

	"github.com/nmsim/nmsim/sim"
)

// wheel is a timing wheel: what each of the next len(slots) cycles brings
// (flits becoming ready, credits arriving), one list
// per kind of entry so that a cycle's entries are handled kind by kind.
// Nothing is filed further ahead than the wheel reaches.
type wheel struct {
	slots   [numWakeKinds][][]int32
	mask    sim.Cycle
	pending int // entries filed
}

// The kinds of wheel entries and what an entry holds.
const (
	vcReady      = iota // router<<6 | port·maxVCs + vc: that input VC's front flit becomes ready
	creditRouter        // router<<6 | port·maxVCs + vc: a credit for that output VC
	creditNI            // NI·maxVCs + vc: a credit for that VC of the NI
	numWakeKinds
)

// newWheel makes a wheel that reaches at least reach cycles ahead.
func newWheel(reach int) wheel {
	size := 1
	for size <= reach {
		size <<= 1
	}
	var w wheel
	for k := range w.slots {
		w.slots[k] = make([][]int32, size)
	}
	w.mask = sim.Cycle(size - 1)
	return w
}

// at files entry x of kind k for cycle c.
func (w *wheel) at(k int, c sim.Cycle, x int32) {
	b := &w.slots[k][c&w.mask]
	*b = append(*b, x)
	w.pending++
}

// take returns the entries of kind k for cycle t and empties their slot;
// the slice is valid until something of that kind is filed again for that
// slot.
func (w *wheel) take(k int, t sim.Cycle) []int32 {
	b := &w.slots[k][t&w.mask]
	es := *b
	*b = es[:0]
	w.pending -= len(es)
	return es
}

// next is the first cycle after t with an entry; the wheel must not be
// empty.
func (w *wheel) next(t sim.Cycle) sim.Cycle {
	for c := t + 1; ; c++ {
		for k := range w.slots {
			if len(w.slots[k][c&w.mask]) > 0 {
				return c
			}
		}
	}
}

// clear drops every entry.
func (w *wheel) clear() {
	for k := range w.slots {
		for i := range w.slots[k] {
			w.slots[k][i] = w.slots[k][i][:0]
		}
	}
	w.pending = 0
}

// routerSet is a set of routers, a bit each, with a summary bit per word
// of 64 routers (a network has at most 64×64), so that it is walked in
// router order at a cost that follows its members, not the network's size.
// The words are an array, not a slice: no length to load or check.
type routerSet struct {
	words [64]uint64
	sum   uint64 // bit w: words[w] has a member; 0: the set is empty
}

func (s *routerSet) add(r int) { s.addIf(r, 1) }

// addIf adds router r if c is 1 (c is 0 or 1), without a branch: whether a
// router is in the set already, or is to be added, is a coin toss under
// load.
func (s *routerSet) addIf(r int, c uint64) {
	w, k := uint(r>>6)&63, uint(r&63)
	s.words[w] |= c << k
	s.sum |= c << w
}

// b2u is 1 for true and 0 for false (the compiler makes it a SETcc, not a
// branch).
func b2u(c bool) uint64 {
	var x uint64
	if c {
		x = 1
	}
	return x
}

func (s *routerSet) clear() {
	clear(s.words[:])
	s.sum = 0
}

// dropCredits drops the credits filed for the next cycle outside the
// wheel (Net.credNext).
func (n *Net) dropCredits() {
	n.credNext[0], n.credNext[1] = n.credNext[0][:0], n.credNext[1][:0]
	n.credAt = 0
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

// wakeNINext puts NI i on the list of NIs to look at in cycle t+1 (an NI
// goes on injecting the cycle after it injected; nothing else files an NI
// for a later cycle, so the list needs no wheel).
func (n *Net) wakeNINext(i int, t sim.Cycle) {
	if ni := &n.nis[i]; ni.wake != t+2 {
		ni.wake = t + 2
		n.nextN = append(n.nextN, int32(i))
		n.nextNAt = t + 1
	}
}

// activateNI puts NI i (ni) on the list of NIs to look at in cycle t,
// once.
func (n *Net) activateNI(i int, ni *nic, t sim.Cycle) {
	if ni.seen != t+1 {
		ni.seen = t + 1
		n.activeN = append(n.activeN, int32(i))
	}
}
