// Package noc is the chip's network-on-chip. Network is what the chip
// talks to. Net is the cycle-level model: input-queued virtual-channel
// routers with credit flow control on a mesh or torus, simulated cycle by
// cycle wherever a flit moves and not at all where nothing does
// (docs/noc.md). ZeroLoad is a contention-free stand-in that charges every
// packet the zero-load latency of its path and serialises injection at
// each network interface. New picks one by arch.toml's noc.model.
package noc

import (
	"fmt"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// Counters count network events for the energy model. They are charged
// when a packet is sent (its dimension-order path, or multicast tree, is
// known then), so a caller can attribute them to whatever sent it.
type Counters struct {
	Packets     int64 `json:"packets"`
	Flits       int64 `json:"flits"`
	RouterFlits int64 `json:"router_flits"` // flit × routers visited (buffer write and read, allocation)
	LinkFlits   int64 `json:"link_flits"`   // flit × link hops between routers
	// SwitchFlits is flit × crossbar traversals: RouterFlits plus the
	// extra copies that a tree multicast forks inside routers.
	SwitchFlits int64 `json:"switch_flits"`
	// An input-queued router writes each flit into, and reads it from, one
	// input buffer per router, so both equal RouterFlits; they are kept
	// apart so that an energy model can price buffers separately.
	BufferWrites int64 `json:"buffer_writes"`
	BufferReads  int64 `json:"buffer_reads"`
}

// Add accumulates o into c.
func (c *Counters) Add(o Counters) {
	c.Packets += o.Packets
	c.Flits += o.Flits
	c.RouterFlits += o.RouterFlits
	c.LinkFlits += o.LinkFlits
	c.SwitchFlits += o.SwitchFlits
	c.BufferWrites += o.BufferWrites
	c.BufferReads += o.BufferReads
}

func (c *Counters) add(packets, flits, routers, links, switches int64) {
	n := packets * flits
	c.Packets += packets
	c.Flits += n
	c.RouterFlits += n * routers
	c.LinkFlits += n * links
	c.SwitchFlits += n * switches
	c.BufferWrites += n * routers
	c.BufferReads += n * routers
}

// Network carries packets between tiles.
type Network interface {
	// Send injects packets packets of flits flits each from tile src to
	// tile dst at the engine's current cycle, and schedules done on the
	// engine at the cycle the last one is ejected at dst (done may be nil
	// when nobody waits for it).
	Send(e *sim.Engine, src, dst, packets, flits int, done sim.Handler)
	// Multicast sends packets packets of flits flits each from src to
	// every tile in dsts, replicated at the source network interface or
	// forked in the routers as arch.toml's noc.multicast says, and
	// schedules done at the cycle the last copy is ejected.
	Multicast(e *sim.Engine, src int, dsts []int, packets, flits int, done sim.Handler)
	// Reset starts a new run: the network is empty and injection ports idle.
	Reset()
	// TakeCounters returns the events since the last call.
	TakeCounters() Counters
	// TakeStats returns the traffic statistics since the last call.
	TakeStats() Stats
	// Err reports a network that stopped making progress (a deadlock),
	// naming where flits are stuck; the run that hit it is invalid.
	Err() error
}

// New builds the network that cfg (validated) asks for.
func New(cfg *arch.Config) Network {
	if cfg.NoC.Model == "zeroload" {
		return NewZeroLoad(cfg)
	}
	return NewNet(cfg)
}

func topoOf(cfg *arch.Config) topo {
	return topo{w: cfg.Chip.MeshWidth, h: cfg.Chip.MeshHeight, torus: cfg.Chip.Topology == "torus", yx: cfg.NoC.Routing == "yx"}
}

func checkSend(g topo, src int, dsts []int, packets, flits int) {
	if packets <= 0 || flits <= 0 {
		panic(fmt.Sprintf("noc: send of %d packets × %d flits", packets, flits))
	}
	if len(dsts) == 0 {
		panic("noc: multicast to no destination")
	}
	for _, d := range dsts {
		checkTile(g, d)
	}
	checkTile(g, src)
}

func checkTile(g topo, n int) {
	if n < 0 || n >= g.nodes() {
		panic(fmt.Sprintf("noc: tile %d outside the %d×%d network", n, g.w, g.h))
	}
}

// ZeroLoad is a contention-free network: with H routers on the path,
// pipeline depth p and link latency l, a packet of L flits takes
// H·(p+l) + 2 + (L−1) cycles (one cycle each for injection and ejection),
// and a network interface injects one flit per cycle.
type ZeroLoad struct {
	g         topo
	tree      bool
	perRouter int
	portFree  []sim.Cycle
	c         Counters
	s         Stats
	t         tree
}

// NewZeroLoad builds the stand-in network for cfg.
func NewZeroLoad(cfg *arch.Config) *ZeroLoad {
	g := topoOf(cfg)
	return &ZeroLoad{
		g:         g,
		tree:      cfg.NoC.Multicast == "tree",
		perRouter: cfg.NoC.PipelineStages + cfg.NoC.LinkLatencyCycles,
		portFree:  make([]sim.Cycle, g.nodes()),
	}
}

// Hops is the number of links on the dimension-order path from src to dst.
func (z *ZeroLoad) Hops(src, dst int) int { return z.g.hops(src, dst) }

// Latency is the zero-load latency of one packet of flits flits.
func (z *ZeroLoad) Latency(src, dst, flits int) sim.Cycle {
	routers := z.Hops(src, dst) + 1
	return sim.Cycle(routers*z.perRouter + 2 + flits - 1)
}

// Send implements Network.
func (z *ZeroLoad) Send(e *sim.Engine, src, dst, packets, flits int, done sim.Handler) {
	z.Multicast(e, src, []int{dst}, packets, flits, done)
}

// Multicast implements Network.
func (z *ZeroLoad) Multicast(e *sim.Engine, src int, dsts []int, packets, flits int, done sim.Handler) {
	checkSend(z.g, src, dsts, packets, flits)
	copies := len(dsts)
	if z.tree {
		copies = 1
	}
	start := max(e.Now(), z.portFree[src])
	z.portFree[src] = start + sim.Cycle(copies*packets*flits)
	var last sim.Cycle
	for i, d := range dsts {
		first := start // this destination's first packet starts
		if !z.tree {
			first += sim.Cycle(i * packets * flits)
		}
		lat := z.Latency(src, d, flits)
		for k := range packets {
			z.s.record(int64(first+sim.Cycle(k*flits)+lat-e.Now()), z.g.hops(src, d))
		}
		last = max(last, first+sim.Cycle((packets-1)*flits)+lat)
		if !z.tree {
			z.account([]int{d}, src, packets, flits)
		}
	}
	if z.tree {
		z.account(dsts, src, packets, flits)
	}
	z.s.FlitsOut += int64(len(dsts) * packets * flits)
	if done != nil {
		e.Schedule(last, done)
	}
}

// account charges packets×flits over the tree from src to dsts.
func (z *ZeroLoad) account(dsts []int, src, packets, flits int) {
	n := int64(packets * flits)
	for len(z.s.LinkFlits) < 4*z.g.nodes() {
		z.s.LinkFlits = append(z.s.LinkFlits, 0)
	}
	routers, links, switches := z.t.size(z.g, src, dsts, func(l int) { z.s.LinkFlits[l] += n })
	z.c.add(int64(packets), int64(flits), int64(routers), int64(links), int64(switches))
	z.s.Packets += int64(packets)
	z.s.Flits += n
}

// Reset implements Network.
func (z *ZeroLoad) Reset() { clear(z.portFree) }

// TakeCounters implements Network.
func (z *ZeroLoad) TakeCounters() Counters {
	c := z.c
	z.c = Counters{}
	return c
}

// TakeStats implements Network.
func (z *ZeroLoad) TakeStats() Stats {
	s := z.s
	z.s = Stats{}
	return s
}

// Err implements Network: a network without contention cannot deadlock.
func (z *ZeroLoad) Err() error { return nil }
