package nir

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/nmsim/nmsim/hdf5"
	"github.com/nmsim/nmsim/hdf5w"
	"github.com/nmsim/nmsim/internal/atomicfile"
)

// Open reads the NIR file at path.
func Open(path string) (*Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nir: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("nir: %w", err)
	}
	g, err := Decode(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("nir: %s: %w", path, err)
	}
	return g, nil
}

// Decode reads a NIR graph from an HDF5 file of the given size. The HDF5
// reader bounds memory and refuses corrupt files; Decode adds the NIR
// structure: /node with type "NIRGraph", edges between existing nodes, and
// a type for every node.
func Decode(r io.ReaderAt, size int64) (*Graph, error) {
	f, err := hdf5.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g := &Graph{Nodes: map[string]*Node{}}
	if ds, err := f.Root().Dataset("version"); err == nil {
		if g.Version, err = scalarString(ds); err != nil {
			return nil, fmt.Errorf("/version: %w", err)
		}
	} else if !errors.Is(err, hdf5.ErrNotFound) {
		return nil, err
	}
	top, err := f.Root().Group("node")
	if err != nil {
		return nil, fmt.Errorf("no NIR graph (group /node): %w", err)
	}
	if t, err := nodeType(top); err != nil {
		return nil, err
	} else if t != "NIRGraph" {
		return nil, fmt.Errorf("/node/type is %q, want \"NIRGraph\"", t)
	}
	nodes, err := top.Group("nodes")
	if err != nil {
		return nil, fmt.Errorf("/node/nodes: %w", err)
	}
	for _, name := range nodes.Members() {
		ng, err := nodes.Group(name)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", name, err)
		}
		n, err := readNode(ng)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", name, err)
		}
		g.Nodes[name] = n
	}
	if g.Edges, err = readEdges(top, g.Nodes); err != nil {
		return nil, err
	}
	if g.Metadata, err = readMetadata(top); err != nil {
		return nil, err
	}
	return g, nil
}

// nodeType reads a group's "type" dataset.
func nodeType(g *hdf5.Group) (string, error) {
	ds, err := g.Dataset("type")
	if err != nil {
		return "", fmt.Errorf("%s/type: %w", g.Path(), err)
	}
	t, err := scalarString(ds)
	if err != nil {
		return "", fmt.Errorf("%s/type: %w", g.Path(), err)
	}
	return t, nil
}

func scalarString(ds *hdf5.Dataset) (string, error) {
	if ds.Dtype().Class != hdf5.String {
		return "", fmt.Errorf("is %v, want a string", ds.Dtype())
	}
	s, err := ds.Strings()
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", fmt.Errorf("holds %d strings, want one", len(s))
	}
	return s[0], nil
}

// readNode reads a node's type and every dataset beside it. Subgroups
// (metadata, the insides of a nested graph) are not parameters and are
// skipped; Import refuses nested graphs by their type.
func readNode(g *hdf5.Group) (*Node, error) {
	t, err := nodeType(g)
	if err != nil {
		return nil, err
	}
	n := &Node{Type: t, Params: map[string]Array{}}
	for _, name := range g.Members() {
		if name == "type" {
			continue
		}
		obj, err := g.Object(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ds, ok := obj.(*hdf5.Dataset)
		if !ok {
			continue
		}
		a, err := readArray(ds)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		n.Params[name] = a
	}
	return n, nil
}

func readArray(ds *hdf5.Dataset) (Array, error) {
	v, err := ds.Read()
	if err != nil {
		return Array{}, err
	}
	if v.Shape == nil {
		return Array{}, errors.New("empty dataspace (h5py.Empty): no value")
	}
	a := Array{}
	if len(v.Shape) > 0 { // a scalar's shape is nil, as Ints and Floats make it
		a.Shape = slices.Clone(v.Shape)
	}
	switch v.Type.Class {
	case hdf5.String:
		a.Strings, err = v.Strings()
	case hdf5.Int, hdf5.Uint, hdf5.Bool, hdf5.Enum:
		a.Int = true
		a.Numbers, err = v.Float64s()
	case hdf5.Float:
		a.Numbers, err = v.Float64s()
	default:
		err = fmt.Errorf("datatype %v is not a number or a string", v.Type)
	}
	if err != nil {
		return Array{}, err
	}
	if a.Strings == nil && a.Numbers == nil {
		a.Numbers = []float64{} // an empty numeric array, not a string one
	}
	return a, nil
}

// readEdges reads /node/edges: N×2 node names, each naming a node.
func readEdges(top *hdf5.Group, nodes map[string]*Node) ([]Edge, error) {
	ds, err := top.Dataset("edges")
	if err != nil {
		return nil, fmt.Errorf("/node/edges: %w", err)
	}
	shape := ds.Shape()
	if len(shape) == 1 && shape[0] == 0 {
		// No edges: nir.write stores an empty list as float64 [0].
		return nil, nil
	}
	if len(shape) != 2 || shape[1] != 2 {
		return nil, fmt.Errorf("/node/edges has shape %v, want N×2", shape)
	}
	if ds.Dtype().Class != hdf5.String {
		return nil, fmt.Errorf("/node/edges is %v, want strings", ds.Dtype())
	}
	s, err := ds.Strings()
	if err != nil {
		return nil, fmt.Errorf("/node/edges: %w", err)
	}
	edges := make([]Edge, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		e := Edge{From: s[i], To: s[i+1]}
		for _, end := range []string{e.From, e.To} {
			if nodes[end] == nil {
				return nil, fmt.Errorf("/node/edges[%d] %s -> %s: no node %q", i/2, e.From, e.To, end)
			}
		}
		edges = append(edges, e)
	}
	return edges, nil
}

// readMetadata keeps the graph's string metadata entries.
func readMetadata(top *hdf5.Group) (map[string]string, error) {
	md, err := top.Group("metadata")
	if errors.Is(err, hdf5.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("/node/metadata: %w", err)
	}
	out := map[string]string{}
	for _, name := range md.Members() {
		ds, err := md.Dataset(name)
		if err != nil || ds.Dtype().Class != hdf5.String || len(ds.Shape()) != 0 {
			continue // not a string entry: nothing nmsim reads
		}
		if out[name], err = scalarString(ds); err != nil {
			return nil, fmt.Errorf("/node/metadata/%s: %w", name, err)
		}
	}
	return out, nil
}

// Encode writes g as an HDF5 file in the layout NIR's own writer uses
// (package hdf5w: superblock 0, symbol-table groups, contiguous datasets;
// strings are fixed-length, which NIR's reader takes as it takes h5py's
// variable-length ones).
func (g *Graph) Encode(w io.Writer) error {
	b, err := g.bytes()
	if err != nil {
		return fmt.Errorf("nir: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// Save writes g to path atomically.
func (g *Graph) Save(path string) error {
	b, err := g.bytes()
	if err != nil {
		return fmt.Errorf("nir: %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("nir: %w", err)
	}
	return nil
}

func (g *Graph) bytes() ([]byte, error) {
	f := hdf5w.New()
	root := f.Root()
	if err := root.Strings("version", nil, []string{g.Version}); err != nil {
		return nil, err
	}
	top, err := root.Group("node")
	if err != nil {
		return nil, err
	}
	if err := top.Strings("type", nil, []string{"NIRGraph"}); err != nil {
		return nil, err
	}
	edges := make([]string, 0, 2*len(g.Edges))
	for _, e := range g.Edges {
		if g.Nodes[e.From] == nil || g.Nodes[e.To] == nil {
			return nil, fmt.Errorf("edge %s -> %s names a missing node", e.From, e.To)
		}
		edges = append(edges, e.From, e.To)
	}
	if err := top.Strings("edges", []int{len(g.Edges), 2}, edges); err != nil {
		return nil, err
	}
	nodes, err := top.Group("nodes")
	if err != nil {
		return nil, err
	}
	for _, name := range g.Sorted() {
		if err := writeNode(nodes, name, g.Nodes[name]); err != nil {
			return nil, fmt.Errorf("node %q: %w", name, err)
		}
	}
	if len(g.Metadata) > 0 {
		md, err := top.Group("metadata")
		if err != nil {
			return nil, err
		}
		for k, v := range g.Metadata {
			if err := md.Strings(k, nil, []string{v}); err != nil {
				return nil, err
			}
		}
	}
	return f.Bytes(), nil
}

func writeNode(parent *hdf5w.Group, name string, n *Node) error {
	g, err := parent.Group(name)
	if err != nil {
		return err
	}
	if err := g.Strings("type", nil, []string{n.Type}); err != nil {
		return err
	}
	for _, p := range sortedKeys(n.Params) {
		a := n.Params[p]
		switch {
		case a.Strings != nil:
			err = g.Strings(p, a.Shape, a.Strings)
		case a.Int:
			ints := make([]int64, len(a.Numbers))
			for i, x := range a.Numbers {
				if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
					return fmt.Errorf("%s: %v is not an integer", p, x)
				}
				ints[i] = int64(x)
			}
			err = g.Int64s(p, a.Shape, ints)
		default:
			err = g.Float64s(p, a.Shape, a.Numbers)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
