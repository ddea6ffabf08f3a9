package mapper

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

func TestMapSplitsAndPlaces(t *testing.T) {
	o := testmodel.Small
	o.Side, o.C2, o.Hidden = 28, 16, 300
	m := testmodel.Random(rand.New(rand.NewPCG(1, 2)), o)
	cfg := arch.Default()
	p, err := Map(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	// conv1: 9 rows × 4 outputs of 7 slices (14 columns each: 9 per array);
	// conv2: 36 rows × 16 binary outputs; fc1: 16·7·7 = 784 rows → 7 row
	// splits × 300 outputs / 64 per array = 5 column splits; fc2: 300 rows
	// → 3 splits × 10 outputs / 9 per array = 2.
	want := []struct{ rows, cols, perBlock int }{{1, 1, 4}, {1, 1, 16}, {7, 5, 64}, {3, 2, 9}}
	for i, w := range want {
		l := p.Layers[i]
		if l.RowSplits != w.rows || l.ColSplits != w.cols || l.OutputsPerBlock != w.perBlock || len(l.Blocks) != w.rows*w.cols {
			t.Errorf("%s: %d×%d splits, %d outputs per block, %d blocks; want %d×%d, %d", l.Name, l.RowSplits, l.ColSplits, l.OutputsPerBlock, len(l.Blocks), w.rows, w.cols, w.perBlock)
		}
	}
	// Every block lies on the mesh, no two share a (tile, slot), and a
	// group's row splits (7 ≤ 8 crossbars) stay on their home tile.
	seen := map[[2]int]bool{}
	for _, l := range p.Layers {
		for _, b := range l.Blocks {
			if b.Tile < 0 || b.Tile >= 16 || b.Slot >= cfg.Tile.Crossbars || seen[[2]int{b.Tile, b.Slot}] {
				t.Fatalf("%s: bad or shared slot %+v", l.Name, b)
			}
			seen[[2]int{b.Tile, b.Slot}] = true
			if l.RowSplits <= cfg.Tile.Crossbars && b.Tile != l.Home[b.Group] {
				t.Errorf("%s: block %+v is off its home tile %d", l.Name, b, l.Home[b.Group])
			}
		}
	}
	// conv2's neurons of channel c feed every fc1 row split holding rows of
	// channel c: each spike of conv2 reaches exactly one fc1 row split per
	// column group, so 5 tiles at most.
	r := p.Route(m)
	if len(r[3].SetOf) != 0 {
		t.Error("the output layer has routes")
	}
	for n, set := range r[1].SetOf {
		if d := len(r[1].Sets[set]); d == 0 || d > 5 {
			t.Fatalf("conv2 neuron %d reaches %d tiles", n, d)
		}
	}
}

func TestDoesNotFitSaysWhatItNeeds(t *testing.T) {
	m := testmodel.Random(rand.New(rand.NewPCG(1, 2)), testmodel.Small)
	cfg := arch.Default()
	cfg.Chip.MeshWidth, cfg.Chip.MeshHeight, cfg.Tile.Crossbars = 2, 1, 1
	_, err := Map(cfg, m)
	var fe *FitError
	if !errors.As(err, &fe) || fe.Resource != "tiles" || fe.Need != 5 || fe.Have != 2 {
		t.Fatalf("a 5-tile model on 2 tiles: %#v, want a FitError for 5 of 2 tiles", err)
	}
	for _, s := range []string{"needs 5 tiles", "conv1", "chip.mesh_width", "tile.crossbars"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
	cfg = arch.Default()
	cfg.Crossbar.Cols = 8
	_, err = Map(cfg, m)
	if err == nil || !strings.Contains(err.Error(), "needs 14 columns") {
		t.Errorf("an 8-bit output on 8 columns: %v", err)
	}
	if !errors.As(err, &fe) || fe.Resource != "crossbar columns" || fe.Need != 14 || fe.Have != 8 {
		t.Errorf("an 8-bit output on 8 columns: %#v, want a FitError for 14 of 8 columns", err)
	}
}

// TestLoad: a model file that does not fit names itself and the chip, and
// keeps its FitError for sweeps.
func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.bin")
	if err := model.Save(path, testmodel.Random(rand.New(rand.NewPCG(1, 2)), testmodel.Small)); err != nil {
		t.Fatal(err)
	}
	cfg := arch.Default()
	if m, nl, err := Load(cfg, "chip.toml", path); err != nil || m.Name != "random" || len(nl.Nets) != 4 {
		t.Fatalf("Load: %v", err)
	}
	cfg.Chip.MeshWidth, cfg.Chip.MeshHeight = 1, 1
	_, _, err := Load(cfg, "chip.toml", path)
	var fe *FitError
	if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), path+" on chip.toml: mapper: the model needs") {
		t.Errorf("got %v, want the FitError named by model and chip", err)
	}
	// LoadWith: the same through an arch file and its overrides.
	const preset = "../configs/rram-xnor.toml"
	if cfg, _, _, err := LoadWith(preset, []string{"crossbar.adc_bits=5"}, path); err != nil || cfg.Crossbar.ADCBits != 5 {
		t.Errorf("LoadWith: %v", err)
	}
	_, _, _, err = LoadWith(preset, []string{"chip.mesh_width=1", "chip.mesh_height=1"}, path)
	if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), path+" on "+preset+": ") {
		t.Errorf("LoadWith on one tile: got %v, want the FitError", err)
	}
}
