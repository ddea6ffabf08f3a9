package train

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// ThresholdSummary is layer i's real threshold θ with 3 decimals, or,
// when its neurons' differ, their mean and range as "mean(min..max)".
func (n *TTFSNet) ThresholdSummary(i int) string {
	th := n.Threshold[i]
	lo, hi := slices.Min(th), slices.Max(th)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	if lo == hi {
		return f(lo)
	}
	var sum float64
	for _, t := range th {
		sum += t
	}
	return fmt.Sprintf("%s(%s..%s)", f(sum/float64(len(th))), f(lo), f(hi))
}

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
		for o := range ml.Threshold {
			ml.Threshold[o] = int64(n.IntThreshold(i, o))
			ml.Scale[o] = 1 / n.Threshold[i][o]
		}
		th = append(th, ml.Name+"="+n.ThresholdSummary(i))
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
