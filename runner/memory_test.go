package runner

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/dataset"
)

// TestGoldenMemoryIndependentOfTimesteps: a golden run holds a few
// layers' reference spikes at a time, not the whole run's, so its memory
// does not grow with the timesteps.
func TestGoldenMemoryIndependentOfTimesteps(t *testing.T) {
	c := randomMNISTChip(t)
	m := c.Model()
	set := &dataset.Set{Name: "random", Shape: m.Input.Shape, Images: testmodel.Sample(rand.New(rand.NewPCG(1, 2)), m), Labels: []uint8{3}, Classes: 10}
	allocated := func(T int) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, err := Run(context.Background(), c, set, Options{Timesteps: T, Workers: 1, Golden: true})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if r.Golden.Mismatches != 0 || r.Spikes.Total == 0 {
			t.Fatalf("%d timesteps: %d mismatches, %d spikes", T, r.Golden.Mismatches, r.Spikes.Total)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	short, long := allocated(16), allocated(1024)
	t.Logf("bytes allocated by a golden run of one sample: %d at 16 timesteps, %d at 1024", short, long)
	if long > short+128<<10 {
		t.Fatalf("a golden run of 1024 timesteps allocates %d bytes, one of 16 %d: memory grows with the timesteps", long, short)
	}
}
