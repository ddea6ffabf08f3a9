package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// maxThreshold bounds a folded threshold (a channel whose batch-norm gain
// is ~0 would otherwise get an astronomically large one).
const maxThreshold = 1 << 36

// Model turns the trained net into the integer model of package model.
//
// Real values map onto integers as follows. Let u be the real value of one
// unit of a layer's integer input (1/255 for pixels, 1 for event counts
// and spikes, divided by k² after a k×k sum pool) and s_o the real value of
// one unit of weight row o (α_o for a binary layer, the quantisation step
// max|W_o|/(2^(WeightBits−1)−1) for a full-precision one). A hidden layer's
// neuron integrates a·z + b per timestep and fires at 1, where a = γ/√(σ²+ε)
// and b = β − a·μ come from batch norm; with Z the integer weighted sum,
// z = s_o·u·Z, so it integrates A·Z + b with A = a·s_o·u. A negative A
// (γ < 0) flips the signs of the row's weights. In integers the neuron gets
// θ = max(1, round(1/A)) and bias B = θ − ⌈(1 − b)/A⌉, so that at the first
// timestep Z + B ≥ θ exactly when A·Z + b ≥ 1: at T = 1 the integer model
// fires exactly when the real-valued net with the quantised weights does.
// Over several timesteps the rounding of θ and B (at most half a unit
// each, against a θ of typically 10–1000 units) can shift a spike.
// The output layer, read by potential, uses one step d for all its rows
// and the bias round(bias/(d·u)), so its argmax is the real one's.
func (s *SurrogateNet) Model(name string) (*model.Model, error) {
	cfg := s.Config
	qmax := float64(int(1)<<(cfg.WeightBits-1) - 1)
	last := len(s.Net.Layers) - 1
	m := &model.Model{
		Name:      name,
		Input:     model.Input{Shape: s.Net.In, Coding: cfg.Coding, Bits: cfg.InputBits},
		Classes:   s.Net.Classes(),
		Timesteps: cfg.Timesteps,
		Readout:   model.ReadoutPotential,
	}
	unit := 1.0
	if cfg.Coding == model.CodingFrames {
		m.Input.FrameUS = cfg.FrameUS
	} else {
		unit = 1.0 / 255
	}
	sp := s.params(false)
	var binary []string
	for i := range s.Net.Layers {
		l := &s.Net.Layers[i]
		ml := l.modelLayer(i)
		if l.Kind == Pool {
			unit /= float64(l.Kernel * l.Kernel)
			m.Layers = append(m.Layers, ml)
			continue
		}
		outs, fan := l.Outputs(), l.FanIn()
		w := s.Latent[i]
		steps := make([]float64, outs)
		ml.Weights = make([]int8, outs*fan)
		ml.WeightBits = cfg.WeightBits
		if l.Binary {
			ml.WeightBits = 1
			binary = append(binary, ml.Name)
		}
		for o := range steps {
			row := w[o*fan : (o+1)*fan]
			switch {
			case l.Binary && i == last:
				steps[o] = math.Abs(float64(sp.w[i][0])) // the layer's α
			case l.Binary:
				steps[o] = math.Abs(float64(sp.w[i][o*fan]))
			case i == last:
				steps[o] = maxAbs(w) / qmax
			default:
				steps[o] = maxAbs(row) / qmax
			}
			if !(steps[o] > 0) {
				steps[o] = 1 // an all-zero row: any step quantises it exactly
			}
			for j, v := range row {
				switch {
				case l.Binary && v >= 0:
					ml.Weights[o*fan+j] = 1
				case l.Binary:
					ml.Weights[o*fan+j] = -1
				default:
					ml.Weights[o*fan+j] = int8(math.Round(float64(v) / steps[o]))
				}
			}
		}
		ml.Scale = make([]float64, outs)
		if i == last {
			ml.Bias = make([]int64, outs)
			for o := range steps {
				ml.Scale[o] = steps[o] * unit
				ml.Bias[o] = int64(math.Round(float64(s.Bias[o]) / ml.Scale[o]))
				if ml.Bias[o] > model.MaxBias || ml.Bias[o] < -model.MaxBias {
					return nil, fmt.Errorf("surrogate model: output bias %g units overflows", float64(s.Bias[o])/ml.Scale[o])
				}
			}
			m.Layers = append(m.Layers, ml)
			continue
		}
		ml.Spiking, ml.Reset = true, model.ResetSubtract
		ml.Threshold, ml.Bias = make([]int64, outs), make([]int64, outs)
		// Batch norm is per output channel of a conv and per neuron of a
		// dense layer (whose Out.C is its neuron count): per row o.
		for o := range steps {
			a := float64(sp.scale[i][o]) * steps[o] * unit
			b := float64(sp.shift[i][o])
			if a < 0 {
				a = -a
				for j := range fan {
					ml.Weights[o*fan+j] = -ml.Weights[o*fan+j]
				}
			}
			th := math.Round(1 / a)
			if !(th <= maxThreshold) { // also catches a = 0 (+Inf)
				th = maxThreshold
			}
			th = max(1, th)
			r := math.Ceil((1 - b) / a)
			bias := th - r
			if !(bias >= -model.MaxBias && bias <= model.MaxBias) {
				// The channel never (or always) fires whatever its input;
				// the bias saturates.
				bias = math.Max(-model.MaxBias, math.Min(model.MaxBias, bias))
			}
			ml.Threshold[o], ml.Bias[o] = int64(th), int64(bias)
			ml.Scale[o] = max(a, math.SmallestNonzeroFloat64)
		}
		unit = 1
		m.Layers = append(m.Layers, ml)
	}
	saved := s.Report
	saved.Layers = nil
	m.Provenance = map[string]string{
		"method":             "surrogate",
		"net":                s.Net.Spec,
		"timesteps":          strconv.Itoa(cfg.Timesteps),
		"coding":             string(cfg.Coding),
		"weight_bits":        strconv.Itoa(cfg.WeightBits),
		"binarize_tolerance": strconv.FormatFloat(cfg.BinarizeTolerance, 'g', -1, 64),
		"binary_layers":      strings.Join(binary, " "),
		"weight_storage":     fmt.Sprintf("%d bits (all %d-bit: %d bits, %.1f%% saved)", s.Report.WeightBits, cfg.WeightBits, s.Report.FullPrecisionBits, 100*s.Report.StorageSaved()),
		"val_accuracy_float": strconv.FormatFloat(s.Report.ValAccuracy, 'f', 4, 64),
		"surrogate_slope":    strconv.FormatFloat(cfg.Slope, 'g', -1, 64),
	}
	if len(binary) == 0 {
		m.Provenance["binary_layers"] = "none"
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("surrogate: produced an invalid model: %w", err)
	}
	return m, nil
}

// integerParams returns forward parameters that make a spass compute the
// integer model m exactly (every value an integer below 2^24 held in a
// float32): integer weights and inputs, u = Z + bias, thresholds θ, and
// the output summed over timesteps plus T times its bias.
func (s *SurrogateNet) integerParams(m *model.Model) *sparams {
	L := len(s.Net.Layers)
	sp := &sparams{w: make([][]float32, L), scale: make([][]float32, L), shift: make([][]float32, L), thr: make([][]float32, L),
		lastScale: 1, unit: 1, frames: m.Input.Coding == model.CodingFrames, sumPool: true}
	for i := range m.Layers {
		ml := &m.Layers[i]
		if !ml.HasWeights() {
			continue
		}
		sp.w[i] = make([]float32, len(ml.Weights))
		for j, v := range ml.Weights {
			sp.w[i][j] = float32(v)
		}
		if i == L-1 {
			sp.bias = make([]float32, len(ml.Bias))
			for j, b := range ml.Bias {
				sp.bias[j] = float32(b * int64(s.Config.Timesteps))
			}
			continue
		}
		// Thresholds and biases are per output channel (conv) or per
		// neuron (dense, whose Out.C is its neuron count): one per C.
		n := ml.Outputs()
		sp.scale[i], sp.shift[i], sp.thr[i] = make([]float32, n), make([]float32, n), make([]float32, n)
		for o := 0; o < n; o++ {
			sp.scale[i][o] = 1
			sp.shift[i][o] = float32(ml.Bias[o])
			sp.thr[i][o] = float32(ml.Threshold[o])
		}
	}
	return sp
}
