package noc

import (
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

func netConfig(w, h int, topology string, mod func(*arch.NoC)) *arch.Config {
	cfg := arch.Default()
	cfg.Chip.MeshWidth, cfg.Chip.MeshHeight, cfg.Chip.Topology = w, h, topology
	if mod != nil {
		mod(&cfg.NoC)
	}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return cfg
}

// TestZeroLoadLatencyExact sends one packet at a time through an empty
// network and holds its latency to H·(p+l) + 2 + (L−1), for paths of every
// length and direction, pipeline depths, link latencies, packet lengths up
// to the VC depth, both routing orders, mesh and torus.
func TestZeroLoadLatencyExact(t *testing.T) {
	type variant struct {
		topology, routing string
		p, l, vcs, depth  int
		alloc             string
		creditDelay       int
	}
	for _, v := range []variant{
		{"mesh", "xy", 3, 1, 2, 4, "combined", 0},
		{"mesh", "yx", 3, 1, 2, 4, "combined", 0},
		{"mesh", "xy", 1, 1, 1, 1, "combined", 0},
		{"mesh", "xy", 2, 1, 4, 2, "combined", 0},
		{"mesh", "xy", 5, 3, 2, 8, "combined", 0},
		{"mesh", "xy", 8, 1, 1, 5, "combined", 0},
		{"torus", "xy", 3, 1, 2, 4, "combined", 0},
		{"torus", "yx", 4, 2, 4, 4, "combined", 0},
		{"mesh", "xy", 3, 1, 2, 4, "separate", 0},
		{"mesh", "xy", 4, 2, 1, 5, "separate", 2},
		{"torus", "yx", 5, 1, 2, 8, "separate", 1},
	} {
		cfg := netConfig(5, 4, v.topology, func(c *arch.NoC) {
			c.Routing, c.PipelineStages, c.LinkLatencyCycles, c.VCs, c.VCDepth = v.routing, v.p, v.l, v.vcs, v.depth
			c.Allocation, c.CreditDelayCycles = v.alloc, v.creditDelay
		})
		n := NewNet(cfg)
		g := n.g
		for src := range g.nodes() {
			for dst := range g.nodes() {
				for _, L := range []int{1, 2, 5} {
					if L > v.depth {
						// A packet longer than a VC buffer waits for
						// credits even alone: the formula assumes it fits.
						continue
					}
					var e sim.Engine
					e.Reset(sim.Cycle(100 * (src + 1)))
					a := &arrivals{}
					n.Send(&e, src, dst, 1, L, a)
					e.Run()
					H := g.hops(src, dst) + 1
					want := sim.Cycle(100*(src+1) + H*(v.p+v.l) + 2 + L - 1)
					if len(a.at) != 1 || a.at[0] != want {
						t.Fatalf("%+v: %s→%s, %d flits: done at %v, want %d", v, g.name(src), g.name(dst), L, a.at, want)
					}
					if err := n.Err(); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		s := n.TakeStats()
		if s.Deliveries != s.Packets || s.FlitsOut != s.Flits {
			t.Fatalf("%+v: stats %d packets %d delivered, %d flits in %d out", v, s.Packets, s.Deliveries, s.Flits, s.FlitsOut)
		}
	}
}

func TestTopologyPaths(t *testing.T) {
	for _, g := range []topo{{w: 5, h: 4}, {w: 5, h: 4, torus: true}, {w: 4, h: 6, torus: true, yx: true}, {w: 3, h: 3, yx: true}} {
		for src := range g.nodes() {
			for dst := range g.nodes() {
				steps := -1
				g.walk(src, dst, func(r, p int) {
					steps++
					if !g.onPath(src, dst, r) {
						t.Fatalf("%+v %d→%d: router %d on the walk but not onPath", g, src, dst, r)
					}
				})
				if steps != g.hops(src, dst) {
					t.Fatalf("%+v %d→%d: walk of %d links, hops %d", g, src, dst, steps, g.hops(src, dst))
				}
				on := 0
				for r := range g.nodes() {
					if g.onPath(src, dst, r) {
						on++
					}
				}
				if on != steps+1 {
					t.Fatalf("%+v %d→%d: %d routers onPath, walk has %d", g, src, dst, on, steps+1)
				}
			}
		}
	}
}

// TestIdleRoutersCostNothing: one packet across a 16×16 mesh evaluates
// only the routers on its path, about once per flit each, however long it
// waits on a slow link, and nothing at all happens in between.
func TestIdleRoutersCostNothing(t *testing.T) {
	cfg := netConfig(16, 16, "mesh", func(c *arch.NoC) { c.LinkLatencyCycles = 50 })
	n := NewNet(cfg)
	var e sim.Engine
	ticks := 0
	e.Hooks = append(e.Hooks, func(sim.Event) { ticks++ })
	n.Send(&e, 0, 255, 1, 3, &arrivals{})
	e.Run()
	s := n.TakeStats()
	routers := n.g.hops(0, 255) + 1
	if s.RouterCycles > int64(3*routers) {
		t.Fatalf("%d router evaluations for a 3-flit packet through %d routers", s.RouterCycles, routers)
	}
	// A flit moves, and its credit returns, at a few cycles per router;
	// the 50-cycle links in between are skipped.
	if cycles := int(e.Now()); ticks > 3*3*routers || ticks > cycles/5 {
		t.Fatalf("%d engine events over %d cycles, %d routers", ticks, cycles, routers)
	}
}

// TestRouterEvaluationAllocationFree: once its pools and buffers have
// grown, the network moves traffic without allocating: every tile sends
// packets across a loaded 8×8 mesh (unicast and tree multicast, combined
// and separate allocation, so every evaluation path, traversal, credits,
// ejection and the wheel run), and a repeat of the same traffic allocates
// nothing.
func TestRouterEvaluationAllocationFree(t *testing.T) {
	for _, mode := range [][2]string{{"source", "combined"}, {"tree", "combined"}, {"source", "separate"}} {
		mc := mode[0] + "/" + mode[1]
		n := NewNet(netConfig(8, 8, "mesh", func(c *arch.NoC) { c.Multicast, c.Allocation = mode[0], mode[1] }))
		var e sim.Engine
		dsts := []int{5, 17, 40, 63}
		round := func() {
			e.Reset(0)
			for src := range 64 {
				n.Send(&e, src, (src*37+11)%64, 2, 3, nil)
				n.Multicast(&e, src, dsts, 1, 2, nil)
			}
			e.Run()
		}
		round()
		if a := testing.AllocsPerRun(20, round); a != 0 {
			t.Errorf("multicast %s: %.1f allocations per round of traffic, want 0", mc, a)
		}
		if err := n.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCreditDelay streams one packet longer than a VC buffer between
// neighbours: it waits for credits, so a longer credit delay makes it
// later, by more the longer the delay; a buffer that covers the credit
// round trip hides the delay altogether.
func TestCreditDelay(t *testing.T) {
	latency := func(depth, delay int) sim.Cycle {
		n := NewNet(netConfig(2, 1, "mesh", func(c *arch.NoC) { c.VCs, c.VCDepth, c.CreditDelayCycles = 1, depth, delay }))
		var e sim.Engine
		a := &arrivals{}
		n.Send(&e, 0, 1, 1, 24, a)
		e.Run()
		if err := n.Err(); err != nil {
			t.Fatal(err)
		}
		return a.at[0]
	}
	d0, d2, d5 := latency(2, 0), latency(2, 2), latency(2, 5)
	if !(d0 < d2 && d2 < d5) {
		t.Errorf("24 flits through 2-flit buffers: done at %d, %d, %d with credit delays 0, 2, 5; want increasing", d0, d2, d5)
	}
	// Round trip p + 2l + delay = 3 + 2 + 2 = 7 cycles ≤ 8 buffered flits.
	if a, b := latency(8, 0), latency(8, 2); a != b {
		t.Errorf("8-flit buffers: credit delay 2 moved the arrival from %d to %d; the buffer covers the round trip", a, b)
	}
}

// TestSeparateAllocation: a head that wins its output VC in cycle t holds
// it and requests the switch only from t+1; with combined allocation it
// crosses in t.
func TestSeparateAllocation(t *testing.T) {
	for _, mode := range []string{"combined", "separate"} {
		n := NewNet(netConfig(3, 3, "mesh", func(c *arch.NoC) { c.Allocation = mode }))
		const r = 4
		ins := n.in[r*vcSlots : (r+1)*vcSlots]
		n.push(r, portXMinus, 0, flit{dst: 5, head: true, tail: true}, 0)
		q := &ins[portXMinus*maxVCs]
		won, granted := allocate(n, r, holding(n, r), 1)
		if !won || q.vaMask != 1<<portXPlus {
			t.Fatalf("%s: the head did not win its VC", mode)
		}
		if crossed := granted != 0; crossed != (mode == "combined") {
			t.Fatalf("%s: the head won the switch in its VC allocation cycle: %v", mode, crossed)
		}
		if mode == "separate" {
			_, g := allocate(n, r, holding(n, r), 2)
			if in, grant, _ := unpackGrants(g); in != 1<<portXMinus || grant[portXMinus] != 1<<portXPlus {
				t.Fatalf("separate: the head holding its VC did not win the switch a cycle later (inputs granted %05b)", in)
			}
		}
	}
}
