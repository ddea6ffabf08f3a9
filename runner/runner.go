// Package runner runs a data set through a simulated chip on parallel
// workers and aggregates the outcome into a Result: accuracy, cycles,
// energy with its breakdown, spikes per layer, and with golden checking
// the spike mismatches against the reference SNN. Samples are independent;
// each worker owns a chip worker and adds its samples' outcomes to its own
// Tally of integers, and the Result is made from the sum of the tallies,
// so it is byte-identical for any worker count, and for a run split across
// machines (RunShard, MergeParts).
package runner

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/energy"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// Options control a run.
type Options struct {
	Samples   int    // first N samples of the set (0 or more than the set: all)
	Timesteps int    // per sample
	Workers   int    // goroutines (≥1)
	Seed      uint64 // the chip's seed, recorded in the report
	Golden    bool   // also run the reference SNN and compare spikes
	// AccuracyAt lists timesteps (each ≤ Timesteps) at which the class is
	// also read out, giving accuracy against timesteps from one run.
	AccuracyAt []int
	// Exit stops rate-coded samples early (chip.EarlyExit; zero: off).
	Exit chip.EarlyExit
	// Progress, when set, is called after each sample (from any worker).
	Progress func()
}

// Run simulates the first o.Samples samples of set on c.
func Run(ctx context.Context, c *chip.Chip, set *dataset.Set, o Options) (*Result, error) {
	n, err := checkRun(c.Model(), set, o)
	if err != nil {
		return nil, err
	}
	samples := make([]int, n)
	for i := range samples {
		samples[i] = i
	}
	t, err := runSamples(ctx, c, set, o, samples)
	if err != nil {
		return nil, err
	}
	return reduce(c.Config(), c.Model(), c.Placement(), set.Name, t, o), nil
}

// checkRun checks the options of a run of m on set and returns the number
// of samples it runs.
func checkRun(m *model.Model, set *dataset.Set, o Options) (int, error) {
	if err := CheckData(set, m); err != nil {
		return 0, err
	}
	if o.Timesteps < 1 || o.Timesteps > model.MaxTimesteps {
		return 0, fmt.Errorf("runner: timesteps %d, want 1..%d", o.Timesteps, model.MaxTimesteps)
	}
	if o.Workers < 1 {
		return 0, fmt.Errorf("runner: workers %d, want at least 1", o.Workers)
	}
	for _, t := range o.AccuracyAt {
		if t < 1 || t > o.Timesteps {
			return 0, fmt.Errorf("runner: accuracy at timestep %d: must be in 1..%d (the run's timesteps)", t, o.Timesteps)
		}
	}
	if err := o.Exit.Check(); err != nil {
		return 0, fmt.Errorf("runner: %w", err)
	}
	return samplesOf(set, o), nil
}

// samplesOf is the number of samples of set that a run with o runs: the
// first o.Samples, or all.
func samplesOf(set *dataset.Set, o Options) int {
	n := set.Len()
	if o.Samples > 0 && o.Samples < n {
		n = o.Samples
	}
	return n
}

// runSamples runs the samples of set with the given indices on c and
// tallies them. Each worker keeps its own tally and the tallies are added
// at the end: they hold only integers, so the sum is the same in any
// order and for any worker count.
func runSamples(ctx context.Context, c *chip.Chip, set *dataset.Set, o Options, samples []int) (Tally, error) {
	m := c.Model()
	workers := parallel.Workers(len(samples), o.Workers)
	tallies := make([]Tally, workers)
	failed := make([]sampleError, workers)
	cws := make([]*chip.Worker, workers)
	refs := make([]*snn.Runner, workers)
	cmps := make([]*spikeCompare, workers)
	for w := range cws {
		cws[w] = c.NewWorker()
		if err := cws[w].SetEarlyExit(o.Exit); err != nil {
			return Tally{}, fmt.Errorf("runner: %w", err)
		}
		if o.Golden {
			refs[w], cmps[w] = snn.NewRunner(m), &spikeCompare{}
		}
		tallies[w].CorrectAt = make([]int, len(o.AccuracyAt))
	}
	err := parallel.For(ctx, len(samples), workers, func(w, j int) {
		i := samples[j]
		err := runSample(cws[w], refs[w], cmps[w], set.Image(i), uint64(i), int(set.Labels[i]), o, &tallies[w])
		if err != nil && (failed[w].err == nil || i < failed[w].sample) {
			failed[w] = sampleError{i, err}
		}
		if o.Progress != nil {
			o.Progress()
		}
	})
	if err != nil {
		return Tally{}, fmt.Errorf("runner: interrupted: %w", err)
	}
	var first sampleError
	for _, f := range failed {
		if f.err != nil && (first.err == nil || f.sample < first.sample) {
			first = f
		}
	}
	if first.err != nil {
		return Tally{}, fmt.Errorf("runner: sample %d: %w", first.sample, first.err)
	}
	t := Tally{CorrectAt: make([]int, len(o.AccuracyAt))}
	for i := range tallies {
		t.Add(tallies[i])
	}
	return t, nil
}

// sampleError is the failure of one sample.
type sampleError struct {
	sample int
	err    error
}

// runSample runs sample x (with its key and label) and adds its outcome
// to t.
func runSample(cw *chip.Worker, ref *snn.Runner, cmp *spikeCompare, x []uint8, key uint64, label int, o Options, t *Tally) error {
	T := o.Timesteps
	var hooks model.Hooks
	var at []bool
	if len(o.AccuracyAt) > 0 {
		at = make([]bool, len(o.AccuracyAt))
		hooks.Step = func(t int, v []int64) {
			for k, tk := range o.AccuracyAt {
				if tk == t {
					at[k] = model.Argmax(v) == label
				}
			}
		}
	}
	if ref != nil {
		cmp.start(ref, x, T)
		hooks.Spikes = cmp.check
	}
	res := cw.Infer(x, key, T, hooks)
	if cmp != nil {
		cmp.finish()
	}
	if res.NoCErr != nil {
		return res.NoCErr
	}
	if res.Decision > 0 {
		// A run of t >= Decision timesteps decides the same way; the
		// hook saw only the steps before the stop.
		for k, tk := range o.AccuracyAt {
			if tk >= res.Decision {
				at[k] = res.Class == label
			}
		}
		t.Decided++
		t.Ran += int64(res.Decision)
	} else {
		t.Ran += int64(T)
	}
	t.Samples++
	if res.Class == label {
		t.Correct++
	}
	for k, c := range at {
		if c {
			t.CorrectAt[k]++
		}
	}
	t.Cycles += res.Cycles
	if cmp != nil {
		t.Mismatches += cmp.mismatches
	}
	t.NoC.Add(res.NoC)
	t.Layers = grow(t.Layers, len(res.Layers))
	for li, ls := range res.Layers {
		t.Layers[li].Add(ls.Counters)
	}
	return nil
}

// spikeCompare counts the chip's spike bits that differ from the
// reference SNN's, layer by layer and timestep by timestep. The reference
// runs beside the chip on its own goroutine and streams its spikes in the
// order both produce them (timestep, then layer), so a comparison holds a
// few layers' spikes, not the whole run's: memory does not grow with the
// timesteps.
type spikeCompare struct {
	ref        chan refSpikes // the reference's spikes of this sample
	free       chan bitvec.Vec
	next       *refSpikes // received, for a later (layer, t) than asked
	held       refSpikes
	mismatches int64
}

// refSpikes is one spiking layer's output at one timestep.
type refSpikes struct {
	layer, t int
	spikes   bitvec.Vec
}

// compareDepth is how many layer-timesteps the reference may run ahead.
const compareDepth = 16

// start runs the reference on sample x for T timesteps.
func (s *spikeCompare) start(ref *snn.Runner, x []uint8, T int) {
	if s.free == nil {
		s.free = make(chan bitvec.Vec, compareDepth+2)
	}
	s.ref = make(chan refSpikes, compareDepth)
	s.next, s.mismatches = nil, 0
	go func() {
		ref.Run(x, T, model.Hooks{Spikes: func(layer, t int, spikes bitvec.Vec) {
			var v bitvec.Vec
			select {
			case v = <-s.free:
			default:
			}
			s.ref <- refSpikes{layer, t, append(v[:0], spikes...)}
		}})
		close(s.ref)
	}()
}

// recycle returns a spike vector for the reference to reuse.
func (s *spikeCompare) recycle(v bitvec.Vec) {
	select {
	case s.free <- v:
	default:
	}
}

// check compares the chip's spikes of a layer at timestep t with the
// reference's. Reference outputs the chip never gives (it stopped
// earlier) are skipped; chip outputs the reference never gave count every
// spike as a mismatch.
func (s *spikeCompare) check(layer, t int, spikes bitvec.Vec) {
	for {
		if s.next == nil {
			r, ok := <-s.ref
			if !ok {
				s.mismatches += int64(spikes.Count())
				return
			}
			s.held, s.next = r, &s.held
		}
		r := s.next
		switch {
		case r.t == t && r.layer == layer:
			s.mismatches += int64(bitvec.Diff(r.spikes, spikes))
			s.recycle(r.spikes)
			s.next = nil
			return
		case r.t > t || r.t == t && r.layer > layer:
			s.mismatches += int64(spikes.Count())
			return
		}
		s.recycle(r.spikes)
		s.next = nil
	}
}

// finish drains what the chip did not ask for and waits for the reference.
func (s *spikeCompare) finish() {
	if s.next != nil {
		s.recycle(s.next.spikes)
		s.next = nil
	}
	for r := range s.ref {
		s.recycle(r.spikes)
	}
}

// reduce makes the report of a run of m on cfg (placed by pl) on the
// data set named setName from its tally.
func reduce(cfg *arch.Config, m *model.Model, pl *mapper.Placement, setName string, t Tally, o Options) *Result {
	use := energy.UsageOf(pl, m, cfg.Neuron.MembraneBits)
	em := energy.New(cfg, &use)
	r := &Result{
		Model:     m.Name,
		Dataset:   setName,
		Samples:   t.Samples,
		Timesteps: o.Timesteps,
		Seed:      o.Seed,
		ClockMHz:  cfg.Chip.ClockMHz,
	}
	layers := make([]LayerReport, len(pl.Layers))
	for li, c := range t.Layers {
		layers[li].Counters = c
	}
	var total chip.Counters
	var ops float64 // synaptic operations
	r.Cycles.Total = t.Cycles
	n := float64(max(t.Samples, 1))
	r.Accuracy = float64(t.Correct) / n
	r.Correct = t.Correct
	for k, ts := range o.AccuracyAt {
		r.AccuracyAt = append(r.AccuracyAt, TimestepAccuracy{Timesteps: ts, Accuracy: float64(t.CorrectAt[k]) / n})
	}
	if m.FirstSpikeReadout() || o.Exit.Steps > 0 {
		r.Decision = &DecisionReport{Decided: float64(t.Decided) / n, MeanTimesteps: float64(t.Ran) / n, Timesteps: o.Timesteps}
		if !m.FirstSpikeReadout() {
			r.Decision.ExitMargin, r.Decision.ExitSteps = o.Exit.Margin, o.Exit.Steps
		}
	}
	r.Cycles.PerInference = float64(r.Cycles.Total) / n
	r.LatencyS.PerInference = em.Seconds(r.Cycles.Total) / n
	r.Energy.Breakdown = map[string]float64{}
	for li := range layers {
		lm := &pl.Layers[li]
		lr := &layers[li]
		lr.Name = lm.Name
		lr.Crossbars = len(lm.Blocks)
		lr.Tiles = len(lm.Tiles())
		lr.RowSplits, lr.ColSplits = lm.RowSplits, lm.ColSplits
		lr.CellUtilization = float64(lm.CellsUsed) / float64(lm.CellsTotal)
		lr.Spikes = lr.Counters.Neuron.Spikes
		lr.SpikesPerInference = float64(lr.Spikes) / n
		lr.EnergyJ = energy.Total(em.Dynamic(lr.Counters.Crossbar, lr.Counters.Neuron, lr.Counters.NoC))
		ops += float64(lr.Counters.Crossbar.CellReads) / float64(2*lm.Slices)
		total.Add(lr.Counters)
		r.Spikes.PerLayer = append(r.Spikes.PerLayer, lr.Spikes)
		r.Spikes.Total += lr.Spikes
	}
	r.Layers = layers
	r.Counters = total
	for _, it := range em.Breakdown(total.Crossbar, total.Neuron, total.NoC, r.Cycles.Total, pl.TilesUsed) {
		r.Energy.Breakdown[it.Component] = it.Value
		r.Energy.Total += it.Value
	}
	r.Energy.PerInference = r.Energy.Total / n
	r.Tech.NodeNM, r.Tech.Vdd, r.Tech.Process = em.Tech.NodeNM, em.Tech.Vdd, cfg.Tech.Process
	r.AreaMM2, r.PowerW.Peak = em.Summary(pl.TilesUsed)
	if s := em.Seconds(r.Cycles.Total); s > 0 {
		r.PowerW.Average = r.Energy.Total / s
		r.InferencesPerS = n / s
	}
	r.EDPJS = r.Energy.PerInference * r.LatencyS.PerInference
	r.SynapticOps = ops / n
	if r.Energy.Total > 0 {
		r.TOPSPerW = ops / r.Energy.Total / 1e12
	}
	r.NoC = NoCReport{
		Model: cfg.NoC.Model, Multicast: cfg.NoC.Multicast,
		Packets: t.NoC.Packets, Flits: t.NoC.Flits,
		AvgLatencyCycles: t.NoC.MeanLatency(), P99LatencyCycles: t.NoC.Percentile(0.99), MaxLatencyCycles: t.NoC.LatencyMax,
		MeanHops: t.NoC.MeanHops(), MaxLinkUtilisation: t.NoC.MaxLinkUtilisation(r.Cycles.Total),
	}
	r.Spikes.PerInference = float64(r.Spikes.Total) / n
	var used, cells int64
	for li := range pl.Layers {
		used += pl.Layers[li].CellsUsed
		cells += pl.Layers[li].CellsTotal
	}
	r.Chip = ChipReport{
		Mesh:            fmt.Sprintf("%dx%d %s", cfg.Chip.MeshWidth, cfg.Chip.MeshHeight, cfg.Chip.Topology),
		TilesUsed:       pl.TilesUsed,
		Tiles:           cfg.Chip.MeshWidth * cfg.Chip.MeshHeight,
		CrossbarsUsed:   pl.BlocksUsed(),
		Crossbars:       cfg.Chip.MeshWidth * cfg.Chip.MeshHeight * cfg.Tile.Crossbars,
		CellUtilization: float64(used) / float64(max(cells, 1)),
	}
	if o.Golden {
		r.Golden = &struct {
			Mismatches int64 `json:"mismatches"`
		}{t.Mismatches}
	}
	return r
}
