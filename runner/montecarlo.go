package runner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/workloads/dataset"
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

// RunMonteCarlo builds n chip instances with build(InstanceSeed(o.Seed,
// i)) and runs set on each. The returned report is instance 0's, with
// MonteCarlo holding the statistics over all n.
func RunMonteCarlo(ctx context.Context, build func(seed uint64) (*chip.Chip, error), set *dataset.Set, o Options, n int) (*Report, error) {
	if n < 1 {
		return nil, fmt.Errorf("runner: %d Monte-Carlo instances; want at least 1", n)
	}
	mc := &MonteCarlo{Instances: n}
	var first *Report
	energy := 0.0
	for i := 0; i < n; i++ {
		seed := InstanceSeed(o.Seed, i)
		c, err := build(seed)
		if err != nil {
			return nil, fmt.Errorf("runner: instance %d (seed %d): %w", i, seed, err)
		}
		oi := o
		oi.Seed = seed
		r, err := Run(ctx, c, set, oi)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = r
		}
		mc.Seeds = append(mc.Seeds, seed)
		mc.Accuracy = append(mc.Accuracy, r.Accuracy)
		energy += r.Energy.PerInference
	}
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
	return first, nil
}
