package mapper

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// wired maps the small test net onto 2-crossbar tiles of 32 rows, so row
// splits spread over several tiles and partial sums cross the network.
func wired(t *testing.T) (*Netlist, *model.Model) {
	t.Helper()
	m := testmodel.Random(rand.New(rand.NewPCG(1, 2)), testmodel.Small)
	cfg := arch.Default()
	cfg.Tile.Crossbars, cfg.Crossbar.Rows = 2, 32
	nl, err := Build(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	return nl, m
}

func TestNetlistBlocksHomesAndPartialSums(t *testing.T) {
	nl, _ := wired(t)
	crossing := 0
	for li := range nl.Layers {
		lm, ln := &nl.Layers[li], &nl.Nets[li]
		neurons := 0
		for _, n := range ln.HomeNeurons {
			neurons += n
		}
		if neurons != lm.Outputs*lm.Positions {
			t.Errorf("%s: homes hold %d neurons, the layer has %d", lm.Name, neurons, lm.Outputs*lm.Positions)
		}
		if !slices.Equal(ln.Tiles, lm.Tiles()) {
			t.Errorf("%s: tiles %v, placement's %v", lm.Name, ln.Tiles, lm.Tiles())
		}
		// Every block's tile feeds its group's home through its pair, and
		// every contribution and pair comes from some block.
		contrib := make([][]int, len(ln.Homes))
		pairs := 0
		for bi, b := range lm.Blocks {
			ti := ln.TileOf[bi]
			hi := slices.Index(ln.Homes, lm.Home[b.Group])
			if ln.Tiles[ti] != b.Tile || hi < 0 {
				t.Fatalf("%s block %d: tile %d, home %d not wired", lm.Name, bi, b.Tile, lm.Home[b.Group])
			}
			if ln.Pairs[ln.PairOf[bi]] != (Flow{ti, hi}) {
				t.Errorf("%s block %d: pair %v, want %v", lm.Name, bi, ln.Pairs[ln.PairOf[bi]], Flow{ti, hi})
			}
			if !slices.Contains(contrib[hi], ti) {
				contrib[hi] = append(contrib[hi], ti)
				pairs++
			}
			if b.Tile != lm.Home[b.Group] {
				crossing++
			}
		}
		if !slices.EqualFunc(contrib, ln.Contrib, slices.Equal) || len(ln.Pairs) != pairs {
			t.Errorf("%s: contributors %v and %d pairs, want %v and %d", lm.Name, ln.Contrib, len(ln.Pairs), contrib, pairs)
		}
	}
	if crossing == 0 {
		t.Error("no partial sum crosses the network: the test maps nothing it checks")
	}
}

func TestNetlistSpikeFlows(t *testing.T) {
	nl, m := wired(t)
	routes := nl.Route(m)
	for li := range nl.Layers {
		lm, ln := &nl.Layers[li], &nl.Nets[li]
		if len(ln.FlowSetOf) != len(routes[li].SetOf) {
			t.Fatalf("%s: %d neurons routed, want %d", lm.Name, len(ln.FlowSetOf), len(routes[li].SetOf))
		}
		for n, set := range ln.FlowSetOf {
			home := lm.HomeOf(n / lm.Positions)
			var want []int
			for _, d := range routes[li].Sets[routes[li].SetOf[n]] {
				if d != home {
					want = append(want, d)
				}
			}
			var got []int
			for _, fi := range ln.FlowSets[set] {
				f := ln.SpikeFlows[fi]
				if f.Src != home {
					t.Fatalf("%s neuron %d: flow from %d, its home is %d", lm.Name, n, f.Src, home)
				}
				got = append(got, f.Dst)
			}
			if !slices.Equal(got, want) || !slices.Equal(ln.SetDsts[set], want) {
				t.Fatalf("%s neuron %d: flows to %v, set %v; want %v", lm.Name, n, got, ln.SetDsts[set], want)
			}
			if hi := slices.Index(ln.Homes, home); !slices.Contains(ln.HomeSets[hi], int(set)) {
				t.Fatalf("%s neuron %d: set %d not listed at its home", lm.Name, n, set)
			}
		}
		for hi, fis := range ln.HomeFlows {
			for _, fi := range fis {
				if ln.SpikeFlows[fi].Src != ln.Homes[hi] {
					t.Errorf("%s: flow %v listed at home %d", lm.Name, ln.SpikeFlows[fi], ln.Homes[hi])
				}
			}
		}
	}
	if len(nl.Nets[len(nl.Nets)-1].SpikeFlows) != 0 || len(nl.Nets[0].SpikeFlows) == 0 {
		t.Error("the output layer sends spikes, or the first sends none")
	}
}

// TestNetlistScatter rebuilds every layer's crossbar rows from the scatter
// table and compares them with im2col read directly.
func TestNetlistScatter(t *testing.T) {
	nl, m := wired(t)
	for li := range nl.Layers {
		lm, ln := &nl.Layers[li], &nl.Nets[li]
		l := &m.Layers[lm.Layer]
		// got[pos][f] is the input element that drives fan-in row f at
		// output position pos (−1: none, padding).
		got := make([][]int, lm.Positions)
		for pos := range got {
			got[pos] = slices.Repeat([]int{-1}, lm.FanIn)
		}
		for e := 0; e < l.In.Size(); e++ {
			for k := ln.ScatterOff[e]; k < ln.ScatterOff[e+1]; k++ {
				slot, row := int(ln.ScatterSlot[k]), int(ln.ScatterRow[k])
				pos, f := slot/lm.RowSplits, slot%lm.RowSplits*nl.Rows+row
				if got[pos][f] != -1 {
					t.Fatalf("%s: position %d row %d driven twice", lm.Name, pos, f)
				}
				got[pos][f] = e
			}
		}
		for pos := range got {
			for f, e := range got[pos] {
				want := f // dense: row f reads element f
				if l.Op == model.OpConv {
					c, ky, kx := f/(l.Kernel*l.Kernel), f/l.Kernel%l.Kernel, f%l.Kernel
					y, x := pos/l.Out.W*l.Stride+ky-l.Pad, pos%l.Out.W*l.Stride+kx-l.Pad
					want = -1
					if y >= 0 && y < l.In.H && x >= 0 && x < l.In.W {
						want = (c*l.In.H+y)*l.In.W + x
					}
				}
				if e != want {
					t.Fatalf("%s: position %d row %d reads element %d, want %d", lm.Name, pos, f, e, want)
				}
			}
		}
	}
	// conv2 reads pool1: neuron (c, y, x) of conv1 adds to (c, y/2, x/2).
	conv1 := m.Layers[nl.Layers[0].Layer].Out
	pool := nl.Nets[1].PoolTo
	if len(pool) != conv1.Size() || pool[conv1.Index(3, 5, 7)] != int32(m.Layers[nl.Layers[1].Layer].In.Index(3, 2, 3)) || nl.Nets[0].PoolTo != nil {
		t.Errorf("pool map of conv2 wrong")
	}
}
