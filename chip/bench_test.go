package chip

import (
	"math/rand/v2"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/sim"
	"github.com/nmsim/nmsim/workloads/model"
)

// net28 is a random net of testmodel.Small's layers on 28×28 inputs and a
// sample for it.
func net28() (*model.Model, []uint8) {
	rng := rand.New(rand.NewPCG(1, 2))
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rng, o)
	return m, testmodel.Sample(rng, m)
}

// warmWorker builds the chip of cfg for m and a worker that has run x for
// T timesteps once, so that its buffers have grown.
func warmWorker(tb testing.TB, cfg *arch.Config, m *model.Model, x []uint8, T int) (*Chip, *Worker) {
	c, err := New(cfg, m, 1)
	if err != nil {
		tb.Fatal(err)
	}
	w := c.NewWorker()
	w.Infer(x, 0, T, model.Hooks{})
	return c, w
}

// BenchmarkInfer runs one sample of a random 28×28 net through the chip
// with the cycle-level NoC, with event-driven and synchronous neuron
// updates; allocs/op shows what the run allocates per sample (result
// slices, not the inner loops).
func BenchmarkInfer(b *testing.B) {
	m, x := net28()
	// neuron.update = "all" does no event accounting, so the two show
	// what it costs.
	for _, mode := range []string{"event", "all"} {
		b.Run("update="+mode, func(b *testing.B) {
			cfg := arch.Default()
			cfg.Neuron.Update = mode
			_, w := warmWorker(b, cfg, m, x, 16)
			b.ReportAllocs()
			for b.Loop() {
				w.Infer(x, 0, 16, model.Hooks{})
			}
		})
	}
}

// TestStepDoesNotAllocate keeps the functional pass allocation-free once a
// worker is warm: every layer's step at every timestep, with ideal devices
// and with read noise (whose reads go through the event sampler).
func TestStepDoesNotAllocate(t *testing.T) {
	m, x := net28()
	for _, sigma := range []float64{0, 0.05} {
		cfg := arch.Default()
		cfg.Device.ReadNoiseSigma = sigma
		const T = 4
		c, w := warmWorker(t, cfg, m, x, T)
		allocs := testing.AllocsPerRun(10, func() {
			for step := 0; step < T; step++ {
				for layerIdx := range c.layers {
					w.step(layerIdx, step, model.Hooks{})
				}
			}
		})
		if allocs != 0 {
			t.Errorf("read noise σ = %v: %v allocations per %d timesteps of every layer", sigma, allocs, T)
		}
	}
}

// nopObserver watches the timing pass and does nothing.
type nopObserver struct{}

func (nopObserver) Read(int, int, int, sim.Cycle, sim.Cycle)        {}
func (nopObserver) Update(int, int, int, sim.Cycle, sim.Cycle, int) {}
func (nopObserver) Barrier(int, sim.Cycle, sim.Cycle)               {}

// BenchmarkObserver runs the sample of BenchmarkInfer without an observer
// (the default: one nil check per event) and with one that does nothing
// (the cost of the calls):
//
//	go test ./chip -run '^$' -bench Observer -count 5
func BenchmarkObserver(b *testing.B) {
	m, x := net28()
	for _, name := range []string{"nil", "nop"} {
		b.Run(name, func(b *testing.B) {
			_, w := warmWorker(b, arch.Default(), m, x, 16)
			if name == "nop" {
				w.Observe(nopObserver{}, nil)
			}
			for b.Loop() {
				w.Infer(x, 0, 16, model.Hooks{})
			}
		})
	}
}

// BenchmarkFunctional times the functional read path of each weight layer
// of the shipped MNIST conv model (scatter into bit-planes and every read
// of every block at every position: compute) on the inputs the layer saw
// at every timestep of real test images, and reports synops/s: synaptic
// operations, Σ over reads of driven rows × the outputs read (one per
// logical weight, per input bit-plane), per second. For a binary layer
// that is the figure to hold against BenchmarkAndPopcount's limit.
func BenchmarkFunctional(b *testing.B) {
	m, err := model.Load("../models/mnist-convert.bin")
	if err != nil {
		b.Skipf("shipped model: %v", err)
	}
	data := datatest.Set(b, "mnist", "test", 10)
	c, err := New(arch.Default(), m, 1)
	if err != nil {
		b.Fatal(err)
	}
	w := c.NewWorker()
	inputs := make([][][]uint8, len(c.layers))
	for i := 0; i < data.Len(); i++ {
		w.Infer(data.Image(i), uint64(i), m.Timesteps, model.Hooks{Step: func(int, []int64) {
			for layerIdx := range c.layers {
				inputs[layerIdx] = append(inputs[layerIdx], append([]uint8(nil), w.st[layerIdx].in...))
			}
		}})
	}
	for layerIdx := range c.layers {
		s, ss := &c.layers[layerIdx], &w.st[layerIdx]
		slices := max(s.lm.WeightBits-1, 1)
		b.Run(s.lm.Name, func(b *testing.B) {
			var synops int64
			k := 0
			for b.Loop() {
				copy(ss.in, inputs[layerIdx][k%len(inputs[layerIdx])])
				k++
				w.compute(layerIdx)
				synops += ss.counters.CellReads / int64(2*slices)
			}
			b.ReportMetric(float64(synops)/b.Elapsed().Seconds(), "synops/s")
		})
	}
}
