package crossbar

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/bitvec"
)

// nearlyIdeal has non-idealities far too small to move any current across
// an ADC decision threshold, but large enough to select the per-cell
// (variation) and the noisy popcount paths: both must then agree with the
// popcount core exactly.
var nearlyIdeal = map[string]Device{
	"variation": {OnOffRatio: 10, Levels: 2, VariationSigma: 1e-6},
	"noise":     {OnOffRatio: 10, Levels: 2, ReadNoiseSigma: 1e-6},
	"both":      {OnOffRatio: 10, Levels: 2, VariationSigma: 1e-6, ReadNoiseSigma: 1e-6},
	"ir_drop":   {OnOffRatio: 10, Levels: 2, IRDrop: 1e-9},
}

// dotCase is a block of random weights and a random multi-bit input.
type dotCase struct {
	rows, outputs, wbits, ibits int
	w                           []int8
	x                           []int
	planes                      []bitvec.Vec
}

func newDotCase(rng *rand.Rand, rows, outputs, wbits, ibits int) dotCase {
	tc := dotCase{rows: rows, outputs: outputs, wbits: wbits, ibits: ibits, w: randomBlock(rng, rows, outputs, wbits)}
	tc.x = make([]int, rows)
	tc.planes = make([]bitvec.Vec, ibits)
	for p := range tc.planes {
		tc.planes[p] = bitvec.New(rows)
	}
	for r := range tc.x {
		if rng.IntN(3) != 0 {
			tc.x[r] = rng.IntN(1 << ibits)
		}
		for p := range tc.planes {
			if tc.x[r]>>p&1 != 0 {
				tc.planes[p].Set(r)
			}
		}
	}
	return tc
}

func (tc dotCase) weights(o, r int) int8 { return tc.w[o*tc.rows+r] }

func (tc dotCase) want(o int) int64 {
	var s int64
	for r, x := range tc.x {
		s += int64(x) * int64(tc.w[o*tc.rows+r])
	}
	return s
}

// TestNearlyIdealPathsEqualDotProduct holds the per-cell and the noisy
// paths to the integer dot product for binary and multi-bit weights and
// multi-bit inputs, with an ADC that resolves every read (6 bits ≥
// log2(32 + 1)).
func TestNearlyIdealPathsEqualDotProduct(t *testing.T) {
	for name, d := range nearlyIdeal {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, shape := range [][4]int{{128, 64, 1, 1}, {100, 9, 8, 8}, {25, 4, 4, 3}, {70, 32, 1, 3}} {
			tc := newDotCase(rng, shape[0], shape[1], shape[2], shape[3])
			a, err := Program(params(128, 128, 32, 6), d, rand.New(rand.NewPCG(1, 1)), tc.rows, tc.outputs, tc.wbits, tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			acc := make([]int64, tc.outputs)
			a.Read(tc.planes, acc, &Scratch{}, &Counters{})
			for o := range acc {
				if acc[o] != tc.want(o) {
					t.Fatalf("%s %v output %d: got %d want %d", name, shape, o, acc[o], tc.want(o))
				}
			}
		}
	}
}

// TestPathSelection checks that only variation and IR drop make cells
// individual: ideal cells, faults and read noise keep the bit vectors, and
// ideal cells and faults keep the float-free fast path.
func TestPathSelection(t *testing.T) {
	for _, tt := range []struct {
		d            Device
		cells, noisy bool
	}{
		{ideal, false, false},
		{Device{OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.1, StuckAtOnRate: 0.1}, false, false},
		{Device{OnOffRatio: 10, Levels: 2, ReadNoiseSigma: 0.1}, false, true},
		{Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.1}, true, false},
		{Device{OnOffRatio: 10, Levels: 2, IRDrop: 1e-4}, true, false},
		{Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.1, ReadNoiseSigma: 0.1}, true, true},
	} {
		a, err := Program(params(64, 64, 32, 6), tt.d, rand.New(rand.NewPCG(1, 2)), 64, 32, 1, func(o, r int) int8 { return 1 })
		if err != nil {
			t.Fatal(err)
		}
		if (a.q != nil) != tt.cells || a.Noisy() != tt.noisy {
			t.Errorf("%+v: per-cell %v noisy %v, want %v %v", tt.d, a.q != nil, a.Noisy(), tt.cells, tt.noisy)
		}
		if tt.d.Ideal() != (a.q == nil && !a.Noisy() && !tt.d.faulty()) {
			t.Errorf("%+v: Ideal() = %v", tt.d, tt.d.Ideal())
		}
	}
}

// TestADCClipsOnEveryPath extends TestADCSaturates to the per-cell and
// noisy paths: with 3 ADC bits and 32-row reads each column saturates at 7.
func TestADCClipsOnEveryPath(t *testing.T) {
	const rows, outputs, perRead, adcBits = 128, 16, 32, 3
	rng := rand.New(rand.NewPCG(3, 4))
	tc := newDotCase(rng, rows, outputs, 1, 1)
	var active []int
	for r, x := range tc.x {
		if x != 0 {
			active = append(active, r)
		}
	}
	for name, d := range nearlyIdeal {
		a, err := Program(params(rows, 128, perRead, adcBits), d, rand.New(rand.NewPCG(5, 6)), rows, outputs, 1, tc.weights)
		if err != nil {
			t.Fatal(err)
		}
		acc := make([]int64, outputs)
		a.Read(tc.planes[:1], acc, &Scratch{}, &Counters{})
		for o := range acc {
			var want int64
			for lo := 0; lo < len(active); lo += perRead {
				pos, neg := 0, 0
				for _, r := range active[lo:min(lo+perRead, len(active))] {
					if tc.w[o*rows+r] > 0 {
						pos++
					} else {
						neg++
					}
				}
				want += int64(min(pos, 7) - min(neg, 7))
			}
			if acc[o] != want {
				t.Fatalf("%s output %d: got %d want %d", name, o, acc[o], want)
			}
		}
	}
}

// TestADCTransfer checks the converter against its definition: the ideal
// current of k on-cells and n − k off-cells gives code k, a current just
// short of halfway to the next level stays at k and just past it goes to
// k+1, and codes clamp to [0, 2^bits − 1].
func TestADCTransfer(t *testing.T) {
	const n = 20
	for _, ratio := range []float64{2, 10, 1e4} {
		d := Device{OnOffRatio: ratio, Levels: 2}
		for _, bits := range []int{3, 6} {
			a, err := Program(params(64, 64, n, bits), d, nil, 64, 1, 1, func(o, r int) int8 { return 1 })
			if err != nil {
				t.Fatal(err)
			}
			full := 1<<bits - 1
			gOff, step := 1/ratio, 1-1/ratio
			for k := 0; k <= n; k++ {
				level := float64(k) + float64(n-k)*gOff
				for _, tt := range []struct {
					i    float64
					want int
				}{
					{level, k},
					{level + 0.49*step, k},
					{level + 0.51*step, k + 1},
					{level - 0.49*step, k},
					{level - 0.51*step, k - 1},
				} {
					want := min(max(tt.want, 0), full)
					if got := a.convert(tt.i, n); got != want {
						t.Errorf("ratio %v, %d bits, k = %d: convert(%v) = %d, want %d", ratio, bits, k, tt.i, got, want)
					}
				}
			}
			if got := a.convert(-5, n); got != 0 {
				t.Errorf("a negative current converts to %d, want 0", got)
			}
			if got := a.convert(1e9, n); got != full {
				t.Errorf("a huge current converts to %d, want %d", got, full)
			}
		}
	}
}

// columnCurrents unpacks the noiseless current of every used column when
// the rows of group are driven, in units of G_on·V_read.
func columnCurrents(a *Array, group []int, s *Scratch) []float64 {
	var cur []float64
	for _, v := range a.sums(group, s) {
		cur = append(cur, float64(uint32(v))/a.qScale, float64(v>>32)/a.qScale)
	}
	return cur
}

// lognormalMoments are the mean and variance of G·exp(σz), z ~ N(0,1).
func lognormalMoments(g, sigma float64) (mean, variance float64) {
	s2 := sigma * sigma
	return g * math.Exp(s2/2), g * g * (math.Exp(s2) - 1) * math.Exp(s2)
}

// TestColumnCurrentStatistics draws many arrays with lognormal variation
// and compares the column currents of n driven rows with theory. A column
// with k on-cells and n − k off-cells has mean (k + (n−k)·G_off)·e^(σ²/2)
// and variance (k + (n−k)·G_off²)·(e^σ² − 1)·e^σ².
//
// Tolerances: the sample mean within 4 standard errors (√(var/M)), the
// sample variance within 4 standard errors of a variance,
// var·√((2 + κ)/M) with κ the sum's excess kurtosis (κ < 0.1 here). With
// M = 4800 to 9600 columns per kind the variance is held to ±6–8 % and the
// mean to ±0.3 % (k = n, σ = 0.3).
func TestColumnCurrentStatistics(t *testing.T) {
	const (
		rows, outputs = 128, 64
		n             = 32
		arrays        = 150
	)
	for _, sigma := range []float64{0.1, 0.3} {
		d := Device{OnOffRatio: 10, Levels: 2, VariationSigma: sigma}
		// Output o: weight +1 on every row for even o; for odd o, +1 on
		// even rows and −1 on odd rows. Column kinds by on-cells among
		// the first n rows: w⁺ of even o (k = n), w⁻ of even o (k = 0),
		// both columns of odd o (k = n/2).
		weights := func(o, r int) int8 {
			if o%2 == 0 || r%2 == 0 {
				return 1
			}
			return -1
		}
		group := make([]int, n)
		for i := range group {
			group[i] = i
		}
		samples := map[int][]float64{}
		rng := rand.New(rand.NewPCG(uint64(sigma*1000), 7))
		var s Scratch
		for i := 0; i < arrays; i++ {
			a, err := Program(params(rows, 2*outputs, n, 6), d, rng, rows, outputs, 1, weights)
			if err != nil {
				t.Fatal(err)
			}
			cur := columnCurrents(a, group, &s)
			for o := 0; o < outputs; o++ {
				if o%2 == 0 {
					samples[n] = append(samples[n], cur[2*o])
					samples[0] = append(samples[0], cur[2*o+1])
				} else {
					samples[n/2] = append(samples[n/2], cur[2*o], cur[2*o+1])
				}
			}
		}
		gOff := 1 / d.OnOffRatio
		for _, k := range []int{0, n / 2, n} {
			onMean, onVar := lognormalMoments(1, sigma)
			offMean, offVar := lognormalMoments(gOff, sigma)
			wantMean := float64(k)*onMean + float64(n-k)*offMean
			wantVar := float64(k)*onVar + float64(n-k)*offVar
			// Excess kurtosis of a sum of independent scaled lognormals:
			// Σ a_i⁴·κ4 / (Σ a_i²·v)², with κ4/v² the cell's own.
			s2 := sigma * sigma
			cellKurt := math.Exp(4*s2) + 2*math.Exp(3*s2) + 3*math.Exp(2*s2) - 6
			a2 := float64(k) + float64(n-k)*gOff*gOff
			a4 := float64(k) + float64(n-k)*math.Pow(gOff, 4)
			kurt := cellKurt * a4 / (a2 * a2)

			xs := samples[k]
			m := float64(len(xs))
			var mean, ss float64
			for _, x := range xs {
				mean += x
			}
			mean /= m
			for _, x := range xs {
				ss += (x - mean) * (x - mean)
			}
			variance := ss / (m - 1)
			t.Logf("σ = %v, k = %2d, %d columns: mean %.4f (theory %.4f), variance %.4f (theory %.4f)", sigma, k, len(xs), mean, wantMean, variance, wantVar)
			if tol := 4 * math.Sqrt(wantVar/m); math.Abs(mean-wantMean) > tol {
				t.Errorf("σ = %v, k = %d: mean %.5f, want %.5f ± %.5f", sigma, k, mean, wantMean, tol)
			}
			if tol := 4 * wantVar * math.Sqrt((2+kurt)/m); math.Abs(variance-wantVar) > tol {
				t.Errorf("σ = %v, k = %d: variance %.5f, want %.5f ± %.5f", sigma, k, variance, wantVar, tol)
			}
		}
	}
}

// TestReadNoiseStatistics drives k on-cells of n through the whole read
// path, many times, and compares the codes with theory: cell noise of
// variance σ²·g adds a Gaussian of variance σ²·(k + (n−k)·G_off) to the
// column current, i.e. s² = that / (1 − G_off)² in codes; rounding adds 1/12 (Sheppard's correction, accurate to a
// relative error far below the tolerance when s ≈ 3 codes). The mean code
// must lie within 4 standard errors of k and the variance within 4
// standard errors of s² + 1/12. The noisy popcount path and the per-cell
// path must both hold.
func TestReadNoiseStatistics(t *testing.T) {
	const (
		n     = 32
		reads = 4000
		sigma = 0.5
	)
	for name, d := range map[string]Device{
		"popcount": {OnOffRatio: 10, Levels: 2, ReadNoiseSigma: sigma},
		"per-cell": {OnOffRatio: 10, Levels: 2, ReadNoiseSigma: sigma, VariationSigma: 1e-9},
	} {
		// Output 0 is +1 on every row: its w⁺ column has k = n on-cells,
		// its w⁻ column k = 0. Output 1 alternates: k = n/2 on both.
		a, err := Program(params(64, 64, n, 7), d, rand.New(rand.NewPCG(1, 1)), n, 2, 1, func(o, r int) int8 {
			if o == 1 && r%2 == 1 {
				return -1
			}
			return 1
		})
		if err != nil {
			t.Fatal(err)
		}
		group := make([]int, n)
		for i := range group {
			group[i] = i
		}
		var s Scratch
		s.Reseed(21, 22)
		codes := make([]int, 4)
		samples := [4][]float64{}
		for i := 0; i < reads; i++ {
			if a.q != nil {
				a.convertCells(group, codes, &s)
			} else {
				a.convertCounts(group, codes, &s)
			}
			for j, c := range codes {
				samples[j] = append(samples[j], float64(c))
			}
		}
		gOff := 1 / d.OnOffRatio
		for col, k := range []int{n, 0, n / 2, n / 2} {
			s2 := sigma * sigma * (float64(k) + float64(n-k)*gOff) / ((1 - gOff) * (1 - gOff))
			want := s2 + 1.0/12
			xs := samples[col]
			var mean, ss float64
			for _, x := range xs {
				mean += x
			}
			mean /= reads
			for _, x := range xs {
				ss += (x - mean) * (x - mean)
			}
			variance := ss / (reads - 1)
			if k == 0 {
				// σ·√(32·0.1)/0.9 ≈ 1 code of noise around code 0, which
				// the ADC clamps: only check that noise shows.
				if variance == 0 {
					t.Errorf("%s: an off column shows no read noise", name)
				}
				continue
			}
			t.Logf("%s k = %2d, %d reads: mean code %.3f (theory %d), variance %.3f (theory %.3f)", name, k, reads, mean, k, variance, want)
			if tol := 4 * math.Sqrt(want/reads); math.Abs(mean-float64(k)) > tol {
				t.Errorf("%s k = %d: mean code %.3f, want %d ± %.3f", name, k, mean, k, tol)
			}
			if tol := 4 * want * math.Sqrt(2.0/reads); math.Abs(variance-want) > tol {
				t.Errorf("%s k = %d: code variance %.3f, want %.3f ± %.3f", name, k, variance, want, tol)
			}
		}
	}
}

// TestStuckAtRates checks the realised fault rates against the binomial:
// within 4 standard deviations √(N·p·(1−p)) of N·p.
func TestStuckAtRates(t *testing.T) {
	d := Device{OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.0175, StuckAtOnRate: 0.09}
	p := params(128, 128, 32, 6)
	rng := rand.New(rand.NewPCG(8, 9))
	var off, on, cells int
	for i := 0; i < 20; i++ {
		m := drawDeviceMap(p, d, rng)
		for _, c := range m.stuck {
			switch c {
			case cellStuckOff:
				off++
			case cellStuckOn:
				on++
			}
		}
		cells += len(m.stuck)
	}
	for _, tt := range []struct {
		name string
		got  int
		rate float64
	}{{"stuck-at-off", off, d.StuckAtOffRate}, {"stuck-at-on", on, d.StuckAtOnRate}} {
		n := float64(cells)
		t.Logf("%s: %d of %d cells = %.5f (rate %v)", tt.name, tt.got, cells, float64(tt.got)/n, tt.rate)
		if want, tol := n*tt.rate, 4*math.Sqrt(n*tt.rate*(1-tt.rate)); math.Abs(float64(tt.got)-want) > tol {
			t.Errorf("%s: %d of %d cells, want %.0f ± %.0f", tt.name, tt.got, cells, want, tol)
		}
	}
}

// TestFaultsFoldIntoBits checks that a faulty array reads exactly what its
// cells hold: the programmed bit where a cell is healthy, the stuck state
// where it is not, through the popcount path.
func TestFaultsFoldIntoBits(t *testing.T) {
	const rows, outputs = 100, 20
	d := Device{OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.1, StuckAtOnRate: 0.1}
	p := params(128, 128, 128, 8)
	tc := newDotCase(rand.New(rand.NewPCG(1, 3)), rows, outputs, 1, 1)
	a, err := Program(p, d, rand.New(rand.NewPCG(4, 5)), rows, outputs, 1, tc.weights)
	if err != nil {
		t.Fatal(err)
	}
	m := drawDeviceMap(p, d, rand.New(rand.NewPCG(4, 5)))
	acc := make([]int64, outputs)
	a.Read(tc.planes[:1], acc, &Scratch{}, &Counters{})
	changed := false
	for o := 0; o < outputs; o++ {
		var want int64
		for r := 0; r < rows; r++ {
			if tc.x[r] == 0 {
				continue
			}
			// Column 2o holds w⁺ (on where w = +1), 2o+1 holds w⁻.
			for side, sign := range []int64{1, -1} {
				bit := (tc.w[o*rows+r] > 0) == (side == 0)
				switch m.stuck[r*p.Cols+2*o+side] {
				case cellStuckOff:
					bit = false
				case cellStuckOn:
					bit = true
				}
				if bit {
					want += sign
				}
			}
		}
		if acc[o] != want {
			t.Fatalf("output %d: got %d want %d", o, acc[o], want)
		}
		changed = changed || want != tc.want(o)
	}
	if !changed {
		t.Fatal("20 % faulty cells changed no output; the test does not exercise faults")
	}
}

// TestIRDrop checks the first-order model on single cells: the cell at row
// r of physical column c conducts g/(1 + ρ·g·d), d = (c + 1) + (Rows − r),
// and a far on-cell reads less than a near one.
func TestIRDrop(t *testing.T) {
	const rho = 0.01
	p := params(64, 64, 64, 8)
	d := Device{OnOffRatio: 10, Levels: 2, IRDrop: rho}
	a, err := Program(p, d, nil, 64, 32, 1, func(o, r int) int8 { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range [][2]int{{0, 0}, {63, 0}, {0, 62}, {63, 63}, {17, 40}} {
		r, c := cell[0], cell[1]
		g := 1.0 // w⁺ columns (even) are on
		if c%2 == 1 {
			g = 1 / d.OnOffRatio
		}
		wire := float64(c+1) + float64(p.Rows-r)
		want := g / (1 + rho*g*wire)
		if got := columnCurrents(a, []int{r}, &Scratch{})[c]; math.Abs(got-want) > 1e-6*want {
			t.Errorf("cell (%d, %d): conductance %v, want %v", r, c, got, want)
		}
	}
	// 32 driven rows of 64: the far ones lose more than one code's worth.
	plane := bitvec.New(64)
	for r := 0; r < 32; r++ {
		plane.Set(r)
	}
	acc := make([]int64, 32)
	a.Read([]bitvec.Vec{plane}, acc, &Scratch{}, &Counters{})
	if acc[31] >= acc[0] || acc[0] >= 32 {
		t.Errorf("IR drop: near output reads %d, far output %d; want far < near < 32", acc[0], acc[31])
	}
}

// TestDeterminism: the same seeds give identical arrays and reads, also
// from a Scratch that has read other things before; other seeds differ.
func TestDeterminism(t *testing.T) {
	d := Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.3, ReadNoiseSigma: 0.2, StuckAtOffRate: 0.02, StuckAtOnRate: 0.02, IRDrop: 1e-4}
	tc := newDotCase(rand.New(rand.NewPCG(1, 9)), 120, 16, 4, 3)
	program := func(seed uint64) *Array {
		a, err := Program(params(128, 128, 32, 5), d, rand.New(rand.NewPCG(seed, 0)), tc.rows, tc.outputs, tc.wbits, tc.weights)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	read := func(a *Array, s *Scratch, seed uint64) []int64 {
		s.Reseed(seed, 1)
		acc := make([]int64, tc.outputs)
		a.Read(tc.planes, acc, s, &Counters{})
		return acc
	}
	a, b := program(1), program(1)
	if !slices.Equal(a.q, b.q) || !slices.EqualFunc(a.cols, b.cols, bitvec.Equal) {
		t.Fatal("the same seed programmed different arrays")
	}
	if c := program(2); slices.Equal(a.q, c.q) {
		t.Error("different seeds programmed identical conductances")
	}
	var fresh, used Scratch
	read(b, &used, 99) // leave state behind
	x, y := read(a, &fresh, 5), read(b, &used, 5)
	if !slices.Equal(x, y) {
		t.Fatalf("same seeds, different reads:\n%v\n%v", x, y)
	}
	if z := read(a, &fresh, 6); slices.Equal(x, z) {
		t.Error("different noise seeds gave identical reads")
	}
}

func TestProgramRejectsBadDevices(t *testing.T) {
	p := params(64, 64, 32, 6)
	one := func(o, r int) int8 { return 1 }
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tt := range []struct {
		d    Device
		want string
	}{
		{Device{OnOffRatio: 1, Levels: 2}, "on/off ratio"},
		{Device{OnOffRatio: math.Inf(1), Levels: 2}, "on/off ratio"},
		{Device{OnOffRatio: 10, Levels: 1}, "levels"},
		{Device{OnOffRatio: 10, Levels: 2, VariationSigma: math.NaN()}, "variation sigma"},
		{Device{OnOffRatio: 10, Levels: 2, ReadNoiseSigma: -1}, "read noise sigma"},
		{Device{OnOffRatio: 10, Levels: 2, IRDrop: -1}, "IR drop"},
		{Device{OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.6, StuckAtOnRate: 0.6}, "stuck-at"},
	} {
		if _, err := Program(p, tt.d, rng, 10, 2, 1, one); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want one about %s", tt.d, err, tt.want)
		}
	}
	if _, err := Program(p, Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.1}, nil, 10, 2, 1, one); err == nil {
		t.Error("variation without a random source accepted")
	}
	if _, err := Program(p, Device{OnOffRatio: 10, Levels: 2, IRDrop: 0.1, ReadNoiseSigma: 0.1}, nil, 10, 2, 1, one); err != nil {
		t.Errorf("IR drop and read noise draw nothing at programming, yet: %v", err)
	}
}

// TestRemapFaultyColumns: with spare columns, fault-aware remapping leaves
// fewer cells disagreeing with their programmed bits and fewer outputs
// away from the dot product, and never more; without faults it changes
// nothing.
func TestRemapFaultyColumns(t *testing.T) {
	const rows, outputs = 128, 16 // 32 of 128 columns used: 96 spares
	d := Device{OnOffRatio: 10, Levels: 2, StuckAtOffRate: 0.02, StuckAtOnRate: 0.02}
	tc := newDotCase(rand.New(rand.NewPCG(3, 1)), rows, outputs, 1, 1)
	programmed, err := Program(params(rows, 128, rows, 8), ideal, nil, rows, outputs, 1, tc.weights)
	if err != nil {
		t.Fatal(err)
	}
	result := func(remap bool) (wrongCells, wrongOutputs int) {
		p := params(rows, 128, rows, 8)
		p.RemapFaultyColumns = remap
		a, err := Program(p, d, rand.New(rand.NewPCG(10, 20)), rows, outputs, 1, tc.weights)
		if err != nil {
			t.Fatal(err)
		}
		for j, col := range a.cols {
			wrongCells += bitvec.Diff(col, programmed.cols[j])
		}
		acc := make([]int64, outputs)
		a.Read(tc.planes[:1], acc, &Scratch{}, &Counters{})
		for o, v := range acc {
			if v != tc.want(o) {
				wrongOutputs++
			}
		}
		return wrongCells, wrongOutputs
	}
	cellsBefore, outsBefore := result(false)
	cellsAfter, outsAfter := result(true)
	t.Logf("cells disagreeing with their weights: %d → %d; outputs off the dot product: %d → %d of %d",
		cellsBefore, cellsAfter, outsBefore, outsAfter, outputs)
	if cellsAfter >= cellsBefore || outsAfter > outsBefore {
		t.Errorf("remapping did not help: cells %d → %d, outputs %d → %d", cellsBefore, cellsAfter, outsBefore, outsAfter)
	}
	p := params(rows, 128, rows, 8)
	p.RemapFaultyColumns = true
	a, err := Program(p, Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.1}, rand.New(rand.NewPCG(1, 1)), rows, outputs, 1, tc.weights)
	if err != nil {
		t.Fatal(err)
	}
	p.RemapFaultyColumns = false
	b, err := Program(p, Device{OnOffRatio: 10, Levels: 2, VariationSigma: 0.1}, rand.New(rand.NewPCG(1, 1)), rows, outputs, 1, tc.weights)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.q, b.q) {
		t.Error("remapping moved columns of a fault-free array")
	}
}

// TestADCBitsSweep: on 32-row reads an ADC of at least log2(32 + 1) → 6
// bits reproduces the dot product exactly; below that the partial sums
// clip and the error grows with every bit taken away. Every other output
// has all weights +1, so that its count reaches 32 and even 5 bits clip.
func TestADCBitsSweep(t *testing.T) {
	const rows, outputs, perRead = 128, 64, 32
	tc := newDotCase(rand.New(rand.NewPCG(2, 2)), rows, outputs, 1, 1)
	for r := range tc.x { // drive every row: four full reads
		tc.x[r] = 1
		tc.planes[0].Set(r)
		for o := 0; o < outputs; o += 2 {
			tc.w[o*rows+r] = 1
		}
	}
	prev := -1.0
	for bits := 8; bits >= 1; bits-- {
		a, err := Program(params(rows, 128, perRead, bits), ideal, nil, rows, outputs, 1, tc.weights)
		if err != nil {
			t.Fatal(err)
		}
		acc := make([]int64, outputs)
		a.Read(tc.planes, acc, &Scratch{}, &Counters{})
		errSum := 0.0
		for o, v := range acc {
			errSum += math.Abs(float64(v - tc.want(o)))
		}
		mae := errSum / outputs
		t.Logf("%d ADC bits: mean |error| %.3f", bits, mae)
		switch {
		case bits >= 6 && mae != 0:
			t.Errorf("%d bits resolve a 32-row read, yet the mean error is %v", bits, mae)
		case bits < 6 && !(mae > prev):
			t.Errorf("%d bits: mean error %v, not above the %v of one more bit", bits, mae, prev)
		}
		prev = mae
	}
}

// TestCalibrateADC: lognormal variation makes the mean cell conduct
// e^(σ²/2) times its nominal level, so an ADC calibrated on the nominal
// levels reads every dot product that much too large; calibrating on the
// mean removes the gain error. The gain is the least-squares slope of the
// read values against the exact dot products over 400 arrays of 64
// outputs. Its standard error is √(var/Σ want²) ≈ √(9.6 / (25600·32)) ≈
// 0.0034 (var: the variance of a pair's code difference at σ = 0.4), so
// the tolerance ±0.015 is about 4.4 standard errors.
func TestCalibrateADC(t *testing.T) {
	const rows, outputs, sigma = 32, 64, 0.4
	d := Device{OnOffRatio: 10, Levels: 2, VariationSigma: sigma}
	rng := rand.New(rand.NewPCG(4, 4))
	tc := newDotCase(rng, rows, outputs, 1, 1)
	for r := range tc.x {
		tc.x[r] = 1
		tc.planes[0].Set(r)
	}
	gain := func(calibrate bool) float64 {
		p := params(rows, 128, rows, 7)
		p.CalibrateADC = calibrate
		devices := rand.New(rand.NewPCG(5, 5))
		var xy, xx float64
		for i := 0; i < 400; i++ {
			a, err := Program(p, d, devices, rows, outputs, 1, tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			acc := make([]int64, outputs)
			a.Read(tc.planes, acc, &Scratch{}, &Counters{})
			for o, v := range acc {
				want := float64(tc.want(o))
				xy += float64(v) * want
				xx += want * want
			}
		}
		return xy / xx
	}
	mean := math.Exp(sigma * sigma / 2)
	nominal, calibrated := gain(false), gain(true)
	t.Logf("gain: nominal levels %.4f (e^(σ²/2) = %.4f), calibrated %.4f", nominal, mean, calibrated)
	if math.Abs(nominal-mean) > 0.015 {
		t.Errorf("nominal calibration: gain %.4f, want e^(σ²/2) = %.4f ± 0.015", nominal, mean)
	}
	if math.Abs(calibrated-1) > 0.015 {
		t.Errorf("calibrated ADC: gain %.4f, want 1 ± 0.015", calibrated)
	}
}

// TestReadNoiseEventsMatchTheTable reads, through Read's whole-plane path,
// an output whose w⁺ and w⁻ columns both hold k = n/2 on-cells, at a σ
// small enough that most conversions read exact: the output is then
// m⁺ − m⁻ for two independent offsets of the tabulated distribution, so
// the fraction of reads that differ from 0, the mean and the variance
// must match 1 − Σ_m P(m)², 0 and 2·E[m²] within 4 standard errors. This holds
// the event clock and its thinning to the distribution they replace, and
// the per-conversion draws that take over at larger σ; with a 5-bit ADC
// (a count of 32 could clip) the plane goes read by read.
func TestReadNoiseEventsMatchTheTable(t *testing.T) {
	const n, reads = 32, 200000
	for _, tc := range []struct {
		sigma   float64
		adcBits int
	}{{0.05, 7}, {0.05, 5}, {0.1, 7}, {0.2, 5}} {
		sigma := tc.sigma
		d := Device{OnOffRatio: 10, Levels: 2, ReadNoiseSigma: sigma}
		a, err := Program(params(64, 64, n, tc.adcBits), d, nil, n, 1, 1, func(o, r int) int8 { return int8(1 - 2*(r%2)) })
		if err != nil {
			t.Fatal(err)
		}
		tab := a.noiseTables[n][n/2]
		var pm [64]float64 // P(m) by m − lowest
		prev := uint64(0)
		for i, b := range tab.below {
			pm[i] = float64(b-prev) * 0x1p-64
			prev = b
		}
		pm[len(tab.below)] = 1 - float64(prev)*0x1p-64
		var same, m2 float64 // P(m⁺ = m⁻), E[m²]
		for i, p := range pm[:len(tab.below)+1] {
			m := float64(tab.lowest + i)
			m2 += m * m * p
			same += p * p
		}
		plane := bitvec.New(n)
		for r := 0; r < n; r++ {
			plane.Set(r)
		}
		var s Scratch
		s.Reseed(5, 6)
		var c Counters
		acc := make([]int64, 1)
		var nonzero, sum, sumSq float64
		for i := 0; i < reads; i++ {
			acc[0] = 0
			a.Read([]bitvec.Vec{plane}, acc, &s, &c)
			x := float64(acc[0])
			if x != 0 {
				nonzero++
			}
			sum += x
			sumSq += x * x
		}
		wantNZ := 1 - same
		gotNZ := nonzero / reads
		if tol := 4 * math.Sqrt(wantNZ*(1-wantNZ)/reads); math.Abs(gotNZ-wantNZ) > tol {
			t.Errorf("σ = %v: %.5f of reads noisy, want %.5f ± %.5f", sigma, gotNZ, wantNZ, tol)
		}
		mean, variance := sum/reads, sumSq/reads-(sum/reads)*(sum/reads)
		wantVar := 2 * m2
		if tol := 4 * math.Sqrt(wantVar/reads); math.Abs(mean) > tol {
			t.Errorf("σ = %v: mean %.5f, want 0 ± %.5f", sigma, mean, tol)
		}
		// The variance of a sample variance is about (κ − 1)·σ⁴/N; 6σ⁴/N
		// bounds it for these light-tailed offsets.
		if tol := 4 * wantVar * math.Sqrt(6.0/reads); math.Abs(variance-wantVar) > tol {
			t.Errorf("σ = %v: variance %.5f, want %.5f ± %.5f", sigma, variance, wantVar, tol)
		}
		t.Logf("%d-bit ADC, σ = %v: noisy reads %.5f (theory %.5f), variance %.5f (theory %.5f)", tc.adcBits, sigma, gotNZ, wantNZ, variance, wantVar)
	}
}

// TestReadNoiseSameWholeOrReadByRead reads 128 driven rows (four reads of
// 32) with sparse read noise through the whole-plane path (7-bit ADC) and
// read by read (5-bit ADC, where a count of 32 could clip; no column here
// reaches it): both must make the same draws in the same order and agree
// output for output, read for read.
func TestReadNoiseSameWholeOrReadByRead(t *testing.T) {
	const rows, outputs = 128, 16
	rng := rand.New(rand.NewPCG(3, 3))
	w := randomBlock(rng, rows, outputs, 1)
	for o := 0; o < outputs; o++ {
		for r := 0; r < rows; r += 32 {
			w[o*rows+r], w[o*rows+r+1] = 1, -1 // no column counts 32 in a read
		}
	}
	d := Device{OnOffRatio: 10, Levels: 2, ReadNoiseSigma: 0.04}
	var arrays [2]*Array
	for i, bits := range []int{7, 5} {
		a, err := Program(params(rows, 128, 32, bits), d, nil, rows, outputs, 1, func(o, r int) int8 { return w[o*rows+r] })
		if err != nil {
			t.Fatal(err)
		}
		arrays[i] = a
	}
	if arrays[0].maxCode >= 0 || arrays[1].maxCode < 0 {
		t.Fatal("the 7-bit array should read whole and the 5-bit one read by read")
	}
	plane := bitvec.New(rows)
	for r := 0; r < rows; r++ {
		plane.Set(r)
	}
	var s [2]Scratch
	acc := [2][]int64{make([]int64, outputs), make([]int64, outputs)}
	noisy := false
	for i := 0; i < 2000; i++ {
		for k := range arrays {
			if i == 0 {
				s[k].Reseed(8, 9)
			}
			clear(acc[k])
			var c Counters
			arrays[k].Read([]bitvec.Vec{plane}, acc[k], &s[k], &c)
		}
		for o := range acc[0] {
			if acc[0][o] != acc[1][o] {
				t.Fatalf("read %d output %d: whole %d, read by read %d", i, o, acc[0][o], acc[1][o])
			}
			var want int64
			for r := 0; r < rows; r++ {
				want += int64(w[o*rows+r])
			}
			noisy = noisy || acc[0][o] != want
		}
	}
	if !noisy {
		t.Fatal("2000 noisy reads all came out exact; the test does not exercise the noise")
	}
}
