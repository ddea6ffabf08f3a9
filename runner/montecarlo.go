package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// MonteCarlo summarises runs over independent chip instances: each
// instance draws its own devices (variation, faults) and read noise.
type MonteCarlo struct {
	Instances int       `json:"instances"`
	Seeds     []uint64  `json:"seeds"`
	Accuracy  []float64 `json:"accuracy"` // per instance
	Mean      float64   `json:"accuracy_mean"`
	Std       float64   `json:"accuracy_std"`  // sample standard deviation
	CI95      []float64 `json:"accuracy_ci95"` // Student-t 95 % interval of the mean
	// EnergyPerInferenceMean is the mean over instances (energy varies
	// with the activity that the devices cause).
	EnergyPerInferenceMean float64 `json:"energy_j_per_inference_mean"`
}

// InstanceSeed is the seed of Monte-Carlo instance i: the run's seed for
// instance 0, then independent streams derived from it.
func InstanceSeed(seed uint64, i int) uint64 {
	if i == 0 {
		return seed
	}
	return rand.New(rand.NewPCG(seed, uint64(i))).Uint64()
}

// InstanceTally is one Monte-Carlo instance's tally in a run, or in a
// part of one.
type InstanceTally struct {
	Instance int    `json:"instance"`
	Seed     uint64 `json:"seed"` // InstanceSeed(run's seed, Instance)
	Tally    Tally  `json:"tally"`
}

// RunMonteCarlo builds n chip instances with build(InstanceSeed(o.Seed,
// i)) and runs set on each. The returned report is instance 0's, with
// MonteCarlo holding the statistics over all n.
func RunMonteCarlo(ctx context.Context, build func(seed uint64) (*chip.Chip, error), set *dataset.Set, o Options, n int) (*Result, error) {
	all, c, err := runInstances(ctx, build, set, o, n, nil)
	if err != nil {
		return nil, err
	}
	return summarise(c.Config(), c.Model(), c.Placement(), set.Name, o, all), nil
}

// RunShard runs the share of a RunMonteCarlo run that keep selects, for
// one machine of several. The run's items are its (instance, sample)
// pairs, item k = i·N + s being sample s of the N on instance i; keep(k)
// says whether this share runs item k. It returns the tallies of the
// instances with an item kept, in instance order; an instance without
// one is not built. MergeParts adds the shares up to the run's report.
func RunShard(ctx context.Context, build func(seed uint64) (*chip.Chip, error), set *dataset.Set, o Options, n int, keep func(k int) bool) ([]InstanceTally, error) {
	all, _, err := runInstances(ctx, build, set, o, n, keep)
	return all, err
}

// runInstances runs the items that keep selects (nil: all) of n instances
// and returns the tallies of the instances with any, and the first chip
// built.
func runInstances(ctx context.Context, build func(seed uint64) (*chip.Chip, error), set *dataset.Set, o Options, n int, keep func(k int) bool) ([]InstanceTally, *chip.Chip, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("runner: %d Monte-Carlo instances; want at least 1", n)
	}
	N := samplesOf(set, o)
	var all []InstanceTally
	var first *chip.Chip
	for i := 0; i < n; i++ {
		var samples []int
		for s := 0; s < N; s++ {
			if keep == nil || keep(i*N+s) {
				samples = append(samples, s)
			}
		}
		if len(samples) == 0 {
			continue
		}
		seed := InstanceSeed(o.Seed, i)
		c, err := build(seed)
		if err != nil {
			return nil, nil, fmt.Errorf("runner: instance %d (seed %d): %w", i, seed, err)
		}
		if _, err := checkRun(c.Model(), set, o); err != nil {
			return nil, nil, err
		}
		oi := o
		oi.Seed = seed
		t, err := runSamples(ctx, c, set, oi, samples)
		if err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = c
		}
		all = append(all, InstanceTally{Instance: i, Seed: seed, Tally: t})
	}
	return all, first, nil
}

// summarise makes the report of a run of m on cfg (placed by pl) from the
// tallies of all its instances, in instance order: instance 0's report,
// with MonteCarlo holding the statistics over all.
func summarise(cfg *arch.Config, m *model.Model, pl *mapper.Placement, setName string, o Options, all []InstanceTally) *Result {
	mc := &MonteCarlo{Instances: len(all)}
	var first *Result
	energy := 0.0
	for _, it := range all {
		oi := o
		oi.Seed = it.Seed
		r := reduce(cfg, m, pl, setName, it.Tally, oi)
		if first == nil {
			first = r
		}
		mc.Seeds = append(mc.Seeds, it.Seed)
		mc.Accuracy = append(mc.Accuracy, r.Accuracy)
		energy += r.Energy.PerInference
	}
	n := len(all)
	mc.Mean = stat.Mean(mc.Accuracy, nil)
	mc.EnergyPerInferenceMean = energy / float64(n)
	half := 0.0
	if n > 1 {
		mc.Std = stat.StdDev(mc.Accuracy, nil)
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
		half = t * mc.Std / math.Sqrt(float64(n))
	}
	mc.CI95 = []float64{mc.Mean - half, mc.Mean + half}
	first.MonteCarlo = mc
	return first
}
