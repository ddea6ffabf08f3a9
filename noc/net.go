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
// pipeline and dimension-order routing (docs/noc.md has the model).
//
// It is event-driven in two ways. Towards the engine it is one handler
// that has an event queued only for cycles in which something happens, so
// idle stretches cost nothing and Engine.Run still returns when the
// network has drained. Inside, a timing wheel holds what each cycle brings
// (flits becoming ready, credits arriving, routers to look at again), and
// only the routers on that cycle's wake list are evaluated; a router that
// could not move anything sleeps until a credit or flit arrives.
type Net struct {
	g                 topo
	nodeX, nodeY      []int16   // coordinates of each router
	nbr               []int32   // per router·numPorts + port: the neighbour, -1 off a mesh
	v, d              int       // VCs per port, flits per VC
	allocDelay, stLat sim.Cycle // arrival → allocation; allocation → next router, without the link
	link              sim.Cycle
	tree              bool
	watchdog          sim.Cycle
	noDateline        bool // test hook: packets never switch to the torus's high VC class (deadlock-prone)

	rt  []router
	in  []inVC // per router·vcSlots + port·maxVCs + vc
	buf []flit // rings of d flits, one per input VC in use
	nis []nic

	wheel     [][]wakeup
	wheelMask sim.Cycle
	pendingEv int
	activeR   []int32
	activeN   []int32
	ticks     []sim.Cycle // cycles for which a tick is queued on the engine
	eng       *sim.Engine
	lastNow   sim.Cycle // the engine's cycle at the last Send
	tk        ticker

	pkts     []packet
	freePkt  []int32
	bundles  []bundle
	freeBndl []int32

	inFlight     int // flits in router buffers (or on a link into one)
	queued       int // packets not yet wholly injected
	lastProgress sim.Cycle
	err          error

	c  Counters
	s  Stats
	tr tree

	// Synthetic traffic measures the packets created in [measFrom, measTo).
	meas             *Stats
	measFrom, measTo sim.Cycle
	measOut          int

	// allocation scratch
	vaBest    [vcSlots]int8
	vaTouched []int
}

// maxVCs is the most VCs per port; a router's input VCs are numbered
// port·maxVCs + vc, so that their set fits one uint64 and the port and VC
// of a bit are a shift and a mask away.
const (
	maxVCs  = 8
	vcSlots = numPorts * maxVCs
)

// router is one router's allocation state.
type router struct {
	nonempty uint64          // input VCs holding flits
	ovBusy   [numPorts]uint8 // output VCs held by a packet
	saIn     [numPorts]uint8 // per input port: round-robin pointer over its VCs
	saOut    [numPorts]uint8 // per output port: round-robin pointer over input ports
	mcPtr    uint8           // round-robin pointer over input VCs for multicast heads
	// Per output VC (port·maxVCs + vc): credits for the downstream buffer,
	// and the round-robin pointer over input VCs of its VC arbiter.
	credit   [vcSlots]int16
	vaOutPtr [vcSlots]uint8
	seen     sim.Cycle // cycle+1 at which it was put on the wake list
	wake     sim.Cycle // cycle+1 of the last wake-up scheduled
}

// inVC is one input virtual channel: a ring of flits in buf and the state
// of the packet at its front.
type inVC struct {
	ready   sim.Cycle // the cycle from which the front flit may be allocated
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

type packet struct {
	src, dst int   // dst < 0: tree multicast to dsts
	dsts     []int // sorted, distinct
	flits    int
	created  sim.Cycle
	bundle   int32
	pending  int // destinations still waiting for the tail
	measured bool
}

// bundle is the packets of one Send or Multicast call: done is due when
// the last is ejected.
type bundle struct {
	left int
	done sim.Handler
}

// nic is a tile's network interface: an unbounded FIFO of packets that it
// injects one flit per cycle into its router's local input port, one
// packet at a time, each on a VC it picks round-robin.
type nic struct {
	queue   []int32
	qhead   int
	cur     int32 // packet being injected, -1 if none
	next    int   // its next flit
	vc      int
	rr      int
	credit  [maxVCs]int16 // for the router's local input VCs
	seen    sim.Cycle     // cycle+1 at which it was put on the wake list
	wake    sim.Cycle     // cycle+1 of the last wake-up scheduled
	sentAt  sim.Cycle     // cycle+1 of its last injected flit
	pending bool          // has a packet to inject
}

// wakeup is an entry of the timing wheel.
type wakeup struct {
	node     int32
	kind     uint8
	port, vc uint8
}

const (
	wakeRouter = iota
	wakeNI
	creditRouter // a credit for output VC (port, vc) of router node
	creditNI     // a credit for the NI's VC vc
)

type ticker struct{ n *Net }

func (t *ticker) Handle(e sim.Event) { t.n.tick(e.At) }

// NewNet builds the cycle-level network for cfg, which must validate.
func NewNet(cfg *arch.Config) *Net {
	nc := cfg.NoC
	p, l := nc.PipelineStages, nc.LinkLatencyCycles
	n := &Net{
		g:    topoOf(cfg),
		v:    nc.VCs,
		d:    nc.VCDepth,
		link: sim.Cycle(l),
		tree: nc.Multicast == "tree",
		// Without a deadlock, some flit moves at least every p+l+1
		// cycles (ejection never blocks); a hundred times that is a
		// generous bound that still ends a broken run quickly.
		watchdog: sim.Cycle(100 * (p + l + 1)),
	}
	// A p-stage router spends max(p−2, 0) cycles in route computation
	// before VC and switch allocation, then min(p, 2) cycles in
	// allocation and switch traversal: p cycles per router, as the
	// zero-load formula has it.
	n.allocDelay = sim.Cycle(max(p-2, 0))
	n.stLat = sim.Cycle(min(p, 2))
	if n.v < 1 || n.v > 8 || n.d < 1 || n.d > 64 || n.g.torus && n.v < 2 {
		panic(fmt.Sprintf("noc: %d VCs × %d flits on a %s: validate the config first", n.v, n.d, cfg.Chip.Topology))
	}
	nodes := n.g.nodes()
	n.nbr = make([]int32, nodes*numPorts)
	for r := range nodes {
		x, y := n.g.xy(r)
		n.nodeX = append(n.nodeX, int16(x))
		n.nodeY = append(n.nodeY, int16(y))
		for p := range numPorts {
			n.nbr[r*numPorts+p] = int32(n.g.neighbour(r, p))
		}
	}
	n.rt = make([]router, nodes)
	n.in = make([]inVC, nodes*vcSlots)
	n.buf = make([]flit, nodes*numPorts*n.v*n.d)
	for r := range nodes {
		for p := range numPorts {
			for vc := range n.v {
				n.in[r*vcSlots+p*maxVCs+vc].off = int32(((r*numPorts+p)*n.v + vc) * n.d)
			}
		}
	}
	n.nis = make([]nic, nodes)
	// Nothing is scheduled further ahead than a flit's arrival plus its
	// allocation delay: p + l cycles.
	size := 1 << bits.Len(uint(p+l+2))
	n.wheel = make([][]wakeup, size)
	n.wheelMask = sim.Cycle(size - 1)
	for i := range n.vaBest {
		n.vaBest[i] = -1
	}
	n.s.LinkFlits = make([]int64, 4*nodes)
	n.tk.n = n
	n.Reset()
	return n
}

// Reset implements Network. Statistics and counters are kept until taken.
func (n *Net) Reset() {
	for r := range n.rt {
		rt := &n.rt[r]
		*rt = router{}
		for p := range numPorts {
			for vc := range n.v {
				rt.credit[p*maxVCs+vc] = int16(n.d)
			}
		}
		// The NI is a sink that never refuses a flit: the ejection
		// port never runs out of credits.
		for vc := range maxVCs {
			rt.credit[portLocal*maxVCs+vc] = math.MaxInt16
		}
	}
	for i := range n.in {
		n.in[i] = inVC{off: n.in[i].off}
	}
	for i := range n.nis {
		n.nis[i] = nic{queue: n.nis[i].queue[:0], cur: -1}
		for vc := range n.v {
			n.nis[i].credit[vc] = int16(n.d)
		}
	}
	for i := range n.wheel {
		n.wheel[i] = n.wheel[i][:0]
	}
	n.pendingEv = 0
	n.activeR, n.activeN = n.activeR[:0], n.activeN[:0]
	n.ticks = n.ticks[:0]
	n.eng = nil
	n.pkts, n.freePkt = n.pkts[:0], n.freePkt[:0]
	n.bundles, n.freeBndl = n.bundles[:0], n.freeBndl[:0]
	n.inFlight, n.queued, n.measOut = 0, 0, 0
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
	checkSend(n.g, src, []int{dst}, packets, flits)
	n.bind(e)
	h := n.g.hops(src, dst)
	n.c.add(int64(packets), int64(flits), int64(h+1), int64(h), int64(h+1))
	b := n.newBundle(packets, done)
	for range packets {
		n.enqueue(src, dst, nil, flits, b)
	}
}

// Multicast implements Network.
func (n *Net) Multicast(e *sim.Engine, src int, dsts []int, packets, flits int, done sim.Handler) {
	checkSend(n.g, src, dsts, packets, flits)
	n.bind(e)
	if !n.tree || len(dsts) == 1 {
		b := n.newBundle(packets*len(dsts), done)
		for _, d := range dsts {
			h := n.g.hops(src, d)
			n.c.add(int64(packets), int64(flits), int64(h+1), int64(h), int64(h+1))
			for range packets {
				n.enqueue(src, d, nil, flits, b)
			}
		}
		return
	}
	set := slices.Clone(dsts)
	slices.Sort(set)
	set = slices.Compact(set)
	routers, links, switches := n.tr.size(n.g, src, set, nil)
	n.c.add(int64(packets), int64(flits), int64(routers), int64(links), int64(switches))
	b := n.newBundle(packets, done)
	for range packets {
		n.enqueue(src, -1, set, flits, b)
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
	for r := range n.rt {
		n.rt[r].seen, n.rt[r].wake = 0, 0
	}
	for i := range n.nis {
		n.nis[i].seen, n.nis[i].wake, n.nis[i].sentAt = 0, 0, 0
	}
	n.ticks = n.ticks[:0]
}

func (n *Net) newBundle(left int, done sim.Handler) int32 {
	b := bundle{left: left, done: done}
	if k := len(n.freeBndl); k > 0 {
		i := n.freeBndl[k-1]
		n.freeBndl = n.freeBndl[:k-1]
		n.bundles[i] = b
		return i
	}
	n.bundles = append(n.bundles, b)
	return int32(len(n.bundles) - 1)
}

// enqueue creates a packet at src's NI and wakes the NI this cycle.
func (n *Net) enqueue(src, dst int, dsts []int, flits int, b int32) {
	now := n.eng.Now()
	pk := packet{src: src, dst: dst, dsts: dsts, flits: flits, created: now, bundle: b, pending: 1}
	if dst < 0 {
		pk.pending = len(dsts)
	}
	if n.meas != nil && now >= n.measFrom && now < n.measTo {
		pk.measured = true
		n.measOut++
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
	ni := &n.nis[src]
	ni.queue = append(ni.queue, id)
	ni.pending = true
	n.queued++
	n.activateNI(src, now)
	n.ensureTick(now)
}

// ensureTick queues a tick at cycle c unless one is queued already.
func (n *Net) ensureTick(c sim.Cycle) {
	if slices.Contains(n.ticks, c) {
		return
	}
	n.ticks = append(n.ticks, c)
	n.eng.Schedule(c, &n.tk, nil)
}

// at puts w on the wheel for cycle c (> the current cycle).
func (n *Net) at(c sim.Cycle, w wakeup) {
	b := &n.wheel[c&n.wheelMask]
	*b = append(*b, w)
	n.pendingEv++
}

func (n *Net) wakeRouterAt(r int, c sim.Cycle) {
	if rt := &n.rt[r]; rt.wake != c+1 {
		rt.wake = c + 1
		n.at(c, wakeup{node: int32(r), kind: wakeRouter})
	}
}

func (n *Net) wakeNIAt(i int, c sim.Cycle) {
	if ni := &n.nis[i]; ni.wake != c+1 {
		ni.wake = c + 1
		n.at(c, wakeup{node: int32(i), kind: wakeNI})
	}
}

func (n *Net) activateRouter(r int, t sim.Cycle) {
	if rt := &n.rt[r]; rt.seen != t+1 {
		rt.seen = t + 1
		n.activeR = append(n.activeR, int32(r))
	}
}

func (n *Net) activateNI(i int, t sim.Cycle) {
	if ni := &n.nis[i]; ni.seen != t+1 {
		ni.seen = t + 1
		n.activeN = append(n.activeN, int32(i))
	}
}

// tick simulates cycle t: it delivers the credits and wake-ups due, then
// evaluates the routers and NIs on the wake list. Routers only affect one
// another one cycle or more later (a credit takes l ≥ 1 cycles, a flit
// stLat + l ≥ 2), so the order of evaluation within a cycle is immaterial.
func (n *Net) tick(t sim.Cycle) {
	if i := slices.Index(n.ticks, t); i >= 0 {
		n.ticks = slices.Delete(n.ticks, i, i+1)
	}
	if n.err != nil {
		return
	}
	b := &n.wheel[t&n.wheelMask]
	for _, w := range *b {
		r := int(w.node)
		switch w.kind {
		case wakeRouter:
			n.activateRouter(r, t)
		case wakeNI:
			n.activateNI(r, t)
		case creditRouter:
			// A credit matters only to a router with flits waiting, an
			// NI with packets to inject.
			rt := &n.rt[r]
			rt.credit[int(w.port)*maxVCs+int(w.vc)]++
			if rt.nonempty != 0 {
				n.activateRouter(r, t)
			}
		case creditNI:
			ni := &n.nis[r]
			ni.credit[w.vc]++
			if ni.pending {
				n.activateNI(r, t)
			}
		}
	}
	n.pendingEv -= len(*b)
	*b = (*b)[:0]
	for _, r := range n.activeR {
		n.evalRouter(int(r), t)
	}
	n.activeR = n.activeR[:0]
	for _, i := range n.activeN {
		n.nis[i].seen = 0 // a Send later in this cycle may wake it again
		n.evalNI(int(i), t)
	}
	n.activeN = n.activeN[:0]
	busy := n.inFlight > 0 || n.queued > 0
	if busy && (n.pendingEv == 0 || t > n.lastProgress+n.watchdog) {
		n.deadlock(t)
		return
	}
	if n.pendingEv == 0 {
		return
	}
	for c := t + 1; ; c++ {
		if len(n.wheel[c&n.wheelMask]) > 0 {
			n.ensureTick(c)
			return
		}
	}
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
			if pk.measured {
				n.measOut--
			}
			n.uncharge(pk)
			b := &n.bundles[pk.bundle]
			b.left--
			if b.left == 0 {
				b.done = nil
				n.freeBndl = append(n.freeBndl, pk.bundle)
			}
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
		h := n.g.hops(pk.src, pk.dst)
		routers, links, switches = h+1, h, h+1
	} else {
		routers, links, switches = n.tr.size(n.g, pk.src, pk.dsts, nil)
	}
	n.c.add(-1, int64(pk.flits), int64(routers), int64(links), int64(switches))
}
