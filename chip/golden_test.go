package chip

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
	"github.com/nmsim/nmsim/workloads/snn"
)

// trace records every spiking layer's output at every timestep.
type trace map[[2]int]bitvec.Vec

func (tr trace) hook(layer, t int, s bitvec.Vec) {
	tr[[2]int{layer, t}] = append(bitvec.Vec(nil), s...)
}

// golden runs sample on the chip and on the reference SNN and fails on any
// spike or potential that differs.
func golden(t *testing.T, c *Chip, m *model.Model, sample []uint8, T int) Result {
	t.Helper()
	ref, got := trace{}, trace{}
	want := snn.NewRunner(m).Run(sample, T, model.Hooks{Spikes: ref.hook})
	res := c.NewWorker().Infer(sample, 0, T, model.Hooks{Spikes: got.hook})
	if res.NoCErr != nil {
		t.Fatal(res.NoCErr)
	}
	if len(ref) != len(got) {
		t.Fatalf("chip reported %d layer-timesteps, reference %d", len(got), len(ref))
	}
	for k, r := range ref {
		if d := bitvec.Diff(r, got[k]); d != 0 {
			t.Fatalf("layer %s timestep %d: %d spikes differ", m.Layers[k[0]].Name, k[1], d)
		}
	}
	if fmt.Sprint(want.Potentials) != fmt.Sprint(res.Potentials) || fmt.Sprint(want.Counts) != fmt.Sprint(res.Counts) ||
		want.Class != res.Class || want.Decision != res.Decision {
		t.Fatalf("output potentials %v counts %v class %d decision %d, reference %v %v class %d decision %d",
			res.Potentials, res.Counts, res.Class, res.Decision, want.Potentials, want.Counts, want.Class, want.Decision)
	}
	return res
}

func TestGoldenEquivalenceIdealChip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 4; trial++ {
		opts := testmodel.Small
		opts.C2 = 16
		m := testmodel.Random(rng, opts)
		for _, tweak := range []func(*arch.Config){
			func(*arch.Config) {},
			splitArrays,
			// Uneven row splits (100 + 44 rows) give blocks of different
			// word counts.
			func(c *arch.Config) { c.Crossbar.Rows = 100 },
			// Tree multicast, a torus, and the contention-free network.
			func(c *arch.Config) {
				c.NoC.Multicast, c.Chip.Topology, c.Tile.Crossbars = "tree", "torus", 1
				c.Chip.MeshWidth, c.Chip.MeshHeight = 4, 4
			},
			func(c *arch.Config) { c.NoC.Model = "zeroload" },
		} {
			cfg := arch.Default()
			tweak(cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			c, err := New(cfg, m, 1)
			if err != nil {
				t.Fatal(err)
			}
			res := golden(t, c, m, testmodel.Sample(rng, m), 12)
			if res.Cycles <= 0 {
				t.Fatalf("cycles %d", res.Cycles)
			}
			spikes := int64(0)
			for _, l := range res.Layers {
				spikes += l.Neuron.Spikes
			}
			if spikes == 0 {
				t.Fatal("no layer spiked: the test compares nothing")
			}
		}
	}
}

// splitArrays makes the arrays small, which forces row and column splits
// across tiles, so partial sums cross the network.
func splitArrays(c *arch.Config) {
	c.Crossbar.Rows, c.Crossbar.Cols, c.Crossbar.RowsPerRead, c.Crossbar.ColsPerADC = 16, 32, 8, 4
	c.Tile.Crossbars = 2
	c.Chip.MeshWidth, c.Chip.MeshHeight = 8, 8
}

// smallChip builds a random testmodel.Small net on the default chip from
// the seeds; the generator comes back to draw the samples.
func smallChip(t *testing.T, seed1, seed2 uint64) (*rand.Rand, *model.Model, *Chip) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed1, seed2))
	m := testmodel.Random(rng, testmodel.Small)
	c, err := New(arch.Default(), m, 1)
	if err != nil {
		t.Fatal(err)
	}
	return rng, m, c
}

func TestWorkerReuseGivesIdenticalResults(t *testing.T) {
	rng, m, c := smallChip(t, 9, 10)
	a, b := testmodel.Sample(rng, m), testmodel.Sample(rng, m)
	w := c.NewWorker()
	first := fmt.Sprintf("%+v", w.Infer(a, 0, 10, model.Hooks{}))
	w.Infer(b, 1, 10, model.Hooks{})
	again := fmt.Sprintf("%+v", w.Infer(a, 0, 10, model.Hooks{}))
	fresh := fmt.Sprintf("%+v", c.NewWorker().Infer(a, 0, 10, model.Hooks{}))
	if first != again || first != fresh {
		t.Fatalf("results differ:\n%s\n%s\n%s", first, again, fresh)
	}
}

// TestGoldenEquivalenceExtendedNeurons covers what imported models use:
// biases, leak, frame input and a readout by output spike counts.
func TestGoldenEquivalenceExtendedNeurons(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	m := testmodel.Random(rng, testmodel.Small)
	m.Input.Coding = model.CodingFrames
	m.Readout = model.ReadoutSpikes
	for i := range m.Layers {
		l := &m.Layers[i]
		if !l.HasWeights() {
			continue
		}
		l.Bias = make([]int64, l.Outputs())
		for j := range l.Bias {
			l.Bias[j] = rng.Int64N(9) - 4
		}
		l.Leak = model.LeakOne / 8
		if !l.Spiking { // the output layer fires too, to be counted
			l.Spiking, l.Reset = true, model.ResetSubtract
			l.Threshold = make([]int64, l.Outputs())
			for j := range l.Threshold {
				l.Threshold[j] = 50 + rng.Int64N(200)
			}
		}
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := New(arch.Default(), m, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Three frames over 10 timesteps: the last 7 read zeros.
	var sample []uint8
	for f := 0; f < 3; f++ {
		sample = append(sample, testmodel.Sample(rng, m)...)
	}
	res := golden(t, c, m, sample, 10)
	total := int64(0)
	for _, n := range res.Counts {
		total += n
	}
	if total == 0 {
		t.Fatal("the output layer never fired: the spike readout is not exercised")
	}
}

// TestGoldenEquivalenceTTFS covers time-to-first-spike models: TTFS input
// coding, fire-once neurons in every layer (conv and dense), and the
// first-spike readout that stops the run.
func TestGoldenEquivalenceTTFS(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	decided, undecided := 0, 0
	for trial := 0; trial < 6; trial++ {
		m := testmodel.Random(rng, testmodel.Small)
		testmodel.TTFS(rng, m, 12)
		c, err := New(arch.Default(), m, 1)
		if err != nil {
			t.Fatal(err)
		}
		res := golden(t, c, m, testmodel.Sample(rng, m), 16)
		for li, l := range res.Layers {
			if n := c.layers[li].neurons.Neurons(); l.Neuron.Spikes > int64(n) {
				t.Fatalf("layer %s fired %d spikes with %d fire-once neurons", l.Name, l.Neuron.Spikes, n)
			}
		}
		t.Logf("trial %d: decision at step %d, class %d, spikes %v", trial, res.Decision, res.Class, layerSpikes(res))
		if res.Decision > 0 {
			decided++
		} else {
			undecided++
		}
	}
	if decided == 0 {
		t.Fatalf("no sample reached a first-spike decision (%d undecided): the readout is not exercised", undecided)
	}
}

func layerSpikes(r Result) []int64 {
	var n []int64
	for _, l := range r.Layers {
		n = append(n, l.Neuron.Spikes)
	}
	return n
}

// TestEventDrivenNeuronsChangeOnlyTheCharge runs the same samples with
// neuron.update = "event" and "all": spikes, classes and cycles agree, a
// synchronous unit updates every live neuron, and the event-driven one
// updates fewer, the rest counted as skipped.
func TestEventDrivenNeuronsChangeOnlyTheCharge(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	m := testmodel.Random(rng, testmodel.Small)
	x := testmodel.Sample(rng, m)
	for i := range x {
		if i%3 != 0 {
			x[i] = 0 // leave positions without input
		}
	}
	var res [2]Result
	for i, mode := range []string{"event", "all"} {
		cfg := arch.Default()
		cfg.Neuron.Update = mode
		c, err := New(cfg, m, 1)
		if err != nil {
			t.Fatal(err)
		}
		res[i] = golden(t, c, m, x, 10)
	}
	ev, all := res[0], res[1]
	if ev.Class != all.Class || ev.Cycles != all.Cycles {
		t.Fatalf("event: class %d, %d cycles; all: class %d, %d cycles", ev.Class, ev.Cycles, all.Class, all.Cycles)
	}
	fewer := false
	for li := range ev.Layers {
		e, a := ev.Layers[li].Neuron, all.Layers[li].Neuron
		if e.Spikes != a.Spikes || a.Skipped != 0 || e.Updates+e.Skipped != a.Updates || e.Updates > a.Updates {
			t.Fatalf("layer %d: event %+v, all %+v", li, e, a)
		}
		fewer = fewer || e.Updates < a.Updates
	}
	if !fewer {
		t.Fatal("event-driven updates skipped no neuron: the test compares nothing")
	}
}

// shifted returns m with every weight layer's SumShift set to shifts[i]
// for weight layer i and its thresholds and biases in the finer unit:
// scaled by 2^k, plus, with rng, a random fraction of the coarse unit (so
// that they are not multiples of 2^k).
func shifted(m *model.Model, shifts []int, rng *rand.Rand) *model.Model {
	s := *m
	s.Layers = append([]model.Layer(nil), m.Layers...)
	wi := 0
	for i := range s.Layers {
		l := &s.Layers[i]
		if !l.HasWeights() {
			continue
		}
		k := shifts[wi]
		wi++
		l.SumShift = k
		frac := func() int64 {
			if rng == nil {
				return 0
			}
			return rng.Int64N(1<<k) - 1<<k/2
		}
		th := make([]int64, len(l.Threshold))
		for j, x := range l.Threshold {
			th[j] = max(1, x<<k+frac())
		}
		l.Threshold = th
		if l.Bias != nil {
			b := make([]int64, len(l.Bias))
			for j, x := range l.Bias {
				b[j] = x<<k + frac()
			}
			l.Bias = b
		}
	}
	return &s
}

// TestGoldenEquivalenceSumShift: a model whose layers add their weighted
// sums shifted (model.Layer.SumShift), with thresholds and biases that
// are not multiples of the shift, gives the reference SNN's spikes layer
// by layer and its output potentials, on chips with row and column splits
// and with both neuron units. The first layer reads a constant input, so
// its reused currents are shifted once only.
func TestGoldenEquivalenceSumShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for trial := 0; trial < 3; trial++ {
		base := testmodel.Random(rng, testmodel.Small)
		for i := range base.Layers {
			if l := &base.Layers[i]; l.HasWeights() {
				l.Bias = make([]int64, l.Outputs())
				for j := range l.Bias {
					l.Bias[j] = rng.Int64N(5) - 2
				}
			}
		}
		m := shifted(base, []int{3, 8, 5, model.MaxSumShift}, rng)
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, tweak := range []func(*arch.Config){
			func(*arch.Config) {},
			splitArrays,
			func(c *arch.Config) { c.Neuron.Update = "all" },
		} {
			cfg := arch.Default()
			tweak(cfg)
			c, err := New(cfg, m, 1)
			if err != nil {
				t.Fatal(err)
			}
			res := golden(t, c, m, testmodel.Sample(rng, m), 12)
			for _, l := range res.Layers[:len(res.Layers)-1] {
				if l.Neuron.Spikes == 0 {
					t.Fatalf("trial %d: layer %s never fired: the test compares nothing (spikes %v)", trial, l.Name, layerSpikes(res))
				}
			}
		}
	}
}

// TestSumShiftScalesTheMembrane: shifting every layer's sums by k and
// scaling its thresholds and biases by 2^k gives the same spikes and
// output potentials 2^k times larger, with read noise too (whose currents
// are drawn, kept noiseless for reuse, and shifted with the noise).
func TestSumShiftScalesTheMembrane(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	a := testmodel.Random(rng, testmodel.Small)
	const k = 6
	b := shifted(a, []int{k, k, k, k}, nil)
	cfg := arch.Default()
	cfg.Device.ReadNoiseSigma = 0.05
	x := testmodel.Sample(rng, a)
	var spikes [2]trace
	var res [2]Result
	for i, m := range []*model.Model{a, b} {
		c, err := New(cfg, m, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !c.layers[0].noisy {
			t.Fatal("the chip has no read noise")
		}
		spikes[i] = trace{}
		res[i] = c.NewWorker().Infer(x, 5, 12, model.Hooks{Spikes: spikes[i].hook})
	}
	for key, s := range spikes[0] {
		if d := bitvec.Diff(s, spikes[1][key]); d != 0 {
			t.Fatalf("layer %d timestep %d: %d spikes differ", key[0], key[1], d)
		}
	}
	for j, v := range res[0].Potentials {
		if res[1].Potentials[j] != v<<k {
			t.Fatalf("output %d: potential %d with the shift, %d without", j, res[1].Potentials[j], v)
		}
	}
	if total := layerSpikes(res[0]); total[1] == 0 || total[2] == 0 {
		t.Fatalf("spikes %v: the binary layers never fired", total)
	}
}
