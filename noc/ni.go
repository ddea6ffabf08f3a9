package noc

import (
	"slices"

	"github.com/nmsim/nmsim/sim"
)

// nic is a tile's network interface: a FIFO of packets (unbounded for
// Send; synthetic sources wait while it holds noc.ni_queue_packets) that it
// injects one flit per cycle into its router's local input port, one
// packet at a time, each on a VC it picks round-robin.
type nic struct {
	queue   []int32
	qhead   int
	cur     int32 // packet being injected, -1 if none
	next    int   // its next flit
	dst     int16 // its destination (-1: a tree multicast) and flits, so
	flits   int   // that injecting a flit need not look the packet up
	vc      int
	rr      int
	credit  [maxVCs]int16 // for the router's local input VCs
	seen    sim.Cycle     // cycle+1 at which it was put on the wake list
	wake    sim.Cycle     // cycle+1 of the last wake-up scheduled (on Net.nextN)
	sentAt  sim.Cycle     // cycle+1 of its last injected flit
	pending bool          // has a packet to inject
}

type packet struct {
	src, dst int   // dst < 0: tree multicast to dsts
	dsts     []int // sorted, distinct
	flits    int
	created  sim.Cycle
	bundle   int32 // -1: none (a Send without a done handler)
	hops     int32 // links from src to dst (a unicast packet's)
	pending  int   // destinations still waiting for the tail
}

// bundle is the packets of one Send or Multicast call: done is due when
// the last is ejected. dsts is the destination set of a tree multicast,
// which its packets share; the array goes back to a pool with the bundle.
type bundle struct {
	left int
	done sim.Handler
	dsts []int
}

// newBundle is a bundle of left packets, or -1 where no bundle is needed
// (no done handler, no destination set to share).
func (n *Net) newBundle(left int, done sim.Handler, dsts []int) int32 {
	if done == nil && dsts == nil {
		return -1 // nothing to wait for or to share: no bundle
	}
	b := bundle{left: left, done: done, dsts: dsts}
	if k := len(n.freeBndl); k > 0 {
		i := n.freeBndl[k-1]
		n.freeBndl = n.freeBndl[:k-1]
		n.bundles[i] = b
		return i
	}
	n.bundles = append(n.bundles, b)
	return int32(len(n.bundles) - 1)
}

// settle counts a packet of bundle bi (none if bi < 0) as finished; the
// last one frees the bundle and, if run, schedules its done handler at
// cycle at.
func (n *Net) settle(bi int32, at sim.Cycle, run bool) {
	if bi < 0 {
		return
	}
	b := &n.bundles[bi]
	b.left--
	if b.left == 0 {
		if run && b.done != nil {
			n.eng.Schedule(at, b.done)
		}
		n.freeBundle(bi)
	}
}

// freeBundle returns bundle i, and its destination set, to their pools.
func (n *Net) freeBundle(i int32) {
	b := &n.bundles[i]
	if b.dsts != nil {
		n.freeSets = append(n.freeSets, b.dsts[:0])
	}
	*b = bundle{}
	n.freeBndl = append(n.freeBndl, i)
}

// newSet is a destination set from the pool holding dsts, sorted and
// without repeats.
func (n *Net) newSet(dsts []int) []int {
	var set []int
	if k := len(n.freeSets); k > 0 {
		set = n.freeSets[k-1]
		n.freeSets = n.freeSets[:k-1]
	}
	set = append(set, dsts...)
	slices.Sort(set)
	return slices.Compact(set)
}

// enqueue creates a packet at src's NI for dst, hops links away (or for
// the tree multicast to dsts, dst < 0), and wakes the NI this cycle.
func (n *Net) enqueue(src, dst, hops int, dsts []int, flits int, b int32) {
	now := n.eng.Now()
	pk := packet{src: src, dst: dst, dsts: dsts, flits: flits, created: now, bundle: b, hops: int32(hops), pending: 1}
	if dst < 0 {
		pk.pending = len(dsts)
	}
	var id int32
	if k := len(n.freePkt); k > 0 {
		id = n.freePkt[k-1]
		n.freePkt = n.freePkt[:k-1]
		n.pkts[id] = pk
	} else {
		n.pkts = append(n.pkts, pk)
		id = int32(len(n.pkts) - 1)
	}
	if n.obs != nil {
		n.obs.Injected(id, src, now)
	}
	ni := &n.nis[src]
	ni.queue = append(ni.queue, id)
	ni.pending = true
	n.queued++
	n.activateNI(src, ni, now)
	n.ensureTick(now)
}

// queueFull reports whether the NI of tile src holds as many packets
// waiting for injection as noc.ni_queue_packets allows.
func (n *Net) queueFull(src int) bool {
	ni := &n.nis[src]
	return n.niQueue > 0 && len(ni.queue)-ni.qhead >= n.niQueue
}

// evalNI lets NI i (ni) inject the next flit of its current packet, or start
// the next packet on a VC with a credit, in cycle t.
func (n *Net) evalNI(i int, ni *nic, t sim.Cycle) {
	if ni.sentAt == t+1 {
		return // one flit per cycle
	}
	if ni.cur < 0 {
		if ni.qhead == len(ni.queue) {
			return
		}
		vc := -1
		for k := range n.v {
			c := ni.rr + k
			if c >= n.v {
				c -= n.v
			}
			if ni.credit[c] > 0 {
				vc = c
				break
			}
		}
		if vc < 0 {
			return // a credit will wake it
		}
		ni.cur = ni.queue[ni.qhead]
		ni.qhead++
		if ni.qhead == len(ni.queue) {
			ni.queue, ni.qhead = ni.queue[:0], 0
		}
		pk := &n.pkts[ni.cur]
		ni.next, ni.dst, ni.flits, ni.vc, ni.rr = 0, int16(pk.dst), pk.flits, vc, inc(vc, n.v)
		n.s.Packets++
	}
	if ni.credit[ni.vc] <= 0 {
		return
	}
	ni.credit[ni.vc]--
	// The write into the router's local input VC, in place.
	j := portLocal*maxVCs + ni.vc
	q := &n.in[i*vcSlots+j]
	tail := ni.next == ni.flits-1
	*n.back(q) = flit{arrive: t + 1, pkt: ni.cur, dst: ni.dst, head: ni.next == 0, tail: tail}
	q.n++
	n.inFlight++
	if q.n == 1 {
		n.front(i, j, q, t+1)
	}
	if n.bufObs != nil {
		n.buffered(i, t)
	}
	n.s.Flits++
	ni.sentAt = t + 1
	n.lastProgress = t
	ni.next++
	if tail {
		ni.cur = -1
		n.queued--
	}
	ni.pending = ni.cur >= 0 || ni.qhead < len(ni.queue)
	if ni.pending {
		n.wakeNINext(i, t)
	}
}

// eject completes packet id at the NI of router r, where its tail is taken
// in at cycle at (traverse counts every flit it ejects).
func (n *Net) eject(r int, id int32, at sim.Cycle) {
	pk := &n.pkts[id]
	lat, hops := int64(at-pk.created), int(pk.hops)
	if pk.dst < 0 {
		hops = n.hops(pk.src, r) // a tree's destinations differ
	}
	n.s.record(lat, hops)
	pk.pending--
	if n.obs != nil {
		n.obs.Ejected(id, r, at, lat, hops, pk.pending == 0)
	}
	if pk.pending > 0 {
		return
	}
	n.settle(pk.bundle, at, true)
	pk.dsts = nil
	n.freePkt = append(n.freePkt, id)
}

// dropQueued discards the packets still waiting at their NIs, not the ones
// being injected: the end of a synthetic run, when they were never in the
// network. Their bundles' done handlers never run, and the counters Send
// charged for them are taken back.
func (n *Net) dropQueued() {
	for i := range n.nis {
		ni := &n.nis[i]
		for _, id := range ni.queue[ni.qhead:] {
			pk := &n.pkts[id]
			if n.obs != nil {
				n.obs.Dropped(id)
			}
			n.uncharge(pk)
			n.settle(pk.bundle, 0, false)
			pk.dsts = nil
			n.freePkt = append(n.freePkt, id)
			n.queued--
		}
		ni.queue, ni.qhead = ni.queue[:0], 0
		ni.pending = ni.cur >= 0
	}
}

// uncharge takes back the counters that Send or Multicast charged for pk.
func (n *Net) uncharge(pk *packet) {
	var routers, links, switches int
	if pk.dst >= 0 {
		h := int(pk.hops)
		routers, links, switches = h+1, h, h+1
	} else {
		routers, links, switches = n.tr.size(n.g, pk.src, pk.dsts, nil)
	}
	n.c.add(-1, int64(pk.flits), int64(routers), int64(links), int64(switches))
}
