// Package parallel runs independent work items on a fixed number of
// goroutines: the one worker pool of nmsim (runs of samples, sweep points,
// training shards, evaluations).
package parallel

import (
	"context"
	"sync"
	"sync/atomic"
)

// Workers is how many goroutines For uses for n items: workers, but no
// more than n and at least 1. Callers size per-worker scratch with it.
func Workers(n, workers int) int { return max(1, min(workers, n)) }

// For calls fn(w, i) once for every i in [0, n), on Workers(n, workers)
// goroutines numbered w = 0, 1, …; each takes the next i as soon as it is
// free, so which w runs which i depends on timing. fn must therefore put
// its result where i says (and use w only to pick per-worker scratch):
// then the outcome is the same for any workers and any schedule. Once ctx
// is done no further i is started; For waits for those running and
// returns ctx.Err().
func For(ctx context.Context, n, workers int, fn func(w, i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range Workers(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(w, i)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}
