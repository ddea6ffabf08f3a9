package chip

import (
	"math/rand/v2"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/testmodel"
)

// BenchmarkInfer runs one sample of a random 28×28 net through the chip
// with the cycle-level NoC; allocs/op shows what the run allocates per
// sample (result slices, not the inner loops).
func BenchmarkInfer(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rng, o)
	c, err := New(arch.Default(), m, 1)
	if err != nil {
		b.Fatal(err)
	}
	x := testmodel.Sample(rng, m)
	w := c.NewWorker()
	w.Infer(x, 0, 16, Hooks{})
	b.ReportAllocs()
	for b.Loop() {
		w.Infer(x, 0, 16, Hooks{})
	}
}
