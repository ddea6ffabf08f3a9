package noc

import (
	"math/bits"

	"github.com/nmsim/nmsim/sim"
)

// maxVCs is the most VCs per port; a router's input VCs are numbered
// port·maxVCs + vc, so that their set fits one uint64 and the port and VC
// of a bit are a shift and a mask away.
const (
	maxVCs  = 8
	vcSlots = numPorts * maxVCs
)

// router is one router's allocation state.
type router struct {
	rdy uint64 // input VCs whose front flit is ready for allocation
	// Per port (arrays of 8, indexed by port&7, so that no bounds check
	// is needed on the hot path): the output VCs held by a packet, the
	// round-robin pointers of an input port over its VCs and of an output
	// port over input ports.
	ovBusy [8]uint8
	saIn   [8]uint8
	saOut  [8]uint8
	mcPtr  uint8 // round-robin pointer over input VCs for multicast heads
	// Per output VC (port·maxVCs + vc): credits for the downstream buffer,
	// and the round-robin pointer over input VCs of its VC arbiter.
	credit   [vcSlots]int16
	vaOutPtr [vcSlots]uint8
}

// inVC is one input virtual channel: a ring of flits in buf and the state
// of the packet at its front.
type inVC struct {
	ready   sim.Cycle // the cycle from which the front flit may be allocated (its bit in router.rdy is set then)
	off     int32     // its ring's offset in buf
	head, n uint8     // ring position of the front flit, flits held
	outMask uint8     // output ports of the front packet (0: not routed yet)
	vaMask  uint8     // those ports that hold an output VC
	sent    uint8     // those ports the front flit has crossed the switch to
	vaPtr   uint8     // round-robin pointer over output VCs
	held    uint8     // the output ports whose VC the front packet holds
	outVC   [numPorts]uint8
}

// flit is one buffered flit; arrive is the cycle it is written into the
// buffer (it is put there when it leaves the upstream switch, which the
// credit it used already reserved).
type flit struct {
	arrive     sim.Cycle
	pkt        int32
	dst        int16 // of a unicast packet, so routing need not look it up; -1 for a tree
	head, tail bool
}

// evalRouter runs one cycle of router r (rt), which has ready input VCs
// (the cycle loop evaluates a sole ready VC itself, by evalSole, and the
// VCs of one input port, by evalStream, where they can): route
// computation and VC allocation for the packets at the front of their
// input VCs (allocVCs), then switch allocation (allocSwitch), and the
// winners cross the switch (traverse); or the same result by a shortcut
// without the whole router's request records (evalApart for VCs on
// distinct ports). With combined
// allocation a head flit may win its VC and the switch in the same cycle
// (a VA+SA stage); with separate allocation it holds the VC it won and
// enters switch allocation in the next cycle.
//
// Only input VCs whose front flit is ready are looked at: a VC's bit in
// router.rdy is set by a wake-up at the cycle its front flit becomes
// ready. A router that moved something is looked at again next cycle if
// it still has ready flits; one that moved nothing cannot change until a
// credit arrives or another front flit becomes ready (both wake it), so it
// sleeps until then.
func (n *Net) evalRouter(r int, rt *router, t sim.Cycle) {
	ins := n.in[r*vcSlots : (r+1)*vcSlots]
	var moved, done bool
	if n.allocatorsOnly {
		// A test compares the shortcuts with the allocators.
	} else if onePerPort(rt.rdy) && n.apart(r, ins, rt.rdy) {
		moved, done = n.evalApart(r, rt, ins, t), true
	}
	if !done {
		var sw swReqs
		moved = n.allocVCs(r, rt, ins, rt.rdy, &sw, t)
		grants := n.allocSwitch(rt, &sw)
		for m := grants; m != 0; {
			b := bits.TrailingZeros64(m) &^ 7
			g := uint8(m >> b)
			m &^= 0xff << b
			n.traverse(r, rt, &ins[b|int(g>>5)], b>>3, int(g>>5), g&(1<<numPorts-1), t)
		}
		moved = moved || grants != 0
	}
	if moved {
		n.lastProgress = t
	}
	n.next.addIf(r, b2u(moved && rt.rdy != 0))
}

// evalSole is evalRouter for a router whose only ready input VC is i,
// when the flit at its front is a unicast one or holds the VC of one
// output port (it reports false, having changed nothing, for a tree
// multicast's head or a flit bound for several ports): the usual case at
// low load and inside a chip run, where a router holds one flit when it
// is evaluated. The allocators' sole-requester paths, without the request
// records that arbitration among several needs; the result is the same
// (switch allocation treats a flit with one port alike whatever its
// packet).
func (n *Net) evalSole(r int, rt *router, i int, t sim.Cycle) bool {
	q := &n.in[r*vcSlots+i]
	won := false
	if e := q.vaMask; e&(e-1) != 0 {
		return false
	} else if e == 0 {
		f := &n.buf[int(q.off)+int(q.head)]
		if f.dst < 0 {
			return false
		}
		if !n.grantHead(r, rt, q, f, i, t) {
			return true // no free VC: nothing moves
		}
		won = true
	}
	// A VC won this cycle waits for the next with separate allocation;
	// then crossSole's work, without a call.
	if p := bits.TrailingZeros8(q.vaMask) & 7; !(won && n.separate) && rt.credit[p*maxVCs+int(q.outVC[p])] > 0 {
		ip, vc := int(uint(i)/maxVCs), int(uint(i)%maxVCs)
		rt.grantSwitch(ip, vc, p, n.v)
		n.traverse(r, rt, q, ip, vc, 1<<p, t)
	} else if !won {
		return true // a full downstream buffer waits for a credit
	}
	n.lastProgress = t
	n.next.addIf(r, b2u(rt.rdy != 0))
	return true
}

// evalStream is evalRouter for a router whose ready input VCs are all on
// input port b/maxVCs, hold unicast packets at their fronts or VCs of one
// output port, and of which at most one is a head waiting for its VC (it
// reports false, having changed nothing, otherwise): a stream of packets
// from one NI or link in alternate VCs. A head alone in asking for VCs
// gets the first free one of its class at or after its pointer
// (grantHead); then the VCs with a credit request the switch (with
// separate allocation not the one that has just won its VC), and the one
// the port's arbiter picks wins its port (allocSwitch's first case),
// without the whole router's request records.
func (n *Net) evalStream(r int, rt *router, b int, t sim.Cycle) bool {
	m := uint(rt.rdy >> b)
	ins := n.in[r*vcSlots+b : r*vcSlots+b+maxVCs]
	var cand uint
	head := -1
	for k := m; k != 0; k &= k - 1 {
		vc := bits.TrailingZeros(k) & 7
		q := &ins[vc]
		e := q.vaMask
		if e == 0 && head < 0 {
			head = vc
			continue
		}
		if e&(e-1) != 0 || e == 0 {
			return false // a flit bound for several ports, or a second head
		}
		p := bits.TrailingZeros8(e) & 7
		cand |= uint(b2u(rt.credit[p*maxVCs+int(q.outVC[p])] > 0)) << vc
	}
	won := false
	if head >= 0 {
		q := &ins[head&7]
		f := &n.buf[int(q.off)+int(q.head)]
		if f.dst < 0 {
			return false // a tree multicast's head
		}
		if won = n.grantHead(r, rt, q, f, b+head, t); won && !n.separate {
			p := bits.TrailingZeros8(q.vaMask) & 7
			cand |= uint(b2u(rt.credit[p*maxVCs+int(q.outVC[p])] > 0)) << head
		}
	}
	if cand != 0 {
		ip := b >> 3
		vc := rotPick(cand, int(rt.saIn[ip&7]), n.v)
		q := &ins[vc&7]
		p := bits.TrailingZeros8(q.vaMask) & 7
		rt.grantSwitch(ip, vc, p, n.v)
		n.traverse(r, rt, q, ip, vc, 1<<p, t)
	} else if !won {
		return true // all wait for credits or VCs: nothing moves
	}
	n.lastProgress = t
	n.next.addIf(r, b2u(rt.rdy != 0))
	return true
}

// evalApart is evalRouter for a router whose ready input VCs (ins) hold
// unicast packets at their fronts, no two on one input port or bound for
// one output port (onePerPort and apart say so). Then no arbiter has a
// choice: every head that finds a free VC wins it, and every request for
// the switch wins it, so each VC goes through the allocators'
// sole-requester paths on its own, all VC allocation first and then the
// switch, in the order of the input VCs, as allocVCs, allocSwitch and the
// traversals would have it. It reports whether anything moved.
func (n *Net) evalApart(r int, rt *router, ins []inVC, t sim.Cycle) (moved bool) {
	ready := rt.rdy
	var won uint64
	for m := ready; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if q := &ins[i]; q.vaMask == 0 && n.grantHead(r, rt, q, &n.buf[int(q.off)+int(q.head)], i, t) {
			won |= 1 << i
		}
	}
	// A VC won this cycle waits for the next with separate allocation.
	if n.separate {
		ready &^= won
	}
	for m := ready; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if q := &ins[i]; q.vaMask != 0 {
			moved = n.crossSole(r, rt, q, i, t) || moved
		}
	}
	return moved || won != 0
}

// grantHead gives the unicast head f at the front of input VC i (q) of
// router r (rt), alone in asking for its output port, the first free VC of
// its class there at or after its pointer, if there is one, in cycle t,
// and reports whether it did.
func (n *Net) grantHead(r int, rt *router, q *inVC, f *flit, i int, t sim.Cycle) bool {
	// freeVCs and grantVC written out: on this path (every head in a
	// chip run) their calls cost more than their work.
	if q.outMask == 0 {
		q.outMask = 1 << n.route(r, int(f.dst))
	}
	p := bits.TrailingZeros8(q.outMask) & 7
	free := n.vMask &^ rt.ovBusy[p]
	if n.g.torus {
		free &= n.classMask(r, p, f.pkt)
	}
	if free == 0 {
		return false
	}
	vc := rotPick(uint(free), int(q.vaPtr), n.v)
	rt.ovBusy[p] |= 1 << vc
	q.outVC[p] = uint8(vc)
	q.vaMask, q.held = q.outMask, q.outMask
	q.vaPtr = uint8(inc(vc, n.v))
	rt.vaOutPtr[p*maxVCs+vc] = uint8(inc(i, vcSlots))
	if n.gobs != nil {
		n.gobs.Granted(f.pkt, r, t)
	}
	return true
}

// crossSole sends the unicast flit at the front of input VC i (q) of
// router r (rt), which holds its output VC and is alone in asking for its
// input and output ports, across the switch in cycle t if the downstream
// buffer has a credit, and reports whether it did. A unicast flit has one
// port and has crossed to none yet.
func (n *Net) crossSole(r int, rt *router, q *inVC, i int, t sim.Cycle) bool {
	p := bits.TrailingZeros8(q.vaMask) & 7
	if rt.credit[p*maxVCs+int(q.outVC[p])] <= 0 {
		return false // a full downstream buffer waits for a credit
	}
	ip, vc := int(uint(i)/maxVCs), int(uint(i)%maxVCs)
	rt.grantSwitch(ip, vc, p, n.v)
	n.traverse(r, rt, q, ip, vc, 1<<p, t)
	return true
}

// grantSwitch moves the round-robin pointers of router rt past VC vc of
// input port ip, which won output port p (of v VCs a port).
func (rt *router) grantSwitch(ip, vc, p, v int) {
	rt.saOut[p&7] = uint8(inc(ip, numPorts))
	rt.saIn[ip&7] = uint8(inc(vc, v))
}

// onePerPort reports whether the set of input VCs vcs has at most one VC
// of each input port (a byte each), without a loop: the bytes that hold a
// VC, counted by their top bits, are as many as the VCs.
func onePerPort(vcs uint64) bool {
	const low7, top = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	held := ((vcs & low7) + low7 | vcs) & top
	return bits.OnesCount64(held) == bits.OnesCount64(vcs)
}

// apart reports whether the input VCs ready of router r (ins), one per
// input port, hold unicast packets at their fronts, no two bound for one
// output port, routing the heads that are not routed yet.
func (n *Net) apart(r int, ins []inVC, ready uint64) bool {
	var out uint8 // the output ports seen
	for m := ready; m != 0; m &= m - 1 {
		q := &ins[bits.TrailingZeros64(m)]
		f := &n.buf[int(q.off)+int(q.head)]
		if f.dst < 0 {
			return false
		}
		if q.outMask == 0 {
			q.outMask = 1 << n.route(r, int(f.dst))
		}
		if out&q.outMask != 0 {
			return false
		}
		out |= q.outMask
	}
	return true
}

// traverse sends the front flit of VC vc of input port ip of router r
// (rt) across the switch to the output ports in ports, which won switch
// allocation in cycle t. A flit that has crossed to all its ports leaves
// the buffer (popped): its credit goes upstream, and a tail frees the
// output VCs its packet held, so that the next packet's head starts route
// computation in the next cycle. A next front flit that is not ready by
// the next cycle leaves the router's ready set until it is. (One function,
// the write into the next router's buffer included, not four: the calls,
// and the registers saved around them, cost more than the work.)
func (n *Net) traverse(r int, rt *router, q *inVC, ip, vc int, ports uint8, t sim.Cycle) {
	i := ip*maxVCs + vc
	f := n.buf[int(q.off)+int(q.head)]
	f.arrive = t + n.hopLat
	if ports&(1<<portLocal) != 0 {
		// The ejection channel takes a link's latency and the NI one
		// more cycle to take the flit in; the tail completes the packet.
		n.s.FlitsOut++
		if f.tail {
			n.eject(r, f.pkt, f.arrive+1)
		}
	}
	for m := ports &^ (1 << portLocal); m != 0; m &= m - 1 {
		p := bits.TrailingZeros8(m) & 7
		ovc := int(q.outVC[p])
		rt.credit[p*maxVCs+ovc]--
		n.s.LinkFlits[4*r+p-1]++
		nb := int(n.nbr[r*numPorts+p])
		// The write into VC ovc of the opposite input port of router
		// nb (push).
		j := opposite(p)*maxVCs + ovc
		if d := &n.in[nb*vcSlots+j]; n.put(d, &f) {
			n.front(nb, j, d, f.arrive)
		}
		if n.bufObs != nil {
			n.buffered(nb, t)
		}
		if n.linkObs != nil {
			n.linkObs.Crossed(r, nb, t+n.stLat, f.arrive)
		}
	}
	if q.sent |= ports; q.sent != q.outMask {
		return
	}
	// Pop.
	q.head = uint8((int(q.head) + 1) & n.ringMask)
	q.n--
	n.inFlight--
	if n.bufObs != nil {
		n.buffered(r, t)
	}
	q.sent = 0
	if f.tail {
		for m := q.held; m != 0; m &= m - 1 {
			p := bits.TrailingZeros8(m) & 7
			rt.ovBusy[p] &^= 1 << (q.outVC[p] & 7)
		}
		q.outMask, q.vaMask, q.held = 0, 0, 0
	}
	if bit := uint64(1) << (uint(i) & 63); q.n == 0 {
		rt.rdy &^= bit
	} else {
		next := &n.buf[int(q.off)+int(q.head)]
		q.ready = next.arrive + n.allocDelay
		if next.head {
			q.ready = max(next.arrive, t+1) + n.allocDelay
		}
		if q.ready > t+1 {
			rt.rdy &^= bit
			n.wh.at(vcReady, q.ready, int32(r<<6|i))
		}
	}
	// The credit goes upstream, to a router or (from the local port) the
	// NI, by tables.
	x, k := n.credTo[r*numPorts+ip]+int32(vc), int(n.credKind[ip&7])
	if !n.credNear {
		n.wh.at(k, t+n.credLat[ip&7], x)
		return
	}
	// Due next cycle: on a list, not the wheel. (A router before this
	// one in the cycle's order could take it at once, but whether it is
	// before is a coin toss for the branch predictor: 4.8 against 4.4 %
	// mispredicted branches at 8×8 and 0.2, 2 % more CPU time.)
	n.credAt = t + 1
	l := &n.credNext[(k-creditRouter)&1]
	*l = append(*l, x)
}

// put writes f at the back of input VC q's ring and reports whether it
// is the front flit (the VC was empty). Small enough to be inlined.
func (n *Net) put(q *inVC, f *flit) bool {
	*n.back(q) = *f
	q.n++
	n.inFlight++
	return q.n == 1
}

// back is the slot behind the flits input VC q holds.
func (n *Net) back(q *inVC) *flit {
	return &n.buf[int(q.off)+(int(q.head)+int(q.n))&n.ringMask]
}

// front files the flit that arrives at cycle at at the front of the empty
// input VC i (q) of router r to become ready, and wake the router, at the
// end of its route computation.
func (n *Net) front(r, i int, q *inVC, at sim.Cycle) {
	q.ready = at + n.allocDelay
	n.wh.at(vcReady, q.ready, int32(r<<6|i))
}

// buffered tells the buffer observer how many flits router r's input buffers
// hold, counting those on a link into them.
func (n *Net) buffered(r int, t sim.Cycle) {
	held := 0
	for _, q := range n.in[r*vcSlots : (r+1)*vcSlots] {
		held += int(q.n)
	}
	n.bufObs.Buffered(r, held, t)
}
