package noc

import (
	"math/bits"

	"github.com/nmsim/nmsim/sim"
)

// The allocators are separable and input-first (BookSim's
// separable_input_first): a first stage of arbiters per input picks one
// request, a second per output grants one of the requests it received.
// Every arbiter is round-robin with a pointer that moves only on a grant,
// past the winner. VC sets are bit masks (a port has at most 8 VCs, a
// router 5 ports), and an arbiter is a rotation of its request mask
// followed by a count of trailing zeros.

// swReqs is what switch allocation needs of a router's input VCs, found
// while VC allocation walks them: the input VCs that request the switch
// (bits of cand: a front flit that holds output VCs, with a credit on a
// port it has not crossed to yet) and, for each, those ports. Switch
// allocation then picks among them without looking at a VC again.
type swReqs struct {
	cand  uint64
	ports [vcSlots]uint8 // valid where cand has the bit
}

// request files input VC i (q) of router rt if its front flit has an
// output VC with a credit on a port it has not yet crossed to (wants).
func (sw *swReqs) request(rt *router, q *inVC, i int) {
	e := wants(rt, q)
	sw.cand |= b2u(e != 0) << (uint(i) & 63)
	sw.ports[i] = e
}

// wants is the ports that input VC q of router rt requests the switch
// for: those its front flit holds an output VC on, has not crossed to
// yet, and has a credit on; without a branch on the credit for a unicast
// flit (one port), a multicast flit's ports checked by credited.
func wants(rt *router, q *inVC) uint8 {
	e := q.vaMask &^ q.sent
	if e&(e-1) != 0 {
		return credited(rt, q, e)
	}
	// e == 0 reads the local port's credit and keeps e == 0.
	p := bits.TrailingZeros8(e) & 7
	return e & -uint8(b2u(rt.credit[p*maxVCs+int(q.outVC[p])] > 0))
}

// credited is the ports in e on which the output VCs of input VC q of
// router rt have a credit.
func credited(rt *router, q *inVC, e uint8) uint8 {
	for m := e; m != 0; m &= m - 1 {
		p := bits.TrailingZeros8(m)
		if rt.credit[p*maxVCs+int(q.outVC[p])] <= 0 {
			e &^= 1 << p
		}
	}
	return e
}

// allocVCs is the route computation and VC allocation stage of router r
// (rt, its input VCs ins) in cycle t, among the input VCs ready, whose
// front flits are ready. It files in sw the switch requests of the input
// VCs that go on to switch allocation this cycle (with separate
// allocation, not those whose heads win their VCs now) and returns
// whether any head won its VCs.
//
// Stage 1: each ready unicast head picks the first free VC of its class
// on its output port at or after its own pointer. Stage 2: each requested
// output VC grants one requester. A front flit that holds its VCs is not a
// head in waiting: body flits follow a head that has crossed to all its
// ports. A unicast packet takes an ejection VC too, which bounds how many
// packets interleave into one NI, as in BookSim; a multicast needs none
// (allocMulticast), and multicast heads go first.
func (n *Net) allocVCs(r int, rt *router, ins []inVC, ready uint64, sw *swReqs, t sim.Cycle) (moved bool) {
	v := n.v
	var multi uint64
	var touched [vcSlots]uint8 // output VCs requested
	nt := 0
	for m := ready; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		q := &ins[i]
		if q.vaMask != 0 {
			sw.request(rt, q, i)
			continue
		}
		f := &n.buf[int(q.off)+int(q.head)]
		if f.dst < 0 {
			if q.outMask == 0 {
				q.outMask = n.routeMask(r, f)
			}
			multi |= 1 << i
			continue
		}
		p, free := n.freeVCs(r, rt, q, f)
		if free == 0 {
			continue
		}
		o := p*maxVCs + rotPick(uint(free), int(q.vaPtr), v)
		if ready&(ready-1) == 0 {
			// The only head asking (a router usually holds one flit
			// when it is evaluated): no arbitration.
			n.grantVC(r, rt, q, i, o, t)
			n.requestIfCombined(sw, rt, q, i)
			moved = true
			continue
		}
		best := n.vaBest[o]
		if best < 0 {
			touched[nt] = uint8(o)
			nt++
			n.vaBest[o] = int8(i)
			continue
		}
		ptr := int(rt.vaOutPtr[o])
		if wrap(i-ptr, vcSlots) < wrap(int(best)-ptr, vcSlots) {
			n.vaBest[o] = int8(i)
		}
	}
	if multi != 0 {
		won := n.allocMulticast(r, ins, multi, t)
		moved = won != 0
		for m := won; m != 0 && !n.separate; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			sw.request(rt, &ins[i], i)
		}
	}
	for _, o8 := range touched[:nt] {
		o := int(o8)
		i := int(n.vaBest[o])
		n.vaBest[o] = -1
		if rt.ovBusy[uint(o)/maxVCs]&(1<<(uint(o)%maxVCs)) != 0 {
			continue // a multicast took it first
		}
		n.grantVC(r, rt, &ins[i], i, o, t)
		n.requestIfCombined(sw, rt, &ins[i], i)
		moved = true
	}
	return moved
}

// freeVCs is the output port of the unicast head f at the front of input
// VC q of router r (rt), routed once, and the VCs of its class there that
// no packet holds.
func (n *Net) freeVCs(r int, rt *router, q *inVC, f *flit) (p int, free uint8) {
	if q.outMask == 0 {
		q.outMask = 1 << n.route(r, int(f.dst))
	}
	p = bits.TrailingZeros8(q.outMask) & 7
	free = n.vMask &^ rt.ovBusy[p]
	if n.g.torus {
		free &= n.classMask(r, p, f.pkt)
	}
	return p, free
}

// grantVC gives output VC o of router r (rt) to the head at input VC i
// (q) in cycle t.
func (n *Net) grantVC(r int, rt *router, q *inVC, i, o int, t sim.Cycle) {
	p, vc := uint(o)/maxVCs, uint(o)%maxVCs
	rt.ovBusy[p] |= 1 << vc
	q.outVC[p] = uint8(vc)
	q.vaMask, q.held = q.outMask, q.outMask
	q.vaPtr = uint8(inc(int(vc), n.v))
	rt.vaOutPtr[o] = uint8(inc(i, vcSlots))
	if n.gobs != nil {
		n.gobs.Granted(n.buf[int(q.off)+int(q.head)].pkt, r, t)
	}
}

// requestIfCombined files the switch request of input VC i (q), whose
// head has just won its VC, with combined allocation: the winner requests
// the switch in the same cycle. With separate allocation it holds its VC
// and requests the switch from the next cycle.
func (n *Net) requestIfCombined(sw *swReqs, rt *router, q *inVC, i int) {
	if !n.separate {
		sw.request(rt, q, i)
	}
}

// allocSwitch is the switch allocation stage of router rt among the
// requests sw. Stage 1: each input port picks one of its requesting VCs,
// round-robin. Stage 2: each output port grants one input port. It
// returns the grants, a byte per input port (byte ip of grants): the
// output ports it won in the low numPorts bits (a multicast flit may win
// several at once: the crossbar copies it), the VC that won them in the
// top three; a byte is 0 for an input port that won nothing. Bit masks,
// not arrays, so that the caller walks the grants without a loop over
// ports.
func (n *Net) allocSwitch(rt *router, sw *swReqs) (grants uint64) {
	v := n.v
	// reqs has bit 8·op + ip for a request of input port ip for output
	// port op; want the requesting VC of input port ip in bits 8·ip+5….
	if c := sw.cand; c == 0 {
		return 0
	} else if b := bits.TrailingZeros64(c) &^ 7; c>>b < 1<<maxVCs {
		// Requests from one input port only (a router usually holds one
		// flit when it is evaluated, and inside a chip run often two
		// packets in the VCs of one port): the VC its arbiter picks wins
		// every port it asks for, there being no other input to compete.
		ip := b >> 3
		vc := rotPick(uint(c>>b), int(rt.saIn[ip&7]), v)
		e := sw.ports[b+vc]
		for m := e; m != 0; m &= m - 1 {
			rt.saOut[bits.TrailingZeros8(m)&7] = uint8(inc(ip, numPorts))
		}
		rt.saIn[ip&7] = uint8(inc(vc, v))
		return uint64(e|uint8(vc)<<5) << (8 * ip)
	}
	var reqs, want uint64
	for m := sw.cand; m != 0; {
		b := bits.TrailingZeros64(m) &^ 7
		ip := b >> 3
		vcs := uint(m>>b) & (1<<maxVCs - 1)
		m &^= 0xff << b
		vc := rotPick(vcs, int(rt.saIn[ip&7]), v)
		want |= uint64(vc) << (b + 5)
		for e := sw.ports[b+vc]; e != 0; e &= e - 1 {
			reqs |= 1 << (8*bits.TrailingZeros8(e) + ip)
		}
	}
	for m := reqs; m != 0; {
		b := bits.TrailingZeros64(m) &^ 7
		op := b >> 3 & 7
		ip := rotPick(uint(m>>b)&(1<<numPorts-1), int(rt.saOut[op]), numPorts)
		m &^= 0xff << b
		grants |= 1 << (8*ip + op)
		rt.saOut[op] = uint8(inc(ip, numPorts))
	}
	for m := grants; m != 0; {
		b := bits.TrailingZeros64(m) &^ 7
		m &^= 0xff << b
		vc := int(want>>(b+5)) & (maxVCs - 1)
		grants |= uint64(vc) << (b + 5)
		rt.saIn[b>>3&7] = uint8(inc(vc, v))
	}
	return grants
}

// allocMulticast gives VCs to the multicast heads waiting in the input
// VCs multi of router r, in round-robin order from the router's pointer,
// and returns the input VCs whose heads it gave them to.
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
// that has ejected part of a packet holds nothing another packet needs.
// The heads are served one by one, not by the separable allocator, whose
// independent output arbiters could hand each of two trees half of what it
// needs, cycle after cycle. They go before the unicast heads, which take
// the VCs left over.
func (n *Net) allocMulticast(r int, ins []inVC, multi uint64, t sim.Cycle) uint64 {
	rt := &n.rt[r]
	var got uint64
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
			got |= 1 << i
			if n.gobs != nil {
				n.gobs.Granted(f.pkt, r, t)
			}
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
// m (not empty), 1 ≤ k ≤ maxVCs: the first at or after ptr, cyclically.
// A table lookup: the arbiters run several times per flit-hop.
func rotPick(m uint, ptr, k int) int {
	return int(pickTable[(k-1)&(maxVCs-1)][ptr&(maxVCs-1)][m&(1<<maxVCs-1)])
}

// pickTable is rotPick for every k, pointer and mask.
var pickTable = func() (t [maxVCs][maxVCs][1 << maxVCs]uint8) {
	for k := 1; k <= maxVCs; k++ {
		for ptr := range k {
			for m := uint(1); m < 1<<k; m++ {
				t[k-1][ptr][m] = uint8(mod1(ptr+bits.TrailingZeros(rotate(m, ptr, k)), k))
			}
		}
	}
	return t
}()

// inc is i+1 modulo k, for 0 ≤ i < k.
func inc(i, k int) int { return mod1(i+1, k) }

// mod1 is i modulo k for 0 ≤ i < 2k, without a branch: the allocators'
// pointers wrap at random, so a branch would be mispredicted often.
func mod1(i, k int) int { return i - k&((k-1-i)>>63) }

// wrap is d modulo k, for −k < d < k.
func wrap(d, k int) int { return d + k&(d>>63) }
