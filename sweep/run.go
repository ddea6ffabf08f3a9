package sweep

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/runner"
)

// Options control a sweep run.
type Options struct {
	Dir     string // results directory
	Workers int    // goroutines, ≥ 1
	Shard   Shard  // zero: every point
	// Timing records each point's wall-clock seconds in its line.
	Timing bool
	// Progress, when set, is called with the shard's points done and its
	// total: once before the first point runs, then after each point.
	Progress func(done, total int)
}

// Summary is what a run did.
type Summary struct {
	Points  int // in the shard
	Resumed int // already in the directory when the run started
	Ran     int // run now, Unfit included
	Unfit   int // recorded as skipped: the model does not fit the chip
	Torn    int // bytes of a torn last line cut off on start
}

// Run runs the plan's points of o.Shard that o.Dir does not hold yet and
// appends one result line per point. Points run in parallel, one per
// worker, each on a single runner worker; when fewer points remain than
// workers, each point's samples are split among the spare workers instead.
// Reports do not depend on either split (runner's guarantee), so results
// are byte-identical for any o.Workers.
func Run(ctx context.Context, pl *Plan, o Options) (*Summary, error) {
	if o.Workers < 1 {
		return nil, fmt.Errorf("sweep: workers (%d) must be at least 1", o.Workers)
	}
	st, torn, err := openStore(o.Dir)
	if err != nil {
		return nil, err
	}
	defer st.close()
	if err := writeManifest(o.Dir, pl.Manifest(o.Shard)); err != nil {
		return nil, err
	}
	sum := &Summary{Torn: torn}
	var todo []*Point
	for i := range pl.Points {
		p := &pl.Points[i]
		if !o.Shard.Contains(p.Index) {
			continue
		}
		sum.Points++
		if st.done[p.Key] {
			sum.Resumed++
		} else {
			todo = append(todo, p)
		}
	}
	progress := func(done int) {
		if o.Progress != nil {
			o.Progress(done, sum.Points)
		}
	}
	progress(sum.Resumed)
	if len(todo) == 0 {
		return sum, nil
	}
	perPoint := max(1, o.Workers/len(todo))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	err = parallel.For(ctx, len(todo), o.Workers, func(_, i int) {
		r, err := pl.run(ctx, todo[i], perPoint, o.Timing)
		if err == nil {
			err = st.append(r)
		}
		if err != nil {
			fail(err)
			return
		}
		mu.Lock()
		sum.Ran++
		if r.Skipped != "" {
			sum.Unfit++
		}
		progress(sum.Resumed + sum.Ran)
		mu.Unlock()
	})
	if firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		if errors.Is(firstErr, context.Canceled) {
			return sum, fmt.Errorf("sweep: interrupted with %d of %d points done; run the same command again to finish", sum.Resumed+sum.Ran, sum.Points)
		}
		return sum, firstErr
	}
	return sum, nil
}

// run simulates one point on workers runner workers.
func (pl *Plan) run(ctx context.Context, p *Point, workers int, timing bool) (*Result, error) {
	start := time.Now()
	prov := pl.prov[p.Model]
	prov.Set = p.overrides()
	r := &Result{Key: p.Key, Point: p.valueMap(), Provenance: &prov}
	ch, err := chip.New(p.Config, pl.models[p.Model], p.Seed)
	if r.Skipped, err = unfit(err); err != nil {
		return nil, fmt.Errorf("sweep: point %s: %w", p.Label(), err)
	}
	if ch != nil {
		set := pl.sets[p.Model]
		r.Report, err = runner.Run(ctx, ch, set, runner.Options{
			Samples: set.Len(), Timesteps: p.Timesteps, Workers: workers, Seed: p.Seed, Golden: pl.Spec.Golden,
		})
		if err != nil {
			return nil, fmt.Errorf("sweep: point %s: %w", p.Label(), err)
		}
	}
	if timing {
		r.WallS = math.Round(time.Since(start).Seconds()*1000) / 1000
	}
	return r, nil
}

// unfit sorts an error of chip.New: a model that does not fit the chip
// (a *mapper.FitError) is a fact about the design point, recorded as the
// reason the point is skipped; any other error is a failure.
func unfit(err error) (skipped string, _ error) {
	var fe *mapper.FitError
	if errors.As(err, &fe) {
		return err.Error(), nil
	}
	return "", err
}
