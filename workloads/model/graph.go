package model

// The graph schema of model.bin (the "model" metadata string) and each
// layer's tensors.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// graphJSON is the "model" metadata string: the network without its tensors.
// Its field names are the file format, independent of the Go field names.
type graphJSON struct {
	Name       string            `json:"name"`
	Input      inputJSON         `json:"input"`
	Layers     []layerJSON       `json:"layers"`
	Classes    int               `json:"classes"`
	Timesteps  int               `json:"timesteps"`
	Readout    Readout           `json:"readout,omitempty"`
	Provenance map[string]string `json:"provenance,omitempty"`
}

type inputJSON struct {
	Shape    []int  `json:"shape"`
	Coding   Coding `json:"coding"`
	Bits     int    `json:"bits"`
	Window   int    `json:"window,omitempty"`
	FrameUS  int    `json:"frame_us,omitempty"`
	MaxCount int    `json:"max_count,omitempty"`
}

type layerJSON struct {
	Name       string `json:"name"`
	Op         Op     `json:"op"`
	In         []int  `json:"in"`
	Out        []int  `json:"out"`
	Kernel     int    `json:"kernel,omitempty"`
	Stride     int    `json:"stride,omitempty"`
	Pad        int    `json:"pad,omitempty"`
	WeightBits int    `json:"weight_bits,omitempty"`
	Leak       int    `json:"leak,omitempty"`
	Spiking    bool   `json:"spiking"`
	Reset      Reset  `json:"reset,omitempty"`
	FireOnce   bool   `json:"fire_once,omitempty"`
	SumShift   int    `json:"sum_shift,omitempty"`
}

func weightName(layer string) string    { return layer + ".weight" }
func thresholdName(layer string) string { return layer + ".threshold" }
func scaleName(layer string) string     { return layer + ".scale" }
func biasName(layer string) string      { return layer + ".bias" }

func toGraph(m *Model) graphJSON {
	g := graphJSON{
		Name: m.Name,
		Input: inputJSON{Shape: shapeSlice(m.Input.Shape), Coding: m.Input.Coding, Bits: m.Input.Bits,
			Window: m.Input.Window, FrameUS: m.Input.FrameUS, MaxCount: m.Input.MaxCount},
		Classes:    m.Classes,
		Timesteps:  m.Timesteps,
		Readout:    m.Readout,
		Provenance: m.Provenance,
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		g.Layers = append(g.Layers, layerJSON{
			Name: l.Name, Op: l.Op, In: shapeSlice(l.In), Out: shapeSlice(l.Out),
			Kernel: l.Kernel, Stride: l.Stride, Pad: l.Pad, WeightBits: l.WeightBits,
			Leak: l.Leak, Spiking: l.Spiking, Reset: l.Reset, FireOnce: l.FireOnce, SumShift: l.SumShift,
		})
	}
	return g
}

func shapeSlice(s Shape) []int { return []int{s.C, s.H, s.W} }

// layerTensors returns the tensors of a validated layer.
func layerTensors(l *Layer) []*tensor {
	if !l.HasWeights() {
		return nil
	}
	outputs, fanIn := l.Outputs(), l.FanIn()
	var ts []*tensor
	if l.WeightBits == 1 {
		ts = append(ts, &tensor{
			name: weightName(l.Name), dtype: dtypeU8,
			shape: []uint64{uint64(outputs), uint64(packedLen(fanIn))},
			data:  packBinary(l.Weights, outputs, fanIn),
		})
	} else {
		data := make([]byte, len(l.Weights))
		for i, w := range l.Weights {
			data[i] = byte(w)
		}
		ts = append(ts, &tensor{
			name: weightName(l.Name), dtype: dtypeI8,
			shape: []uint64{uint64(outputs), uint64(fanIn)}, data: data,
		})
	}
	if len(l.Threshold) > 0 {
		ts = append(ts, int64Tensor(thresholdName(l.Name), l.Threshold))
	}
	if len(l.Bias) > 0 {
		ts = append(ts, int64Tensor(biasName(l.Name), l.Bias))
	}
	if len(l.Scale) > 0 {
		data := make([]byte, 8*len(l.Scale))
		for i, s := range l.Scale {
			binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(s))
		}
		ts = append(ts, &tensor{name: scaleName(l.Name), dtype: dtypeF64, shape: []uint64{uint64(len(l.Scale))}, data: data})
	}
	return ts
}

// packedLen is the bytes per output row of a bit-packed binary weight tensor.
func packedLen(fanIn int) int { return (fanIn + 7) / 8 }

// packBinary packs ±1 weights one bit each (1 = +1), LSB first, each output
// row starting on a byte boundary with zero padding bits.
func packBinary(w []int8, outputs, fanIn int) []byte {
	row := packedLen(fanIn)
	out := make([]byte, outputs*row)
	for o := range outputs {
		for i := range fanIn {
			if w[o*fanIn+i] > 0 {
				out[o*row+i/8] |= 1 << (i % 8)
			}
		}
	}
	return out
}

// parseGraph decodes the "model" metadata string strictly: unknown fields
// and trailing data are errors, so a typo in a hand-written file is caught.
func parseGraph(s string) (*Model, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var g graphJSON
	if err := dec.Decode(&g); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the graph object")
	}
	in, err := toShape(g.Input.Shape)
	if err != nil {
		return nil, fmt.Errorf("input shape: %w", err)
	}
	m := &Model{
		Name: g.Name,
		Input: Input{Shape: in, Coding: g.Input.Coding, Bits: g.Input.Bits, Window: g.Input.Window,
			FrameUS: g.Input.FrameUS, MaxCount: g.Input.MaxCount},
		Classes:   g.Classes,
		Timesteps: g.Timesteps,
		Readout:   g.Readout,
	}
	if len(g.Provenance) > 0 {
		m.Provenance = g.Provenance
	}
	m.Input.MaxCount = legacyMaxCount(m)
	m.Layers = make([]Layer, len(g.Layers))
	for i, lj := range g.Layers {
		l := &m.Layers[i]
		*l = Layer{
			Name: lj.Name, Op: lj.Op, Kernel: lj.Kernel, Stride: lj.Stride, Pad: lj.Pad,
			WeightBits: lj.WeightBits, Leak: lj.Leak, Spiking: lj.Spiking, Reset: lj.Reset,
			FireOnce: lj.FireOnce, SumShift: lj.SumShift,
		}
		if l.In, err = toShape(lj.In); err != nil {
			return nil, fmt.Errorf("layer %d in: %w", i, err)
		}
		if l.Out, err = toShape(lj.Out); err != nil {
			return nil, fmt.Errorf("layer %d out: %w", i, err)
		}
	}
	return m, nil
}

// legacyMaxCount is m's input clip count, taken for files written before
// input.max_count existed from the provenance entry "max_count" that the
// surrogate trainer wrote for frame-coded models (ignored, as it was then,
// unless it is a count below the input's largest value).
func legacyMaxCount(m *Model) int {
	if m.Input.MaxCount != 0 || m.Input.Coding != CodingFrames {
		return m.Input.MaxCount
	}
	c, err := strconv.Atoi(m.Provenance["max_count"])
	if err != nil || c < 1 || c >= m.Input.Max() {
		return 0
	}
	return c
}

func toShape(dims []int) (Shape, error) {
	if len(dims) != 3 {
		return Shape{}, fmt.Errorf("%v is not [C, H, W]", dims)
	}
	return Shape{C: dims[0], H: dims[1], W: dims[2]}, nil
}

// readTensors fills the layer's weights, thresholds, biases and scales from the
// tensor table, removing each tensor it consumes so that leftovers can be
// reported. Sizes are checked against the graph before anything is
// allocated, and every allocation is bounded by the tensor's bytes.
func (l *Layer) readTensors(tensors map[string]*tensor, body []byte) error {
	if !l.HasWeights() {
		return nil
	}
	if err := checkShape(l.In); err != nil {
		return fmt.Errorf("in %v: %w", l.In, err)
	}
	if err := checkShape(l.Out); err != nil {
		return fmt.Errorf("out %v: %w", l.Out, err)
	}
	if l.WeightBits < 1 || l.WeightBits > 8 {
		return fmt.Errorf("weight bits %d, want 1..8", l.WeightBits)
	}
	outputs, fanIn, err := l.tensorSizes()
	if err != nil {
		return err
	}
	if l.WeightBits == 1 {
		data, err := take(tensors, body, weightName(l.Name), dtypeU8, outputs, packedLen(fanIn))
		if err != nil {
			return err
		}
		if l.Weights, err = unpackBinary(data, outputs, fanIn); err != nil {
			return fmt.Errorf("%s: %w", weightName(l.Name), err)
		}
	} else {
		data, err := take(tensors, body, weightName(l.Name), dtypeI8, outputs, fanIn)
		if err != nil {
			return err
		}
		l.Weights = make([]int8, len(data))
		for i, b := range data {
			l.Weights[i] = int8(b)
		}
	}
	if l.Spiking {
		if l.Threshold, err = takeInt64s(tensors, body, thresholdName(l.Name), outputs); err != nil {
			return err
		}
	}
	if _, ok := tensors[biasName(l.Name)]; ok {
		if l.Bias, err = takeInt64s(tensors, body, biasName(l.Name), outputs); err != nil {
			return err
		}
	}
	if _, ok := tensors[scaleName(l.Name)]; ok {
		data, err := take(tensors, body, scaleName(l.Name), dtypeF64, outputs)
		if err != nil {
			return err
		}
		l.Scale = make([]float64, outputs)
		for i := range l.Scale {
			l.Scale[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
	}
	return nil
}

// unpackBinary is the inverse of packBinary; set padding bits are an error
// since no writer produces them.
func unpackBinary(data []byte, outputs, fanIn int) ([]int8, error) {
	row := packedLen(fanIn)
	w := make([]int8, outputs*fanIn)
	for o := range outputs {
		packed, out := data[o*row:(o+1)*row], w[o*fanIn:(o+1)*fanIn]
		for i := range out {
			out[i] = int8(packed[i>>3]>>(i&7)&1)*2 - 1 // a bit, not a branch: the signs are a coin toss
		}
		if pad := fanIn % 8; pad != 0 && data[o*row+row-1]>>pad != 0 {
			return nil, fmt.Errorf("row %d has padding bits set", o)
		}
	}
	return w, nil
}
