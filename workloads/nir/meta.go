package nir

// This file holds the metadata that nmsim's Export writes into a graph
// (what NIR cannot hold) and how Import finds it.

import (
	"encoding/json"
	"fmt"

	"github.com/nmsim/nmsim/workloads/model"
)

// metaKey is the graph metadata entry where Export records what NIR cannot
// hold (names, provenance, input coding, weight widths, ...).
const metaKey = "nmsim"

// metaFormat identifies Export's metadata.
const metaFormat = "nmsim-model"

// meta is Export's metadata, JSON in the graph's "nmsim" entry.
type meta struct {
	Format     string            `json:"format"`
	Name       string            `json:"name"`
	Coding     model.Coding      `json:"coding"`
	InputBits  int               `json:"input_bits"`
	Window     int               `json:"window,omitempty"`    // TTFS coding's window, timesteps
	FrameUS    int               `json:"frame_us,omitempty"`  // event frames' length
	MaxCount   int               `json:"max_count,omitempty"` // event frames' clip count
	Timesteps  int               `json:"timesteps"`
	Readout    model.Readout     `json:"readout,omitempty"`
	DT         float64           `json:"dt"`
	Provenance map[string]string `json:"provenance,omitempty"`
	Layers     []metaLayer       `json:"layers"`
}

// metaLayer is one layer's entry, found by the name of its first node (the
// weight or pooling node).
type metaLayer struct {
	Layer      string      `json:"layer"`
	Node       string      `json:"node"`
	WeightBits int         `json:"weight_bits,omitempty"`
	Reset      model.Reset `json:"reset,omitempty"`
	Spiking    bool        `json:"spiking,omitempty"` // sum pools only: the flag carries no meaning there
	Stride     int         `json:"stride,omitempty"`  // sum pools only: 0 or the kernel
	Out        []int       `json:"out,omitempty"`     // dense layers whose output is not a vector
	Scale      []float64   `json:"scale,omitempty"`
	FireOnce   bool        `json:"fire_once,omitempty"`
	// SumShift is the layer's model.Layer.SumShift, which the neuron's r
	// holds as the factor 2^SumShift.
	SumShift int `json:"sum_shift,omitempty"`
}

func parseMeta(s string) (*meta, error) {
	if s == "" {
		return nil, nil
	}
	var md meta
	if err := json.Unmarshal([]byte(s), &md); err != nil {
		return nil, err
	}
	if md.Format != metaFormat {
		return nil, fmt.Errorf("format %q, want %q", md.Format, metaFormat)
	}
	return &md, nil
}

// metaFor returns the metadata entry of the layer whose first node is node.
func (b *builder) metaFor(node string) *metaLayer {
	if b.md == nil {
		return nil
	}
	for i := range b.md.Layers {
		if b.md.Layers[i].Node == node {
			return &b.md.Layers[i]
		}
	}
	return nil
}
