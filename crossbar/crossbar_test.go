package crossbar

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
)

// ideal is the device of the popcount tests: its on/off ratio does not
// matter, since the ADC's calibration removes the off-current exactly.
var ideal = Device{OnOffRatio: 10, Levels: 2}

func params(rows, cols, perRead, adcBits int) Params {
	return Params{Rows: rows, Cols: cols, RowsPerRead: perRead, ADCBits: adcBits, ColsPerADC: 8, ReadLatencyCycles: 1, ADCLatencyCycles: 1}
}

func randomBlock(rng *rand.Rand, rows, outputs, bits int) []int8 {
	w := make([]int8, rows*outputs)
	limit := 1<<(bits-1) - 1
	for i := range w {
		if bits == 1 {
			w[i] = int8(1 - 2*rng.IntN(2))
		} else {
			w[i] = int8(rng.IntN(2*limit+1) - limit)
		}
	}
	return w
}

// TestReadEqualsDotProduct holds the ideal array to the integer dot product
// for binary and multi-bit weights and multi-bit inputs.
func TestReadEqualsDotProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ rows, outputs, wbits, ibits int }{
		{128, 64, 1, 1}, {100, 9, 8, 8}, {25, 4, 4, 3}, {70, 32, 1, 3}, {256, 64, 1, 2}, {60, 32, 3, 1}, {250, 16, 2, 1},
	} {
		w := randomBlock(rng, tc.rows, tc.outputs, tc.wbits)
		a, err := Program(params(max(128, tc.rows), 128, 32, 6), ideal, nil, tc.rows, tc.outputs, tc.wbits, func(o, r int) int8 { return w[o*tc.rows+r] })
		if err != nil {
			t.Fatal(err)
		}
		for trial := 0; trial < 20; trial++ {
			x := make([]int, tc.rows)
			planes := make([]bitvec.Vec, tc.ibits)
			for p := range planes {
				planes[p] = bitvec.New(tc.rows)
			}
			for r := range x {
				if rng.IntN(3) == 0 {
					x[r] = rng.IntN(1 << tc.ibits)
				}
				for p := range planes {
					if x[r]>>p&1 != 0 {
						planes[p].Set(r)
					}
				}
			}
			acc := make([]int64, tc.outputs)
			var c Counters
			a.Read(planes, acc, &Scratch{}, &c)
			for o := range acc {
				var want int64
				for r := range x {
					want += int64(x[r]) * int64(w[o*tc.rows+r])
				}
				if acc[o] != want {
					t.Fatalf("%+v output %d: got %d want %d", tc, o, acc[o], want)
				}
			}
		}
	}
}

// TestADCSaturates checks the clipping path against a direct model: each
// group of RowsPerRead driven rows gives per-column counts saturated at
// 2^bits−1.
func TestADCSaturates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, outputs, perRead, bits = 128, 16, 32, 3
	w := randomBlock(rng, rows, outputs, 1)
	a, err := Program(params(rows, 128, perRead, bits), ideal, nil, rows, outputs, 1, func(o, r int) int8 { return w[o*rows+r] })
	if err != nil {
		t.Fatal(err)
	}
	plane := bitvec.New(rows)
	var active []int
	for r := 0; r < rows; r++ {
		if rng.IntN(2) == 0 {
			plane.Set(r)
			active = append(active, r)
		}
	}
	acc := make([]int64, outputs)
	var c Counters
	a.Read([]bitvec.Vec{plane}, acc, &Scratch{}, &c)
	differs := false
	for o := 0; o < outputs; o++ {
		var want, ideal int64
		for lo := 0; lo < len(active); lo += perRead {
			pos, neg := 0, 0
			for _, r := range active[lo:min(lo+perRead, len(active))] {
				if w[o*rows+r] > 0 {
					pos++
				} else {
					neg++
				}
			}
			ideal += int64(pos - neg)
			want += int64(min(pos, 7) - min(neg, 7))
		}
		if acc[o] != want {
			t.Fatalf("output %d: got %d want %d", o, acc[o], want)
		}
		differs = differs || want != ideal
	}
	if !differs {
		t.Fatal("a 3-bit ADC on 32-row reads changed no output; the test does not exercise clipping")
	}
	if wantReads := int64((len(active) + perRead - 1) / perRead); c.Reads != wantReads {
		t.Fatalf("reads %d, want %d", c.Reads, wantReads)
	}
}

func TestProgramRejectsWhatDoesNotFit(t *testing.T) {
	p := params(64, 64, 32, 6)
	one := func(o, r int) int8 { return 1 }
	if _, err := Program(p, ideal, nil, 65, 1, 1, one); err == nil {
		t.Error("65 rows accepted by a 64-row array")
	}
	if _, err := Program(p, ideal, nil, 10, 5, 8, one); err == nil {
		t.Error("5 outputs × 7 slices × 2 = 70 columns accepted by a 64-column array")
	}
	if _, err := Program(p, ideal, nil, 10, 2, 1, func(o, r int) int8 { return 0 }); err == nil {
		t.Error("a zero weight accepted in a binary array")
	}
}

func TestReadCountsOperations(t *testing.T) {
	a, err := Program(params(128, 128, 32, 6), ideal, nil, 100, 10, 1, func(o, r int) int8 { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	plane := bitvec.New(100)
	for r := 0; r < 70; r++ {
		plane.Set(r)
	}
	var c Counters
	cycles := a.Read([]bitvec.Vec{plane, bitvec.New(100)}, make([]int64, 10), &Scratch{}, &c)
	// 70 driven rows, 32 per read: 3 reads of 20 used columns; the empty
	// second plane drives nothing.
	want := Counters{Reads: 3, RowsDriven: 70, CellReads: 70 * 20, Conversions: 60, ShiftAdds: 60}
	if c != want {
		t.Fatalf("counters %+v, want %+v", c, want)
	}
	if cycles != 3*(1+8) {
		t.Fatalf("cycles %d, want %d", cycles, 3*(1+8))
	}
}

// BenchmarkRead measures each read path on a 128×128 array of binary
// weights (64 outputs), one plane with 8, 32 (one full read at
// rows_per_read = 32) or 128 driven rows: the ideal popcount core with a
// 6-bit ADC (one pass per plane) and with a 5-bit ADC that may clip (one
// pass per read), faults folded into it, read noise on popcounts (σ =
// 0.1: a draw per conversion; σ = 0.02: by events), and per-cell conductances (variation, IR drop) with and without noise.
// synops/s counts one synaptic operation per driven row per output per
// plane.
func BenchmarkRead(b *testing.B) {
	for _, bc := range []struct {
		name    string
		d       Device
		adcBits int
	}{
		{"ideal", ideal, 6},
		{"ideal-5bit", ideal, 5},
		{"faults", Device{OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.02, StuckAtOnRate: 0.02}, 6},
		{"noise", Device{OnOffRatio: 10, Levels: 2, ReadNoiseSigma: 0.1}, 6},
		{"noise-0.02", Device{OnOffRatio: 10, Levels: 2, ReadNoiseSigma: 0.02}, 6},
		{"variation", Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.2}, 6},
		{"variation+noise", Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.2, ReadNoiseSigma: 0.1}, 6},
		{"all", Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.2, ReadNoiseSigma: 0.1, StuckAtOffRate: 0.02, StuckAtOnRate: 0.02, IRDrop: 1e-4}, 6},
	} {
		for _, driven := range []int{8, 32, 128} {
			b.Run(fmt.Sprintf("%s/rows=%d", bc.name, driven), func(b *testing.B) {
				const rows, outputs = 128, 64
				rng := rand.New(rand.NewPCG(5, 6))
				w := randomBlock(rng, rows, outputs, 1)
				a, err := Program(params(rows, 128, 32, bc.adcBits), bc.d, rand.New(rand.NewPCG(7, 8)), rows, outputs, 1, func(o, r int) int8 { return w[o*rows+r] })
				if err != nil {
					b.Fatal(err)
				}
				plane := bitvec.New(rows)
				for _, r := range rng.Perm(rows)[:driven] {
					plane.Set(r)
				}
				planes := []bitvec.Vec{plane}
				acc := make([]int64, outputs)
				var s Scratch
				s.Reseed(1, 2)
				var c Counters
				b.ReportAllocs()
				for b.Loop() {
					a.Read(planes, acc, &s, &c)
				}
				b.ReportMetric(float64(driven*outputs)*float64(b.N)/b.Elapsed().Seconds(), "synops/s")
			})
		}
	}
}

// TestReadDoesNotAllocate keeps every read path allocation-free once a
// Scratch has grown to the array: reads are the simulator's inner loop.
func TestReadDoesNotAllocate(t *testing.T) {
	const rows, outputs = 128, 64
	rng := rand.New(rand.NewPCG(9, 10))
	w := randomBlock(rng, rows, outputs, 1)
	// Many driven rows on one plane read by popcounts, a few rows on
	// three planes by rows (readRows).
	plane, few, planes := bitvec.New(rows), bitvec.New(rows), make([]bitvec.Vec, 3)
	for _, r := range rng.Perm(rows)[:40] {
		plane.Set(r)
	}
	few.Set(3)
	few.Set(100)
	for p := range planes {
		planes[p] = few
	}
	for name, d := range map[string]Device{
		"ideal":     ideal,
		"faults":    {OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.02, StuckAtOnRate: 0.02},
		"noise":     {OnOffRatio: 10, Levels: 2, ReadNoiseSigma: 0.1},
		"variation": {OnOffRatio: 10, Levels: 2, VariationSigma: 0.2, ReadNoiseSigma: 0.1, IRDrop: 1e-4},
	} {
		for _, adcBits := range []int{6, 4} {
			a, err := Program(params(rows, 128, 32, adcBits), d, rand.New(rand.NewPCG(7, 8)), rows, outputs, 1, func(o, r int) int8 { return w[o*rows+r] })
			if err != nil {
				t.Fatal(err)
			}
			acc := make([]int64, outputs)
			var s Scratch
			var c Counters
			for _, in := range [][]bitvec.Vec{{plane}, planes} {
				a.Read(in, acc, &s, &c)
				if n := testing.AllocsPerRun(20, func() { a.Read(in, acc, &s, &c) }); n != 0 {
					t.Errorf("%s, %d-bit ADC, %d planes: %v allocations per read", name, adcBits, len(in), n)
				}
			}
		}
	}
}

// TestLanesEqualsRead sums the reads of the row splits of one block
// column, at many positions, as a caller of a laned array does (each
// driven row's lanes times its input value, flushed before a lane could
// overflow, every read charged from its counts), and holds the sums,
// counters and cycles to Read's: sparse and dense planes (dense ones
// overflow a lane and flush), up to 3 planes. An ADC that a read can
// saturate and stuck-at faults (whose pairs are no longer complementary)
// leave the array unlaned.
func TestLanesEqualsRead(t *testing.T) {
	const outputs = 50
	rng := rand.New(rand.NewPCG(11, 12))
	splitRows := []int{128, 128, 40}
	for _, adcBits := range []int{6, 3} {
		for name, d := range map[string]Device{
			"ideal":  ideal,
			"faults": {OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.02, StuckAtOnRate: 0.02},
		} {
			arrays := make([]*Array, len(splitRows))
			for i, rows := range splitRows {
				w := randomBlock(rng, rows, outputs, 1)
				a, err := Program(params(128, 128, 32, adcBits), d, rand.New(rand.NewPCG(7, uint64(i))), rows, outputs, 1, func(o, r int) int8 { return w[o*rows+r] })
				if err != nil {
					t.Fatal(err)
				}
				if got, want := a.Laned(), name == "ideal" && adcBits == 6; got != want {
					t.Fatalf("%s, %d-bit ADC: Laned() = %v, want %v", name, adcBits, got, want)
				}
				arrays[i] = a
			}
			if !arrays[0].Laned() {
				continue
			}
			var s Scratch
			for pos := 0; pos < 200; pos++ {
				density := []float64{0.02, 0.1, 0.6}[pos%3]
				nPlanes := 1 + pos%3
				want, got := make([]int64, outputs), make([]int64, outputs)
				var cw, cg Counters
				var cycW, cycG int64
				var sum [LaneWords]uint64
				var n uint64
				set := true // the first flush sets got's outputs
				for i, a := range arrays {
					planes := make([]bitvec.Vec, nPlanes)
					actives := make([]int, nPlanes)
					for p := range planes {
						planes[p] = bitvec.New(splitRows[i])
						for r := 0; r < splitRows[i]; r++ {
							if rng.Float64() < density {
								planes[p].Set(r)
								actives[p]++
							}
						}
					}
					cycW += a.Read(planes, want, &s, &cw)
					for r := 0; r < splitRows[i]; r++ {
						var x uint64
						for p, plane := range planes {
							if plane.Get(r) {
								x |= 1 << p
							}
						}
						if n+x > MaxLane {
							FlushLanes(got, &sum, int64(n), set)
							n, set = 0, false
						}
						for k, l := range a.LaneRow(r) {
							sum[k] += l * x
						}
						n += x
					}
					var reads, rows int64
					for _, n := range actives {
						reads += a.Reads(n)
						rows += int64(n)
					}
					cycG += a.Charge(reads, rows, &cg)
				}
				FlushLanes(got, &sum, int64(n), set)
				if fmt.Sprint(got) != fmt.Sprint(want) || cw != cg || cycW != cycG {
					t.Fatalf("position %d (density %v, %d planes): lanes %v, %+v, %d cycles; Read %v, %+v, %d cycles",
						pos, density, nPlanes, got, cg, cycG, want, cw, cycW)
				}
			}
		}
	}
}

// TestLanesDoNotAllocate guards what a caller of a laned array runs per
// driven row and per read.
func TestLanesDoNotAllocate(t *testing.T) {
	const rows, outputs = 128, 64
	rng := rand.New(rand.NewPCG(13, 14))
	w := randomBlock(rng, rows, outputs, 1)
	a, err := Program(params(rows, 128, 32, 6), ideal, nil, rows, outputs, 1, func(o, r int) int8 { return w[o*rows+r] })
	if err != nil {
		t.Fatal(err)
	}
	acc, actives := make([]int64, outputs), []int{12, 3}
	var sum [LaneWords]uint64
	var c Counters
	if n := testing.AllocsPerRun(20, func() {
		for r := 0; r < 12; r++ {
			for k, l := range a.LaneRow(r * 7) {
				sum[k] += l * 3
			}
		}
		FlushLanes(acc, &sum, 36, false)
		for _, n := range actives {
			a.Charge(a.Reads(n), int64(n), &c)
		}
	}); n != 0 {
		t.Errorf("%v allocations per laned read", n)
	}
}
