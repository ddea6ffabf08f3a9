package nir

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/hdf5w"
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
