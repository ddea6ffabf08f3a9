package crossbar

import (
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/nmsim/nmsim/internal/bitvec"
)

// Scratch is a worker's working memory for reads that go group by group of
// driven rows, and its source of read noise. The zero value is ready to use.
type Scratch struct {
	actives []int // driven rows per plane of the read in progress
	active  []int
	mask    bitvec.Vec
	codes   []int
	sums    []uint64  // packed column currents of a group (per-cell path)
	sd      []float64 // read noise σ in codes by on-cell count
	pcg     *rand.PCG
	rng     *rand.Rand
	// hazard is what is left, in units of −ln(1 − p), of the Exp(1) draw
	// that places the next read-noise event (see nextEvent); armed says
	// it has been drawn since the last Reseed.
	hazard float64
	armed  bool
}

// Reseed restarts the read-noise source. The chip reseeds it for every
// sample from that sample's seed, so that a sample's noise depends neither
// on which worker runs it nor on what that worker ran before. A Scratch
// that was never reseeded draws as if reseeded with (0, 0).
func (s *Scratch) Reseed(seed1, seed2 uint64) {
	if s.pcg == nil {
		s.pcg = rand.NewPCG(seed1, seed2)
		s.rng = rand.New(s.pcg)
	} else {
		s.pcg.Seed(seed1, seed2)
	}
	s.armed = false
}

func (s *Scratch) noise() *rand.Rand {
	if s.rng == nil {
		s.Reseed(0, 0)
	}
	return s.rng
}

// Read drives the set rows of each bit-plane (plane p has weight 2^p; each
// plane holds Words(Rows()) words), adds the recombined column sums into
// acc (len Outputs()), counts operations into c and returns the cycles the
// array was busy.
//
// With every cell at a nominal level, a plane whose counts cannot reach
// the ADC's limit is read whole, noiselessly, by popcounts or by rows
// (whichever is less work), and its read noise, if any, is added as the
// few codes it changes (addNoise); other planes go read by read.
func (a *Array) Read(planes []bitvec.Vec, acc []int64, s *Scratch, c *Counters) int64 {
	reads := a.tally(planes, s, c)
	if reads == 0 {
		return 0
	}
	whole := a.q == nil && a.eventProb <= maxEventProb
	popcounts := 0 // the work of reading the planes whole by popcounts
	for p, plane := range planes {
		if active := s.actives[p]; active > 0 {
			whole = whole && a.fits(active)
			popcounts += a.popcounts(plane)
		}
	}
	if whole {
		if a.noise > 0 {
			for p, plane := range planes {
				if active := s.actives[p]; active > 0 {
					a.addNoise(plane, p, active, acc, s)
				}
			}
		}
		// One plane drives at least one row per non-zero word, so it is
		// never less work by rows.
		if len(planes) > 1 && a.rowCost(planes) < popcounts {
			a.readRows(planes, acc)
			return reads * a.readCycles
		}
	}
	for p, plane := range planes {
		active := s.actives[p]
		switch {
		case active == 0:
		case whole:
			a.readWhole(plane, p, active, acc)
		case a.q == nil && a.eventProb <= maxEventProb && a.fits(active):
			a.readWhole(plane, p, active, acc)
			if a.noise > 0 {
				a.addNoise(plane, p, active, acc, s)
			}
		default:
			a.readGroups(plane, p, acc, s)
		}
	}
	return reads * a.readCycles
}

// tally sets s.actives to the driven rows of each plane, counts the
// reads' operations into c and returns the number of reads.
func (a *Array) tally(planes []bitvec.Vec, s *Scratch, c *Counters) int64 {
	var reads, rows int64
	s.actives = s.actives[:0]
	for _, plane := range planes {
		active := plane.Count()
		s.actives = append(s.actives, active)
		reads += a.Reads(active)
		rows += int64(active)
	}
	a.charge(reads, rows, c)
	return reads
}

// Reads is the number of reads of a plane that drives active rows:
// RowsPerRead at a time.
func (a *Array) Reads(active int) int64 {
	if rpr := a.p.RowsPerRead; active > rpr {
		return int64((active + rpr - 1) / rpr)
	}
	if active > 0 {
		return 1 // no division for the common read
	}
	return 0
}

// Charge counts into c the operations of reads of the array that drive
// rows rows in all, each read converting every used column, as Read
// counts them, and returns the cycles the array is busy: for a caller
// that sums an Exact array's rows itself and counts its reads with
// Reads.
func (a *Array) Charge(reads, rows int64, c *Counters) int64 {
	a.charge(reads, rows, c)
	return reads * a.readCycles
}

func (a *Array) charge(reads, rows int64, c *Counters) {
	used := int64(a.usedCols)
	c.Reads += reads
	c.RowsDriven += rows
	c.CellReads += rows * used
	c.Conversions += reads * used
	c.ShiftAdds += reads * used
}

// fits reports whether no column count of a plane with active driven rows
// can reach the ADC's limit, so that the plane may be read whole.
func (a *Array) fits(active int) bool {
	return a.maxCode < 0 || active <= a.maxCode
}

// Exact reports whether a read gives each output exactly Σ_r x_r·W_ro
// over its driven rows r, x_r the row's input value (Σ_p 2^p over the
// planes that drive it) and W_r the row's effective weights (RowWeights),
// plus its read noise if reads are noisy: every cell at a nominal level,
// no read whose count could reach the ADC's full scale, and read noise,
// if any, drawn by events (AddNoise). A caller may then sum the driven
// rows of many reads at once, count each read with Reads and Charge, and
// add each read's noise with AddNoise in the order Read would have read
// them, and gets Read's integers, counters, cycles and noise.
func (a *Array) Exact() bool { return a.q == nil && a.maxCode < 0 && a.eventProb <= maxEventProb }

// AddNoise adds to acc the read noise that Read adds to a read of planes
// of an Exact array, drawing from s exactly as Read does.
func (a *Array) AddNoise(planes []bitvec.Vec, acc []int64, s *Scratch) {
	if a.noise == 0 {
		return
	}
	for p, plane := range planes {
		if active := plane.Count(); active > 0 {
			a.addNoise(plane, p, active, acc, s)
		}
	}
}

// RowWeights returns the effective weights of row r, one per output:
// Σ_b (w⁺_b − w⁻_b)·2^b over its slices, faults folded in (Exact arrays).
func (a *Array) RowWeights(r int) []int8 {
	return a.rowWeights[r*a.outputs : (r+1)*a.outputs]
}

// Laned reports whether the array is an Exact ±1 array (complementary
// pairs) of at most LaneOutputs outputs, whose row weights are 2·w⁺ − 1:
// its read of input values x_r gives output o 2·Σ_r x_r·w⁺_ro − Σ_r x_r,
// which a caller may sum as lanes (LaneRow, FlushLanes), eight outputs to
// a word: adding x times a row's lanes adds x to the lanes of the outputs
// whose w⁺ cell is on, and no lane may pass MaxLane.
func (a *Array) Laned() bool { return a.lanes != nil }

// LaneOutputs is the most outputs a laned array has: one 8-bit lane each
// in LaneWords words. MaxLane is the most a lane holds.
const (
	LaneOutputs = 64
	LaneWords   = LaneOutputs / 8
	MaxLane     = 0xff
)

// LaneRow returns row r's w⁺ cells as lanes: byte k of word j is 1 if
// output 8j + k's w⁺ cell is on. Laned arrays only.
func (a *Array) LaneRow(r int) *[LaneWords]uint64 {
	return (*[LaneWords]uint64)(a.lanes[r*LaneWords:])
}

// FlushLanes adds to acc[o] the sum 2·lane_o − n of the ±1 pairs whose
// lanes sum holds, for the len(acc) ≤ LaneOutputs outputs, where n is the
// total x added to sum (the input of its driven rows), and clears sum.
// With set, it sets acc[o] to the sum instead (the first flush into a
// cleared acc, without reading it).
func FlushLanes(acc []int64, sum *[LaneWords]uint64, n int64, set bool) {
	for j := 0; j < LaneWords && 8*j < len(acc); j++ {
		v, out := sum[j], acc[8*j:min(8*j+8, len(acc))]
		if len(out) == 8 && set {
			// Output by output: a composite literal would be built on
			// the stack and copied 16 bytes at a time, each load
			// stalled on two 8-byte stores.
			o := (*[8]int64)(out)
			o[0], o[1] = 2*int64(v&MaxLane)-n, 2*int64(v>>8&MaxLane)-n
			o[2], o[3] = 2*int64(v>>16&MaxLane)-n, 2*int64(v>>24&MaxLane)-n
			o[4], o[5] = 2*int64(v>>32&MaxLane)-n, 2*int64(v>>40&MaxLane)-n
			o[6], o[7] = 2*int64(v>>48&MaxLane)-n, 2*int64(v>>56)-n
			continue
		}
		for k := range out {
			x := 2*int64(v>>(8*k)&MaxLane) - n
			if !set {
				x += out[k]
			}
			out[k] = x
		}
	}
	*sum = [LaneWords]uint64{}
}

// maxEventProb is the largest probability of a code-changing read-noise
// event per conversion at which events are sampled (addNoise): an event
// costs several draws and a column count, a conversion drawn outright one
// draw, so past about one event in eight conversions (σ of about a third
// of a code) every conversion draws its own offset (convertCounts).
const maxEventProb = 0.125

// popcounts is the number of word popcounts readWhole spends on a plane:
// one per non-zero word of the plane per column it counts.
func (a *Array) popcounts(plane bitvec.Vec) int {
	nz := 0
	for _, w := range plane {
		if w != 0 {
			nz++
		}
	}
	if a.complementary {
		return nz * a.outputs
	}
	return nz * a.usedCols
}

// rowCost is the work of readRows, in the units of popcounts: one
// multiply-add per distinct driven row per output, each about as dear as
// a popcount with its load and add.
func (a *Array) rowCost(planes []bitvec.Vec) int {
	rows := 0
	for wi := range planes[0] {
		var u uint64
		for _, plane := range planes {
			u |= plane[wi]
		}
		rows += bits.OnesCount64(u)
	}
	return rows * a.outputs
}

// readRows is the ideal read by rows: with every cell at a nominal level,
// noiseless reads and no ADC clipping, the planes' column sums recombine
// to Σ_r x_r·W_r for the input value x_r = Σ_p bit_p(r)·2^p of each driven
// row and its effective weights W_r (rowWeights). It gives exactly what
// readWhole gives, at a cost that follows the driven rows rather than the
// columns; Read picks the cheaper.
func (a *Array) readRows(planes []bitvec.Vec, acc []int64) {
	acc = acc[:a.outputs]
	for wi := range planes[0] {
		var u uint64
		for _, plane := range planes {
			u |= plane[wi]
		}
		for u != 0 {
			bit := uint(bits.TrailingZeros64(u))
			u &= u - 1
			var x int64
			for p, plane := range planes {
				x |= int64(plane[wi]>>bit&1) << p
			}
			r := wi<<6 + int(bit)
			row := a.rowWeights[r*a.outputs : (r+1)*a.outputs]
			for o, w := range row {
				acc[o] += x * int64(w)
			}
		}
	}
}

// readWhole is the fast path: every cell is exactly G_on or G_off, reads
// are noiseless and no column's count can reach the ADC's limit, so the
// reads of a plane add up to one popcount per column. Only the plane's
// non-zero words are counted; up to two (a 128-row array) have their own
// loops over the contiguous columns.
func (a *Array) readWhole(plane bitvec.Vec, p, active int, acc []int64) {
	var wi [2]int
	nz := 0
	for i, w := range plane {
		if w != 0 {
			if nz < 2 {
				wi[nz] = i
			}
			nz++
		}
	}
	switch {
	case nz == 1 && a.complementary:
		countPairs1(acc[:a.outputs], a.plusWord(wi[0]), plane[wi[0]], int64(active), uint(p))
	case nz == 2 && a.complementary:
		countPairs2(acc[:a.outputs], a.plusWord(wi[0]), a.plusWord(wi[1]), plane[wi[0]], plane[wi[1]], int64(active), uint(p))
	case a.complementary:
		for o := 0; o < a.outputs; o++ {
			acc[o] += int64(2*bitvec.AndCount(plane, a.cols[2*o])-active) << p
		}
	case nz == 1:
		x, cols, nw := plane[wi[0]], a.bits[wi[0]:], a.words
		for o := 0; o < a.outputs; o++ {
			var sum int64
			for b := 0; b < a.slices; b++ {
				col := (o*a.slices + b) * 2 * nw
				sum += int64(bits.OnesCount64(x&cols[col])-bits.OnesCount64(x&cols[col+nw])) << b
			}
			acc[o] += sum << p
		}
	default:
		for o := 0; o < a.outputs; o++ {
			var sum int64
			for b := 0; b < a.slices; b++ {
				col := (o*a.slices + b) * 2
				d := bitvec.AndCount(plane, a.cols[col]) - bitvec.AndCount(plane, a.cols[col+1])
				sum += int64(d) << b
			}
			acc[o] += sum << p
		}
	}
}

// plusWord returns word wi of every output's w⁺ column (complementary
// arrays).
func (a *Array) plusWord(wi int) []uint64 {
	return a.plus[wi*a.outputs : (wi+1)*a.outputs]
}

// countPairs1 adds to acc[o] (2·popcount(x AND w⁺_o) − active)·2^p, the
// sum of a complementary pair read with the one non-zero plane word x,
// whose word of w⁺_o is cols[o]. It is a function of its own, with few
// live values, so that the compiler keeps them in registers: each
// bits.OnesCount64 keeps a call in reserve (for CPUs without POPCNT,
// unless GOAMD64=v2), and values live across it are spilled.
func countPairs1(acc []int64, cols []uint64, x uint64, active int64, p uint) {
	cols = cols[:len(acc)]
	p &= 63
	bias := active << p
	for o, w := range cols {
		acc[o] += int64(bits.OnesCount64(x&w))<<(p+1) - bias
	}
}

// countPairs2 is countPairs1 for two non-zero plane words x and y, whose
// words of w⁺_o are cx[o] and cy[o].
func countPairs2(acc []int64, cx, cy []uint64, x, y uint64, active int64, p uint) {
	cx, cy = cx[:len(acc)], cy[:len(acc)]
	p &= 63
	bias := active << p
	for o, w := range cx {
		n := bits.OnesCount64(x&w) + bits.OnesCount64(y&cy[o])
		acc[o] += int64(n)<<(p+1) - bias
	}
}

// readGroups drives the set rows RowsPerRead at a time, in row order,
// converts every used column of each read with the ADC and accumulates the
// codes.
func (a *Array) readGroups(plane bitvec.Vec, p int, acc []int64, s *Scratch) {
	s.active = s.active[:0]
	for wi, word := range plane {
		for word != 0 {
			s.active = append(s.active, wi<<6+bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
	if len(s.codes) < a.usedCols {
		s.codes = make([]int, a.usedCols)
	}
	codes := s.codes[:a.usedCols]
	for lo := 0; lo < len(s.active); lo += a.p.RowsPerRead {
		group := s.active[lo:min(lo+a.p.RowsPerRead, len(s.active))]
		if a.q != nil {
			a.convertCells(group, codes, s)
		} else {
			a.convertCounts(group, codes, s)
		}
		for o := 0; o < a.outputs; o++ {
			var sum int64
			for b := 0; b < a.slices; b++ {
				col := (o*a.slices + b) * 2
				sum += int64(codes[col]-codes[col+1]) << b
			}
			acc[o] += sum << p
		}
	}
}

// noiseSD returns, for a read of n driven rows, the σ in ADC codes of the
// read noise of a column with k on-cells, for every k: σ·√(k + (n−k)·G_off)
// (see convertCells), tabulated once per read since it depends on a column
// only through its count.
func (a *Array) noiseSD(n int, s *Scratch) []float64 {
	if len(s.sd) <= n {
		s.sd = make([]float64, n+1)
	}
	sd := s.sd[:n+1]
	for k := range sd {
		sd[k] = a.noise * math.Sqrt(float64(k)+float64(n-k)*a.gOff) * a.perCode
	}
	return sd
}

// convertCounts converts a group's columns when every cell is exactly G_on
// or G_off: k driven on-cells give code k, saturated at the ADC's full
// scale, with no float work unless reads are noisy.
func (a *Array) convertCounts(group []int, codes []int, s *Scratch) {
	s.mask = s.setMask(bitvec.Words(a.rows))
	for _, r := range group {
		s.mask.Set(r)
	}
	if a.noise == 0 || a.eventProb <= maxEventProb {
		for j, col := range a.cols {
			codes[j] = min(bitvec.AndCount(s.mask, col), a.fullScale)
		}
		if a.noise > 0 {
			a.addCodeNoise(group, codes, s)
		}
		return
	}
	tables, rng := a.noiseTables[len(group)], s.noise()
	for j, col := range a.cols {
		k := bitvec.AndCount(s.mask, col)
		codes[j] = min(max(k+tables[k].offset(rng.Uint64()), 0), a.fullScale)
	}
}

// addCodeNoise adds the read noise of a group's conversion to its codes,
// by events (see addNoise).
func (a *Array) addCodeNoise(group []int, codes []int, s *Scratch) {
	for j := s.nextEvent(0, len(codes), a.eventRate); j >= 0; j = s.nextEvent(j+1, len(codes), a.eventRate) {
		k := bitvec.AndCount(s.mask, a.cols[j])
		if m, ok := a.drawOffset(len(group), k, s); ok {
			codes[j] = min(max(k+m, 0), a.fullScale)
		}
	}
}

// addNoise adds to acc the read noise of plane p read whole (addNoise's
// callers know no count reaches the ADC's limit): its reads, groups of
// RowsPerRead driven rows in row order, convert every used column, and a
// conversion of k on-cells among n driven rows reads k + m, m drawn from
// noiseTables[n][k]. Only conversions where m ≠ 0 change acc, and when
// σ is small they are rare: nextEvent finds them without a draw per
// conversion, and only they pay for their column's count.
func (a *Array) addNoise(plane bitvec.Vec, p, active int, acc []int64, s *Scratch) {
	cols := a.usedCols
	total := (active + a.p.RowsPerRead - 1) / a.p.RowsPerRead * cols
	g, n := -1, 0 // the read whose rows s.mask holds, and their number
	for i := s.nextEvent(0, total, a.eventRate); i >= 0; i = s.nextEvent(i+1, total, a.eventRate) {
		j := i % cols
		if i/cols != g {
			g = i / cols
			n = a.groupMask(plane, g, s)
		}
		k := bitvec.AndCount(s.mask, a.cols[j])
		m, ok := a.drawOffset(n, k, s)
		if !ok {
			continue
		}
		d := int64(min(max(k+m, 0), a.fullScale) - k)
		if j%2 == 1 { // a w⁻ column
			d = -d
		}
		o, b := j/2/a.slices, j/2%a.slices
		acc[o] += d << (b + p)
	}
}

// setMask returns s.mask resized to words words, cleared; it allocates
// only when it grows past its capacity.
func (s *Scratch) setMask(words int) bitvec.Vec {
	if cap(s.mask) < words {
		s.mask = make(bitvec.Vec, words)
	}
	m := s.mask[:words]
	m.Clear()
	return m
}

// groupMask sets s.mask to the driven rows of read g of plane (the g-th
// group of RowsPerRead set bits in row order) and returns their number.
func (a *Array) groupMask(plane bitvec.Vec, g int, s *Scratch) int {
	s.mask = s.setMask(len(plane))
	skip, n := g*a.p.RowsPerRead, 0
	for wi, word := range plane {
		for ; word != 0 && n < a.p.RowsPerRead; word &= word - 1 {
			if skip > 0 {
				skip--
				continue
			}
			s.mask[wi] |= word & -word
			n++
		}
	}
	return n
}

// nextEvent advances the read-noise clock of s over conversions from, …,
// n − 1 of an array whose conversions each see an event with probability
// q = 1 − e^(−rate), independently: it returns the index of the first
// event among them, or −1 if none falls there. The
// clock is one Exp(1) draw consumed at rate per conversion, so the gap
// between events is geometric, exactly, whatever the arrays in between;
// one draw per event instead of one per conversion.
func (s *Scratch) nextEvent(from, n int, rate float64) int {
	rng := s.noise()
	if !s.armed {
		s.hazard, s.armed = rng.ExpFloat64(), true
	}
	if from >= n {
		return -1
	}
	if left := float64(n-from) * rate; s.hazard >= left {
		s.hazard -= left
		return -1
	}
	i := from + int(s.hazard/rate)
	s.hazard = rng.ExpFloat64()
	return min(i, n-1)
}

// drawOffset is the noise of one conversion at an event: with probability
// P(m ≠ 0)/q, where q = 1 − e^(−eventRate) ≥ P(m ≠ 0) for every n and k,
// an offset m ≠ 0 drawn from noiseTables[n][k] given m ≠ 0 (ok); else
// none. Thinning the events this way gives every conversion its offset's
// exact distribution.
func (a *Array) drawOffset(n, k int, s *Scratch) (m int, ok bool) {
	t := a.noiseTables[n][k]
	rng := s.noise()
	zero := -t.lowest // below[zero] = P(m ≤ 0), below[zero-1] = P(m ≤ −1)
	lo, hi := t.below[zero-1], t.below[zero]
	pZero := float64(hi-lo) * 0x1p-64
	if rng.Float64()*a.eventProb >= 1-pZero {
		return 0, false
	}
	u := rng.Uint64N(-(hi - lo)) // uniform over the draws outside m = 0
	if u >= lo {
		u += hi - lo
	}
	return t.offset(u), true
}

// noiseTable is the distribution of the code offset m = round(σ·Z) that
// Gaussian read noise of σ codes adds to a column's exact count: an ADC
// that rounds k + σ·Z reads k + m with P(m) = Φ((m+½)/σ) − Φ((m−½)/σ).
// Sampling it with one uniform 64-bit draw, instead of drawing Z and
// rounding, gives the same distribution (to float64 precision) at a
// fraction of the cost; most reads then need one comparison.
type noiseTable struct {
	lowest int      // the offset of the first threshold
	below  []uint64 // below[i]: 2^64·P(m ≤ lowest+i), the last one saturated
}

// offset maps a uniform 64-bit draw to a code offset.
func (t noiseTable) offset(u uint64) int {
	for i, b := range t.below {
		if u < b {
			return t.lowest + i
		}
	}
	return t.lowest + len(t.below)
}

// codeNoiseTables tabulates noiseTable for every read of n ≤ maxRows driven
// rows and k ≤ n on-cells, with σ in codes as noiseSD gives it. Offsets
// beyond 9σ (probability < 1e-18) are left out.
func codeNoiseTables(a *Array, maxRows int) [][]noiseTable {
	var s Scratch
	tables := make([][]noiseTable, maxRows+1)
	for n := 1; n <= maxRows; n++ {
		sd := a.noiseSD(n, &s)
		tables[n] = make([]noiseTable, n+1)
		for k, sigma := range sd {
			reach := int(math.Ceil(9*sigma + 0.5))
			t := noiseTable{lowest: -reach}
			for m := -reach; m < reach; m++ {
				p := 0.5 * math.Erfc(-(float64(m)+0.5)/(sigma*math.Sqrt2))
				t.below = append(t.below, uint64(math.Min(p*0x1p64, 0x1p64-2048)))
			}
			tables[n][k] = t
		}
	}
	return tables
}

// eventRates returns q, the largest P(m ≠ 0) of any conversion the tables
// describe, and the clock rate −ln(1 − q) that gives each conversion an
// event with probability q.
func eventRates(tables [][]noiseTable) (q, rate float64) {
	for _, row := range tables {
		for _, t := range row {
			zero := -t.lowest
			q = max(q, 1-float64(t.below[zero]-t.below[zero-1])*0x1p-64)
		}
	}
	return q, -math.Log1p(-q)
}

// convertCells converts a group's columns from the cells' own
// conductances; the work is proportional to the driven rows times the used
// columns. Each driven cell's current has read noise of variance σ²·g (in
// units of G_on), thermal- and shot-noise-like, so a column's noise is one
// Gaussian of variance σ²·I for its noiseless current I: relative σ for a
// column of on-cells, drawn once per column per read.
func (a *Array) convertCells(group []int, codes []int, s *Scratch) {
	sums := a.sums(group, s)
	perUnit := a.perCode / a.qScale
	offset := float64(len(group)) * a.adcOff * a.perCode
	var rng *rand.Rand
	if a.noise > 0 {
		rng = s.noise()
	}
	for i, v := range sums {
		for h, u := range [2]uint64{v & math.MaxUint32, v >> 32} {
			x := float64(u)*perUnit - offset
			if rng != nil {
				x += a.noise * math.Sqrt(float64(u)/a.qScale) * a.perCode * rng.NormFloat64()
			}
			codes[2*i+h] = a.quantize(x)
		}
	}
}

// sums returns the packed column currents of the rows of group: word i
// holds columns 2i and 2i+1 in its low and high 32 bits, in units of
// 1/qScale of G_on·V_read. Integer sums are exact, so the result does not
// depend on the order of the rows. Four rows are added per pass, which cuts
// the loads and stores of the running sums fourfold; no lane can carry into
// the next, since packCells bounds every read's sum.
func (a *Array) sums(group []int, s *Scratch) []uint64 {
	n := a.usedCols / 2
	if len(s.sums) < n {
		s.sums = make([]uint64, n)
	}
	dst := s.sums[:n]
	clear(dst)
	i := 0
	for ; i+4 <= len(group); i += 4 {
		r0 := a.q[group[i]*n:][:n]
		r1 := a.q[group[i+1]*n:][:n]
		r2 := a.q[group[i+2]*n:][:n]
		r3 := a.q[group[i+3]*n:][:n]
		for c := range dst {
			dst[c] += r0[c] + r1[c] + r2[c] + r3[c]
		}
	}
	for ; i < len(group); i++ {
		r0 := a.q[group[i]*n:][:n]
		for c := range dst {
			dst[c] += r0[c]
		}
	}
	return dst
}

// convert is the ADC of one column read with n driven rows. It is
// calibrated so that k on-cells and n − k off-cells give code k: it
// subtracts n·G_off, divides by G_on − G_off and quantizes (with
// CalibrateADC, G_on and G_off are the mean conductances).
func (a *Array) convert(i float64, n int) int {
	return a.quantize((i - float64(n)*a.adcOff) * a.perCode)
}

// quantize rounds x, in codes, to the nearest code and clamps it to
// [0, 2^ADCBits − 1].
func (a *Array) quantize(x float64) int {
	// Floor(x + 0.5) rather than Round: it compiles to one instruction,
	// and the two differ only at exact ties below zero, which clamp to 0.
	x = math.Floor(x + 0.5)
	if x <= 0 {
		return 0
	}
	if x >= float64(a.fullScale) {
		return a.fullScale
	}
	return int(x)
}
