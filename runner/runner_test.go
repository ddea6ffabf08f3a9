package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

func mnistTest(t testing.TB, n int) *dataset.Set {
	t.Helper()
	return datatest.Set(t, "mnist", "test", n)
}

// randomMNISTChip is a random 28×28 network on the default chip: accuracy
// is meaningless, but every mechanism runs.
func randomMNISTChip(t testing.TB) *chip.Chip {
	t.Helper()
	o := testmodel.Small
	o.Side = 28
	c, err := chip.New(arch.Default(), testmodel.Random(rand.New(rand.NewPCG(11, 12)), o), 1)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReportIsIdenticalForAnyWorkerCount(t *testing.T) {
	set := mnistTest(t, 40)
	c := randomMNISTChip(t)
	var first []byte
	for _, workers := range []int{1, 2, 3, 8} {
		r, err := Run(context.Background(), c, set, Options{Timesteps: 8, Workers: workers, Golden: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
			if r.Golden == nil || r.Golden.Mismatches != 0 {
				t.Fatalf("golden %+v, want 0 mismatches", r.Golden)
			}
			if r.Spikes.Total == 0 {
				t.Fatal("no spikes: the comparison is empty")
			}
			continue
		}
		if string(b) != string(first) {
			t.Fatalf("report with %d workers differs from 1 worker", workers)
		}
	}
}

func TestEnergyBreakdownSumsToTotal(t *testing.T) {
	set := mnistTest(t, 10)
	r, err := Run(context.Background(), randomMNISTChip(t), set, Options{Timesteps: 6, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for k, v := range r.Energy.Breakdown {
		if v < 0 || math.IsNaN(v) {
			t.Fatalf("component %s has energy %g", k, v)
		}
		sum += v
	}
	if r.Energy.Total <= 0 || math.Abs(sum-r.Energy.Total) > 1e-12*r.Energy.Total {
		t.Fatalf("breakdown sums to %g, total %g", sum, r.Energy.Total)
	}
	if math.Abs(r.Energy.PerInference*float64(r.Samples)-r.Energy.Total) > 1e-12*r.Energy.Total {
		t.Fatalf("per inference %g × %d samples ≠ total %g", r.Energy.PerInference, r.Samples, r.Energy.Total)
	}
	layers := 0.0
	for _, l := range r.Layers {
		layers += l.EnergyJ
	}
	if math.Abs(layers+r.Energy.Breakdown["leakage"]-r.Energy.Total) > 1e-9*r.Energy.Total {
		t.Fatalf("layers %g + leakage %g ≠ total %g", layers, r.Energy.Breakdown["leakage"], r.Energy.Total)
	}
	var spikes int64
	for _, s := range r.Spikes.PerLayer {
		spikes += s
	}
	if spikes != r.Spikes.Total {
		t.Fatalf("per-layer spikes sum to %d, total %d", spikes, r.Spikes.Total)
	}
}

func TestShapeMismatchIsAnError(t *testing.T) {
	set := mnistTest(t, 5)
	c, err := chip.New(arch.Default(), testmodel.Random(rand.New(rand.NewPCG(1, 1)), testmodel.Small), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), c, set, Options{Timesteps: 4, Workers: 1}); err == nil {
		t.Fatal("a 12×12 model accepted 28×28 images")
	}
}

func TestCancelledRunStops(t *testing.T) {
	set := mnistTest(t, 50)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, randomMNISTChip(t), set, Options{Timesteps: 4, Workers: 2}); err == nil {
		t.Fatal("a cancelled run reported success")
	}
}

// shippedModel loads the shipped MNIST model for benchmarks.
func shippedModel(b *testing.B) *model.Model {
	m, err := model.Load(filepath.Join("..", "models", "mnist-convert.bin"))
	if os.IsNotExist(err) {
		b.Skip("models/mnist-convert.bin not built")
	}
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkRunMNIST is `nmsim run` on the shipped model and preset:
// inferences per second with one worker and with two, with ideal devices,
// with the static non-idealities (variation, faults, IR drop) and with
// read noise on top.
func BenchmarkRunMNIST(b *testing.B) {
	m := shippedModel(b)
	const n = 20
	set := mnistTest(b, n)
	for _, devices := range []string{"ideal", "static", "static+noise"} {
		cfg := arch.Default()
		if devices != "ideal" {
			// Static non-idealities are drawn once per chip; read noise
			// is drawn on every read.
			cfg.Device.VariationSigma = 0.1
			cfg.Device.StuckAtOffRate, cfg.Device.StuckAtOnRate, cfg.Device.IRDrop = 0.001, 0.001, 0.001
		}
		if devices == "static+noise" {
			cfg.Device.ReadNoiseSigma = 0.02
		}
		c, err := chip.New(cfg, m, 1)
		if err != nil {
			b.Fatal(err)
		}
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("devices=%s/workers=%d", devices, workers), func(b *testing.B) {
				for b.Loop() {
					if _, err := Run(context.Background(), c, set, Options{Timesteps: m.Timesteps, Workers: workers}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "inferences/s")
			})
		}
	}
}

func TestMonteCarloIsDeterministicAcrossWorkers(t *testing.T) {
	set := mnistTest(t, 12)
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rand.New(rand.NewPCG(11, 12)), o)
	cfg := arch.Default()
	cfg.Device.VariationSigma, cfg.Device.ReadNoiseSigma, cfg.Device.StuckAtOffRate = 0.3, 0.05, 0.01
	build := func(seed uint64) (*chip.Chip, error) { return chip.New(cfg, m, seed) }
	var first []byte
	for _, workers := range []int{1, 2, 5} {
		r, err := RunMonteCarlo(context.Background(), build, set, Options{Timesteps: 6, Workers: workers, Seed: 3, Golden: true}, 3)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		if first == nil {
			first = b
			mc := r.MonteCarlo
			if mc.Instances != 3 || len(mc.Seeds) != 3 || mc.Seeds[0] != 3 || mc.Seeds[1] == mc.Seeds[2] {
				t.Fatalf("instances %+v", mc)
			}
			if !(mc.CI95[0] <= mc.Mean && mc.Mean <= mc.CI95[1]) {
				t.Fatalf("mean %g outside its interval %v", mc.Mean, mc.CI95)
			}
			if r.Golden.Mismatches == 0 {
				t.Fatal("non-ideal devices changed no spike: the device model is not reached")
			}
			continue
		}
		if string(b) != string(first) {
			t.Fatalf("Monte-Carlo report with %d workers differs from 1 worker", workers)
		}
	}
}

// TestAccuracyAtEqualsShorterRuns checks that reading the class after t
// timesteps of a long run gives what a run of t timesteps gives.
func TestAccuracyAtEqualsShorterRuns(t *testing.T) {
	set := mnistTest(t, 30)
	t.Run("rate", func(t *testing.T) { testAccuracyAt(t, set, randomMNISTChip(t)) })
	t.Run("first-spike", func(t *testing.T) {
		o := testmodel.Small
		o.Side = 28
		rng := rand.New(rand.NewPCG(11, 12))
		m := testmodel.Random(rng, o)
		testmodel.TTFS(rng, m, 8)
		// MNIST's few bright pixels per 3×3 window need lower thresholds
		// than random images to fire the first layer.
		for j, th := range m.Layers[0].Threshold {
			m.Layers[0].Threshold[j] = 1 + th/8
		}
		c, err := chip.New(arch.Default(), m, 1)
		if err != nil {
			t.Fatal(err)
		}
		r := testAccuracyAt(t, set, c)
		if r.Decision == nil || !(r.Decision.Decided > 0) || !(r.Decision.MeanTimesteps < 9) {
			t.Errorf("decision report %+v, spikes %v: want some samples decided before the end", r.Decision, r.Spikes.PerLayer)
		}
	})
}

// testAccuracyAt checks that the accuracies read after 2, 5 and 9 steps of
// a 9-step run equal those of runs that long; it returns the long run.
func testAccuracyAt(t *testing.T, set *dataset.Set, c *chip.Chip) *Result {
	long, err := Run(context.Background(), c, set, Options{Timesteps: 9, Workers: 2, AccuracyAt: []int{2, 5, 9}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range long.AccuracyAt {
		short, err := Run(context.Background(), c, set, Options{Timesteps: a.Timesteps, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if short.Accuracy != a.Accuracy {
			t.Errorf("after %d timesteps: %g in the long run, %g in a run of %d", a.Timesteps, a.Accuracy, short.Accuracy, a.Timesteps)
		}
	}
	if _, err := Run(context.Background(), c, set, Options{Timesteps: 4, Workers: 1, AccuracyAt: []int{5}}); err == nil {
		t.Error("accuracy at timestep 5 of a 4-step run accepted")
	}
	return long
}

// TestTreeMulticastSavesLinkTraffic runs the same samples with spikes
// replicated at the source and forked in the routers: results are equal,
// the tree uses fewer link traversals.
func TestTreeMulticastSavesLinkTraffic(t *testing.T) {
	set := mnistTest(t, 8)
	o := testmodel.Small
	o.Side = 28
	m := testmodel.Random(rand.New(rand.NewPCG(11, 12)), o)
	var reports []*Result
	for _, mc := range []string{"source", "tree"} {
		cfg := arch.Default()
		cfg.NoC.Multicast = mc
		cfg.Tile.Crossbars = 1 // spread the layers so spikes fan out
		cfg.Chip.MeshWidth, cfg.Chip.MeshHeight = 8, 8
		c, err := chip.New(cfg, m, 1)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(context.Background(), c, set, Options{Timesteps: 6, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	src, tree := reports[0], reports[1]
	if src.Accuracy != tree.Accuracy || src.Spikes.Total != tree.Spikes.Total {
		t.Fatal("the multicast mode changed results")
	}
	if tree.Counters.NoC.LinkFlits >= src.Counters.NoC.LinkFlits || tree.NoC.Packets >= src.NoC.Packets {
		t.Fatalf("tree: %d link flits, %d packets; source: %d, %d", tree.Counters.NoC.LinkFlits, tree.NoC.Packets, src.Counters.NoC.LinkFlits, src.NoC.Packets)
	}
	t.Logf("link flits: source %d, tree %d; cycles %d vs %d", src.Counters.NoC.LinkFlits, tree.Counters.NoC.LinkFlits, src.Cycles.Total, tree.Cycles.Total)
}

// TestReportDerivedFigures: power, EDP, throughput and TOPS/W follow from
// the energy, cycles and counters of the same report, the energy breakdown
// adds up, and event-driven neuron updates change the energy but not what
// the chip computes.
func TestReportDerivedFigures(t *testing.T) {
	set := mnistTest(t, 4)
	var reps [2]*Result
	for i, mode := range []string{"event", "all"} {
		cfg := arch.Default()
		cfg.Neuron.Update = mode
		o := testmodel.Small
		o.Side = 28
		c, err := chip.New(cfg, testmodel.Random(rand.New(rand.NewPCG(11, 12)), o), 1)
		if err != nil {
			t.Fatal(err)
		}
		if reps[i], err = Run(context.Background(), c, set, Options{Timesteps: 6, Workers: 2}); err != nil {
			t.Fatal(err)
		}
	}
	r, all := reps[0], reps[1]
	near := func(what string, got, want float64) {
		t.Helper()
		if !(want > 0) || math.Abs(got-want) > 1e-9*want {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}
	seconds := float64(r.Cycles.Total) / (r.ClockMHz * 1e6)
	sum := 0.0
	for _, e := range r.Energy.Breakdown {
		sum += e
	}
	near("energy breakdown sum", sum, r.Energy.Total)
	near("average power", r.PowerW.Average, r.Energy.Total/seconds)
	near("inferences/s", r.InferencesPerS, float64(r.Samples)/seconds)
	near("EDP", r.EDPJS, r.Energy.PerInference*r.LatencyS.PerInference)
	near("TOPS/W", r.TOPSPerW, r.SynapticOps*float64(r.Samples)/r.Energy.Total/1e12)
	near("area", r.AreaMM2.Total, r.AreaMM2.PerTile*float64(r.Chip.Tiles))
	if !(r.PowerW.Peak.Peak > r.PowerW.Average) {
		t.Errorf("peak power %g W below the average %g W", r.PowerW.Peak.Peak, r.PowerW.Average)
	}
	nu, nuAll := r.Counters.Neuron, all.Counters.Neuron
	if r.Accuracy != all.Accuracy || r.Cycles != all.Cycles || nu.Spikes != nuAll.Spikes ||
		nu.Updates+nu.Skipped != nuAll.Updates || nuAll.Skipped != 0 || !(r.Energy.Total < all.Energy.Total) {
		t.Errorf("event: %+v, %g J; all: %+v, %g J", nu, r.Energy.Total, nuAll, all.Energy.Total)
	}
}
