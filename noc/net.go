package noc

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// Net is the cycle-level network: one input-queued virtual-channel router
// per tile on a W×H mesh or torus, credit-based flow control, a p-stage
// pipeline and dimension-order routing (docs/noc.md has the model). The
// code follows BookSim's division: this file is the topology glue and the
// Network API; wheel.go the timing wheel, ni.go the network interfaces,
// router.go the routers' pipeline and alloc.go their VC and switch
// allocators.
//
// It is event-driven in two ways. Towards the engine it is one handler
// that has an event queued only for cycles in which something happens, so
// idle stretches cost nothing and Engine.Run still returns when the
// network has drained. Inside, a timing wheel holds what each cycle brings
// (flits becoming ready, credits arriving, routers to look at again), and
// only the routers on that cycle's wake list are evaluated; a router that
// could not move anything sleeps until a credit or flit arrives.
type Net struct {
	g            topo
	nodeX, nodeY []int16 // coordinates of each router
	nbr          []int32 // per router·numPorts + port: the neighbour, -1 off a mesh
	// Where a credit for an input VC goes: its wheel entry less the VC
	// (credTo, per router·numPorts + input port), its kind and its delay
	// (per input port: the NI's local port differs from the links).
	credTo   []int32
	credKind [8]uint8
	credLat  [8]sim.Cycle
	// Where every credit arrives in the next cycle (links of one cycle,
	// no credit delay), credits skip the wheel (traverse): credNext holds
	// those for routers and NIs (by kind − creditRouter) due in cycle
	// credAt, the last cycle for which a credit was filed.
	credNear bool
	credAt   sim.Cycle
	credNext [2][]int32
	// Routing tables: dim1[c·k1 + c′] is the output port of the step
	// from coordinate c to c′ in the dimension routed first (portLocal if
	// they are equal), dim2 the same in the other; at[r] places router r
	// in them.
	dim1, dim2        []uint8
	at                []place
	v, d              int       // VCs per port, flits per VC
	ringMask          int       // a VC's ring has d slots rounded up to a power of two, so that positions wrap by this mask
	vMask             uint8     // 1<<v − 1
	allocDelay, stLat sim.Cycle // arrival → allocation; allocation → next router, without the link
	link              sim.Cycle
	hopLat            sim.Cycle // stLat + link: switch allocation → arrival at the next router
	creditLat         sim.Cycle // link + creditDelay: a credit's way back
	creditDelay       sim.Cycle // beyond the link (or the NI's one cycle)
	separate          bool      // VC allocation and switch allocation in separate cycles
	niQueue           int       // packets an NI queue holds; 0: unbounded
	tree              bool
	watchdog          sim.Cycle
	noDateline        bool // test hook: packets never switch to the torus's high VC class (deadlock-prone)
	allocatorsOnly    bool // test hook: every router evaluation takes the separable allocators, no shortcut

	rt  []router
	in  []inVC // per router·vcSlots + port·maxVCs + vc
	buf []flit // rings of d flits, one per input VC in use
	nis []nic

	wh      wheel
	sets    [2]routerSet
	cur     *routerSet // routers to evaluate this cycle
	next    *routerSet // routers to evaluate in cycle nextAt
	nextAt  sim.Cycle
	activeN []int32
	nextN   []int32 // NIs to look at in cycle nextNAt
	nextNAt sim.Cycle
	ticks   []sim.Cycle // cycles for which a tick is queued on the engine
	eng     *sim.Engine
	lastNow sim.Cycle // the engine's cycle at the last Send
	tk      ticker

	pkts     []packet
	freePkt  []int32
	bundles  []bundle
	freeBndl []int32
	freeSets [][]int

	inFlight     int // flits in router buffers (or on a link into one)
	queued       int // packets not yet wholly injected
	lastProgress sim.Cycle
	err          error

	obs  Observer      // nil: nobody watches
	gobs GrantObserver // obs if it watches VC allocation too, else nil
	// bufObs is obs if it watches router buffers too, else nil.
	bufObs BufferObserver
	// linkObs is obs if it watches links too, else nil.
	linkObs LinkObserver

	c  Counters
	s  Stats
	tr tree

	// allocation scratch
	vaBest [vcSlots]int8
}

// NewNet builds the cycle-level network for cfg, which must validate.
func NewNet(cfg *arch.Config) *Net {
	nc := cfg.NoC
	p, l := nc.PipelineStages, nc.LinkLatencyCycles
	cd := nc.CreditDelayCycles
	n := &Net{
		g:           topoOf(cfg),
		v:           nc.VCs,
		vMask:       uint8(1<<nc.VCs - 1),
		d:           nc.VCDepth,
		link:        sim.Cycle(l),
		creditDelay: sim.Cycle(cd),
		separate:    nc.Allocation == "separate",
		niQueue:     nc.NIQueuePackets,
		tree:        nc.Multicast == "tree",
		// Without a deadlock, some flit moves at least every p+l+d+1
		// cycles (ejection never blocks); a hundred times that is a
		// generous bound that still ends a broken run quickly.
		watchdog: sim.Cycle(100 * (p + l + cd + 1)),
		// Nothing is filed further ahead than a flit's arrival plus
		// its allocation delay, p + l cycles, or a credit's return,
		// l + d.
		wh: newWheel(p + l + cd + 2),
	}
	// A p-stage router spends max(p−2, 0) cycles in route computation
	// before the combined VC and switch allocation, then min(p, 2)
	// cycles in allocation and switch traversal: p cycles per router, as
	// the zero-load formula has it. With separate allocation (p ≥ 3) a
	// head spends p−3 cycles in route computation, one in VC allocation,
	// then switch allocation and traversal as before: p cycles again.
	n.allocDelay = sim.Cycle(max(p-2, 0))
	if n.separate {
		n.allocDelay = sim.Cycle(p - 3)
	}
	n.stLat = sim.Cycle(min(p, 2))
	n.hopLat, n.creditLat = n.stLat+n.link, n.link+n.creditDelay
	for p := range numPorts {
		n.credKind[p], n.credLat[p] = creditRouter, n.creditLat
	}
	n.credKind[portLocal], n.credLat[portLocal] = creditNI, 1+n.creditDelay
	n.credNear = n.creditLat == 1 && n.creditDelay == 0
	if n.v < 1 || n.v > 8 || n.d < 1 || n.d > 64 || n.g.torus && n.v < 2 {
		panic(fmt.Sprintf("noc: %d VCs × %d flits on a %s: validate the config first", n.v, n.d, cfg.Chip.Topology))
	}
	k1, k2 := n.g.w, n.g.h
	if n.g.yx {
		k1, k2 = k2, k1
	}
	n.dim1, n.dim2 = n.dimTable(k1, !n.g.yx), n.dimTable(k2, n.g.yx)
	nodes := n.g.nodes()
	n.nbr = make([]int32, nodes*numPorts)
	for r := range nodes {
		x, y := n.g.xy(r)
		n.nodeX = append(n.nodeX, int16(x))
		n.nodeY = append(n.nodeY, int16(y))
		c1, c2 := x, y
		if n.g.yx {
			c1, c2 = y, x
		}
		n.at = append(n.at, place{row1: int32(c1 * k1), row2: int32(c2 * k2), c1: uint8(c1), c2: uint8(c2)})
		for p := range numPorts {
			nb := n.g.neighbour(r, p)
			n.nbr[r*numPorts+p] = int32(nb)
			to := int32(max(nb, 0)<<6 | opposite(p)*maxVCs)
			if p == portLocal {
				to = int32(r * maxVCs)
			}
			n.credTo = append(n.credTo, to)
		}
	}
	n.rt = make([]router, nodes)
	n.cur, n.next = &n.sets[0], &n.sets[1]
	n.in = make([]inVC, nodes*vcSlots)
	ring := 1
	for ring < n.d {
		ring <<= 1
	}
	n.ringMask = ring - 1
	n.buf = make([]flit, nodes*numPorts*n.v*ring)
	n.nis = make([]nic, nodes)
	for i := range n.vaBest {
		n.vaBest[i] = -1
	}
	n.s.LinkFlits = make([]int64, 4*nodes)
	n.tk.n = n
	n.Reset()
	return n
}

// Observe makes o see every packet from now on (nil: nobody), with VC
// grants if o is a GrantObserver, buffers if it is a BufferObserver and
// links if it is a LinkObserver.
func (n *Net) Observe(o Observer) {
	n.obs = o
	n.gobs, _ = o.(GrantObserver)
	n.bufObs, _ = o.(BufferObserver)
	n.linkObs, _ = o.(LinkObserver)
}

// Reset implements Network. Statistics and counters are kept until taken.
func (n *Net) Reset() {
	for r := range n.rt {
		rt := &n.rt[r]
		*rt = router{}
		for p := range numPorts {
			for vc := range n.v {
				rt.credit[p*maxVCs+vc] = int16(n.d)
				n.in[r*vcSlots+p*maxVCs+vc] = inVC{off: int32(((r*numPorts+p)*n.v + vc) * (n.ringMask + 1))}
			}
		}
		// The NI is a sink that never refuses a flit: the ejection
		// port never runs out of credits.
		for vc := range maxVCs {
			rt.credit[portLocal*maxVCs+vc] = math.MaxInt16
		}
	}
	for i := range n.nis {
		n.nis[i] = nic{queue: n.nis[i].queue[:0], cur: -1}
		for vc := range n.v {
			n.nis[i].credit[vc] = int16(n.d)
		}
	}
	n.wh.clear()
	n.dropCredits()
	n.cur.clear()
	n.next.clear()
	n.activeN = n.activeN[:0]
	n.nextN = n.nextN[:0]
	n.ticks = n.ticks[:0]
	n.eng = nil
	n.pkts, n.freePkt = n.pkts[:0], n.freePkt[:0]
	n.bundles, n.freeBndl = n.bundles[:0], n.freeBndl[:0]
	n.inFlight, n.queued = 0, 0
	n.lastProgress = 0
	n.err = nil
}

// TakeCounters implements Network.
func (n *Net) TakeCounters() Counters {
	c := n.c
	n.c = Counters{}
	return c
}

// TakeStats implements Network.
func (n *Net) TakeStats() Stats {
	s := n.s
	n.s = Stats{LinkFlits: make([]int64, 4*n.g.nodes())}
	return s
}

// Err implements Network.
func (n *Net) Err() error { return n.err }

// Send implements Network.
func (n *Net) Send(e *sim.Engine, src, dst, packets, flits int, done sim.Handler) {
	if nodes := uint(n.g.nodes()); packets <= 0 || flits <= 0 || uint(src) >= nodes || uint(dst) >= nodes {
		checkSend(n.g, src, []int{dst}, packets, flits) // panics, saying why
	}
	n.bind(e)
	h := n.hops(src, dst)
	n.c.add(int64(packets), int64(flits), int64(h+1), int64(h), int64(h+1))
	b := n.newBundle(packets, done, nil)
	for range packets {
		n.enqueue(src, dst, h, nil, flits, b)
	}
}

// Multicast implements Network.
func (n *Net) Multicast(e *sim.Engine, src int, dsts []int, packets, flits int, done sim.Handler) {
	checkSend(n.g, src, dsts, packets, flits)
	n.bind(e)
	if !n.tree || len(dsts) == 1 {
		b := n.newBundle(packets*len(dsts), done, nil)
		for _, d := range dsts {
			h := n.hops(src, d)
			n.c.add(int64(packets), int64(flits), int64(h+1), int64(h), int64(h+1))
			for range packets {
				n.enqueue(src, d, h, nil, flits, b)
			}
		}
		return
	}
	set := n.newSet(dsts)
	b := n.newBundle(packets, done, set)
	routers, links, switches := n.tr.size(n.g, src, set, nil)
	n.c.add(int64(packets), int64(flits), int64(routers), int64(links), int64(switches))
	for range packets {
		n.enqueue(src, -1, 0, set, flits, b)
	}
}

// bind remembers the engine the network schedules on; a network in use
// belongs to one engine.
func (n *Net) bind(e *sim.Engine) {
	if n.eng != e && n.eng != nil && (n.inFlight > 0 || n.queued > 0) {
		panic("noc: Send on a second engine while packets are in flight")
	}
	idle := n.inFlight == 0 && n.queued == 0
	if idle && (n.eng != e || e.Now() < n.lastNow) {
		// Time may start over on a new or reset engine; the stamps that
		// keep a router from being woken twice for a cycle would then
		// match cycles that have not happened yet.
		n.clearStamps()
	}
	n.eng = e
	n.lastNow = e.Now()
	if idle {
		n.lastProgress = e.Now()
	}
}

func (n *Net) clearStamps() {
	for i := range n.nis {
		n.nis[i].seen, n.nis[i].wake, n.nis[i].sentAt = 0, 0, 0
	}
	n.nextN = n.nextN[:0]
	n.ticks = n.ticks[:0]
}

// tick handles the engine's event for cycle t, and goes on cycle by cycle
// while the engine has nothing else to run before the network's next busy
// cycle (sim.Engine.Advance): a burst of traffic costs one engine event,
// not one per cycle.
func (n *Net) tick(t sim.Cycle) {
	for {
		c, ok := n.cycle(t)
		if !ok {
			return
		}
		if !n.eng.Advance(c) {
			n.ensureTick(c)
			return
		}
		t = c
	}
}

// cycle simulates cycle t: it delivers the credits and wake-ups due, then
// evaluates the routers and NIs on the wake lists. Routers only affect one
// another one cycle or more later (a credit takes l ≥ 1 cycles, a flit
// stLat + l ≥ 2), so the order of evaluation within a cycle is immaterial.
// It returns the next cycle with something to do, if any.
func (n *Net) cycle(t sim.Cycle) (sim.Cycle, bool) {
	if i := slices.Index(n.ticks, t); i >= 0 {
		n.ticks = slices.Delete(n.ticks, i, i+1)
	}
	if n.err != nil {
		return 0, false
	}
	if n.nextAt == t {
		n.cur, n.next = n.next, n.cur
	}
	for _, x := range n.wh.take(vcReady, t) {
		r := int(uint32(x) >> 6)
		n.rt[r].rdy |= 1 << (x & 63)
		n.cur.add(r)
	}
	// A credit matters only to a router with flits ready, an NI with
	// packets to inject.
	var credR, credN []int32
	if !n.credNear {
		credR, credN = n.wh.take(creditRouter, t), n.wh.take(creditNI, t)
	} else if n.credAt == t {
		credR, credN = n.credNext[0], n.credNext[1]
		n.credNext[0], n.credNext[1] = credR[:0], credN[:0]
	}
	for _, x := range credR {
		r := int(uint32(x) >> 6)
		rt := &n.rt[r]
		rt.credit[x&63]++
		n.cur.addIf(r, b2u(rt.rdy != 0))
	}
	if n.nextNAt == t {
		for _, i := range n.nextN {
			n.activateNI(int(i), &n.nis[i], t)
		}
		n.nextN = n.nextN[:0]
	}
	for _, x := range credN {
		i := int(uint32(x) / maxVCs)
		ni := &n.nis[i]
		ni.credit[uint32(x)%maxVCs]++
		if ni.pending {
			n.activateNI(i, ni, t)
		}
	}
	n.nextAt = t + 1
	// The routers in router order; evaluating one adds only to n.next.
	for sm := n.cur.sum; sm != 0; sm &= sm - 1 {
		w := bits.TrailingZeros64(sm) & 63
		m := n.cur.words[w]
		n.cur.words[w] = 0
		for ; m != 0; m &= m - 1 {
			r := w<<6 | bits.TrailingZeros64(m)
			rt := &n.rt[r]
			rdy := rt.rdy
			if rdy == 0 {
				continue
			}
			n.s.RouterCycles++
			// A sole ready VC (the usual case at low load and inside a
			// chip run), or ready VCs of one input port (a stream),
			// without a call in between.
			if rdy&(rdy-1) == 0 {
				if n.allocatorsOnly || !n.evalSole(r, rt, bits.TrailingZeros64(rdy), t) {
					n.evalRouter(r, rt, t)
				}
			} else if b := bits.TrailingZeros64(rdy) &^ 7; rdy>>b >= 1<<maxVCs || n.allocatorsOnly || !n.evalStream(r, rt, b, t) {
				n.evalRouter(r, rt, t)
			}
		}
	}
	n.cur.sum = 0
	for _, i := range n.activeN {
		ni := &n.nis[i]
		ni.seen = 0 // a Send later in this cycle may wake it again
		n.evalNI(int(i), ni, t)
	}
	n.activeN = n.activeN[:0]
	busy := n.inFlight > 0 || n.queued > 0
	soon := n.next.sum != 0 || len(n.nextN) > 0 || n.credAt == t+1
	if busy && (n.wh.pending == 0 && !soon || t > n.lastProgress+n.watchdog) {
		n.deadlock(t)
		return 0, false
	}
	if soon {
		return t + 1, true
	}
	if n.wh.pending > 0 {
		return n.wh.next(t), true
	}
	return 0, false
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

// place is a router's position in the routing tables: the offsets of its
// rows (its coordinate times the dimension's size) and its coordinates,
// in the dimension routed first and the other.
type place struct {
	row1, row2 int32
	c1, c2     uint8
}

// dimTable is a routing table of one dimension of k positions, x if isX:
// the output port of dimension-order routing's step from each coordinate
// to each other (topo.route's, so the two agree by construction).
func (n *Net) dimTable(k int, isX bool) []uint8 {
	t := make([]uint8, k*k)
	for a := range k {
		for b := range k {
			if isX {
				t[a*k+b] = uint8(dimensionOrderPort(step(a, b, k, n.g.torus), 0, false))
			} else {
				t[a*k+b] = uint8(dimensionOrderPort(0, step(a, b, k, n.g.torus), false))
			}
		}
	}
	return t
}

// route is topo.route by table lookups: the first dimension's step, or if
// there is none the other's (the local port if neither). It runs once per
// head flit per router.
func (n *Net) route(r, dst int) int {
	a, b := &n.at[r], &n.at[dst]
	p1, p2 := n.dim1[int(a.row1)+int(b.c1)], n.dim2[int(a.row2)+int(b.c2)]
	// p1 unless it is portLocal (0), by a mask: whether a packet has
	// finished its first dimension is a coin toss.
	return int(p1 | p2&(uint8(b2u(p1 == portLocal))*0xff))
}

// hops is topo.hops from precomputed coordinates.
func (n *Net) hops(src, dst int) int {
	return abs(n.delta(int(n.nodeX[src]), int(n.nodeX[dst]), n.g.w)) + abs(n.delta(int(n.nodeY[src]), int(n.nodeY[dst]), n.g.h))
}

// delta is step(a, b, k, torus) for 0 ≤ a, b < k, without divisions:
// on a torus the shorter way round.
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
