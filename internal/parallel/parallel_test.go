package parallel

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
)

// TestForEveryIndexOnce: every index is run once, by a worker in range,
// for counts of workers below, at and above the items.
func TestForEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 100} {
		const n = 50
		runs := make([]atomic.Int32, n)
		var badWorker atomic.Bool
		if err := For(context.Background(), n, workers, func(w, i int) {
			if w < 0 || w >= Workers(n, workers) {
				badWorker.Store(true)
			}
			runs[i].Add(1)
		}); err != nil {
			t.Fatal(err)
		}
		for i := range runs {
			if r := runs[i].Load(); r != 1 {
				t.Errorf("workers %d: index %d ran %d times", workers, i, r)
			}
		}
		if badWorker.Load() {
			t.Errorf("workers %d: a worker number outside 0..%d", workers, Workers(n, workers)-1)
		}
	}
}

// TestForPlacesByIndex: results placed by index are the same for any
// number of workers.
func TestForPlacesByIndex(t *testing.T) {
	var want []int
	for _, workers := range []int{1, 2, 7} {
		got := make([]int, 200)
		For(context.Background(), len(got), workers, func(_, i int) { got[i] = i * i % 17 })
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Fatalf("workers %d: results differ from 1 worker's", workers)
		}
	}
}

// TestForStopsWhenCancelled: after cancellation no new index starts, and
// For says why it stopped.
func TestForStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	err := For(ctx, 1000, 2, func(_, i int) {
		if ran.Add(1) == 10 {
			cancel()
		}
	})
	if err != context.Canceled {
		t.Fatalf("error %v, want %v", err, context.Canceled)
	}
	if r := ran.Load(); r > 11 {
		t.Errorf("%d items ran after cancelling at the 10th (2 workers: at most 11)", r)
	}
	if err := For(context.Background(), 0, 4, func(_, _ int) { t.Error("ran an item of none") }); err != nil {
		t.Error(err)
	}
}
