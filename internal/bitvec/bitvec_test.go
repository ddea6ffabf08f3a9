package bitvec

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

func TestAndCountAndDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	v, w := New(200), New(200)
	for i := 0; i < 200; i++ {
		if rng.IntN(2) == 0 {
			v.Set(i)
		}
		if rng.IntN(3) == 0 {
			w.Set(i)
		}
	}
	and, diff := 0, 0
	for i := 0; i < 200; i++ {
		if v.Get(i) && w.Get(i) {
			and++
		}
		if v.Get(i) != w.Get(i) {
			diff++
		}
	}
	if got := AndCount(v, w); got != and {
		t.Errorf("AndCount %d, want %d", got, and)
	}
	if got := Diff(v, w); got != diff {
		t.Errorf("Diff %d, want %d", got, diff)
	}
}

// BenchmarkAndPopcount is the AND+popcount limit of the crossbar's ideal
// read on this machine: AND and popcount of 64-bit words streaming from
// L1 (a 64-word plane against 64 contiguous columns), every bit a driven
// row, so each word is 64 synaptic operations (one driven row × one
// output). A read can only approach it when every row of a word is driven.
func BenchmarkAndPopcount(b *testing.B) {
	const words, cols = 2, 512
	rng := rand.New(rand.NewPCG(3, 4))
	plane := make(Vec, words)
	m := make([]uint64, words*cols)
	for i := range plane {
		plane[i] = ^uint64(0)
	}
	for i := range m {
		m[i] = rng.Uint64()
	}
	sum := 0
	for b.Loop() {
		for c := 0; c < cols; c++ {
			col := m[c*words : (c+1)*words]
			sum += bits.OnesCount64(plane[0]&col[0]) + bits.OnesCount64(plane[1]&col[1])
		}
	}
	if sum == 0 {
		b.Fatal("no bits counted")
	}
	b.ReportMetric(float64(64*words*cols)*float64(b.N)/b.Elapsed().Seconds(), "synops/s")
}
