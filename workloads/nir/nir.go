// Package nir reads and writes NIR graphs (the Neuromorphic Intermediate
// Representation, github.com/neuromorphs/NIR) and converts them to and from
// nmsim's integer model (package model).
//
// A NIR file is HDF5: a string dataset /version and a group /node holding
// type = "NIRGraph", edges (an N×2 array of node names, source then target)
// and nodes/<name>/, one group per node with a string dataset type and its
// parameters as datasets. Read turns that into a Graph without interpreting
// the nodes; Import interprets a graph as an nmsim model (or says why it
// cannot); Export and Write go the other way. docs/nir.md describes the
// semantics and every refusal.
package nir

import (
	"fmt"
	"slices"
	"strings"
)

// Graph is a NIR graph as stored: nodes by name and directed edges.
type Graph struct {
	// Version is the file's /version string ("" when absent).
	Version string
	Nodes   map[string]*Node
	Edges   []Edge
	// Metadata holds the graph's string-valued metadata entries
	// (/node/metadata/<key>); other kinds of entry are not kept.
	Metadata map[string]string
}

// Edge is a connection from one node's output to another node's input.
type Edge struct {
	From, To string
}

// Node is one computational unit: its NIR type ("Affine", "IF", ...) and
// its parameters by name.
type Node struct {
	Type   string
	Params map[string]Array
}

// Array is one parameter: numbers (integers and floats both as float64,
// which is exact for every integer a NIR graph stores) or strings, with
// their shape (empty for a scalar), row-major.
type Array struct {
	Shape   []int
	Numbers []float64
	Strings []string
	// Int is true when the numbers were stored as integers.
	Int bool
}

// Size is the number of elements.
func (a Array) Size() int {
	if a.Strings != nil {
		return len(a.Strings)
	}
	return len(a.Numbers)
}

// Floats returns an array of float64 values with the given shape.
func Floats(shape []int, v []float64) Array {
	return Array{Shape: slices.Clone(shape), Numbers: v}
}

// Ints returns an array of integers with the given shape.
func Ints(shape []int, v ...int) Array {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return Array{Shape: slices.Clone(shape), Numbers: f, Int: true}
}

// Scalar returns an integer scalar.
func Scalar(v int) Array { return Ints(nil, v) }

// Sorted returns the node names in byte order.
func (g *Graph) Sorted() []string {
	names := make([]string, 0, len(g.Nodes))
	for n := range g.Nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// String summarises the graph: version, nodes with their types, edges.
func (g *Graph) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "NIR graph (version %q), %d nodes, %d edges\n", g.Version, len(g.Nodes), len(g.Edges))
	for _, n := range g.Sorted() {
		fmt.Fprintf(&b, "  %s: %s\n", n, g.Nodes[n].Type)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s\n", e.From, e.To)
	}
	return b.String()
}
