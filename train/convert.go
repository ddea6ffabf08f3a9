package train

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// ConvertConfig is how to turn an ANN into a spiking model.
type ConvertConfig struct {
	// Name names the model.
	Name string
	// Percentile (0 < p ≤ 100) of each hidden layer's positive ReLU
	// outputs over the calibration images sets that layer's firing
	// threshold λ: a neuron whose ANN activation reaches λ fires every
	// timestep. The max (100) wastes rate resolution on rare outliers;
	// 99.9 clips them instead.
	Percentile float64
	// WeightBits (2..8) is the width of the quantised full-precision
	// (first and last) layers.
	WeightBits int
	// ThresholdScale multiplies every hidden layer's balanced threshold;
	// below 1 makes neurons fire sooner, which helps at few timesteps
	// (Lu & Sengupta 2020) at the price of saturating the largest activations.
	ThresholdScale float64
	// Timesteps is the model's default run length.
	Timesteps int
	Workers   int
}

func (c *ConvertConfig) check() error {
	switch {
	case !(c.Percentile > 0 && c.Percentile <= 100):
		return fmt.Errorf("percentile %v, want in (0, 100]", c.Percentile)
	case c.WeightBits < 2 || c.WeightBits > 8:
		return fmt.Errorf("weight bits %d, want 2..8", c.WeightBits)
	case !(c.ThresholdScale > 0) || math.IsInf(c.ThresholdScale, 0):
		return fmt.Errorf("threshold scale %v, want > 0", c.ThresholdScale)
	case c.Timesteps < 1:
		return fmt.Errorf("timesteps %d, want >= 1", c.Timesteps)
	case c.Workers < 1:
		return fmt.Errorf("workers %d, want >= 1", c.Workers)
	}
	return nil
}

// Lambdas returns, for every layer with a ReLU (the hidden weight layers),
// the p-th percentile of its positive outputs over calib, and 0 for the
// other layers. Zeros are left out because a ReLU output of zero never
// fires whatever the threshold: counting them would tie λ to how sparse a
// layer is rather than to how large its activations get.
func (a *ANN) Lambdas(ctx context.Context, calib *dataset.Set, p float64, workers int) ([]float64, error) {
	if err := checkData(&a.Net, calib); err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	w, _ := a.Effective()
	last := len(a.Net.Layers) - 1
	seen := make([][][]float32, workers) // [worker][layer] positive outputs
	for wk := range seen {
		seen[wk] = make([][]float32, len(a.Net.Layers))
	}
	err := a.forEachShard(ctx, calib, workers, w, func(wk int, ps *pass, _, n int) {
		for i := range a.Net.Layers {
			l := &a.Net.Layers[i]
			if !l.HasWeights() || i == last {
				continue
			}
			for _, v := range ps.act[i+1][:n*l.Out.Size()] {
				if v > 0 {
					seen[wk][i] = append(seen[wk][i], v)
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	lambdas := make([]float64, len(a.Net.Layers))
	for i := range a.Net.Layers {
		l := &a.Net.Layers[i]
		if !l.HasWeights() || i == last {
			continue
		}
		var all []float32
		for wk := range seen {
			all = append(all, seen[wk][i]...)
			seen[wk][i] = nil
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("calibration: layer %d (%s) never activates on %d images", i+1, l.Kind, calib.Len())
		}
		lambdas[i] = percentile(all, p)
	}
	return lambdas, nil
}

// percentile is the p-th percentile of v with linear interpolation between
// ranks (numpy's default); it sorts v.
func percentile(v []float32, p float64) float64 {
	slices.Sort(v)
	pos := p / 100 * float64(len(v)-1)
	lo := int(pos)
	if lo >= len(v)-1 {
		return float64(v[len(v)-1])
	}
	f := pos - float64(lo)
	return float64(v[lo]) + f*float64(v[lo+1]-v[lo])
}

// Convert turns the ANN into the integer spiking model: integrate-and-fire
// neurons, reset by subtraction, no leak, the 8-bit pixel as a constant
// input current, average pooling as sum pooling, and the class as the argmax
// of the last layer's accumulated input.
//
// The ANN's real values map onto integers as follows. Let u be the real
// value of one unit of a layer's integer input (1/255 for pixels, λ of the
// previous spiking layer for a spike, divided by k² after a k×k sum pool)
// and s_o the real value of one unit of weight o (α_o for a binary layer,
// the quantisation step Δ for a full-precision one). Then one unit of the
// integer input current is worth Scale_o = s_o·u, and a neuron that should
// fire at rate a/λ for ANN activation a gets θ_o = round(λ/Scale_o) ≥ 1.
// The first layer quantises per output channel (its steps fold into its
// thresholds); the last layer, which has no threshold, uses one step for the
// whole layer so that the argmax is what the ANN's would be.
func Convert(ctx context.Context, a *ANN, calib *dataset.Set, cfg ConvertConfig) (*model.Model, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	lambdas, err := a.Lambdas(ctx, calib, cfg.Percentile, cfg.Workers)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	_, alpha := a.Effective()
	last := len(a.Net.Layers) - 1
	m := &model.Model{
		Name:      cfg.Name,
		Input:     model.Input{Shape: a.Net.In, Coding: model.CodingConstant, Bits: 8},
		Classes:   a.Net.Classes(),
		Timesteps: cfg.Timesteps,
	}
	var lam []string
	unit := 1.0 / 255
	for i := range a.Net.Layers {
		l := &a.Net.Layers[i]
		ml := l.modelLayer(i)
		if l.Kind == Pool {
			unit /= float64(l.Kernel * l.Kernel)
			m.Layers = append(m.Layers, ml)
			continue
		}
		outs, fan := l.Outputs(), l.FanIn()
		var binaryAlpha func(o int) float64
		ml.WeightBits = cfg.WeightBits
		if l.Binary {
			ml.WeightBits = 1
			binaryAlpha = func(o int) float64 { return float64(alpha[i][o]) }
		}
		var steps []float64
		ml.Weights, steps = quantiseWeights(a.Latent[i], fan, binaryAlpha, i == last, cfg.WeightBits)
		ml.Scale = make([]float64, outs)
		for o, d := range steps {
			ml.Scale[o] = d * unit
		}
		if i == last {
			m.Layers = append(m.Layers, ml)
			continue
		}
		ml.Spiking, ml.Reset = true, model.ResetSubtract
		ml.Threshold = make([]int64, outs)
		for o, s := range ml.Scale {
			th := math.Round(cfg.ThresholdScale * lambdas[i] / s)
			if th > 1<<53 {
				return nil, fmt.Errorf("convert: layer %s threshold %g overflows (λ %g, scale %g)", ml.Name, th, lambdas[i], s)
			}
			ml.Threshold[o] = max(1, int64(th))
		}
		lam = append(lam, ml.Name+"="+strconv.FormatFloat(lambdas[i], 'g', 6, 64))
		unit = lambdas[i]
		m.Layers = append(m.Layers, ml)
	}
	m.Provenance = map[string]string{
		"method":          "convert",
		"net":             a.Net.Spec,
		"percentile":      strconv.FormatFloat(cfg.Percentile, 'g', -1, 64),
		"weight_bits":     strconv.Itoa(cfg.WeightBits),
		"threshold_scale": strconv.FormatFloat(cfg.ThresholdScale, 'g', -1, 64),
		"calib_samples":   strconv.Itoa(calib.Len()),
		"lambda":          strings.Join(lam, " "),
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("convert: produced an invalid model: %w", err)
	}
	return m, nil
}

// quantiseWeights turns a weight layer's real weights w ([outputs][fan])
// into the model's integers and the real value of one unit of each row.
// A binary layer (binaryAlpha set) gets sign(w) (+1 for 0) worth
// binaryAlpha(o); a full-precision one round(w/Δ) in bits bits, with
// Δ = max|row|/(2^(bits−1)−1) per row, or one Δ for the whole layer when
// shared (the output layer, whose argmax must stay the real one's). An
// all-zero row gets the step 1, which quantises it exactly.
func quantiseWeights(w []float32, fan int, binaryAlpha func(o int) float64, shared bool, bits int) ([]int8, []float64) {
	qmax := float64(int(1)<<(bits-1) - 1)
	outs := len(w) / fan
	q, steps := make([]int8, len(w)), make([]float64, outs)
	layerStep := maxAbs(w) / qmax
	for o := range steps {
		row := w[o*fan : (o+1)*fan]
		switch {
		case binaryAlpha != nil:
			steps[o] = binaryAlpha(o)
		case shared:
			steps[o] = layerStep
		default:
			steps[o] = maxAbs(row) / qmax
		}
		if !(steps[o] > 0) {
			steps[o] = 1
		}
		for j, v := range row {
			switch {
			case binaryAlpha == nil:
				q[o*fan+j] = int8(math.Round(float64(v) / steps[o]))
			case v >= 0:
				q[o*fan+j] = 1
			default:
				q[o*fan+j] = -1
			}
		}
	}
	return q, steps
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}
