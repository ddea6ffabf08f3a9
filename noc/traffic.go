package noc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// Patterns are the synthetic traffic patterns, as BookSim names them.
var Patterns = []string{"uniform", "transpose", "bitcomp", "hotspot", "neighbor"}

// Traffic is a synthetic workload measured the way BookSim measures one:
// every node injects packets by a Bernoulli process for Warmup cycles,
// then the packets created in the next Measure cycles are marked, and
// injection goes on until every marked packet has been delivered (the
// drain), so that the marked packets see a loaded network throughout.
type Traffic struct {
	Pattern     string
	Rate        float64 // offered load, flits per node per cycle (≤ 1: an NI injects one flit a cycle)
	PacketFlits int
	Warmup      int64
	Measure     int64
	Seed        uint64
	// Hotspot is the fraction of packets that go to the hotspot node, the
	// router nearest the centre, under pattern "hotspot"; the rest are
	// uniform.
	Hotspot float64
}

// Result is one synthetic run. Latencies are those of the measured
// packets, from creation (queueing at the source included) to the tail's
// ejection; rates are per node per cycle over the measurement window.
type Result struct {
	Pattern                   string  `json:"pattern"`
	PacketFlits               int     `json:"packet_flits"`
	OfferedFlitsPerNodeCycle  float64 `json:"offered_flits_per_node_cycle"`
	AcceptedFlitsPerNodeCycle float64 `json:"accepted_flits_per_node_cycle"`
	AvgPacketLatencyCycles    float64 `json:"avg_packet_latency_cycles"`
	P50PacketLatencyCycles    int64   `json:"p50_packet_latency_cycles"`
	P99PacketLatencyCycles    int64   `json:"p99_packet_latency_cycles"`
	MaxPacketLatencyCycles    int64   `json:"max_packet_latency_cycles"`
	ZeroLoadLatencyCycles     float64 `json:"zero_load_latency_cycles"`
	AvgHops                   float64 `json:"avg_hops"`
	MaxLinkUtilisation        float64 `json:"max_link_utilisation"`
	MeanLinkUtilisation       float64 `json:"mean_link_utilisation"`
	MeasuredPackets           int64   `json:"measured_packets"`
	PacketsGenerated          int64   `json:"packets_generated"`
	// PacketsStalled counts the packets that found their NI's queue full
	// (noc.ni_queue_packets) and waited at the source for room.
	PacketsStalled   int64    `json:"packets_stalled,omitempty"`
	PacketsInjected  int64    `json:"packets_injected"`
	PacketsDelivered int64    `json:"packets_delivered"`
	FlitsInjected    int64    `json:"flits_injected"`
	FlitsDelivered   int64    `json:"flits_delivered"`
	Cycles           int64    `json:"cycles"`
	Stable           bool     `json:"stable"` // every measured packet was delivered within the drain limit
	Counters         Counters `json:"counters"`
}

// checkTraffic validates tr against the network g it runs on.
func checkTraffic(g topo, tr Traffic) error {
	switch {
	case !slices.Contains(Patterns, tr.Pattern):
		return fmt.Errorf("unknown traffic pattern %q (want one of %v)", tr.Pattern, Patterns)
	case tr.Pattern == "transpose" && g.w != g.h:
		return fmt.Errorf("pattern transpose needs a square network, not %d×%d", g.w, g.h)
	case !(tr.Rate > 0 && tr.Rate <= 1):
		return fmt.Errorf("rate %g flits/node/cycle: must be in (0, 1], a network interface injects at most one flit per cycle", tr.Rate)
	case tr.PacketFlits < 1 || tr.PacketFlits > 1024:
		return fmt.Errorf("packet length %d flits: must be in 1..1024", tr.PacketFlits)
	case tr.Warmup < 0 || tr.Measure < 1 || tr.Warmup+tr.Measure > 1e9:
		return fmt.Errorf("warm-up %d and measurement %d cycles: want warm-up ≥ 0, measurement ≥ 1, together ≤ 10⁹", tr.Warmup, tr.Measure)
	case tr.Pattern == "hotspot" && !(tr.Hotspot >= 0 && tr.Hotspot <= 1):
		return fmt.Errorf("hotspot fraction %g: must be in [0, 1]", tr.Hotspot)
	}
	return nil
}

// dest is the destination of a packet from src under the pattern.
func dest(g topo, tr *Traffic, src int, rng *rand.Rand) int {
	x, y := g.xy(src)
	switch tr.Pattern {
	case "transpose":
		return x*g.w + y
	case "bitcomp":
		// The bitwise complement of the node number for power-of-two
		// sizes, the mirror image through the centre for any size.
		return (g.h-1-y)*g.w + (g.w - 1 - x)
	case "neighbor":
		return (y+1)%g.h*g.w + (x+1)%g.w
	case "hotspot":
		if rng.Float64() < tr.Hotspot {
			return hotspot(g)
		}
	}
	return rng.IntN(g.nodes()) // uniform, itself included, as in BookSim
}

func hotspot(g topo) int { return g.h/2*g.w + g.w/2 }

// ZeroLoadLatency is the mean zero-load latency of the pattern's packets:
// H·(p+l) + 2 + (L−1) averaged over its source–destination pairs.
func ZeroLoadLatency(cfg *arch.Config, tr Traffic) (float64, error) {
	g := topoOf(cfg)
	if err := checkTraffic(g, tr); err != nil {
		return 0, err
	}
	n := g.nodes()
	var uniform, fixed float64
	if tr.Pattern == "uniform" || tr.Pattern == "hotspot" {
		uniform = float64(g.pairHops())
	}
	for s := range n {
		switch tr.Pattern {
		case "hotspot":
			fixed += float64(g.hops(s, hotspot(g)))
		case "transpose", "bitcomp", "neighbor":
			fixed += float64(g.hops(s, dest(g, &tr, s, nil)))
		}
	}
	uniform /= float64(n * n)
	fixed /= float64(n)
	hops := fixed
	switch tr.Pattern {
	case "uniform":
		hops = uniform
	case "hotspot":
		hops = tr.Hotspot*fixed + (1-tr.Hotspot)*uniform
	}
	perRouter := float64(cfg.NoC.PipelineStages + cfg.NoC.LinkLatencyCycles)
	return (hops+1)*perRouter + 2 + float64(tr.PacketFlits-1), nil
}

// generator injects the synthetic traffic: each node's next packet time
// is drawn from a geometric distribution (the gaps of a Bernoulli process)
// and filed on a calendar of cycles, so that only the nodes that inject in
// a cycle cost anything.
type generator struct {
	net     *Net
	tr      *Traffic
	rng     *rand.Rand
	lambda  float64     // −ln(1 − p), p the packet probability per cycle
	due     []sim.Cycle // per node: the cycle of its next packet
	cal     [][]int32   // nodes filed by due cycle modulo len(cal)
	stopAt  sim.Cycle   // drain limit
	measEnd sim.Cycle
	win     *window
	eng     *sim.Engine
	made    int64
	stalled int64
	blocked []bool // per node: its due packet waits for room in the NI queue
	stable  bool   // every measured packet was delivered before the drain limit
}

// gap is the number of cycles to the next packet: 1 + the failures before
// the next success of a Bernoulli trial per cycle, a geometric variable,
// drawn as ⌊E/λ⌋ for an exponential E (P(⌊E/λ⌋ ≥ k) = e^(−λk) = (1−p)^k).
func (gn *generator) gap() sim.Cycle {
	return 1 + sim.Cycle(min(gn.rng.ExpFloat64()/gn.lambda, 1<<40))
}

// file puts node on the calendar at its due cycle, or as far ahead as the
// calendar reaches (it is filed again from there).
func (gn *generator) file(node int, now sim.Cycle) {
	at := min(gn.due[node], now+sim.Cycle(len(gn.cal)-1))
	b := &gn.cal[at&sim.Cycle(len(gn.cal)-1)]
	*b = append(*b, int32(node))
}

func (gn *generator) Handle(e sim.Event) {
	t := e.At
	if t >= gn.measEnd && gn.win.out == 0 || t >= gn.stopAt {
		// Injection stops; what is in the network drains, what still
		// waits at the sources was never injected and is dropped.
		gn.stable = gn.win.out == 0
		gn.net.dropQueued()
		return
	}
	mask := sim.Cycle(len(gn.cal) - 1)
	b := gn.cal[t&mask]
	gn.cal[t&mask] = nil
	for _, node := range b {
		src := int(node)
		if gn.due[src] == t && gn.net.queueFull(src) {
			// Back-pressure: the packet waits at the source, and the
			// source's Bernoulli process with it.
			if !gn.blocked[src] {
				gn.blocked[src] = true
				gn.stalled++
			}
			gn.due[src] = t + 1
		} else if gn.due[src] == t {
			gn.blocked[src] = false
			// No done handler: the statistics are all the generator
			// needs, and an engine event per packet would cost more
			// than the packet.
			gn.net.Send(gn.eng, src, dest(gn.net.g, gn.tr, src, gn.rng), 1, gn.tr.PacketFlits, nil)
			gn.made++
			gn.due[src] = t + gn.gap()
		}
		gn.file(src, t)
	}
	gn.cal[t&mask] = b[:0]
	for c := t + 1; ; c++ {
		if len(gn.cal[c&mask]) > 0 {
			gn.eng.Schedule(c, gn)
			return
		}
	}
}

// window is the measurement window: the packets created in [from, to)
// are measured, and their deliveries recorded in stats.
type window struct {
	from, to sim.Cycle
	stats    Stats
	marked   []bool // by packet number: created in the window, not yet delivered everywhere
	out      int    // marked packets
}

func (w *window) Injected(id int32, _ int, t sim.Cycle) {
	for int(id) >= len(w.marked) {
		w.marked = append(w.marked, false)
	}
	if t >= w.from && t < w.to {
		w.marked[id] = true
		w.out++
	}
}

func (w *window) Ejected(id int32, _ int, _ sim.Cycle, latency int64, hops int, last bool) {
	if !w.marked[id] {
		return
	}
	w.stats.record(latency, hops)
	if last {
		w.marked[id] = false
		w.out--
	}
}

func (w *window) Dropped(id int32) {
	if w.marked[id] {
		w.marked[id] = false
		w.out--
	}
}

// snapshot records the flits ejected and carried per link at the edges of
// the measurement window.
type snapshot struct {
	net      *Net
	flitsOut [2]int64
	links    [2][]int64
	k        int
}

func (s *snapshot) Handle(sim.Event) {
	s.flitsOut[s.k] = s.net.s.FlitsOut
	s.links[s.k] = slices.Clone(s.net.s.LinkFlits)
	s.k++
}

// Run simulates tr on the cycle-level network that cfg describes.
func Run(cfg *arch.Config, tr Traffic) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("noc: %w", err)
	}
	zl, err := ZeroLoadLatency(cfg, tr)
	if err != nil {
		return Result{}, fmt.Errorf("noc: %w", err)
	}
	r, _, err := run(NewNet(cfg), tr, zl)
	return r, err
}

// run simulates tr on n and also returns the statistics of every packet,
// measured or not.
func run(n *Net, tr Traffic, zl float64) (Result, Stats, error) {
	var e sim.Engine
	measFrom := sim.Cycle(tr.Warmup)
	measEnd := measFrom + sim.Cycle(tr.Measure)
	win := &window{from: measFrom, to: measEnd}
	n.Observe(win)
	defer n.Observe(nil)
	meas := &win.stats
	gn := &generator{
		net: n, tr: &tr, eng: &e,
		rng:     rand.New(rand.NewPCG(tr.Seed, 0x6e6f63)),
		lambda:  -math.Log1p(-tr.Rate / float64(tr.PacketFlits)),
		measEnd: measEnd,
		win:     win,
		// Drain for as long again as warm-up and measurement took; a
		// network that cannot deliver its measured packets by then is
		// past saturation.
		stopAt: 2 * measEnd,
	}
	// A calendar of 1024 cycles holds every gap of a load down to about
	// 0.005 packets per node per cycle; longer gaps are filed in stages.
	gn.cal = make([][]int32, 1024)
	first := sim.Cycle(math.MaxInt64)
	gn.blocked = make([]bool, n.g.nodes())
	for node := range n.g.nodes() {
		gn.due = append(gn.due, gn.gap()-1)
		gn.file(node, 0)
		first = min(first, gn.due[node])
	}
	e.Schedule(min(first, sim.Cycle(len(gn.cal)-1)), gn)
	snap := &snapshot{net: n}
	e.Schedule(measFrom, snap)
	e.Schedule(measEnd, snap)
	end := e.Run()
	if err := n.Err(); err != nil {
		return Result{}, Stats{}, err
	}
	s := n.TakeStats()
	res := Result{
		Pattern:                  tr.Pattern,
		PacketFlits:              tr.PacketFlits,
		OfferedFlitsPerNodeCycle: tr.Rate,
		ZeroLoadLatencyCycles:    zl,
		MeasuredPackets:          meas.Deliveries,
		AvgPacketLatencyCycles:   meas.MeanLatency(),
		P50PacketLatencyCycles:   meas.Percentile(0.5),
		P99PacketLatencyCycles:   meas.Percentile(0.99),
		MaxPacketLatencyCycles:   meas.LatencyMax,
		AvgHops:                  meas.MeanHops(),
		PacketsGenerated:         gn.made,
		PacketsStalled:           gn.stalled,
		PacketsInjected:          s.Packets,
		PacketsDelivered:         s.Deliveries,
		FlitsInjected:            s.Flits,
		FlitsDelivered:           s.FlitsOut,
		Cycles:                   int64(end),
		Stable:                   gn.stable,
		Counters:                 n.TakeCounters(),
	}
	nodes, window := float64(n.g.nodes()), float64(tr.Measure)
	res.AcceptedFlitsPerNodeCycle = float64(snap.flitsOut[1]-snap.flitsOut[0]) / (nodes * window)
	var links, sum, most int64
	for l := range snap.links[1] {
		if n.g.neighbour(l/4, l%4+1) < 0 {
			continue
		}
		d := snap.links[1][l] - snap.links[0][l]
		links++
		sum += d
		most = max(most, d)
	}
	if links > 0 {
		res.MaxLinkUtilisation = float64(most) / window
		res.MeanLinkUtilisation = float64(sum) / float64(links) / window
	}
	if res.PacketsInjected != res.PacketsDelivered || res.FlitsInjected != res.FlitsDelivered {
		return res, s, fmt.Errorf("noc: conservation violated: %d packets (%d flits) injected, %d (%d) delivered",
			res.PacketsInjected, res.FlitsInjected, res.PacketsDelivered, res.FlitsDelivered)
	}
	return res, s, nil
}

// SaturationLatencyFactor defines saturation: a load saturates the network
// when the mean packet latency reaches this many times the zero-load
// latency, or the measured packets can no longer be delivered, or (with a
// bounded NI queue, whose back-pressure caps latency) more than 1 % of the
// packets wait at their sources for room in the queue.
const SaturationLatencyFactor = 3

// Saturated reports whether r, a point of the sweep, is past saturation.
func (sw *Sweep) Saturated(r Result) bool {
	return !r.Stable || r.AvgPacketLatencyCycles >= SaturationLatencyFactor*sw.ZeroLoadLatencyCycles ||
		100*r.PacketsStalled > r.PacketsGenerated
}

// BelowSaturation is the point at the highest load that did not saturate
// (the lowest point if all did).
func (sw *Sweep) BelowSaturation() Result {
	best := sw.Table[0]
	for _, r := range sw.Table {
		if !sw.Saturated(r) {
			best = r
		}
	}
	return best
}

// Sweep is a latency–throughput curve.
type Sweep struct {
	ZeroLoadLatencyCycles float64 `json:"zero_load_latency_cycles"`
	// SaturationFlitsPerNodeCycle is the offered load at which the
	// network saturates (Saturated), found to within the final bracket;
	// 1 if even a full load stays below.
	SaturationFlitsPerNodeCycle float64  `json:"saturation_flits_per_node_cycle"`
	Table                       []Result `json:"table"`
}

// RunSweep raises the offered load of tr in steps of step until the
// network saturates, then bisects the last step refine times. each, if not
// nil, sees every point as it is measured; an error from it stops the
// sweep.
func RunSweep(cfg *arch.Config, tr Traffic, step float64, refine int, each func(Result) error) (Sweep, error) {
	if !(step > 0 && step <= 1) || refine < 0 || refine > 20 {
		return Sweep{}, fmt.Errorf("noc: sweep step %g must be in (0, 1] and refinements %d in 0..20", step, refine)
	}
	tr.Rate = step
	zl, err := ZeroLoadLatency(cfg, tr)
	if err != nil {
		return Sweep{}, fmt.Errorf("noc: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Sweep{}, fmt.Errorf("noc: %w", err)
	}
	sw := Sweep{ZeroLoadLatencyCycles: zl}
	saturated := func(rate float64) (bool, error) {
		tr.Rate = rate
		r, _, err := run(NewNet(cfg), tr, zl)
		if err != nil {
			return false, fmt.Errorf("noc: sweep at %.4g flits/node/cycle: %w", rate, err)
		}
		sw.Table = append(sw.Table, r)
		if each != nil {
			if err := each(r); err != nil {
				return false, err
			}
		}
		return sw.Saturated(r), nil
	}
	lo, hi := 0.0, 0.0
	for k := 1; ; k++ {
		rate := math.Min(float64(k)*step, 1)
		sat, err := saturated(rate)
		if err != nil {
			return sw, err
		}
		if sat {
			hi = rate
			break
		}
		lo = rate
		if rate == 1 {
			refine, hi = 0, 1
			break
		}
	}
	for range refine {
		mid := (lo + hi) / 2
		sat, err := saturated(mid)
		if err != nil {
			return sw, err
		}
		if sat {
			hi = mid
		} else {
			lo = mid
		}
	}
	sw.SaturationFlitsPerNodeCycle = (lo + hi) / 2
	if lo == hi {
		sw.SaturationFlitsPerNodeCycle = 1
	}
	slices.SortFunc(sw.Table, func(a, b Result) int {
		switch {
		case a.OfferedFlitsPerNodeCycle < b.OfferedFlitsPerNodeCycle:
			return -1
		case a.OfferedFlitsPerNodeCycle > b.OfferedFlitsPerNodeCycle:
			return 1
		}
		return 0
	})
	return sw, nil
}
