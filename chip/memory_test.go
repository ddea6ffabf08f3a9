package chip

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestMemoryIndependentOfTimesteps: a sample's memory does not grow with
// its timesteps (the timing pass keeps a ring of records, not one per
// timestep), so a long run cannot exhaust memory.
func TestMemoryIndependentOfTimesteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := testmodel.Random(rng, testmodel.Small)
	c, err := New(arch.Default(), m, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := testmodel.Sample(rng, m)
	allocated := func(T int) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c.NewWorker().Infer(x, 0, T, model.Hooks{})
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	short, long := allocated(16), allocated(4096)
	t.Logf("bytes allocated by a fresh worker's sample: %d at 16 timesteps, %d at 4096", short, long)
	if long > short+64<<10 {
		t.Fatalf("a sample of 4096 timesteps allocates %d bytes, one of 16 %d: memory grows with the timesteps", long, short)
	}
}
