package chip

import (
	"math/rand/v2"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/testmodel"
)

// BenchmarkInfer runs one sample of a random 28×28 net through the chip
// with the cycle-level NoC, with event-driven and synchronous neuron
// updates; allocs/op shows what the run allocates per sample (result
// slices, not the inner loops).
func BenchmarkInfer(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rng, o)
	x := testmodel.Sample(rng, m)
	// neuron.update = "all" does no event accounting, so the two show
	// what it costs.
	for _, mode := range []string{"event", "all"} {
		b.Run("update="+mode, func(b *testing.B) {
			cfg := arch.Default()
			cfg.Neuron.Update = mode
			c, err := New(cfg, m, 1)
			if err != nil {
				b.Fatal(err)
			}
			w := c.NewWorker()
			w.Infer(x, 0, 16, Hooks{})
			b.ReportAllocs()
			for b.Loop() {
				w.Infer(x, 0, 16, Hooks{})
			}
		})
	}
}

// TestStepDoesNotAllocate keeps the functional pass allocation-free once a
// worker is warm: every stage's step at every timestep, with ideal devices
// and with read noise (whose reads go through the event sampler).
func TestStepDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rng, o)
	x := testmodel.Sample(rng, m)
	for _, sigma := range []float64{0, 0.05} {
		cfg := arch.Default()
		cfg.Device.ReadNoiseSigma = sigma
		c, err := New(cfg, m, 1)
		if err != nil {
			t.Fatal(err)
		}
		w := c.NewWorker()
		const T = 4
		w.Infer(x, 0, T, Hooks{})
		allocs := testing.AllocsPerRun(10, func() {
			for step := 0; step < T; step++ {
				for si := range c.stages {
					w.step(si, step, Hooks{})
				}
			}
		})
		if allocs != 0 {
			t.Errorf("read noise σ = %v: %v allocations per %d timesteps of every stage", sigma, allocs, T)
		}
	}
}
