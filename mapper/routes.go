package mapper

import (
	"slices"

	"github.com/nmsim/nmsim/workloads/model"
)

// Routes is a layer's spike routing table: for each of its neurons (CHW
// order), the tiles of the next weight layer whose crossbars read that
// neuron's spike. Neurons with the same destinations share one entry.
type Routes struct {
	Sets  [][]int // distinct destination tile sets, each sorted
	SetOf []int32 // per neuron: index into Sets
}

// Route builds the routing tables of every weight layer that feeds
// another; the entry of the last layer is empty.
func (p *Placement) Route(m *model.Model) []Routes {
	routes := make([]Routes, len(p.Layers))
	for qi := range p.Layers {
		q := &p.Layers[qi]
		if q.Source < 0 {
			continue
		}
		src := &p.Layers[q.Source]
		out := m.Layers[src.Layer].Out
		in := m.Layers[q.Layer].In // after the pool
		rt := Routes{SetOf: make([]int32, out.Size())}
		index := map[string]int32{}
		var key []byte
		var dst []int
		for c := 0; c < out.C; c++ {
			for y := 0; y < out.H; y++ {
				for x := 0; x < out.W; x++ {
					dst = q.readers(m, in.Index(c, y/q.PoolKernel, x/q.PoolKernel), c, dst[:0])
					key = key[:0]
					for _, t := range dst {
						key = append(key, byte(t), byte(t>>8))
					}
					id, ok := index[string(key)]
					if !ok {
						id = int32(len(rt.Sets))
						index[string(key)] = id
						rt.Sets = append(rt.Sets, slices.Clone(dst))
					}
					rt.SetOf[out.Index(c, y, x)] = id
				}
			}
		}
		routes[q.Source] = rt
	}
	return routes
}

// readers appends the sorted distinct tiles of q's blocks that read input
// element flat (channel c).
func (q *LayerMap) readers(m *model.Model, flat, c int, dst []int) []int {
	lo, hi := flat, flat+1
	if q.Op == model.OpConv {
		k := m.Layers[q.Layer].Kernel
		lo, hi = c*k*k, (c+1)*k*k
	}
	for _, b := range q.Blocks {
		if b.RowLo < hi && lo < b.RowHi && !slices.Contains(dst, b.Tile) {
			dst = append(dst, b.Tile)
		}
	}
	slices.Sort(dst)
	return dst
}
