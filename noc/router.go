package noc

import (
	"math/bits"

	"github.com/nmsim/nmsim/sim"
)

// evalRouter runs one cycle of router r: VC allocation for the packets at
// the front of their input VCs, then switch allocation, each a separable
// input-first allocator with round-robin arbiters whose pointers move only
// on a grant; the winners cross the switch. A head flit may win its VC and
// the switch in the same cycle (the combined VA+SA stage).
//
// If nothing moved, the router's state cannot change until a credit or a
// flit arrives (both wake it), or until a buffered flit becomes ready, so
// it sleeps until then.
//
// VC sets are bit masks (a port has at most 8 VCs, a router 5 ports), and
// a round-robin arbiter is a rotation of its request mask followed by a
// count of trailing zeros.
func (n *Net) evalRouter(r int, t sim.Cycle) {
	rt := &n.rt[r]
	mask := rt.nonempty
	if mask == 0 {
		return
	}
	n.s.RouterCycles++
	v := n.v
	ins := n.in[r*vcSlots : (r+1)*vcSlots]
	const never = sim.Cycle(1<<63 - 1)
	nextReady := never
	moved := false

	// VC allocation. Stage 1: each ready unicast head picks the first
	// free VC of its class on its output port at or after its pointer.
	// Stage 2: each requested output VC grants one requester. A front
	// flit that holds its VCs is not a head in waiting: body flits follow
	// a head that has crossed to all its ports. A unicast packet takes an
	// ejection VC too, which bounds how many packets interleave into one
	// NI, as in BookSim; a multicast needs none (allocMulticast).
	var ready, multi uint64
	var readyPorts uint8
	n.vaTouched = n.vaTouched[:0]
	for m := mask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		q := &ins[i]
		if q.ready > t {
			nextReady = min(nextReady, q.ready)
			continue
		}
		ready |= 1 << i
		readyPorts |= 1 << (i / maxVCs)
		if q.vaMask != 0 {
			continue
		}
		f := &n.buf[int(q.off)+int(q.head)]
		if q.outMask == 0 {
			q.outMask = n.routeMask(r, f)
		}
		if f.dst < 0 {
			multi |= 1 << i
			continue
		}
		p := bits.TrailingZeros8(q.outMask)
		free := n.classMask(r, p, f.pkt) &^ rt.ovBusy[p]
		if free == 0 {
			continue
		}
		o := p*maxVCs + rotPick(uint(free), int(q.vaPtr), v)
		best := n.vaBest[o]
		if best < 0 {
			n.vaTouched = append(n.vaTouched, o)
			n.vaBest[o] = int8(i)
			continue
		}
		ptr := int(rt.vaOutPtr[o])
		if wrap(i-ptr, vcSlots) < wrap(int(best)-ptr, vcSlots) {
			n.vaBest[o] = int8(i)
		}
	}
	if multi != 0 && n.allocMulticast(r, ins, multi) {
		moved = true
	}
	for _, o := range n.vaTouched {
		i := int(n.vaBest[o])
		n.vaBest[o] = -1
		p, vc := o/maxVCs, o%maxVCs
		if rt.ovBusy[p]&(1<<vc) != 0 {
			continue // a multicast took it first
		}
		q := &ins[i]
		rt.ovBusy[p] |= 1 << vc
		q.outVC[p] = uint8(vc)
		q.vaMask, q.held = q.outMask, q.outMask
		q.vaPtr = uint8(inc(vc, v))
		rt.vaOutPtr[o] = uint8(inc(i, vcSlots))
		moved = true
	}

	// Switch allocation. Stage 1: each input port picks one of its VCs
	// whose front flit is ready and has an output VC with a credit on a
	// port it has not yet crossed to. Stage 2: each output port grants one
	// input port. A multicast flit may win several output ports at once
	// (the crossbar copies it); it leaves its buffer when it has crossed
	// to every port of its packet.
	var reqs [numPorts]uint8
	var wantVC [numPorts]int
	var reqPorts uint8
	for pm := readyPorts; pm != 0; pm &= pm - 1 {
		ip := bits.TrailingZeros8(pm)
		ptr := int(rt.saIn[ip])
		for rot := rotate(uint(ready>>(ip*maxVCs))&(1<<maxVCs-1), ptr, v); rot != 0; rot &= rot - 1 {
			vc := ptr + bits.TrailingZeros(rot)
			if vc >= v {
				vc -= v
			}
			q := &ins[ip*maxVCs+vc]
			e := q.vaMask &^ q.sent
			for m := e; m != 0; m &= m - 1 {
				p := bits.TrailingZeros8(m)
				if rt.credit[p*maxVCs+int(q.outVC[p])] <= 0 {
					e &^= 1 << p
				}
			}
			if e != 0 {
				wantVC[ip] = vc
				reqPorts |= e
				for m := e; m != 0; m &= m - 1 {
					reqs[bits.TrailingZeros8(m)] |= 1 << ip
				}
				break
			}
		}
	}
	var grant [numPorts]uint8
	var granted uint8
	for m := reqPorts; m != 0; m &= m - 1 {
		op := bits.TrailingZeros8(m)
		ip := rotPick(uint(reqs[op]), int(rt.saOut[op]), numPorts)
		grant[ip] |= 1 << op
		granted |= 1 << ip
		rt.saOut[op] = uint8(inc(ip, numPorts))
	}
	for m := granted; m != 0; m &= m - 1 {
		ip := bits.TrailingZeros8(m)
		rt.saIn[ip] = uint8(inc(wantVC[ip], v))
		n.traverse(r, ip, wantVC[ip], grant[ip], t)
		moved = true
	}

	if moved {
		// Look again next cycle only if a flit that could have moved did
		// not (it lost an arbitration, or waits for what this cycle's
		// moves may have freed) or a new front flit is ready by then;
		// otherwise sleep until the first buffered flit becomes ready.
		n.lastProgress = t
		nextReady = never
		for m := rt.nonempty; m != 0; m &= m - 1 {
			nextReady = min(nextReady, ins[bits.TrailingZeros64(m)].ready)
			if nextReady <= t+1 {
				nextReady = t + 1
				break
			}
		}
	}
	if nextReady < never {
		n.wakeRouterAt(r, nextReady)
	}
}

// allocMulticast gives VCs to the multicast heads waiting in the input
// VCs multi of router r, in round-robin order from the router's pointer,
// and reports whether it gave any.
//
// A tree multicast must never hold one branch while it waits for another:
// its flits leave the input buffer only when every branch has taken them,
// so a blocked branch would hold the others' VCs, and two trees forking
// towards each other (one going east, one west, both turning north) would
// wait on each other for ever. So a multicast head takes the VCs of all
// its branches at once or none, and only VCs whose downstream buffer has
// room for the whole packet (virtual cut-through): once it has them,
// every flit crosses to every branch as fast as the switch allows.
// Unicast packets keep wormhole flow control. Its ejection needs no VC:
// the NI takes every flit and reassembles packets by number, so a tree
// that has ejected part of a packet holds nothing another packet needs. The heads are served one by
// one, not by the separable allocator, whose independent output arbiters
// could hand each of two trees half of what it needs, cycle after cycle.
// They go before the unicast heads, which take the VCs left over.
func (n *Net) allocMulticast(r int, ins []inVC, multi uint64) bool {
	rt := &n.rt[r]
	got := false
	start := uint(rt.mcPtr)
	// Bits at or after the pointer first, then the rest.
	for _, m := range [2]uint64{multi >> start << start, multi & (1<<start - 1)} {
		for ; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			q := &ins[i]
			f := &n.buf[int(q.off)+int(q.head)]
			flits := n.pkts[f.pkt].flits
			var free [numPorts]uint8
			all := true
			links := q.outMask &^ (1 << portLocal)
			for need := links; need != 0 && all; need &= need - 1 {
				p := bits.TrailingZeros8(need)
				free[p] = n.classMask(r, p, f.pkt) &^ rt.ovBusy[p] & n.roomFor(rt, p, flits)
				all = free[p] != 0
			}
			if !all {
				continue
			}
			for need := links; need != 0; need &= need - 1 {
				p := bits.TrailingZeros8(need)
				vc := rotPick(uint(free[p]), int(q.vaPtr), n.v)
				rt.ovBusy[p] |= 1 << vc
				q.outVC[p] = uint8(vc)
			}
			q.vaMask, q.held = q.outMask, links
			q.vaPtr = uint8(inc(int(q.vaPtr), n.v))
			rt.mcPtr = uint8(inc(i, vcSlots))
			got = true
		}
	}
	return got
}

// roomFor is the VCs of output port p of router rt whose downstream
// buffer has credits for flits flits.
func (n *Net) roomFor(rt *router, p, flits int) uint8 {
	var m uint8
	for vc := range n.v {
		if int(rt.credit[p*maxVCs+vc]) >= flits {
			m |= 1 << vc
		}
	}
	return m
}

// rotate turns the k-bit mask m right by s, so that bit s comes first.
func rotate(m uint, s, k int) uint {
	// The masks tell the compiler that the shifts stay below 64.
	return (m>>(uint(s)&63) | m<<(uint(k-s)&63)) & (1<<(uint(k)&63) - 1)
}

// rotPick is the round-robin choice among the set bits of the k-bit mask
// m (not empty): the first at or after ptr, cyclically.
func rotPick(m uint, ptr, k int) int {
	i := ptr + bits.TrailingZeros(rotate(m, ptr, k))
	if i >= k {
		i -= k
	}
	return i
}

// inc is i+1 modulo k, for 0 ≤ i < k.
func inc(i, k int) int {
	if i++; i == k {
		return 0
	}
	return i
}

// wrap is d modulo k, for −k < d < k.
func wrap(d, k int) int {
	if d < 0 {
		return d + k
	}
	return d
}

// traverse sends the front flit of VC vc of input port ip of router r
// across the switch to the output ports in ports, which won switch
// allocation in cycle t.
func (n *Net) traverse(r, ip, vc int, ports uint8, t sim.Cycle) {
	rt := &n.rt[r]
	q := &n.in[r*vcSlots+ip*maxVCs+vc]
	f := n.buf[int(q.off)+int(q.head)]
	f.arrive = t + n.stLat + n.link
	for m := ports; m != 0; m &= m - 1 {
		p := bits.TrailingZeros8(m)
		ovc := int(q.outVC[p])
		if p == portLocal {
			// The ejection channel takes a link's latency and the NI
			// one more cycle to take the flit in.
			n.eject(r, &f, f.arrive+1)
			continue
		}
		rt.credit[p*maxVCs+ovc]--
		n.s.LinkFlits[4*r+p-1]++
		nb := int(n.nbr[r*numPorts+p])
		n.push(nb, opposite(p), ovc, f)
	}
	q.sent |= ports
	if q.sent == q.outMask {
		n.pop(r, ip, vc, t)
	}
}

// push writes f into VC vc of input port ip of router r; a flit that
// arrives at the front of an empty VC wakes the router when it is ready.
func (n *Net) push(r, ip, vc int, f flit) {
	i := ip*maxVCs + vc
	q := &n.in[r*vcSlots+i]
	k := int(q.head) + int(q.n)
	if k >= n.d {
		k -= n.d
	}
	n.buf[int(q.off)+k] = f
	q.n++
	n.inFlight++
	if q.n == 1 {
		n.rt[r].nonempty |= 1 << i
		q.ready = f.arrive + n.allocDelay
		n.wakeRouterAt(r, q.ready)
	}
}

// pop removes the front flit of VC vc of input port ip of router r in
// cycle t and returns its credit upstream. A tail frees the output VCs
// its packet held; the next packet's head then starts route computation
// in the next cycle.
func (n *Net) pop(r, ip, vc int, t sim.Cycle) {
	i := ip*maxVCs + vc
	q := &n.in[r*vcSlots+i]
	tail := n.buf[int(q.off)+int(q.head)].tail
	if q.head++; int(q.head) == n.d {
		q.head = 0
	}
	q.n--
	n.inFlight--
	q.sent = 0
	if tail {
		rt := &n.rt[r]
		for m := q.held; m != 0; m &= m - 1 {
			p := bits.TrailingZeros8(m)
			rt.ovBusy[p] &^= 1 << q.outVC[p]
		}
		q.outMask, q.vaMask, q.held = 0, 0, 0
	}
	if q.n == 0 {
		n.rt[r].nonempty &^= 1 << i
	} else if next := &n.buf[int(q.off)+int(q.head)]; next.head {
		q.ready = max(next.arrive, t+1) + n.allocDelay
	} else {
		q.ready = next.arrive + n.allocDelay
	}
	if ip == portLocal {
		n.at(t+1, wakeup{node: int32(r), kind: creditNI, vc: uint8(vc)})
		return
	}
	up := n.nbr[r*numPorts+ip]
	n.at(t+n.link, wakeup{node: up, kind: creditRouter, port: uint8(opposite(ip)), vc: uint8(vc)})
}

// eject hands flit f to the NI of router r, where it is taken in at cycle
// at; the tail completes the packet at this destination.
func (n *Net) eject(r int, f *flit, at sim.Cycle) {
	n.s.FlitsOut++
	if !f.tail {
		return
	}
	pk := &n.pkts[f.pkt]
	lat, hops := int64(at-pk.created), n.hops(pk.src, r)
	n.s.record(lat, hops)
	if pk.measured {
		n.meas.record(lat, hops)
	}
	pk.pending--
	if pk.pending > 0 {
		return
	}
	if pk.measured {
		n.measOut--
	}
	b := &n.bundles[pk.bundle]
	b.left--
	if b.left == 0 {
		if b.done != nil {
			n.eng.Schedule(at, b.done, nil)
		}
		b.done = nil
		n.freeBndl = append(n.freeBndl, pk.bundle)
	}
	pk.dsts = nil
	n.freePkt = append(n.freePkt, f.pkt)
}

// evalNI lets NI i inject the next flit of its current packet, or start
// the next packet on a VC with a credit, in cycle t.
func (n *Net) evalNI(i int, t sim.Cycle) {
	ni := &n.nis[i]
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
		ni.next, ni.vc, ni.rr = 0, vc, inc(vc, n.v)
		n.s.Packets++
	}
	if ni.credit[ni.vc] <= 0 {
		return
	}
	ni.credit[ni.vc]--
	pk := &n.pkts[ni.cur]
	f := flit{arrive: t + 1, pkt: ni.cur, dst: int16(pk.dst), head: ni.next == 0, tail: ni.next == pk.flits-1}
	n.push(i, portLocal, ni.vc, f)
	n.s.Flits++
	ni.sentAt = t + 1
	n.lastProgress = t
	ni.next++
	if f.tail {
		ni.cur = -1
		n.queued--
	}
	ni.pending = ni.cur >= 0 || ni.qhead < len(ni.queue)
	if ni.pending {
		n.wakeNIAt(i, t+1)
	}
}

// routeMask is the set of output ports packet pk takes at router r: one
// port for a unicast packet, the branches of its XY (or YX) tree for a
// tree multicast.
func (n *Net) routeMask(r int, f *flit) uint8 {
	if f.dst >= 0 {
		return 1 << n.route(r, int(f.dst))
	}
	pk := &n.pkts[f.pkt]
	var m uint8
	for _, d := range pk.dsts {
		if n.g.onPath(pk.src, d, r) {
			m |= 1 << n.g.route(r, d)
		}
	}
	return m
}

// route is topo.route from precomputed coordinates, without divisions: it
// runs once per head flit per router.
func (n *Net) route(r, dst int) int {
	g := &n.g
	return dimensionOrderPort(n.delta(int(n.nodeX[r]), int(n.nodeX[dst]), g.w), n.delta(int(n.nodeY[r]), int(n.nodeY[dst]), g.h), g.yx)
}

// hops is topo.hops from precomputed coordinates.
func (n *Net) hops(src, dst int) int {
	return abs(n.delta(int(n.nodeX[src]), int(n.nodeX[dst]), n.g.w)) + abs(n.delta(int(n.nodeY[src]), int(n.nodeY[dst]), n.g.h))
}

// delta is step(a, b, k, torus) for 0 ≤ a, b < k.
func (n *Net) delta(a, b, k int) int {
	d := b - a
	if !n.g.torus {
		return d
	}
	if d < 0 {
		d += k
	}
	if d > k/2 {
		d -= k
	}
	return d
}

// classMask is the VCs packet id may take on output port p of router r:
// all of them on a mesh and towards the NI, on a torus the half that
// belongs to its dateline class.
func (n *Net) classMask(r, p int, id int32) uint8 {
	all := uint8(1<<n.v - 1)
	if !n.g.torus || p == portLocal {
		return all
	}
	low := uint8(1<<(n.v/2) - 1)
	if n.noDateline || n.g.vcClass(n.pkts[id].src, r, p) == 0 {
		return low
	}
	return all &^ low
}
