package train

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// Model returns the integer model: binary dense fire-once layers with
// threshold ⌈θ⌉ and scale 1/θ, TTFS input coding over Window timesteps,
// a first-spike readout, and Window timesteps (no neuron can fire after
// the last input spike, which comes before Window).
func (n *TTFSNet) Model(name string) (*model.Model, error) {
	if name == "" {
		return nil, errors.New("ttfs model: empty name")
	}
	m := &model.Model{
		Name:      name,
		Input:     model.Input{Shape: n.Net.In, Coding: model.CodingTTFS, Bits: 8, Window: n.Window},
		Classes:   n.Net.Classes(),
		Timesteps: n.Window,
		Readout:   model.ReadoutFirstSpike,
	}
	var th []string
	for i := range n.Net.Layers {
		l := &n.Net.Layers[i]
		outs, fan := l.Outputs(), l.FanIn()
		ml := model.Layer{Name: fmt.Sprintf("dense%d", i+1), Op: model.OpDense, In: l.In, Out: l.Out,
			WeightBits: 1, Weights: make([]int8, outs*fan), Spiking: true, Reset: model.ResetZero, FireOnce: true,
			Threshold: make([]int64, outs), Scale: make([]float64, outs)}
		for j, v := range n.Latent[i] {
			ml.Weights[j] = 1
			if v < 0 {
				ml.Weights[j] = -1
			}
		}
		k := int64(n.IntThreshold(i))
		for o := range ml.Threshold {
			ml.Threshold[o] = k
			ml.Scale[o] = 1 / n.Threshold[i]
		}
		th = append(th, ml.Name+"="+strconv.FormatFloat(n.Threshold[i], 'f', 3, 64))
		m.Layers = append(m.Layers, ml)
	}
	m.Provenance = map[string]string{
		"method":     "ttfs",
		"net":        n.Net.Spec,
		"window":     strconv.Itoa(n.Window),
		"thresholds": strings.Join(th, " "),
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("ttfs model: invalid: %w", err)
	}
	return m, nil
}
