package noc

import (
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

type arrivals struct{ at []sim.Cycle }

func (a *arrivals) Handle(e sim.Event) { a.at = append(a.at, e.At) }

func TestZeroLoadLatencyFormula(t *testing.T) {
	cfg := arch.Default()
	cfg.Chip.MeshWidth, cfg.Chip.MeshHeight = 8, 8
	z := NewZeroLoad(cfg)
	p := cfg.NoC.PipelineStages
	for _, tc := range []struct{ src, dst, flits, hops int }{
		{0, 1, 1, 1}, {0, 63, 1, 14}, {9, 9 + 8*3, 4, 3}, {7, 56, 3, 14},
	} {
		if h := z.Hops(tc.src, tc.dst); h != tc.hops {
			t.Fatalf("hops %d→%d = %d, want %d", tc.src, tc.dst, h, tc.hops)
		}
		want := sim.Cycle((tc.hops+1)*(p+1) + 2 + tc.flits - 1)
		var e sim.Engine
		a := &arrivals{}
		z.Reset()
		z.Send(&e, tc.src, tc.dst, 1, tc.flits, a)
		e.Run()
		if len(a.at) != 1 || a.at[0] != want {
			t.Fatalf("%d→%d %d flits arrived at %v, want %d", tc.src, tc.dst, tc.flits, a.at, want)
		}
	}
}

func TestTorusWrapsAndInjectionSerialises(t *testing.T) {
	cfg := arch.Default()
	cfg.Chip.Topology = "torus"
	z := NewZeroLoad(cfg)
	if h := z.Hops(0, 3); h != 1 {
		t.Fatalf("torus 4-wide hops 0→3 = %d, want 1", h)
	}
	var e sim.Engine
	a := &arrivals{}
	z.Send(&e, 0, 1, 3, 2, a) // 6 flits: the last packet starts at cycle 4
	z.Send(&e, 0, 1, 1, 2, a) // waits for the port: starts at 6
	e.Run()
	lat := z.Latency(0, 1, 2)
	if a.at[0] != 4+lat || a.at[1] != 6+lat {
		t.Fatalf("arrivals %v, want %d and %d", a.at, 4+lat, 6+lat)
	}
	c := z.TakeCounters()
	if c.Packets != 4 || c.Flits != 8 || c.RouterFlits != 16 || c.LinkFlits != 8 {
		t.Fatalf("counters %+v", c)
	}
}

// TestPairHops holds the separable sum of hops over all router pairs to a
// pair-by-pair sum, on meshes and tori of odd and even sizes.
func TestPairHops(t *testing.T) {
	for _, g := range []topo{{w: 4, h: 4}, {w: 5, h: 3}, {w: 1, h: 7}, {w: 4, h: 6, torus: true}, {w: 5, h: 5, torus: true}, {w: 3, h: 8, yx: true}} {
		var want int64
		for s := range g.nodes() {
			for d := range g.nodes() {
				want += int64(g.hops(s, d))
			}
		}
		if got := g.pairHops(); got != want {
			t.Errorf("%+v: pairHops %d, pair by pair %d", g, got, want)
		}
	}
}
