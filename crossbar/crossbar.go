// Package crossbar models one crossbar array that computes with binary or
// bit-sliced multi-bit weights. Its functional core is XNOR–popcount on
// 64-bit words: a weight w is a complementary pair of columns (w⁺ holds the
// rows where w > 0, w⁻ those where w < 0), a driven row is a set bit of the
// input plane, and a column's current is popcount(plane AND column). With
// ideal devices and enough ADC bits the pair yields Σ s_i·w_i exactly
// (= 2·popcount(s AND w⁺) − popcount(s) for ±1 weights).
//
// Multi-bit weights in [−(2^(k−1)−1), 2^(k−1)−1] use k−1 magnitude
// bit-slices, each a column pair, recombined by shift-and-add; multi-bit
// inputs are fed bit-serially, one bit-plane per read. Only rows with a set
// bit are driven (event-driven), at most RowsPerRead at a time; each read
// converts every used column once with an ADC of ADCBits bits that
// saturates at 2^ADCBits − 1.
package crossbar

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/nmsim/nmsim/internal/bitvec"
)

// Params are the circuit parameters of an array (from arch.Crossbar).
type Params struct {
	Rows, Cols        int
	RowsPerRead       int
	ADCBits           int
	ColsPerADC        int
	ReadLatencyCycles int
	ADCLatencyCycles  int
}

// Counters count the array's operations; energy turns them into joules.
type Counters struct {
	Reads       int64 // read operations (one per group of ≤ RowsPerRead driven rows per plane)
	RowsDriven  int64 // row activations
	CellReads   int64 // cells sensed: driven rows × used columns
	Conversions int64 // ADC conversions
	ShiftAdds   int64 // partial sums shifted and added into the accumulators
}

// Add accumulates o into c.
func (c *Counters) Add(o Counters) {
	c.Reads += o.Reads
	c.RowsDriven += o.RowsDriven
	c.CellReads += o.CellReads
	c.Conversions += o.Conversions
	c.ShiftAdds += o.ShiftAdds
}

// Array is a programmed crossbar. It is read-only after Program, so one
// Array may serve many workers, each with its own Scratch and Counters.
type Array struct {
	p        Params
	rows     int // rows used
	outputs  int // logical outputs (weight columns)
	slices   int // magnitude bit-slices per output
	usedCols int
	// cols holds one bit vector over the used rows per used column, the
	// state of its cells after faults (a stuck cell reads as its stuck
	// state): index ((o*slices)+b)*2 + 0 for w⁺ and +1 for w⁻.
	cols []bitvec.Vec
	// fullScale is the ADC's largest output code, 2^ADCBits − 1.
	fullScale int
	// maxCode is fullScale when a popcount read can exceed it, or −1 when
	// none can (the fast path).
	maxCode int
	// readCycles is the latency of one read: drive and settle, then the
	// busiest ADC converts its columns one after another.
	readCycles int64
	// gOff is G_off in units of G_on; noise is the relative read noise σ.
	gOff, noise float64
	// g holds the conductance of every used cell, row-major (row r, column
	// j at r*usedCols + j), when variation or IR drop make cells differ
	// from the two nominal levels; it is nil otherwise, and a column's
	// current follows from its popcount. g2 holds g² for the read noise.
	g, g2 []float32
}

// Weights gives the weight from row r to output o of the block to program.
type Weights func(o, r int) int8

// Program writes a rows × outputs block of k-bit weights into a new array
// of devices d. When d has faults or variation, Program first draws the
// whole physical array's cells from rng (called once per array per chip
// instance, so a Monte-Carlo run is a sequence of seeds); rng may be nil
// otherwise.
func Program(p Params, d Device, rng *rand.Rand, rows, outputs, weightBits int, w Weights) (*Array, error) {
	slices := 1
	if weightBits > 1 {
		slices = weightBits - 1
	}
	used := outputs * slices * 2
	if rows < 1 || rows > p.Rows {
		return nil, fmt.Errorf("crossbar: %d rows do not fit a %d-row array", rows, p.Rows)
	}
	if outputs < 1 || used > p.Cols {
		return nil, fmt.Errorf("crossbar: %d outputs × %d slices × 2 columns = %d columns do not fit a %d-column array", outputs, slices, used, p.Cols)
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("crossbar: device: %w", err)
	}
	draws := d.faulty() || d.VariationSigma > 0
	if draws && rng == nil {
		return nil, errors.New("crossbar: a device with faults or variation needs a random source to draw its cells")
	}
	a := &Array{p: p, rows: rows, outputs: outputs, slices: slices, usedCols: used, cols: make([]bitvec.Vec, used),
		fullScale: 1<<p.ADCBits - 1, maxCode: -1, gOff: 1 / d.OnOffRatio, noise: d.ReadNoiseSigma}
	limit := int8(1)
	if weightBits > 1 {
		limit = int8(1<<(weightBits-1) - 1)
	}
	for i := range a.cols {
		a.cols[i] = bitvec.New(rows)
	}
	for o := 0; o < outputs; o++ {
		for r := 0; r < rows; r++ {
			v := w(o, r)
			if v > limit || v < -limit || (weightBits == 1 && v == 0) {
				return nil, fmt.Errorf("crossbar: weight %d at output %d row %d is outside the %d-bit range", v, o, r, weightBits)
			}
			sign := 0
			if v < 0 {
				sign, v = 1, -v
			}
			for b := 0; b < slices; b++ {
				if v>>b&1 != 0 {
					a.cols[(o*slices+b)*2+sign].Set(r)
				}
			}
		}
	}
	if draws || d.IRDrop > 0 {
		a.applyDevice(d, rng, draws)
	}
	if a.fullScale < min(p.RowsPerRead, rows) {
		a.maxCode = a.fullScale
	}
	a.readCycles = int64(p.ReadLatencyCycles) + int64(min(p.ColsPerADC, used))*int64(p.ADCLatencyCycles)
	return a, nil
}

// applyDevice turns the programmed bits into what the cells hold: faults
// are folded into the bits, which keeps the popcount path; variation and IR
// drop need each cell's conductance.
func (a *Array) applyDevice(d Device, rng *rand.Rand, draws bool) {
	m := deviceMap{cols: a.p.Cols}
	if draws {
		m = drawDeviceMap(a.p, d, rng)
	}
	phys := make([]int, a.usedCols)
	for j := range phys {
		phys[j] = j
	}
	m.foldFaults(a.cols, a.rows, phys)
	if !d.analog() {
		return
	}
	a.g = m.conductances(a.p, d, a.cols, a.rows, phys)
	if a.noise > 0 {
		a.g2 = make([]float32, len(a.g))
		for i, v := range a.g {
			a.g2[i] = v * v
		}
	}
}

// Rows is the number of rows in use.
func (a *Array) Rows() int { return a.rows }

// Outputs is the number of logical outputs.
func (a *Array) Outputs() int { return a.outputs }

// UsedCols is the number of physical columns in use.
func (a *Array) UsedCols() int { return a.usedCols }

// Noisy reports whether reads draw read noise, so that the same input may
// give a different result on every read and a caller must not reuse one
// read's result for another.
func (a *Array) Noisy() bool { return a.noise > 0 }

// Scratch is a worker's working memory for reads that go group by group of
// driven rows, and its source of read noise. The zero value is ready to use.
type Scratch struct {
	active []int
	mask   bitvec.Vec
	codes  []int
	cur    []float32 // column currents of a group (analog path)
	sq     []float32 // Σ g² per column of a group (analog path with noise)
	pcg    *rand.PCG
	rng    *rand.Rand
}

// Reseed restarts the read-noise source. The chip reseeds it for every
// sample from that sample's seed, so that a sample's noise depends neither
// on which worker runs it nor on what that worker ran before. A Scratch
// that was never reseeded draws as if reseeded with (0, 0).
func (s *Scratch) Reseed(seed1, seed2 uint64) {
	if s.pcg == nil {
		s.pcg = rand.NewPCG(seed1, seed2)
		s.rng = rand.New(s.pcg)
		return
	}
	s.pcg.Seed(seed1, seed2)
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
func (a *Array) Read(planes []bitvec.Vec, acc []int64, s *Scratch, c *Counters) int64 {
	var cycles int64
	for p, plane := range planes {
		active := plane.Count()
		if active == 0 {
			continue
		}
		reads := (active + a.p.RowsPerRead - 1) / a.p.RowsPerRead
		c.Reads += int64(reads)
		c.RowsDriven += int64(active)
		c.CellReads += int64(active) * int64(a.usedCols)
		c.Conversions += int64(reads) * int64(a.usedCols)
		c.ShiftAdds += int64(reads) * int64(a.usedCols)
		cycles += int64(reads) * a.readCycles
		if a.g == nil && a.noise == 0 && (a.maxCode < 0 || active <= a.maxCode) {
			a.readWhole(plane, p, acc)
		} else {
			a.readGroups(plane, p, acc, s)
		}
	}
	return cycles
}

// readWhole is the fast path: every cell is exactly G_on or G_off, reads
// are noiseless and no column's count can reach the ADC's limit, so the
// reads of a plane add up to one popcount per column.
func (a *Array) readWhole(plane bitvec.Vec, p int, acc []int64) {
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
		if a.g != nil {
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

// convertCounts converts a group's columns when every cell is exactly G_on
// or G_off: k driven on-cells give code k, saturated at the ADC's full
// scale, with no float work unless reads are noisy. Independent relative
// noise σ on every cell adds a Gaussian of variance σ²·Σg² to the column
// current, Σg² = k + (n−k)·G_off², drawn once per column.
func (a *Array) convertCounts(group []int, codes []int, s *Scratch) {
	words := bitvec.Words(a.rows)
	if len(s.mask) < words {
		s.mask = bitvec.New(a.rows)
	}
	mask := s.mask[:words]
	mask.Clear()
	for _, r := range group {
		mask.Set(r)
	}
	n := len(group)
	for j, col := range a.cols {
		k := bitvec.AndCount(mask, col)
		if a.noise == 0 {
			codes[j] = min(k, a.fullScale)
			continue
		}
		on, off := float64(k), float64(n-k)
		i := on + off*a.gOff + a.noise*math.Sqrt(on+off*a.gOff*a.gOff)*s.noise().NormFloat64()
		codes[j] = a.convert(i, n)
	}
}

// convertCells converts a group's columns from the cells' own
// conductances: the work is proportional to the driven rows times the used
// columns.
func (a *Array) convertCells(group []int, codes []int, s *Scratch) {
	cur, sq := a.currents(group, s)
	for j := range codes {
		i := float64(cur[j])
		if sq != nil {
			i += a.noise * math.Sqrt(float64(sq[j])) * s.noise().NormFloat64()
		}
		codes[j] = a.convert(i, len(group))
	}
}

// currents returns the noiseless current of every used column when the
// rows of group are driven, in units of G_on·V_read, and, for noisy reads,
// Σg² per column (nil otherwise).
func (a *Array) currents(group []int, s *Scratch) (cur, sq []float32) {
	if len(s.cur) < a.usedCols {
		s.cur = make([]float32, a.usedCols)
		s.sq = make([]float32, a.usedCols)
	}
	cur = s.cur[:a.usedCols]
	sumRows(cur, a.g, group)
	if a.g2 == nil {
		return cur, nil
	}
	sq = s.sq[:a.usedCols]
	sumRows(sq, a.g2, group)
	return cur, sq
}

// sumRows sets dst to the sum of the rows of the row-major matrix m (rows
// of len(dst)) listed in rows. It adds four rows per pass over dst, which
// cuts the loads and stores of the running sums fourfold; the grouping
// depends only on rows, so the float32 result is reproducible.
func sumRows(dst, m []float32, rows []int) {
	n := len(dst)
	clear(dst)
	i := 0
	for ; i+4 <= len(rows); i += 4 {
		r0 := m[rows[i]*n:][:n]
		r1 := m[rows[i+1]*n:][:n]
		r2 := m[rows[i+2]*n:][:n]
		r3 := m[rows[i+3]*n:][:n]
		for c := range dst {
			dst[c] += (r0[c] + r1[c]) + (r2[c] + r3[c])
		}
	}
	for ; i < len(rows); i++ {
		r0 := m[rows[i]*n:][:n]
		for c := range dst {
			dst[c] += r0[c]
		}
	}
}

// convert is the ADC of one column read with n driven rows. It is
// calibrated on the nominal levels, so that k on-cells and n − k off-cells
// give code k: it subtracts n·G_off, divides by G_on − G_off, rounds to the
// nearest code and clamps to [0, 2^ADCBits − 1].
func (a *Array) convert(i float64, n int) int {
	x := math.Round((i - float64(n)*a.gOff) / (1 - a.gOff))
	if x <= 0 {
		return 0
	}
	if x >= float64(a.fullScale) {
		return a.fullScale
	}
	return int(x)
}
