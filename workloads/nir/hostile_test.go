package nir

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/hdf5"
	"github.com/nmsim/nmsim/hdf5w"
	"github.com/nmsim/nmsim/workloads/model"
)

// nirFile writes a NIR file's frame with hdf5w (version, /node/type,
// /node/nodes) and lets fill add the rest; it returns the file's bytes.
func nirFile(t *testing.T, fill func(top, nodes *hdf5w.Group) error) []byte {
	t.Helper()
	f := hdf5w.New()
	if err := f.Root().Strings("version", nil, []string{"0.2.0"}); err != nil {
		t.Fatal(err)
	}
	top, err := f.Root().Group("node")
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Strings("type", nil, []string{"NIRGraph"}); err != nil {
		t.Fatal(err)
	}
	nodes, err := top.Group("nodes")
	if err != nil {
		t.Fatal(err)
	}
	if err := fill(top, nodes); err != nil {
		t.Fatal(err)
	}
	return f.Bytes()
}

// TestEmptyGraph: nir.write stores the edges of an empty graph as a
// float64 array of shape (0,); that is a graph with no edges, and Import
// says the graph is empty.
func TestEmptyGraph(t *testing.T) {
	b := nirFile(t, func(top, _ *hdf5w.Group) error { return top.Float64s("edges", []int{0}, nil) })
	g, err := Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 0 || len(g.Edges) != 0 {
		t.Fatalf("graph %v", g)
	}
	if _, _, err := Import(g, Options{}); err == nil || !strings.Contains(err.Error(), "the graph has no nodes") {
		t.Errorf("import: %v", err)
	}
}

// decodeAlloc decodes b and returns the graph, the bytes allocated
// meanwhile and the error.
func decodeAlloc(b []byte) (*Graph, uint64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g, err := Decode(bytes.NewReader(b), int64(len(b)))
	runtime.ReadMemStats(&after)
	return g, after.TotalAlloc - before.TotalAlloc, err
}

// linearFile writes Input [n] → Linear [1, n] → Output [1], with extra
// datasets on the Input node.
func linearFile(t *testing.T, n int, extra map[string][]float64) []byte {
	return nirFile(t, func(top, nodes *hdf5w.Group) error {
		if err := top.Strings("edges", []int{2, 2}, []string{"in", "fc", "fc", "out"}); err != nil {
			return err
		}
		in, err := nodes.Group("in")
		if err != nil {
			return err
		}
		if err := in.Strings("type", nil, []string{"Input"}); err != nil {
			return err
		}
		if err := in.Int64s("shape", []int{1}, []int64{int64(n)}); err != nil {
			return err
		}
		for k, v := range extra {
			if err := in.Float64s(k, []int{len(v)}, v); err != nil {
				return err
			}
		}
		fc, err := nodes.Group("fc")
		if err != nil {
			return err
		}
		if err := fc.Strings("type", nil, []string{"Linear"}); err != nil {
			return err
		}
		if err := fc.Float64s("weight", []int{1, n}, make([]float64, n)); err != nil {
			return err
		}
		out, err := nodes.Group("out")
		if err != nil {
			return err
		}
		if err := out.Strings("type", nil, []string{"Output"}); err != nil {
			return err
		}
		return out.Int64s("shape", []int{1}, []int64{1})
	})
}

// TestDecodeReadsOnlyWhatImportUses: parameters that no supported node
// type has (here 1 MB on the Input node) are never read.
func TestDecodeReadsOnlyWhatImportUses(t *testing.T) {
	b := linearFile(t, 4, map[string][]float64{"junk": make([]float64, 1<<17)})
	g, alloc, err := decodeAlloc(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Nodes["in"].Params["junk"]; ok || alloc > 256<<10 {
		t.Errorf("read the Input's junk: params %v, %d bytes allocated", g.Nodes["in"].Params, alloc)
	}
}

// TestDecodeChecksShapesFirst: an Input larger than nmsim's models allow,
// and the weight that reads it, are refused before the weight's 8 MB are
// read.
func TestDecodeChecksShapesFirst(t *testing.T) {
	b := linearFile(t, model.MaxDim+1, nil)
	_, alloc, err := decodeAlloc(b)
	if err == nil || !strings.Contains(err.Error(), `node "fc" (Linear): weight has shape [1 1048577]: dimension 1048577 is more than the 1048576 that nmsim's models allow`) || alloc > 1<<20 {
		t.Errorf("error %v after %d bytes allocated", err, alloc)
	}
}

// TestDecodeLimits: a parameter with more values than the graph can use
// is refused from its header.
func TestDecodeLimits(t *testing.T) {
	for _, tc := range []struct {
		name, typ, key string
		shape          []int
		want           string
	}{
		{"a threshold per neuron beyond the largest tensor", "IF", "v_threshold", []int{5, 838861}, `node "n" (IF): v_threshold of shape [5 838861] holds more values than nmsim imports (4194304 for a neuron parameter`},
		{"a shape of many values", "Input", "shape", []int{100}, `node "n" (Input): shape has shape [100]: more than the 64 values such a parameter holds`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := nirFile(t, func(top, nodes *hdf5w.Group) error {
				if err := top.Strings("edges", []int{0, 2}, nil); err != nil {
					return err
				}
				n, err := nodes.Group("n")
				if err != nil {
					return err
				}
				if err := n.Strings("type", nil, []string{tc.typ}); err != nil {
					return err
				}
				size := 1
				for _, d := range tc.shape {
					size *= d
				}
				return n.Float64s(tc.key, tc.shape, make([]float64, size))
			})
			_, err := Decode(bytes.NewReader(b), int64(len(b)))
			if !errors.Is(err, hdf5.ErrTooLarge) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
