package chip

import (
	"runtime"
	"testing"

	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// TestMemoryIndependentOfTimesteps: a sample's memory does not grow with
// its timesteps (the timing pass keeps a ring of records, not one per
// timestep), so a long run cannot exhaust memory.
func TestMemoryIndependentOfTimesteps(t *testing.T) {
	rng, m, c := smallChip(t, 3, 4)
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
