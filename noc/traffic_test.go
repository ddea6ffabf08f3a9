package noc

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// short is a synthetic run small enough for a unit test.
func short(pattern string, rate float64, flits int) Traffic {
	return Traffic{Pattern: pattern, Rate: rate, PacketFlits: flits, Warmup: 200, Measure: 1000, Seed: 3, Hotspot: 0.2}
}

// TestConservation runs every pattern at loads below, near and beyond
// saturation on a mesh and a torus, with combined allocation and with
// separate allocation, a credit delay and bounded NI queues: after the
// drain every injected packet
// and flit has been delivered exactly once (Run checks the totals), the
// links carried exactly the flit-hops that Send charged, and routers
// hold no flit.
func TestConservation(t *testing.T) {
	for _, v := range []struct{ topology, alloc string }{{"mesh", "combined"}, {"torus", "combined"}, {"mesh", "separate"}, {"torus", "separate"}} {
		topology := v.topology
		cfg := netConfig(4, 4, topology, func(c *arch.NoC) {
			c.VCDepth, c.Allocation = 2, v.alloc
			if v.alloc == "separate" {
				c.CreditDelayCycles, c.NIQueuePackets = 1, 3
			}
		})
		for _, p := range Patterns {
			for _, rate := range []float64{0.05, 0.3, 0.9} {
				for _, flits := range []int{1, 4} {
					zl, err := ZeroLoadLatency(cfg, short(p, rate, flits))
					if err != nil {
						t.Fatal(err)
					}
					n := NewNet(cfg)
					r, s, err := run(n, short(p, rate, flits), zl)
					if err != nil {
						t.Fatalf("%s %s rate %g, %d flits: %v", topology, p, rate, flits, err)
					}
					if r.PacketsInjected == 0 || r.PacketsDelivered != r.PacketsInjected || r.FlitsDelivered != r.FlitsInjected {
						t.Fatalf("%s %s rate %g: %+v", topology, p, rate, r)
					}
					var linkFlits int64
					for _, v := range s.LinkFlits {
						linkFlits += v
					}
					if r.Counters.Packets != r.PacketsInjected || r.Counters.Flits != r.FlitsInjected || r.Counters.LinkFlits != linkFlits {
						t.Fatalf("%s %s rate %g: counters %+v for %d packets, %d flits injected", topology, p, rate, r.Counters, r.PacketsInjected, r.FlitsInjected)
					}
					if n.inFlight != 0 || n.queued != 0 || n.wh.pending != 0 {
						t.Fatalf("%s %s rate %g: %d flits, %d packets, %d events left", topology, p, rate, n.inFlight, n.queued, n.wh.pending)
					}
				}
			}
		}
	}
}

// TestDeterminism: the same traffic and seed give the same result, and a
// different seed a different one.
func TestDeterminism(t *testing.T) {
	cfg := netConfig(6, 6, "torus", func(c *arch.NoC) { c.VCs = 4 })
	tr := short("uniform", 0.35, 3)
	a, err := Run(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	tr.Seed++
	c, err := Run(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("another seed gave the same run")
	}
}

// TestDeadlockWatchdog removes the torus datelines (a test-only hook): a
// ring of wormhole packets then waits on itself. The run must end with an
// error that names the blocked VCs, not hang; the same load with
// datelines drains.
func TestDeadlockWatchdog(t *testing.T) {
	cfg := netConfig(4, 4, "torus", func(c *arch.NoC) { c.VCDepth = 2 })
	tr := short("uniform", 0.9, 8)
	zl, err := ZeroLoadLatency(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	n := NewNet(cfg)
	n.noDateline = true
	_, _, err = run(n, tr, zl)
	if err == nil {
		t.Fatal("a torus without datelines under full load did not deadlock")
	}
	msg := err.Error()
	for _, want := range []string{"deadlock at cycle", "router (", "waits for a credit"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("deadlock report lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("%.600s", msg)
	if _, _, err := run(NewNet(cfg), tr, zl); err != nil {
		t.Fatalf("with datelines: %v", err)
	}
}

// TestSaturationBelowBisectionBound: uniform traffic on a k×k mesh cannot
// be accepted faster than 4/k flits per node per cycle (half of it crosses
// the bisection, k links each way); the sweep must saturate below that,
// and at least half-way there, where input-queued VC routers do.
func TestSaturationBelowBisectionBound(t *testing.T) {
	for _, k := range []int{4, 8} {
		cfg := netConfig(k, k, "mesh", nil)
		tr := Traffic{Pattern: "uniform", PacketFlits: 1, Warmup: 300, Measure: 1500, Seed: 1}
		sw, err := RunSweep(cfg, tr, 0.1, 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		bound := 4 / float64(k)
		if s := sw.SaturationFlitsPerNodeCycle; s >= bound || s < bound/2 {
			t.Fatalf("%d×%d: saturation %.3f, bisection bound %.3f", k, k, s, bound)
		}
		for _, r := range sw.Table {
			if r.AcceptedFlitsPerNodeCycle > bound*1.02 {
				t.Fatalf("%d×%d: accepted %.3f above the bound %.3f", k, k, r.AcceptedFlitsPerNodeCycle, bound)
			}
		}
	}
}

func TestTrafficErrors(t *testing.T) {
	cfg := netConfig(4, 2, "mesh", nil)
	for _, tc := range []struct {
		tr   Traffic
		want string
	}{
		{short("tornado", 0.1, 1), "unknown traffic pattern"},
		{short("transpose", 0.1, 1), "square"},
		{short("uniform", 1.5, 1), "rate"},
		{short("uniform", 0.1, 0), "packet length"},
	} {
		if _, err := Run(cfg, tc.tr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one about %q", tc.tr, err, tc.want)
		}
	}
}

// TestNIQueueBound drives an 8×8 mesh far past saturation: with unbounded
// NI queues the packet records pile up at the sources; with
// noc.ni_queue_packets = 4 the sources wait, the records stay within the
// queues plus the buffers, and the sweep's rule calls the load saturated.
func TestNIQueueBound(t *testing.T) {
	tr := Traffic{Pattern: "uniform", Rate: 0.9, PacketFlits: 1, Warmup: 200, Measure: 1000, Seed: 1}
	records := func(queue int) (int, Result, int) {
		cfg := netConfig(8, 8, "mesh", func(c *arch.NoC) { c.NIQueuePackets = queue })
		zl, err := ZeroLoadLatency(cfg, tr)
		if err != nil {
			t.Fatal(err)
		}
		n := NewNet(cfg)
		r, _, err := run(n, tr, zl)
		if err != nil {
			t.Fatal(err)
		}
		return len(n.pkts), r, len(n.buf)
	}
	unbounded, r0, _ := records(0)
	bounded, r4, slots := records(4)
	if limit := 64*(4+1) + slots; bounded > limit {
		t.Errorf("queue of 4: %d packet records, want at most %d (queues, packets being injected, buffers)", bounded, limit)
	}
	if unbounded < 4*bounded {
		t.Errorf("unbounded queues hold %d packet records, bounded %d: want the bound to matter", unbounded, bounded)
	}
	if r0.PacketsStalled != 0 || r4.PacketsStalled == 0 {
		t.Errorf("packets stalled: %d unbounded, %d bounded", r0.PacketsStalled, r4.PacketsStalled)
	}
	sw := Sweep{ZeroLoadLatencyCycles: r4.ZeroLoadLatencyCycles}
	if !sw.Saturated(r4) {
		t.Errorf("load 0.9 with bounded queues not saturated: %+v", r4)
	}
}

// TestShortcutsMatchAllocators: the evaluation shortcuts (evalSole for a
// sole ready VC, evalApart for VCs on distinct ports, evalStream for the
// VCs of one input port) must
// give exactly what the separable allocators give (allocVCs,
// allocSwitch). With the allocatorsOnly hook every evaluation takes the
// allocators.
func TestShortcutsMatchAllocators(t *testing.T) {
	sameEitherWay(t, func(n *Net) { n.allocatorsOnly = true })
}

// TestCreditsSkipWheel: credits due in the next cycle skip the wheel
// (traverse files them on two lists); that must give what the wheel
// gives.
func TestCreditsSkipWheel(t *testing.T) {
	if !NewNet(netConfig(2, 2, "mesh", nil)).credNear {
		t.Fatal("a network of one-cycle links without credit delay files its credits on the wheel")
	}
	sameEitherWay(t, func(n *Net) { n.credNear = false })
}

// sameEitherWay runs synthetic traffic (unicast, 1 and 4 flits, both
// allocation modes, torus, 1 VC) and a chip-like round (every tile sends
// streams of packets with done handlers, and tree multicasts) on networks
// as NewNet makes them and as set changes them, and checks that the
// results and statistics agree to the last bit.
func sameEitherWay(t *testing.T, set func(*Net)) {
	t.Helper()
	for _, c := range []struct {
		name string
		cfg  *arch.Config
		tr   Traffic
	}{
		{"uniform", netConfig(6, 6, "mesh", nil), short("uniform", 0.3, 1)},
		{"uniform-4flit-4vc", netConfig(6, 6, "mesh", func(c *arch.NoC) { c.VCs = 4 }), short("uniform", 0.35, 4)},
		{"transpose-separate", netConfig(6, 6, "mesh", func(c *arch.NoC) { c.Allocation = "separate" }), short("transpose", 0.2, 3)},
		{"hotspot-torus", netConfig(5, 5, "torus", nil), short("hotspot", 0.25, 2)},
		{"uniform-1vc", netConfig(6, 6, "mesh", func(c *arch.NoC) { c.VCs = 1 }), short("uniform", 0.15, 3)},
	} {
		zl, err := ZeroLoadLatency(c.cfg, c.tr)
		if err != nil {
			t.Fatal(err)
		}
		var res [2]Result
		var st [2]Stats
		for k := range 2 {
			n := NewNet(c.cfg)
			if k == 1 {
				set(n)
			}
			if res[k], st[k], err = run(n, c.tr, zl); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if !reflect.DeepEqual(res[0], res[1]) || !reflect.DeepEqual(st[0], st[1]) {
			t.Errorf("%s: %+v %+v, changed %+v %+v", c.name, res[0], st[0], res[1], st[1])
		}
	}
	for _, mode := range [][2]string{{"source", "combined"}, {"tree", "combined"}, {"tree", "separate"}} {
		var got [2][]sim.Cycle
		var st [2]Stats
		for k := range 2 {
			n := NewNet(netConfig(4, 4, "mesh", func(c *arch.NoC) { c.Multicast, c.Allocation = mode[0], mode[1] }))
			if k == 1 {
				set(n)
			}
			var e sim.Engine
			a := &arrivals{}
			for src := range 16 {
				n.Send(&e, src, (src*7+3)%16, 6, 3, a)
				n.Send(&e, src, (src*5+1)%16, 1, 2, a)
				n.Multicast(&e, src, []int{(src + 1) % 16, (src + 6) % 16, (src + 11) % 16}, 3, 3, a)
			}
			e.Run()
			if err := n.Err(); err != nil {
				t.Fatal(err)
			}
			got[k], st[k] = a.at, n.TakeStats()
		}
		if !reflect.DeepEqual(got[0], got[1]) || !reflect.DeepEqual(st[0], st[1]) {
			t.Errorf("%s/%s: arrivals or statistics differ", mode[0], mode[1])
		}
	}
}
