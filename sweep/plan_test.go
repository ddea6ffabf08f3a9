package sweep

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/arch"
)

const head = "arch = \"a\"\nmodels = [\"m\"]\ndataset = \"mnist\"\nsamples = 1\nseeds = [1]\n"

func combosOf(t *testing.T, text string) (*Plan, []combo, error) {
	t.Helper()
	pl := &Plan{Spec: mustParse(t, text)}
	cs, err := pl.combos(arch.Default())
	return pl, cs, err
}

func TestExpandCounts(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		n, ruled  int
		first     string // label of the first combination
		secondKey string // which key changes first: the last axis varies fastest
	}{
		{"product", "[axes]\n\"crossbar.adc_bits\" = [3, 4, 6]\n\"crossbar.rows\" = [64, 128]\n", 6, 0,
			"crossbar.adc_bits=3 crossbar.rows=64", "crossbar.rows=128"},
		{"zip", "zip = [[\"chip.mesh_width\", \"chip.mesh_height\"]]\n[axes]\n\"chip.mesh_width\" = [2, 4, 8]\n\"crossbar.adc_bits\" = [4, 6]\n\"chip.mesh_height\" = [2, 4, 8]\n", 6, 0,
			"chip.mesh_width=2 chip.mesh_height=2 crossbar.adc_bits=4", "crossbar.adc_bits=6"},
		{"constraint", "constraints = [\"crossbar.rows_per_read <= crossbar.rows\"]\n[axes]\n\"crossbar.rows\" = [64, 128, 256]\n\"crossbar.rows_per_read\" = [32, 128, 256]\n", 6, 3,
			"crossbar.rows=64 crossbar.rows_per_read=32", "crossbar.rows=128"},
		{"range", "[axes]\n\"crossbar.rows\" = {from = 64, to = 1024, times = 2}\n\"chip.topology\" = [\"mesh\", \"torus\"]\n", 10, 0,
			"crossbar.rows=64 chip.topology=mesh", "chip.topology=torus"},
		{"no axes", "", 1, 0, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl, cs, err := combosOf(t, head+c.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != c.n || pl.Excluded != c.ruled {
				t.Fatalf("%d combinations, %d ruled out; want %d, %d", len(cs), pl.Excluded, c.n, c.ruled)
			}
			if got := label(cs[0].values); got != c.first {
				t.Errorf("first combination %q, want %q", got, c.first)
			}
			if c.n > 1 && !strings.Contains(label(cs[1].values), c.secondKey) {
				t.Errorf("second combination %q, want it to hold %q", label(cs[1].values), c.secondKey)
			}
			for _, cb := range cs {
				for _, v := range cb.values {
					got, _ := cb.cfg.Get(v.Key)
					if got != tomlText(v.V) {
						t.Errorf("%s: config has %s = %s", label(cb.values), v.Key, got)
					}
				}
			}
		})
	}
}

// TestInvalidPointsNamed: a point whose config does not validate fails the
// plan before anything runs, naming the point and the problem.
func TestInvalidPointsNamed(t *testing.T) {
	_, _, err := combosOf(t, head+"[axes]\n\"crossbar.rows\" = [64, 128, 256]\n\"crossbar.rows_per_read\" = [32, 128, 256]\n")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"3 of 9 points have an invalid arch config",
		"point crossbar.rows=64 crossbar.rows_per_read=128:\n    crossbar.rows_per_read = 128: must be",
		"point crossbar.rows=128 crossbar.rows_per_read=256:",
		"add a constraint",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestNewPlan(t *testing.T) {
	data := dataDir(t)
	m := writeModel(t, t.TempDir(), 1)
	pl := planFor(t, sweep24(m, 12), data)
	if len(pl.Points) != 24 || pl.Excluded != 4 {
		t.Fatalf("%d points, %d excluded; want 24 and 4", len(pl.Points), pl.Excluded)
	}
	keys := map[string]bool{}
	for i, p := range pl.Points {
		if p.Index != i || keys[p.Key] || len(p.Key) != 32 {
			t.Errorf("point %d: index %d key %q (duplicate %v)", i, p.Index, p.Key, keys[p.Key])
		}
		keys[p.Key] = true
	}
	want := fmt.Sprintf("crossbar.adc_bits=4 crossbar.rows=64 crossbar.rows_per_read=32 chip.mesh_width=1 chip.mesh_height=1 model=%s timesteps=3 seed=1", m)
	if got := pl.Points[0].Label(); got != want {
		t.Errorf("first point %q\nwant %q", got, want)
	}
	if got := pl.Points[1].Label(); !strings.HasSuffix(got, "seed=2") {
		t.Errorf("second point %q: seeds should vary fastest", got)
	}
}

// TestKeyGolden pins the hash of a fixed input: a change means every
// stored result would be run again, which must be deliberate (bump
// version.Version instead when results change).
func TestKeyGolden(t *testing.T) {
	in := keyInput{
		archTOML: []byte("[chip]\nmesh_width = 4\n"), modelSHA256: strings.Repeat("ab", 32), dataset: "mnist",
		samples: 100, dataSHA256: strings.Repeat("cd", 32), seed: 1, timesteps: 8,
	}
	const want = "de3310deebb153582054a60bd7426d34"
	if got := pointKey(in); got != want {
		t.Errorf("pointKey = %s, want %s", got, want)
	}
	// Every input changes the key.
	vary := []func(*keyInput){
		func(k *keyInput) { k.archTOML = []byte("[chip]\nmesh_width = 5\n") },
		func(k *keyInput) { k.modelSHA256 = strings.Repeat("ab", 31) + "ac" },
		func(k *keyInput) { k.dataset = "fashion-mnist" },
		func(k *keyInput) { k.samples = 101 },
		func(k *keyInput) { k.dataSHA256 = strings.Repeat("cd", 31) + "ce" },
		func(k *keyInput) { k.seed = 2 },
		func(k *keyInput) { k.timesteps = 9 },
		func(k *keyInput) { k.golden = true },
	}
	for i, f := range vary {
		k := in
		f(&k)
		if pointKey(k) == want {
			t.Errorf("change %d leaves the key unchanged", i)
		}
	}
}

// TestKeyIsContent: a point's key depends on what it simulates, not on how
// the sweep file reaches it: an axis set to the base value equals no axis,
// and the key survives reordering the axes and renaming the model file.
func TestKeyIsContent(t *testing.T) {
	data := dataDir(t)
	dir := t.TempDir()
	m := writeModel(t, dir, 1)
	spec := func(models, axes string) string {
		return fmt.Sprintf("arch = %q\nmodels = [%s]\ndataset = \"mnist\"\nsamples = 5\nseeds = [3]\n[axes]\n%s", presetPath, models, axes)
	}
	a := planFor(t, spec(fmt.Sprintf("%q", m), "\"crossbar.adc_bits\" = [6, 4]\n\"noc.routing\" = [\"xy\"]\n"), data)
	b := planFor(t, spec(fmt.Sprintf("%q", filepath.Dir(m)+"/./"+filepath.Base(m)), "[axes.noc]\nrouting = [\"xy\"]\n[axes.crossbar]\nadc_bits = [4, 6]\n"), data)
	c := planFor(t, spec(fmt.Sprintf("%q", m), ""), data)
	if a.Points[0].Key != b.Points[1].Key || a.Points[1].Key != b.Points[0].Key {
		t.Errorf("keys depend on axis order or model path: %s %s vs %s %s", a.Points[0].Key, a.Points[1].Key, b.Points[1].Key, b.Points[0].Key)
	}
	if a.Points[0].Key != c.Points[0].Key {
		t.Errorf("adc_bits = 6 (the base value) keys differently from no axis")
	}
	d := planFor(t, spec(fmt.Sprintf("%q", writeModel(t, dir, 2)), ""), data)
	if d.Points[0].Key == c.Points[0].Key {
		t.Errorf("another model, same key")
	}
}
