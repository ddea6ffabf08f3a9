package nir

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// FuzzImport decodes arbitrary bytes as a NIR file and imports the graph,
// plain and binarized. Neither may panic or run away with memory (the HDF5
// reader bounds what it decodes, Import what it expands), and every model
// it accepts must survive export and import unchanged. The seed corpus in
// testdata/fuzz/FuzzImport holds two small graphs that nmsim's writer made
// (a LIF chain, a conv chain with pools); an exported random network is
// added here.
//
//	go test -run='^$' -fuzz=FuzzImport -fuzztime=30s -parallel=1 ./workloads/nir
func FuzzImport(f *testing.F) {
	tiny := testmodel.Options{Side: 4, C1: 1, C2: 2, Hidden: 3, Classes: 2, Threshold: 3}
	exported, err := Export(testmodel.Random(rand.New(rand.NewPCG(1, 1)), tiny), 0)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := exported.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Decode(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, o := range []Options{{}, {Binarize: true}} {
			m, _, err := Import(g, o)
			if err != nil {
				continue
			}
			out, err := Export(m, 0)
			if err != nil {
				t.Fatalf("an imported model does not export: %v", err)
			}
			back, _, err := Import(out, Options{})
			if err != nil {
				t.Fatalf("an exported model does not import: %v", err)
			}
			if !reflect.DeepEqual(back, m) {
				t.Fatalf("import(export(m)) differs from m:\n%+v\n%+v", back, m)
			}
		}
	})
}

// fuzzSeeds returns the encoded graphs of the committed seed corpus.
func fuzzSeeds(t testing.TB) [][]byte {
	lif := chainGraph(input(2), affine("a", 2, 2, 0.5, -1, 0.25, 2), nn("n", "LIF", map[string]Array{
		"tau": Floats([]int{2}, []float64{2e-3, 2e-3}), "r": Floats(nil, []float64{3}),
		"v_leak": Floats(nil, []float64{0.1}), "v_threshold": Floats([]int{2}, []float64{1, 1}),
	}), output(2))
	convs := chainGraph(input(1, 4, 4), conv("c", 2, 1, 3, map[string]Array{"padding": Ints([]int{2}, 1, 1)}), ifConv("n", 2, 4, 4, 0.5),
		nn("p", "AvgPool2d", map[string]Array{"kernel_size": Ints([]int{2}, 2, 2)}),
		nn("f", "Flatten", map[string]Array{"start_dim": Scalar(0), "end_dim": Scalar(-1)}),
		affine("o", 2, 8), output(2))
	var seeds [][]byte
	for _, g := range []*Graph{lif, convs} {
		var buf bytes.Buffer
		if err := g.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, buf.Bytes())
	}
	return seeds
}

// TestFuzzCorpus keeps the committed seed corpus equal to fuzzSeeds and
// runs the fuzz body on each seed with the model checks of FuzzImport;
// NMSIM_UPDATE_GOLDEN=1 rewrites the corpus.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzImport")
	for i, seed := range fuzzSeeds(t) {
		path := filepath.Join(dir, fmt.Sprintf("seed%d", i))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if os.Getenv("NMSIM_UPDATE_GOLDEN") != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is not the current seed; regenerate with NMSIM_UPDATE_GOLDEN=1", path)
		}
		g, err := Decode(bytes.NewReader(seed), int64(len(seed)))
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := Import(g, Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		if i == 0 && (m.Layers[0].Leak == 0 || m.Layers[0].Bias == nil) || i == 1 && m.Layers[1].Op != model.OpSumPool {
			t.Errorf("seed %d imports as %+v", i, m.Layers)
		}
	}
}
