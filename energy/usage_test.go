package energy

import (
	"math/rand/v2"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/mapper"
)

// TestUsageOfWholeLayers: when no layer is split over rows, a tile's
// crossbars read each of their layers' whole input (a layer split over
// columns on two tiles is read whole on both), and its neuron units
// hold the outputs of the layers homed there; the busiest tile sizes the
// buffers.
func TestUsageOfWholeLayers(t *testing.T) {
	m := testmodel.Random(rand.New(rand.NewPCG(3, 4)), testmodel.Small)
	cfg := arch.Default()
	cfg.Tile.Crossbars = 2 // spread the layers over several tiles
	pl, err := mapper.Map(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	in, out := map[int]int64{}, map[int]int64{}
	for _, lm := range pl.Layers {
		if lm.RowSplits != 1 {
			t.Fatalf("layer %s is split over %d row blocks: the test needs whole rows", lm.Name, lm.RowSplits)
		}
		l := &m.Layers[lm.Layer]
		for _, tile := range lm.Tiles() {
			in[tile] += int64(l.In.Size() * lm.InputBits)
		}
		for g, home := range lm.Home {
			out[home] += int64(min(lm.OutputsPerBlock, lm.Outputs-g*lm.OutputsPerBlock) * lm.Positions)
		}
	}
	var want Usage
	want.TilesUsed = pl.TilesUsed
	for _, b := range in {
		want.InputBits = max(want.InputBits, b)
	}
	for _, n := range out {
		want.OutputBits = max(want.OutputBits, n)
	}
	want.MembraneBits = want.OutputBits * 24
	if got := UsageOf(pl, m, 24); got != want {
		t.Errorf("usage %+v, want %+v", got, want)
	}
	if len(in) < 2 {
		t.Errorf("all layers on %d tile: the test compares nothing per tile", len(in))
	}
}
