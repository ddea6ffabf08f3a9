package nir

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// dataDir is where the NIR paper's files are: nir/ in the full data sets.
func dataDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(datatest.Full(t, "nir"), "nir")
}

func mustImport(t *testing.T, path string, o Options) (*model.Model, *Report) {
	t.Helper()
	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m, rep, err := Import(g, o)
	if err != nil {
		t.Fatal(err)
	}
	return m, rep
}

// TestRealFiles imports each of the six NIR files from the NIR paper, or
// checks that it is refused for the documented reasons.
func TestRealFiles(t *testing.T) {
	dir := dataDir(t)
	t.Run("cnn_sinabs", func(t *testing.T) {
		m, rep := mustImport(t, filepath.Join(dir, "cnn_sinabs.nir"), Options{})
		var got []string
		for _, l := range m.Layers {
			got = append(got, fmt.Sprintf("%s %s %v->%v k%d s%d p%d bits %d spiking %v bias %v leak %d", l.Name, l.Op, l.In, l.Out, l.Kernel, l.Stride, l.Pad, l.WeightBits, l.Spiking, l.Bias != nil, l.Leak))
		}
		want := []string{
			"0 conv 2x34x34->16x16x16 k5 s2 p1 bits 8 spiking true bias false leak 0",
			"2 conv 16x16x16->16x16x16 k3 s1 p1 bits 8 spiking true bias false leak 0",
			"4 sumpool 16x16x16->16x8x8 k2 s0 p0 bits 0 spiking false bias false leak 0",
			"5 conv 16x8x8->8x8x8 k3 s1 p1 bits 8 spiking true bias false leak 0",
			"7 sumpool 8x8x8->8x4x4 k2 s0 p0 bits 0 spiking false bias false leak 0",
			"9 dense 8x4x4->256x1x1 k0 s0 p0 bits 8 spiking true bias false leak 0",
			"11 dense 256x1x1->10x1x1 k0 s0 p0 bits 8 spiking true bias false leak 0",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("layers:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if m.Readout != model.ReadoutSpikes || m.Classes != 10 || m.Input.Shape != (model.Shape{C: 2, H: 34, W: 34}) {
			t.Errorf("readout %q, classes %d, input %v", m.Readout, m.Classes, m.Input.Shape)
		}
		for _, r := range rep.Layers {
			if r.Method != "" && (r.Method != "quantized to 8 bits" || r.WeightError > 0.01) {
				t.Errorf("layer %s: %s, error %v", r.Layer, r.Method, r.WeightError)
			}
		}
		if rep.Layers[0].Nodes[0] != "0" || rep.Layers[0].Nodes[1] != "1" {
			t.Errorf("layer 0 from nodes %v", rep.Layers[0].Nodes)
		}
	})
	for _, name := range []string{"lif_norse", "lif_rockpool"} {
		t.Run(name, func(t *testing.T) {
			m, rep := mustImport(t, filepath.Join(dir, name+".nir"), Options{})
			l := m.Layers[0]
			if len(m.Layers) != 1 || !l.Spiking || l.Leak == 0 || m.Readout != model.ReadoutSpikes {
				t.Fatalf("model %+v", m)
			}
			// τ = 2.5 ms, dt = 0.1 ms: α = 1 − e^−0.04 = 0.03921.
			if l.Leak != 161 || rep.Layers[0].LeakError > 0.005 {
				t.Errorf("leak %d (error %v), want 161", l.Leak, rep.Layers[0].LeakError)
			}
		})
	}
	t.Run("two_lif_neurons", func(t *testing.T) {
		m, _ := mustImport(t, filepath.Join(dir, "two_lif_neurons.nir"), Options{})
		if len(m.Layers) != 2 || m.Layers[0].Bias == nil || m.Layers[1].Bias != nil {
			t.Fatalf("layers %+v", m.Layers)
		}
	})
	for _, name := range []string{"braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"} {
		t.Run(name, func(t *testing.T) {
			g, err := Open(filepath.Join(dir, name+".nir"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Import(g, Options{})
			if err == nil {
				t.Fatal("imported")
			}
			for _, want := range []string{
				`node "lif1.lif" (CubaLIF): not supported`, "second leaky state per neuron",
				`node "lif2" (CubaLIF)`,
				"recurrent loop lif1.lif (CubaLIF) -> lif1.w_rec (", "routed back into it",
				`node "lif1.lif" (CubaLIF) has 2 inputs`,
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not say %q", err, want)
				}
			}
		})
	}
}

// roundTrip exports m, writes and reads the file, imports it, and checks
// that the model comes back equal.
func roundTrip(t *testing.T, m *model.Model) {
	t.Helper()
	g, err := Export(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, g) {
		for name, n := range g.Nodes {
			if !reflect.DeepEqual(back.Nodes[name], n) {
				t.Errorf("node %s changed through HDF5:\n got %#v\nwant %#v", name, back.Nodes[name], n)
			}
		}
		t.Fatalf("the graph changed through HDF5:\n%v\n%v", back, g)
	}
	got, _, err := Import(back, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		for i := range m.Layers {
			if !reflect.DeepEqual(got.Layers[i], m.Layers[i]) {
				t.Errorf("layer %d:\n got %+v\nwant %+v", i, got.Layers[i], m.Layers[i])
			}
		}
		got.Layers, m.Layers = nil, nil
		t.Fatalf("import(export(m)) differs:\n got %+v\nwant %+v", got, m)
	}
	// Without the metadata, and resetting to zero (where NIR's v > θ − ½
	// is nmsim's v ≥ θ for any θ), the same network comes back (other
	// names and widths, but the same integers, so the same spikes), except
	// for leaky layers, which a foreign file's import quantises to 8 bits.
	// (Subtracting, the default, subtracts the graph's θ − ½ as NIR says.)
	delete(back.Metadata, metaKey)
	bare, _, err := Import(back, Options{Reset: model.ResetZero})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Layers {
		w, b := &m.Layers[i], &bare.Layers[i]
		if w.Leak != 0 || w.SumShift != 0 {
			continue // quantised as a foreign graph's (r = 2^k folds into the weights)
		}
		if !reflect.DeepEqual(w.Weights, b.Weights) || !reflect.DeepEqual(w.Threshold, b.Threshold) ||
			!reflect.DeepEqual(w.Bias, b.Bias) || w.Leak != b.Leak || w.Spiking != b.Spiking || w.In != b.In {
			t.Errorf("without metadata, layer %d:\n got %+v\nwant %+v", i, b, w)
		}
	}
}

func TestRoundTripShipped(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "models", "*.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Skip("no models/*.bin")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			m, err := model.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, m)
		})
	}
}

func TestRoundTripRandom(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 99))
		m := testmodel.Random(rng, testmodel.Small)
		t.Run(fmt.Sprint("random", seed), func(t *testing.T) { roundTrip(t, m) })
		// The same network with every extension: frames, biases, leaks
		// (including the full leak), scales, sum shifts, a '/' in a name,
		// and a spiking output read out by spikes.
		x := testmodel.Random(rng, testmodel.Small)
		x.Input.Coding, x.Input.Bits, x.Input.FrameUS, x.Input.MaxCount = model.CodingFrames, 3, 1000*int(seed), 5
		x.Layers[0].Name = "block/conv1"
		x.Layers[0].Leak = model.LeakOne
		x.Layers[2].Leak = 1 + int(seed)*700
		x.Layers[2].Scale = make([]float64, x.Layers[2].Outputs())
		for i := range x.Layers[2].Scale {
			x.Layers[2].Scale[i] = 0.1 + float64(i)/3
		}
		x.Layers[4].Bias = make([]int64, x.Layers[4].Outputs())
		x.Layers[4].Bias[1] = -int64(seed) - 5
		x.Layers[2].SumShift = 8 // a leaky binary layer: r = 2^8/α
		x.Layers[4].SumShift = int(seed) + 1
		last := &x.Layers[len(x.Layers)-1]
		if seed%2 == 0 {
			x.Readout = model.ReadoutSpikes
			last.Spiking, last.Reset = true, model.ResetZero
			last.Threshold = make([]int64, last.Outputs())
			for i := range last.Threshold {
				last.Threshold[i] = 1 + int64(i)
			}
		} else {
			x.Readout = model.ReadoutPotential
			last.Leak = 3
		}
		if err := x.Validate(); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint("extended", seed), func(t *testing.T) { roundTrip(t, x) })
		// A time-to-first-spike network: TTFS coding, fire-once layers.
		f := testmodel.Random(rng, testmodel.Small)
		testmodel.TTFS(rng, f, 5+int(seed))
		t.Run(fmt.Sprint("ttfs", seed), func(t *testing.T) { roundTrip(t, f) })
	}
}

// TestRoundTripLong exports a chain of 300 layers (602 nodes in one HDF5
// group, a B-tree of two levels) and imports it back unchanged.
func TestRoundTripLong(t *testing.T) {
	m := &model.Model{Name: "long", Input: model.Input{Shape: model.Shape{C: 2, H: 1, W: 1}, Coding: model.CodingConstant, Bits: 8}, Timesteps: 4}
	v := model.Shape{C: 2, H: 1, W: 1}
	for i := range 300 {
		l := model.Layer{Name: fmt.Sprintf("fc%d", i), Op: model.OpDense, In: v, Out: v, WeightBits: 8,
			Weights: []int8{int8(10 + i%100), -3, 5, int8(1 + i%3)}, Spiking: true, Reset: model.ResetSubtract, Threshold: []int64{int64(1 + i%5), 2}}
		if i == 299 {
			l.Spiking, l.Reset, l.Threshold = false, "", nil
		}
		m.Layers = append(m.Layers, l)
	}
	m.Classes = 2
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, m)
}
