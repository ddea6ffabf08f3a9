// Package runner runs a data set through a simulated chip on parallel
// workers and aggregates the outcome into a report: accuracy, cycles,
// energy with its breakdown, spikes per layer, and with golden checking
// the spike mismatches against the reference SNN. Samples are independent;
// each worker owns a chip worker, and results are reduced in sample order,
// so a report is byte-identical for any worker count.
package runner

import (
	"context"
	"fmt"

	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/energy"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/internal/parallel"
	"github.com/nmsim/nmsim/noc"
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
	// Progress, when set, is called after each sample (from any worker).
	Progress func()
}

// sampleResult is what one sample contributes.
type sampleResult struct {
	correct    bool
	correctAt  []bool // per Options.AccuracyAt
	cycles     int64
	layers     []chip.LayerStats
	noc        noc.Stats
	err        error
	mismatches int64
	decision   int // chip.Result.Decision
}

// Run simulates the first o.Samples samples of set on c.
func Run(ctx context.Context, c *chip.Chip, set *dataset.Set, o Options) (*Report, error) {
	m := c.Model()
	if err := CheckData(set, m); err != nil {
		return nil, err
	}
	n := set.Len()
	if o.Samples > 0 && o.Samples < n {
		n = o.Samples
	}
	if o.Timesteps < 1 || o.Timesteps > model.MaxTimesteps {
		return nil, fmt.Errorf("runner: timesteps %d, want 1..%d", o.Timesteps, model.MaxTimesteps)
	}
	if o.Workers < 1 {
		return nil, fmt.Errorf("runner: workers %d, want at least 1", o.Workers)
	}
	for _, t := range o.AccuracyAt {
		if t < 1 || t > o.Timesteps {
			return nil, fmt.Errorf("runner: accuracy at timestep %d: must be in 1..%d (the run's timesteps)", t, o.Timesteps)
		}
	}
	results := make([]sampleResult, n)
	cws := make([]*chip.Worker, parallel.Workers(n, o.Workers))
	refs := make([]*snn.Runner, len(cws))
	cmps := make([]*spikeCompare, len(cws))
	for w := range cws {
		cws[w] = c.NewWorker()
		if o.Golden {
			refs[w], cmps[w] = snn.NewRunner(m), &spikeCompare{}
		}
	}
	err := parallel.For(ctx, n, len(cws), func(w, i int) {
		results[i] = runSample(cws[w], refs[w], cmps[w], set.Image(i), uint64(i), int(set.Labels[i]), o)
		if o.Progress != nil {
			o.Progress()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("runner: interrupted: %w", err)
	}
	for i := range results {
		if results[i].err != nil {
			return nil, fmt.Errorf("runner: sample %d: %w", i, results[i].err)
		}
	}
	return reduce(c, set.Name, results, o), nil
}

func runSample(cw *chip.Worker, ref *snn.Runner, cmp *spikeCompare, x []uint8, key uint64, label int, o Options) sampleResult {
	T := o.Timesteps
	var hooks chip.Hooks
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
	if res.Decision > 0 {
		// A run of t >= Decision timesteps decides the same way; the
		// hook saw only the steps before the stop.
		for k, tk := range o.AccuracyAt {
			if tk >= res.Decision {
				at[k] = res.Class == label
			}
		}
	}
	r := sampleResult{correct: res.Class == label, correctAt: at, cycles: res.Cycles, layers: res.Layers,
		noc: res.NoC, err: res.NoCErr, decision: res.Decision}
	if cmp != nil {
		r.mismatches = cmp.mismatches
	}
	return r
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
		ref.Run(x, T, snn.Hooks{Spikes: func(layer, t int, spikes bitvec.Vec) {
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

// reduce folds the per-sample results, in sample order, into the report.
func reduce(c *chip.Chip, setName string, results []sampleResult, o Options) *Report {
	cfg := c.Config()
	m := c.Model()
	pl := c.Placement()
	use := energy.UsageOf(pl, m, cfg.Neuron.MembraneBits)
	em := energy.New(cfg, &use)
	r := &Report{
		Model:     m.Name,
		Dataset:   setName,
		Samples:   len(results),
		Timesteps: o.Timesteps,
		Seed:      o.Seed,
		ClockMHz:  cfg.Chip.ClockMHz,
	}
	layers := make([]LayerReport, len(pl.Layers))
	var total chip.Counters
	var ops float64 // synaptic operations
	var mismatches int64
	var net noc.Stats
	correct := 0
	correctAt := make([]int, len(o.AccuracyAt))
	decided, ran := 0, 0
	for _, res := range results {
		if res.decision > 0 {
			decided++
			ran += res.decision
		} else {
			ran += o.Timesteps
		}
		if res.correct {
			correct++
		}
		for k, c := range res.correctAt {
			if c {
				correctAt[k]++
			}
		}
		r.Cycles.Total += res.cycles
		mismatches += res.mismatches
		net.Add(res.noc)
		for li, ls := range res.layers {
			layers[li].Counters.Add(ls.Counters)
		}
	}
	n := float64(max(len(results), 1))
	r.Accuracy = float64(correct) / n
	r.Correct = correct
	for k, t := range o.AccuracyAt {
		r.AccuracyAt = append(r.AccuracyAt, TimestepAccuracy{Timesteps: t, Accuracy: float64(correctAt[k]) / n})
	}
	if m.FirstSpikeReadout() {
		r.Decision = &DecisionReport{Decided: float64(decided) / n, MeanTimesteps: float64(ran) / n, Timesteps: o.Timesteps}
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
	r.Tech.NodeNM, r.Tech.Vdd = em.Tech.NodeNM, em.Tech.Vdd
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
		Packets: net.Packets, Flits: net.Flits,
		AvgLatencyCycles: net.MeanLatency(), P99LatencyCycles: net.Percentile(0.99), MaxLatencyCycles: net.LatencyMax,
		MeanHops: net.MeanHops(), MaxLinkUtilisation: net.MaxLinkUtilisation(r.Cycles.Total),
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
		}{mismatches}
	}
	return r
}
