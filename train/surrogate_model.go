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
// Over several timesteps the rounding of θ and B can shift a spike: of at
// most half a unit and one and a half units per timestep, against a θ of
// typically 100–1000 units in a multi-bit layer but only 3–6 in a binary
// one, whose unit is a whole ±1 synapse. So in a model of more than one
// timestep a binary layer's neurons add their sum shifted left k =
// binaryShift bits (model.Layer.SumShift) and θ and B are in units of
// 2^-k synapse: θ = max(1, round(2^k/A)) and B = θ − D, where D is
// 2^k·(1 − b)/A rounded and kept within (2^k·(r − 1), 2^k·r] for
// r = ⌈(1 − b)/A⌉, so that the first timestep stays exact (2^k·Z + B ≥ θ
// exactly when Z ≥ r) while θ is off by at most half a unit and B by at
// most one and a half, 2^-k of what they were. (At T = 1 both are exact,
// so the models of one timestep keep k = 0 and their bytes.)
// The output layer, read by potential, uses one step d for all its rows
// and the bias round(2^k·bias/(d·u)) (k as above if it is binary), so its
// argmax is the real one's.
func (s *SurrogateNet) Model(name string) (*model.Model, error) {
	shift := 0
	if s.Config.Timesteps > 1 {
		shift = binaryShift
	}
	return s.model(name, shift)
}

// binaryShift is the SumShift of a binary layer in a model of more than
// one timestep: with 2^8 units to a synapse, a binary layer's threshold
// of 1/A synapses (at least 1; 3–6 in N-MNIST's conv2) becomes 256·(1/A)
// units, so rounding moves it by at most 0.2 % and the per-timestep drift
// B by at most 1.5/256 synapse, under one synapse over 170 timesteps;
// more bits would gain nothing measurable and widen the membrane.
const binaryShift = 8

// model is Model with binary layers' sums shifted left by shift bits.
func (s *SurrogateNet) model(name string, shift int) (*model.Model, error) {
	cfg := s.Config
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
		m.Input.FrameUS, m.Input.MaxCount = cfg.FrameUS, cfg.MaxCount
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
		ml.WeightBits = cfg.WeightBits
		var binaryAlpha func(o int) float64
		if l.Binary {
			ml.WeightBits, ml.SumShift = 1, shift
			binary = append(binary, ml.Name)
			// The effective weights are ±α: one α for the output layer,
			// one per row elsewhere.
			binaryAlpha = func(o int) float64 {
				if i == last {
					o = 0
				}
				return math.Abs(float64(sp.w[i][o*fan]))
			}
		}
		var steps []float64
		ml.Weights, steps = quantiseWeights(s.Latent[i], fan, binaryAlpha, i == last, cfg.WeightBits)
		ml.Scale = make([]float64, outs)
		fine := math.Ldexp(1, ml.SumShift) // membrane units per unit of the sum
		if i == last {
			ml.Bias = make([]int64, outs)
			for o := range steps {
				ml.Scale[o] = steps[o] * unit
				ml.Bias[o] = int64(math.Round(fine * float64(s.Bias[o]) / ml.Scale[o]))
				if ml.Bias[o] > model.MaxBias || ml.Bias[o] < -model.MaxBias {
					return nil, fmt.Errorf("surrogate model: output bias %g units overflows", fine*float64(s.Bias[o])/ml.Scale[o])
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
			th := math.Round(fine / a)
			if !(th <= maxThreshold) { // also catches a = 0 (+Inf)
				th = maxThreshold
			}
			th = max(1, th)
			// The first timestep fires when Z ≥ r; θ − B within
			// (fine·(r−1), fine·r] keeps that, the nearest to the
			// real fine·(1 − b)/a (r itself when fine is 1).
			r := math.Ceil((1 - b) / a)
			d := math.Min(math.Max(math.Round(fine*(1-b)/a), fine*(r-1)+1), fine*r)
			bias := th - d
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
