package neuron

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
)

func TestIFResetBySubtractionKeepsTheResidue(t *testing.T) {
	n := IF{Channels: 1, Positions: 1, Threshold: []int64{10}}
	v := []int64{0}
	s := bitvec.New(1)
	var got []int
	for _, in := range []int64{7, 7, 0, 25, 0, 0} {
		got = append(got, n.Step(v, []int64{in}, s, nil))
	}
	// 7 → 14 fires (4) → 4 → 29 fires (19) → fires (9) → 9.
	want := []int{0, 1, 0, 1, 1, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("spikes %v, want %v", got, want)
		}
	}
	if v[0] != 9 {
		t.Fatalf("membrane %d, want 9", v[0])
	}
}

func TestIFResetToZeroAndChannelOrder(t *testing.T) {
	n := IF{Channels: 2, Positions: 2, Threshold: []int64{5, 100}, ResetToZero: true}
	v := make([]int64, 4)
	s := bitvec.New(4)
	// position-major current: pos0 (ch0, ch1), pos1 (ch0, ch1)
	fired := n.Step(v, []int64{6, 200, 1, 3}, s, nil)
	if fired != 2 || !s.Get(0) || s.Get(1) || !s.Get(2) || s.Get(3) {
		t.Fatalf("fired %d, spikes %b", fired, s[0])
	}
	if v[0] != 0 || v[1] != 1 || v[2] != 0 || v[3] != 3 {
		t.Fatalf("membranes %v", v)
	}
}

func TestIntegratingLayerNeverFires(t *testing.T) {
	n := IF{Channels: 3, Positions: 1}
	v := make([]int64, 3)
	s := bitvec.New(3)
	for i := 0; i < 3; i++ {
		if n.Step(v, []int64{1, -2, 1 << 40}, s, nil) != 0 {
			t.Fatal("an integrating layer fired")
		}
	}
	if v[0] != 3 || v[1] != -6 || v[2] != 3<<40 {
		t.Fatalf("membranes %v", v)
	}
}

func TestBiasAndLeak(t *testing.T) {
	// Leak of 1/4 (rounded half away from zero), bias 3, threshold 10.
	n := IF{Channels: 1, Positions: 1, Threshold: []int64{10}, Bias: []int64{3}, Leak: 1, LeakOne: 4}
	v := []int64{0}
	s := bitvec.New(1)
	var fired []int
	for _, in := range []int64{4, 4, 0, -20} {
		fired = append(fired, n.Step(v, []int64{in}, s, nil))
	}
	// 0→7; 7−2=5→12 fires→2; 2−1=1→4; 4−1=3→−14.
	if fired[0] != 0 || fired[1] != 1 || fired[2] != 0 || fired[3] != 0 || v[0] != -14 {
		t.Fatalf("fired %v, membrane %d", fired, v[0])
	}
}

func TestFireOnceFreezes(t *testing.T) {
	n := IF{Channels: 3, Positions: 1, Threshold: []int64{5, 5, 5}}
	v := make([]int64, 3)
	s, done := bitvec.New(3), bitvec.New(3)
	if f := n.Step(v, []int64{6, 7, 1}, s, done); f != 2 || !done.Get(0) || !done.Get(1) || done.Get(2) {
		t.Fatalf("fired %d, done %b", f, done[0])
	}
	// Fired neurons keep their membranes and never fire again.
	if f := n.Step(v, []int64{100, 100, 1}, s, done); f != 0 || v[0] != 6 || v[1] != 7 || v[2] != 2 {
		t.Fatalf("fired %d, membranes %v, want 0 and [6 7 2]", f, v)
	}
}

// TestPendingCountsOnlyNeuronsWithWork checks the event-driven count
// against a brute force: a neuron has work exactly when its update changes
// its membrane or fires it.
func TestPendingCountsOnlyNeuronsWithWork(t *testing.T) {
	n := IF{Channels: 3, Positions: 4, Threshold: []int64{5, 5, 5}, Bias: []int64{0, 2, 0}, Leak: 1, LeakOne: 4}
	v := []int64{0, 7, 0, 4, 0, 0, 0, 0, 0, -8, 0, 0} // channel-major
	posInput := bitvec.New(4)
	posInput.Set(2)
	done := bitvec.New(12)
	done.Set(2) // channel 0, position 2: fired before, never updated
	// Channel 0: pos 1 (7 ≥ 5), pos 3 (leak of 4); pos 2 is done.
	// Channel 1: every position (bias). Channel 2: pos 1 (-8, leak),
	// pos 2 (input).
	if got := n.Pending(v, posInput, done); got != 2+4+2 {
		t.Fatalf("pending %d, want 8", got)
	}
	plain := IF{Channels: 3, Positions: 4}
	if got := plain.Pending(make([]int64, 12), posInput, nil); got != 3 {
		t.Fatalf("integrating layer: pending %d, want 3 (one input position × 3 channels)", got)
	}
}

// TestStepBiasedMatchesDefinition holds Step on layers with a bias and
// thresholds (the branch-free update of fireTileBiased) to the neuron's
// definition, neuron by neuron: v += current + bias; at v ≥ threshold a
// spike, then v −= threshold (or v = 0). Positions that do not fill a
// tile and channels whose spikes straddle a word are among them.
func TestStepBiasedMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := IF{Channels: 1 + rng.IntN(40), Positions: 1 + rng.IntN(90), ResetToZero: trial%4 == 0}
		n.Threshold, n.Bias = make([]int64, n.Channels), make([]int64, n.Channels)
		for ch := range n.Threshold {
			n.Threshold[ch] = 1 + rng.Int64N(50)
			n.Bias[ch] = rng.Int64N(41) - 20
		}
		v, want := make([]int64, n.Neurons()), make([]int64, n.Neurons())
		current := make([]int64, n.Neurons())
		spikes, wantSpikes := bitvec.New(n.Neurons()), bitvec.New(n.Neurons())
		for step := 0; step < 4; step++ {
			for i := range current {
				current[i] = rng.Int64N(61) - 30
			}
			wantSpikes.Clear()
			for i := range want {
				ch, pos := i/n.Positions, i%n.Positions
				want[i] += current[pos*n.Channels+ch] + n.Bias[ch]
				if want[i] >= n.Threshold[ch] {
					wantSpikes.Set(i)
					want[i] -= n.Threshold[ch]
					if n.ResetToZero {
						want[i] = 0
					}
				}
			}
			fired := n.Step(v, current, spikes, nil)
			if fired != wantSpikes.Count() || !slices.Equal(spikes, wantSpikes) || !slices.Equal(v, want) {
				t.Fatalf("trial %d step %d (%d channels × %d positions): fired %d, want %d; spikes equal %v, membranes equal %v",
					trial, step, n.Channels, n.Positions, fired, wantSpikes.Count(), slices.Equal(spikes, wantSpikes), slices.Equal(v, want))
			}
		}
	}
}

// benchLayer is conv1 of the shipped MNIST model, 32 channels at 28×28
// positions, with its membranes and currents (zero).
func benchLayer() (n IF, v, current []int64) {
	const channels, positions = 32, 784
	n = IF{Channels: channels, Positions: positions, Threshold: make([]int64, channels)}
	for ch := range n.Threshold {
		n.Threshold[ch] = 1000 + int64(ch)
	}
	return n, make([]int64, n.Neurons()), make([]int64, n.Neurons())
}

// benchCurrent is neuron i's current in the benchmarks: it fires a few
// per cent of the neurons.
func benchCurrent(i int) int64 { return int64(i*7919%97) - 40 }

// BenchmarkStep updates conv1 of the shipped MNIST model, 32 channels at
// 28×28 positions, with currents that fire a few per cent of the neurons.
func BenchmarkStep(b *testing.B) {
	n, v, current := benchLayer()
	for i := range current {
		current[i] = benchCurrent(i)
	}
	spikes := bitvec.New(n.Neurons())
	b.ReportAllocs()
	for b.Loop() {
		n.Step(v, current, spikes, nil)
	}
	b.ReportMetric(float64(n.Neurons())*float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// TestStepEventsAgrees holds StepEvents to Pending followed by Step on
// random layers (thresholds or none, bias or none, leak or none,
// fire-once or not, dense or not) over several steps whose current is zero where
// posInput has no input, some large enough to leave a membrane above its
// threshold after the reset: the same spikes, membranes and count, with
// hot kept from step to step (all set at first: the membranes start
// anywhere).
func TestStepEventsAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 400; trial++ {
		n := IF{Channels: 1 + rng.IntN(5), Positions: 1 + rng.IntN(150), ResetToZero: rng.IntN(2) == 0}
		if trial%4 == 1 {
			// A dense layer, of more channels than a word holds at times.
			n.Channels, n.Positions = 1+rng.IntN(150), 1
		}
		if trial%3 != 0 {
			n.Threshold = make([]int64, n.Channels)
			for ch := range n.Threshold {
				n.Threshold[ch] = 1 + rng.Int64N(10)
			}
		}
		if trial%2 == 0 {
			n.Bias = make([]int64, n.Channels)
			for ch := range n.Bias {
				n.Bias[ch] = rng.Int64N(3) - 1
			}
		}
		if trial%5 == 0 {
			n.Leak, n.LeakOne = 1, 8
		}
		var done bitvec.Vec
		if trial%7 == 0 && n.Threshold != nil {
			done = bitvec.New(n.Neurons())
			done.Set(rng.IntN(n.Neurons()))
		}
		v := make([]int64, n.Neurons())
		for i := range v {
			v[i] = rng.Int64N(30) - 10
		}
		v2 := append([]int64(nil), v...)
		var done2 bitvec.Vec
		if done != nil {
			done2 = append(bitvec.Vec(nil), done...)
		}
		hot := bitvec.New(n.Positions)
		for pos := 0; pos < n.Positions; pos++ {
			hot.Set(pos)
		}
		for step := 0; step < 4; step++ {
			posInput := bitvec.New(n.Positions)
			current := make([]int64, n.Neurons())
			for pos := 0; pos < n.Positions; pos++ {
				if rng.IntN(4) == 0 {
					posInput.Set(pos)
					for ch := 0; ch < n.Channels; ch++ {
						current[pos*n.Channels+ch] = rng.Int64N(30) - 5
					}
				}
			}
			s1, s2 := bitvec.New(n.Neurons()), bitvec.New(n.Neurons())
			want := n.Pending(v, posInput, done)
			wantFired := n.Step(v, current, s1, done)
			fired, got := n.StepEvents(v2, current, s2, done2, posInput, hot)
			if got != want || fired != wantFired || !bitvec.Equal(s1, s2) || !slices.Equal(v, v2) {
				t.Fatalf("%+v, step %d: StepEvents fired %d, updated %d; Pending and Step %d, %d (or spikes, membranes differ)", n, step, fired, got, wantFired, want)
			}
		}
	}
}

// BenchmarkStepEvents is BenchmarkStep for an event-driven unit whose
// input reaches every other run of 8 positions, as a digit's strokes do.
func BenchmarkStepEvents(b *testing.B) {
	n, v, current := benchLayer()
	posInput, hot := bitvec.New(n.Positions), bitvec.New(n.Positions)
	for pos := 0; pos < n.Positions; pos++ {
		if pos/8%2 == 0 {
			posInput.Set(pos)
			for ch := 0; ch < n.Channels; ch++ {
				i := pos*n.Channels + ch
				current[i] = benchCurrent(i)
			}
		}
	}
	spikes := bitvec.New(n.Neurons())
	b.ReportAllocs()
	for b.Loop() {
		n.StepEvents(v, current, spikes, nil, posInput, hot)
	}
}

// BenchmarkStepBias is BenchmarkStep for a layer with a bias, as a
// surrogate-trained model's, at its first timestep (membranes from zero):
// about a fifth of the neurons fire, at places no branch predictor learns.
func BenchmarkStepBias(b *testing.B) {
	n, v, current := benchLayer()
	n.Bias = make([]int64, n.Channels)
	for ch := range n.Bias {
		n.Bias[ch] = 970
	}
	for i := range current {
		current[i] = benchCurrent(i)
	}
	spikes := bitvec.New(n.Neurons())
	b.ReportAllocs()
	for b.Loop() {
		clear(v)
		n.Step(v, current, spikes, nil)
	}
	b.ReportMetric(float64(n.Neurons())*float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
