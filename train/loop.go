package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/nmsim/nmsim/internal/parallel"
)

// loop is the minibatch loop that every trainer shares: epochs over n
// samples, shuffled at the start of each by their own random stream (so
// that changing the initialisation never changes the sample order), cut
// into minibatches of at most batch samples, each cut into fixed shards of
// shard samples. Shards go to the workers as they come free; a trainer
// keeps one gradient buffer per shard (a worker's own buffers are scratch)
// and sums them in shard order, so its result does not depend on the
// worker count.
type loop struct {
	name                         string // prefixes errors
	n, batch, shard, epochs      int
	workers                      int
	progress                     func(Progress)
	src                          *rand.PCG
	shuffle                      *rand.Rand
	shardLoss                    []float64
	shardRight                   []int
	stepsPerEpoch, totalSteps, t int
	// done is the number of epochs already run (by a resumed run) and
	// order their last sample order (nil: not resumed).
	done  int
	order []int
	ckpt  *checkpointer // nil: no checkpoints
}

// newLoop plans the minibatches of a training run; workers is capped at
// the number of shards of a minibatch.
func newLoop(name string, n, batch, shard, epochs, workers int, seed uint64, progress func(Progress)) *loop {
	shards := (batch + shard - 1) / shard
	l := &loop{name: name, n: n, batch: batch, shard: shard, epochs: epochs, workers: min(workers, shards),
		progress: progress, shardLoss: make([]float64, shards), shardRight: make([]int, shards)}
	l.src = rand.NewPCG(seed, 0x73687566) // "shuf"
	l.shuffle = rand.New(l.src)
	l.stepsPerEpoch = (n + batch - 1) / batch
	l.totalSteps = l.stepsPerEpoch * epochs
	return l
}

// shards is the number of shards of a full minibatch (the gradient
// buffers a trainer needs).
func (l *loop) shards() int { return len(l.shardLoss) }

// minibatch is one step of a run.
type minibatch struct {
	Epoch int
	// T counts steps from 1 over the whole run (Adam's bias correction).
	T int
	// Samples are the indices of the minibatch's samples; Shards the
	// number of shards they fill.
	Samples []int
	Shards  int
	// Decay is the cosine learning-rate factor of this step, from 1 at
	// the first step towards 0 at the last.
	Decay float64
	cos   float64
}

// lr is base decayed along the cosine (base·Decay, rounded as base·0.5·(1 +
// cos) so that runs reproduce the models trained before the loop was
// shared).
func (mb *minibatch) lr(base float64) float64 { return base * 0.5 * (1 + mb.cos) }

// shardSamples is shard s of the minibatch.
func (l *loop) shardSamples(mb *minibatch, s int) []int {
	return mb.Samples[s*l.shard : min((s+1)*l.shard, len(mb.Samples))]
}

// run trains. For each minibatch it calls prepare (if set; it may draw
// from the loop's random stream, after the shuffle), then
// shard(worker, s, samples) for every shard on the workers' goroutines
// (returning the shard's summed loss and number right), then update. After
// each epoch it calls endEpoch (if set) with the epoch's wall time, then
// saves a checkpoint if one is attached. It stops with ctx's error between
// minibatches. A resumed loop starts after the checkpoint's epoch.
func (l *loop) run(ctx context.Context, prepare func(mb *minibatch), shard func(wk, s int, samples []int) (float64, int),
	update func(mb *minibatch), endEpoch func(epoch int, seconds float64) error) error {
	start := time.Now()
	order := l.order
	if order == nil {
		order = make([]int, l.n)
		for i := range order {
			order[i] = i
		}
	}
	for epoch := l.done + 1; epoch <= l.epochs; epoch++ {
		epochStart := time.Now()
		l.shuffle.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var epochLoss float64
		var epochRight, seen int
		for step := 0; step < l.stepsPerEpoch; step++ {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%s: stopped in epoch %d: %w", l.name, epoch, err)
			}
			l.t++
			batch := order[step*l.batch : min((step+1)*l.batch, len(order))]
			mb := l.newMinibatch(epoch, l.t, batch)
			loss, right := l.runMinibatch(&mb, prepare, shard, update)
			epochLoss += loss
			epochRight += right
			seen += len(batch)
			if l.progress != nil {
				l.progress(Progress{Epoch: epoch, Epochs: l.epochs, Step: step + 1, Steps: l.stepsPerEpoch,
					Loss: epochLoss / float64(seen), Accuracy: float64(epochRight) / float64(seen), Elapsed: time.Since(start)})
			}
		}
		if endEpoch != nil {
			if err := endEpoch(epoch, time.Since(epochStart).Seconds()); err != nil {
				return err
			}
		}
		if l.ckpt != nil {
			if err := l.ckpt.save(l, epoch, order); err != nil {
				return err
			}
		}
	}
	return nil
}

// newMinibatch is step t of the run (counted from 1 over all epochs) on
// samples, in epoch.
func (l *loop) newMinibatch(epoch, t int, samples []int) minibatch {
	mb := minibatch{Epoch: epoch, T: t, Samples: samples, Shards: (len(samples) + l.shard - 1) / l.shard,
		cos: math.Cos(math.Pi * float64(t-1) / float64(l.totalSteps))}
	mb.Decay = 0.5 * (1 + mb.cos)
	return mb
}

// runMinibatch runs one step as run describes (prepare if set, the shards
// on the workers, update) and returns the shards' summed loss and number
// right. A minibatch runs whole: run checks ctx between them.
func (l *loop) runMinibatch(mb *minibatch, prepare func(mb *minibatch), shard func(wk, s int, samples []int) (float64, int),
	update func(mb *minibatch)) (loss float64, right int) {
	if prepare != nil {
		prepare(mb)
	}
	parallel.For(context.Background(), mb.Shards, l.workers, func(wk, s int) {
		l.shardLoss[s], l.shardRight[s] = shard(wk, s, l.shardSamples(mb, s))
	})
	for s := 0; s < mb.Shards; s++ {
		loss += l.shardLoss[s]
		right += l.shardRight[s]
	}
	update(mb)
	return loss, right
}

// sumShards adds the gradient buffers of shards 1..n−1 into shard 0's, in
// shard order.
func sumShards(grads [][][]float32, n int) {
	for s := 1; s < n; s++ {
		for i, g := range grads[s] {
			addTo(grads[0][i], g)
		}
	}
}

func addTo[T float32 | float64](dst, src []T) {
	for j, v := range src {
		dst[j] += v
	}
}

// inRanges splits [0, n) into up to workers contiguous ranges and runs fn
// on each on its own goroutine. For elementwise work (summing shards, an
// optimiser step) the result does not depend on workers.
func inRanges(n, workers int, fn func(lo, hi int)) {
	workers = max(1, min(workers, n/4096)) // small arrays are not worth a goroutine
	parallel.For(context.Background(), workers, workers, func(_, w int) {
		fn(n*w/workers, n*(w+1)/workers)
	})
}
