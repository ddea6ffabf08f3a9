// Package noc is the chip's network-on-chip. Network is what the chip
// talks to; ZeroLoad is a contention-free stand-in that charges every
// packet the zero-load latency of its path and serialises injection at
// each network interface. (The cycle-level router model replaces it behind
// the same interface.)
package noc

import (
	"fmt"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// Counters count network events for the energy model.
type Counters struct {
	Packets     int64
	Flits       int64
	RouterFlits int64 // flit × router traversals
	LinkFlits   int64 // flit × link hops
}

// Network carries packets between tiles.
type Network interface {
	// Send injects packets packets of flits flits each from tile src to
	// tile dst at the engine's current cycle, and schedules done on the
	// engine at the cycle the last one is ejected at dst.
	Send(e *sim.Engine, src, dst, packets, flits int, done sim.Handler)
	// Reset starts a new run: the network is empty and injection ports idle.
	Reset()
	// Counters are the events since the last TakeCounters.
	TakeCounters() Counters
}

// ZeroLoad is a contention-free network: with H routers on the path,
// pipeline depth p and link latency l, a packet of L flits takes
// H·(p+l) + 2 + (L−1) cycles (one cycle each for injection and ejection),
// and a network interface injects one flit per cycle.
type ZeroLoad struct {
	width, height int
	torus         bool
	perRouter     int
	portFree      []sim.Cycle
	c             Counters
}

// NewZeroLoad builds the stand-in network for cfg.
func NewZeroLoad(cfg *arch.Config) *ZeroLoad {
	return &ZeroLoad{
		width: cfg.Chip.MeshWidth, height: cfg.Chip.MeshHeight,
		torus:     cfg.Chip.Topology == "torus",
		perRouter: cfg.NoC.PipelineStages + cfg.NoC.LinkLatencyCycles,
		portFree:  make([]sim.Cycle, cfg.Chip.MeshWidth*cfg.Chip.MeshHeight),
	}
}

// Hops is the number of links on the dimension-order path from src to dst.
func (z *ZeroLoad) Hops(src, dst int) int {
	return dist(src%z.width, dst%z.width, z.width, z.torus) + dist(src/z.width, dst/z.width, z.height, z.torus)
}

func dist(a, b, n int, torus bool) int {
	d := a - b
	if d < 0 {
		d = -d
	}
	if torus && n-d < d {
		d = n - d
	}
	return d
}

// Latency is the zero-load latency of one packet of flits flits.
func (z *ZeroLoad) Latency(src, dst, flits int) sim.Cycle {
	routers := z.Hops(src, dst) + 1
	return sim.Cycle(routers*z.perRouter + 2 + flits - 1)
}

// Send implements Network.
func (z *ZeroLoad) Send(e *sim.Engine, src, dst, packets, flits int, done sim.Handler) {
	if packets <= 0 || flits <= 0 {
		panic(fmt.Sprintf("noc: send of %d packets × %d flits", packets, flits))
	}
	start := max(e.Now(), z.portFree[src])
	total := sim.Cycle(packets * flits)
	z.portFree[src] = start + total
	lastStart := start + total - sim.Cycle(flits)
	e.Schedule(lastStart+z.Latency(src, dst, flits), done, nil)
	hops := int64(z.Hops(src, dst))
	n := int64(packets) * int64(flits)
	z.c.Packets += int64(packets)
	z.c.Flits += n
	z.c.RouterFlits += n * (hops + 1)
	z.c.LinkFlits += n * hops
}

// Reset implements Network.
func (z *ZeroLoad) Reset() { clear(z.portFree) }

// TakeCounters implements Network.
func (z *ZeroLoad) TakeCounters() Counters {
	c := z.c
	z.c = Counters{}
	return c
}
