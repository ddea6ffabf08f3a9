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
// it sleeps until then; if something moved, it looks again next cycle.
func (n *Net) evalRouter(r int, t sim.Cycle) {
	mask := n.nonempty[r]
	if mask == 0 {
		return
	}
	base := r * numPorts * n.v
	pv := numPorts * n.v
	nextReady := sim.Cycle(1<<63 - 1)
	moved := false

	// VC allocation. Stage 1: each head flit that is ready picks, for each
	// output port it still needs, the first free VC of its class after its
	// pointer. Stage 2: each requested output VC grants one requester.
	n.vaTouched = n.vaTouched[:0]
	for m := mask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		iv := base + i
		if n.ready[iv] > t {
			nextReady = min(nextReady, n.ready[iv])
			continue
		}
		f := &n.buf[iv*n.d+int(n.bufHead[iv])]
		if !f.head {
			continue
		}
		if n.outMask[iv] == 0 {
			n.outMask[iv] = n.routeMask(r, f.pkt)
		}
		for need := n.outMask[iv] &^ n.vaMask[iv]; need != 0; need &= need - 1 {
			p := bits.TrailingZeros8(need)
			lo, hi := n.vcRange(r, p, f.pkt)
			ob := (r*numPorts + p) * n.v
			for k := range n.v {
				vc := (int(n.vaPtr[iv]) + k) % n.v
				if vc < lo || vc >= hi || n.owner[ob+vc] >= 0 {
					continue
				}
				o := p*n.v + vc
				best := n.vaBest[o]
				if best < 0 {
					n.vaTouched = append(n.vaTouched, o)
				}
				ptr := int(n.vaOutPtr[ob+vc])
				if best < 0 || (i-ptr+pv)%pv < (int(best)-ptr+pv)%pv {
					n.vaBest[o] = int16(i)
				}
				break
			}
		}
	}
	for _, o := range n.vaTouched {
		i := int(n.vaBest[o])
		n.vaBest[o] = -1
		p, vc := o/n.v, o%n.v
		iv := base + i
		n.owner[base+o] = int16(i)
		n.outVC[iv*numPorts+p] = int8(vc)
		n.vaMask[iv] |= 1 << p
		n.vaPtr[iv] = uint8((vc + 1) % n.v)
		n.vaOutPtr[base+o] = uint8((i + 1) % pv)
		moved = true
	}

	// Switch allocation. Stage 1: each input port picks one of its VCs
	// whose front flit is ready and has an output VC with a credit on a
	// port it has not yet crossed to. Stage 2: each output port grants one
	// input port. A multicast flit may win several output ports at once
	// (the crossbar copies it); it leaves its buffer when it has crossed
	// to every port of its packet.
	var want [numPorts]uint8
	var wantVC [numPorts]int
	vmask := uint64(1)<<n.v - 1
	for ip := range numPorts {
		pm := mask >> (ip * n.v) & vmask
		if pm == 0 {
			continue
		}
		sp := r*numPorts + ip
		for k := range n.v {
			vc := (int(n.saIn[sp]) + k) % n.v
			iv := base + ip*n.v + vc
			if pm&(1<<vc) == 0 || n.ready[iv] > t {
				continue
			}
			e := n.vaMask[iv] &^ n.sent[iv]
			for m := e; m != 0; m &= m - 1 {
				p := bits.TrailingZeros8(m)
				if n.credit[(r*numPorts+p)*n.v+int(n.outVC[iv*numPorts+p])] <= 0 {
					e &^= 1 << p
				}
			}
			if e != 0 {
				want[ip], wantVC[ip] = e, vc
				break
			}
		}
	}
	var grant [numPorts]uint8
	for op := range numPorts {
		sp := r*numPorts + op
		for k := range numPorts {
			ip := (int(n.saOut[sp]) + k) % numPorts
			if want[ip]&(1<<op) != 0 {
				grant[ip] |= 1 << op
				n.saOut[sp] = uint8((ip + 1) % numPorts)
				break
			}
		}
	}
	for ip, g := range grant {
		if g == 0 {
			continue
		}
		n.saIn[r*numPorts+ip] = uint8((wantVC[ip] + 1) % n.v)
		n.traverse(r, ip, base+ip*n.v+wantVC[ip], g, t)
		moved = true
	}

	if moved {
		n.lastProgress = t
		n.wakeRouterAt(r, t+1)
	} else if nextReady < 1<<63-1 {
		n.wakeRouterAt(r, nextReady)
	}
}

// traverse sends the front flit of input VC iv of router r (input port ip)
// across the switch to the output ports in ports, which won switch
// allocation in cycle t.
func (n *Net) traverse(r, ip, iv int, ports uint8, t sim.Cycle) {
	f := n.buf[iv*n.d+int(n.bufHead[iv])]
	arrive := t + n.stLat + n.link
	for m := ports; m != 0; m &= m - 1 {
		p := bits.TrailingZeros8(m)
		vc := int(n.outVC[iv*numPorts+p])
		if p == portLocal {
			// The ejection channel takes a link's latency and the NI
			// one more cycle to take the flit in.
			n.eject(r, f, arrive+1)
			continue
		}
		n.credit[(r*numPorts+p)*n.v+vc]--
		n.s.LinkFlits[4*r+p-1]++
		nb := n.g.neighbour(r, p)
		f.arrive = arrive
		n.push((nb*numPorts+opposite(p))*n.v+vc, nb, f)
	}
	n.sent[iv] |= ports
	if n.sent[iv] == n.outMask[iv] {
		n.pop(r, ip, iv, t)
	}
}

// push writes f into input VC iv of router r; a flit that arrives at the
// front of an empty VC wakes the router when it is ready.
func (n *Net) push(iv, r int, f flit) {
	k := int(n.bufLen[iv])
	n.buf[iv*n.d+(int(n.bufHead[iv])+k)%n.d] = f
	n.bufLen[iv]++
	n.inFlight++
	if k == 0 {
		n.nonempty[r] |= 1 << (iv - r*numPorts*n.v)
		n.ready[iv] = f.arrive + n.allocDelay
		n.wakeRouterAt(r, n.ready[iv])
	}
}

// pop removes the front flit of input VC iv (router r, input port ip) in
// cycle t and returns its credit upstream. A tail frees the output VCs
// its packet held; the next packet's head then starts route computation
// in the next cycle.
func (n *Net) pop(r, ip, iv int, t sim.Cycle) {
	f := n.buf[iv*n.d+int(n.bufHead[iv])]
	n.bufHead[iv] = uint8((int(n.bufHead[iv]) + 1) % n.d)
	n.bufLen[iv]--
	n.inFlight--
	n.sent[iv] = 0
	if f.tail {
		for m := n.outMask[iv]; m != 0; m &= m - 1 {
			p := bits.TrailingZeros8(m)
			n.owner[(r*numPorts+p)*n.v+int(n.outVC[iv*numPorts+p])] = -1
		}
		n.outMask[iv], n.vaMask[iv] = 0, 0
	}
	if n.bufLen[iv] == 0 {
		n.nonempty[r] &^= 1 << (iv - r*numPorts*n.v)
	} else {
		next := &n.buf[iv*n.d+int(n.bufHead[iv])]
		if next.head {
			n.ready[iv] = max(next.arrive, t+1) + n.allocDelay
		} else {
			n.ready[iv] = next.arrive + n.allocDelay
		}
	}
	vc := uint8(iv % n.v)
	if ip == portLocal {
		n.at(t+1, wakeup{node: int32(r), kind: creditNI, vc: vc})
		return
	}
	up := n.g.neighbour(r, ip)
	n.at(t+n.link, wakeup{node: int32(up), kind: creditRouter, port: uint8(opposite(ip)), vc: vc})
}

// eject hands flit f to the NI of router r, where it is taken in at cycle
// at; the tail completes the packet at this destination.
func (n *Net) eject(r int, f flit, at sim.Cycle) {
	n.s.FlitsOut++
	if !f.tail {
		return
	}
	pk := &n.pkts[f.pkt]
	lat, hops := int64(at-pk.created), n.g.hops(pk.src, r)
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
		n.eng.Schedule(at, b.done, nil)
		b.done = nil
		n.freeBndl = append(n.freeBndl, pk.bundle)
	}
	pk.dsts = nil
	n.freePkt = append(n.freePkt, f.pkt)
}

// evalNI lets NI i inject the next flit of its current packet, or start
// the next packet on a VC with a credit, in cycle t.
func (n *Net) evalNI(i int, t sim.Cycle) {
	if n.nSent[i] == t+1 {
		return // one flit per cycle
	}
	ni := &n.nis[i]
	cr := n.niCredit[i*n.v : (i+1)*n.v]
	if ni.cur < 0 {
		if ni.qhead == len(ni.queue) {
			return
		}
		vc := -1
		for k := range n.v {
			if c := (ni.rr + k) % n.v; cr[c] > 0 {
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
		ni.next, ni.vc, ni.rr = 0, vc, (vc+1)%n.v
		n.s.Packets++
	}
	if cr[ni.vc] <= 0 {
		return
	}
	cr[ni.vc]--
	pk := &n.pkts[ni.cur]
	f := flit{arrive: t + 1, pkt: ni.cur, head: ni.next == 0, tail: ni.next == pk.flits-1}
	n.push((i*numPorts+portLocal)*n.v+ni.vc, i, f)
	n.s.Flits++
	n.nSent[i] = t + 1
	n.lastProgress = t
	ni.next++
	if f.tail {
		ni.cur = -1
		n.queued--
	}
	if ni.cur >= 0 || ni.qhead < len(ni.queue) {
		n.wakeNIAt(i, t+1)
	}
}

// routeMask is the set of output ports packet pk takes at router r: one
// port for a unicast packet, the branches of its XY (or YX) tree for a
// tree multicast.
func (n *Net) routeMask(r int, id int32) uint8 {
	pk := &n.pkts[id]
	if pk.dst >= 0 {
		return 1 << n.g.route(r, pk.dst)
	}
	var m uint8
	for _, d := range pk.dsts {
		if n.g.onPath(pk.src, d, r) {
			m |= 1 << n.g.route(r, d)
		}
	}
	return m
}

// vcRange is the VCs [lo, hi) packet id may take on output port p of
// router r: all of them on a mesh and towards the NI, on a torus the half
// that belongs to its dateline class.
func (n *Net) vcRange(r, p int, id int32) (lo, hi int) {
	if !n.g.torus || p == portLocal {
		return 0, n.v
	}
	if n.noDateline || n.g.vcClass(n.pkts[id].src, r, p) == 0 {
		return 0, n.v / 2
	}
	return n.v / 2, n.v
}
