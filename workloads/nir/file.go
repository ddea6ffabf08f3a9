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
	"github.com/nmsim/nmsim/workloads/model"
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

// Limits on what Decode reads, so that a small hostile file cannot make it
// inflate gigabytes of compressed parameters: see docs/nir.md.
const (
	// maxValues bounds the numbers read from one file in all (weights
	// mostly): 128 MiB as float64.
	maxValues = 1 << 24
	// maxSmall bounds a shape-like parameter (shape, stride, padding, ...)
	// in elements.
	maxSmall = 64
	// maxTextBytes bounds the edge list and each metadata entry.
	maxTextBytes = 1 << 24
)

// smallParams are the shape-like parameters: a few integers (or a word,
// such as padding "same") each, read before any large one.
var smallParams = []string{"shape", "stride", "padding", "dilation", "groups", "input_shape", "kernel_size", "start_dim", "end_dim", "input_type"}

// Decode reads a NIR graph from an HDF5 file of the given size. The HDF5
// reader refuses corrupt files; Decode adds the NIR structure: /node with
// type "NIRGraph", edges between existing nodes, and a type for every
// node. It reads only the parameters Import uses for each node type
// (nodeTypes; none for types it refuses), the shape-like ones first: an
// Input shape that nmsim cannot take is refused before any weight is read,
// and every other parameter must have dimensions within model.MaxDim and
// no more values than the graph can use (maxActivations for a per-neuron
// parameter, maxValues for weights and for the file in all), checked from
// its header before its data is read or inflated.
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
	var large []param
	for _, name := range nodes.Members() {
		ng, err := nodes.Group(name)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", name, err)
		}
		n, big, err := readNode(name, ng)
		if err != nil {
			return nil, err
		}
		g.Nodes[name] = n
		for _, p := range big {
			p.node = name
			large = append(large, p)
		}
	}
	// The Input fixes every size after it: refuse one nmsim cannot take
	// before reading anything large.
	for _, name := range g.Sorted() {
		n := g.Nodes[name]
		if a, ok := n.Params["shape"]; n.Type == "Input" && ok && a.Strings == nil {
			if _, err := shapeOf(floatsToInts(a.Numbers)); err != nil {
				return nil, fmt.Errorf("node %q (Input): shape %v: %w", name, a.Numbers, err)
			}
		}
	}
	left := maxValues
	for _, p := range large {
		n := g.Nodes[p.node]
		limit := maxActivations
		if p.key == "weight" {
			limit = left
		}
		a, err := readArray(p.ds, uint64(8*min(limit, left)))
		if errors.Is(err, hdf5.ErrTooLarge) {
			return nil, fmt.Errorf("node %q (%s): %s of shape %v holds more values than nmsim imports (%d for a neuron parameter, %d in all, %d of them left): %w",
				p.node, n.Type, p.key, p.ds.Shape(), maxActivations, maxValues, left, err)
		}
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %s: %w", p.node, n.Type, p.key, err)
		}
		left -= a.Size()
		n.Params[p.key] = a
	}
	if g.Edges, err = readEdges(top, g.Nodes); err != nil {
		return nil, err
	}
	if g.Metadata, err = readMetadata(top); err != nil {
		return nil, err
	}
	return g, nil
}

// param is a large parameter of a node, read after the small ones.
type param struct {
	node, key string
	ds        *hdf5.Dataset
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

// scalarString reads a dataset holding one string (of at most
// maxTextBytes).
func scalarString(ds *hdf5.Dataset) (string, error) {
	if ds.Dtype().Class != hdf5.String {
		return "", fmt.Errorf("is %v, want a string", ds.Dtype())
	}
	v, err := ds.ReadLimit(maxTextBytes)
	if err != nil {
		return "", err
	}
	s, err := v.Strings()
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", fmt.Errorf("holds %d strings, want one", len(s))
	}
	return s[0], nil
}

// readNode reads a node's type and the small parameters Import uses for
// it, and returns its large ones to be read later (the node field unset).
// Other datasets and subgroups (metadata, the insides of a nested graph)
// are not read; Import refuses unsupported types by their name.
func readNode(name string, g *hdf5.Group) (*Node, []param, error) {
	t, err := nodeType(g)
	if err != nil {
		return nil, nil, fmt.Errorf("node %q: %w", name, err)
	}
	n := &Node{Type: t, Params: map[string]Array{}}
	keys, _ := paramsOf(t)
	var large []param
	for _, key := range keys {
		obj, err := g.Object(key)
		if errors.Is(err, hdf5.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("node %q (%s): %s: %w", name, t, key, err)
		}
		ds, ok := obj.(*hdf5.Dataset)
		if !ok {
			return nil, nil, fmt.Errorf("node %q (%s): %s is a group, want a dataset", name, t, key)
		}
		for _, d := range ds.Shape() {
			if d > model.MaxDim {
				return nil, nil, fmt.Errorf("node %q (%s): %s has shape %v: dimension %d is more than the %d that nmsim's models allow", name, t, key, ds.Shape(), d, model.MaxDim)
			}
		}
		if !slices.Contains(smallParams, key) {
			large = append(large, param{key: key, ds: ds})
			continue
		}
		a, err := readArray(ds, 8*maxSmall)
		if errors.Is(err, hdf5.ErrTooLarge) {
			return nil, nil, fmt.Errorf("node %q (%s): %s has shape %v: more than the %d values such a parameter holds: %w", name, t, key, ds.Shape(), maxSmall, err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("node %q (%s): %s: %w", name, t, key, err)
		}
		n.Params[key] = a
	}
	return n, large, nil
}

// readArray reads a parameter whose decoded value fits limit bytes.
func readArray(ds *hdf5.Dataset, limit uint64) (Array, error) {
	v, err := ds.ReadLimit(limit)
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
	v, err := ds.ReadLimit(maxTextBytes)
	if err != nil {
		return nil, fmt.Errorf("/node/edges: %w", err)
	}
	s, err := v.Strings()
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
