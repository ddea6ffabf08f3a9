package chip

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/bitvec"
	"github.com/nmsim/nmsim/internal/testmodel"
)

// TestFusedEqualsRead computes every layer of a random net fused and by
// reading every block at every position (the same chip with its fused
// tables taken away): a multi-bit conv layer of 2 column splits (8-bit
// input, 8 planes: 32-bit lanes), a laned conv layer of 2 row and 2
// column splits, a laned dense layer of 6 and 2, a multi-bit dense layer
// of 2 column splits (16-bit lanes); on inputs from sparse to dense enough that lanes overflow and
// flush, with and without fire-once marks, with ideal reads and with read
// noise (each read drawing from the same stream): the same currents (for
// the neurons not marked), counters, cycles, values sent and positions
// with input.
func TestFusedEqualsRead(t *testing.T) {
	for _, sigma := range []float64{0, 0.05} {
		cfg := arch.Default()
		cfg.Device.ReadNoiseSigma = sigma
		fusedEqualsRead(t, cfg)
	}
}

func fusedEqualsRead(t *testing.T, cfg *arch.Config) {
	rng := rand.New(rand.NewPCG(21, 22))
	o := testmodel.Small
	o.C1, o.C2, o.Hidden = 16, 80, 70
	m := testmodel.Random(rng, o)
	fused, err := New(cfg, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	read, err := New(cfg, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	widths := map[int]int{} // layers per lane width
	for i := range read.layers {
		s := &fused.layers[i]
		if s.fused == nil || s.lm.ColSplits < 2 {
			t.Fatalf("layer %s: fused %v, %d column splits; want fused, at least 2", s.lm.Name, s.fused != nil, s.lm.ColSplits)
		}
		widths[s.fused.laneBits]++
		if s.fused.ones && s.lm.RowSplits < 2 {
			t.Fatalf("layer %s: %d row splits, want at least 2", s.lm.Name, s.lm.RowSplits)
		}
		read.layers[i].fused = nil
	}
	if want := map[int]int{8: 2, 16: 1, 32: 1}; !maps.Equal(widths, want) {
		t.Fatalf("layers per lane width %v, want %v (laned conv2 and fc1, conv1 of 8-bit input, fc2 of spike counts)", widths, want)
	}
	wl, wr := fused.NewWorker(), read.NewWorker()
	for i := range fused.layers {
		s := &fused.layers[i]
		sl, sr := &wl.st[i], &wr.st[i]
		top := 1<<s.lm.InputBits - 1
		for trial := 0; trial < 40; trial++ {
			density := []float64{0.02, 0.2, 0.9}[trial%3]
			for e := range sl.in {
				sl.in[e] = 0
				if rng.Float64() < density {
					sl.in[e] = uint8(1 + rng.IntN(top))
				}
			}
			copy(sr.in, sl.in)
			sl.done, sr.done = nil, nil
			if trial%2 == 1 {
				sl.done = bitvec.New(s.neurons.Neurons())
				for k := 0; k < len(sl.acc)*3/4; k++ {
					sl.done.Set(rng.IntN(s.neurons.Neurons()))
				}
				sr.done = sl.done
			}
			wl.scratch.Reseed(uint64(trial), 7)
			wr.scratch.Reseed(uint64(trial), 7)
			wl.compute(i)
			wr.compute(i)
			for pos := 0; pos < s.lm.Positions; pos++ {
				for ch := 0; ch < s.lm.Outputs; ch++ {
					k := pos*s.lm.Outputs + ch
					if (sl.done == nil || !sl.done.Get(ch*s.lm.Positions+pos)) && sl.acc[k] != sr.acc[k] {
						t.Fatalf("read noise σ = %v, layer %s, trial %d, position %d, output %d: current %d fused, %d by reads", cfg.Device.ReadNoiseSigma, s.lm.Name, trial, pos, ch, sl.acc[k], sr.acc[k])
					}
				}
			}
			if sl.counters != sr.counters || !slices.Equal(sl.blockCyc, sr.blockCyc) || !slices.Equal(sl.blockVals, sr.blockVals) || !bitvec.Equal(sl.posInput, sr.posInput) {
				t.Fatalf("read noise σ = %v, layer %s, trial %d: fused %+v, cycles %v, values %v; by reads %+v, %v, %v (or the positions with input differ)",
					cfg.Device.ReadNoiseSigma, s.lm.Name, trial, sl.counters, sl.blockCyc, sl.blockVals, sr.counters, sr.blockCyc, sr.blockVals)
			}
		}
	}
}

// TestAllDone holds allDone's word-at-a-time path for a dense layer to a
// neuron-by-neuron check, over ranges that start and end inside words and
// span several.
func TestAllDone(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	const n = 300
	for trial := 0; trial < 500; trial++ {
		done := bitvec.New(n)
		lo := rng.IntN(n)
		hi := lo + 1 + rng.IntN(n-lo)
		for k := 0; k < n; k++ {
			if k < lo || k >= hi || rng.IntN(200) != 0 {
				done.Set(k)
			}
		}
		want := true
		for k := lo; k < hi; k++ {
			want = want && done.Get(k)
		}
		if got := allDone(done, 0, 1, lo, hi); got != want {
			t.Fatalf("[%d, %d): allDone %v, want %v", lo, hi, got, want)
		}
	}
}
