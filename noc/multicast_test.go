package noc

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// TestMulticastZeroLoad sends multicasts through an empty network. A tree
// reaches every destination at its unicast zero-load latency; source
// replication injects one copy after another, so copy i starts i·L cycles
// late or later. Both are charged for what they occupy, the tree's links
// once, the copies' paths each, exactly as the zero-load model charges.
func TestMulticastZeroLoad(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, topology := range []string{"mesh", "torus"} {
		for _, mode := range []string{"tree", "source"} {
			for _, routing := range []string{"xy", "yx"} {
				cfg := netConfig(5, 4, topology, func(c *arch.NoC) { c.Multicast, c.Routing, c.VCDepth = mode, routing, 8 })
				n := NewNet(cfg)
				z := NewZeroLoad(cfg)
				g := n.g
				for trial := range 200 {
					src := rng.IntN(g.nodes())
					dsts := rng.Perm(g.nodes())[:1+rng.IntN(g.nodes())]
					L := 1 + rng.IntN(4)
					var e, ez sim.Engine
					e.Reset(sim.Cycle(trial))
					ez.Reset(sim.Cycle(trial))
					z.Reset()
					a, az := &arrivals{}, &arrivals{}
					n.Multicast(&e, src, dsts, 1, L, a)
					z.Multicast(&ez, src, dsts, 1, L, az)
					e.Run()
					ez.Run()
					if err := n.Err(); err != nil {
						t.Fatal(err)
					}
					var want []int64
					var last sim.Cycle
					for i, d := range dsts {
						lat := z.Latency(src, d, L)
						if mode == "source" {
							lat += sim.Cycle(i * L)
						}
						want = append(want, int64(lat))
						last = max(last, sim.Cycle(trial)+lat)
					}
					s, sz := n.TakeStats(), z.TakeStats()
					if len(az.at) != 1 || az.at[0] != last || !slices.Equal(latencies(sz), sorted(want)) {
						t.Fatalf("zero-load model %s: done at %v, want %d", mode, az.at, last)
					}
					got := latencies(s)
					if mode == "tree" && (len(a.at) != 1 || a.at[0] != last || !slices.Equal(got, sorted(want))) {
						t.Fatalf("%s tree %s: %s→%v, %d flits: done at %v, want %d; latencies %v, want %v",
							topology, routing, g.name(src), dsts, L, a.at, last, got, sorted(want))
					}
					// Copies that follow one another through a router
					// may reuse the VC the previous one just freed, and a
					// head behind a tail computes its route only once at
					// the front: source replication can be a little
					// slower than back to back.
					if mode == "source" && (len(a.at) != 1 || a.at[0] < last || a.at[0] != sim.Cycle(trial)+sim.Cycle(s.LatencyMax) || len(got) != len(want)) {
						t.Fatalf("%s source %s: %s→%v, %d flits: done at %v, back-to-back %d; latencies %v",
							topology, routing, g.name(src), dsts, L, a.at, last, got)
					}
					if !slices.Equal(s.LinkFlits, sz.LinkFlits) || s.FlitsOut != sz.FlitsOut {
						t.Fatalf("%s %s: link flits %v vs zero-load model %v", topology, mode, s.LinkFlits, sz.LinkFlits)
					}
					c, cz := n.TakeCounters(), z.TakeCounters()
					if c != cz {
						t.Fatalf("%s %s: counters %+v vs zero-load model %+v", topology, mode, c, cz)
					}
					var links int64
					for _, v := range s.LinkFlits {
						links += v
					}
					if c.LinkFlits != links {
						t.Fatalf("%s %s: charged %d link flits, carried %d", topology, mode, c.LinkFlits, links)
					}
					if mode == "source" && c.Packets != int64(len(dsts)) || mode == "tree" && c.Packets != 1 {
						t.Fatalf("%s: %d packets for %d destinations", mode, c.Packets, len(dsts))
					}
				}
			}
		}
	}
}

func latencies(s Stats) []int64 {
	var out []int64
	for c, k := range s.Latency {
		for range k {
			out = append(out, int64(c))
		}
	}
	return out
}

func sorted(v []int64) []int64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

// TestBundleDoneAtLastPacket: a Send of several packets signals done when
// the last one is ejected, no earlier than back-to-back injection allows.
func TestBundleDoneAtLastPacket(t *testing.T) {
	cfg := netConfig(4, 4, "mesh", func(c *arch.NoC) { c.VCDepth = 8 })
	n := NewNet(cfg)
	var e sim.Engine
	e.Reset(10)
	a := &arrivals{}
	n.Send(&e, 0, 15, 5, 3, a)
	e.Run()
	s := n.TakeStats()
	bound := 10 + 4*3 + NewZeroLoad(cfg).Latency(0, 15, 3)
	if len(a.at) != 1 || a.at[0] != 10+sim.Cycle(s.LatencyMax) || a.at[0] < bound || s.Deliveries != 5 {
		t.Fatalf("done at %v; last ejection at %d, back-to-back bound %d", a.at, 10+s.LatencyMax, bound)
	}
}

// burst sends a random multicast from every tile in each of its cycles.
type burst struct {
	n      Network
	e      *sim.Engine
	rng    *rand.Rand
	nodes  int
	until  sim.Cycle
	done   *arrivals
	sent   int
	copies int64 // packet × destination
	flits  int64 // flit × destination
}

func (b *burst) Handle(ev sim.Event) {
	for src := range b.nodes {
		dsts := b.rng.Perm(b.nodes)[:1+b.rng.IntN(b.nodes/2)]
		packets, flits := 1+b.rng.IntN(2), 1+b.rng.IntN(5)
		b.n.Multicast(b.e, src, dsts, packets, flits, b.done)
		b.sent++
		b.copies += int64(packets * len(dsts))
		b.flits += int64(packets * flits * len(dsts))
	}
	if ev.At < b.until {
		b.e.Schedule(ev.At+sim.Cycle(1+b.rng.IntN(8)), b)
	}
}

// TestMulticastUnderLoad floods small meshes and tori with overlapping
// multicasts from every tile, through one or two shallow VCs: every copy
// arrives, every done fires, and the network never stalls (a tree takes
// all its branches' VCs at once, with room for the whole packet, so
// forking trees never wait on one another).
func TestMulticastUnderLoad(t *testing.T) {
	for _, topology := range []string{"mesh", "torus"} {
		for _, mode := range []string{"tree", "source"} {
			for _, routing := range []string{"xy", "yx"} {
				for _, vcs := range []int{1, 2} {
					if topology == "torus" && vcs < 2 {
						continue
					}
					// A tree multicast needs VCs with room for a whole
					// packet (up to 5 flits here); source copies are
					// wormhole packets and may be longer than a buffer.
					depth := 2
					if mode == "tree" {
						depth = 5
					}
					cfg := netConfig(4, 3, topology, func(c *arch.NoC) {
						c.Multicast, c.Routing, c.VCs, c.VCDepth = mode, routing, vcs, depth
					})
					n := NewNet(cfg)
					var e sim.Engine
					b := &burst{n: n, e: &e, rng: rand.New(rand.NewPCG(uint64(vcs), 9)), nodes: 12, until: 300, done: &arrivals{}}
					e.Schedule(0, b)
					e.Run()
					if err := n.Err(); err != nil {
						t.Fatalf("%s %s %s %d VCs: %v", topology, mode, routing, vcs, err)
					}
					s := n.TakeStats()
					if len(b.done.at) != b.sent || s.Deliveries != b.copies || s.FlitsOut != b.flits {
						t.Fatalf("%s %s %s %d VCs: %d of %d done, %d of %d copies, %d of %d flits",
							topology, mode, routing, vcs, len(b.done.at), b.sent, s.Deliveries, b.copies, s.FlitsOut, b.flits)
					}
				}
			}
		}
	}
}
