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
//
// The cells follow a Device: on/off ratio, lognormal device-to-device
// variation, read noise, stuck-at faults and first-order IR drop, drawn from
// explicit seeds. Each non-ideality replaces the popcount core only where it
// must (docs/device-model.md): faults are folded into the bit vectors, read
// noise adds one Gaussian per column per read, and only variation and IR
// drop sum per-cell conductances over the driven rows.
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
	// RemapFaultyColumns moves a column whose stuck cells disagree with its
	// weights to a spare column, one the programmed block leaves unused,
	// where fewer disagree (a mitigation; see deviceMap.remap).
	RemapFaultyColumns bool
	// CalibrateADC sets the ADC's levels from reference columns, i.e. from
	// the mean conductance of the on- and off-cells rather than their
	// nominal (median) values, which removes the gain error that lognormal
	// variation causes (a mitigation).
	CalibrateADC bool
}

// Counters count the array's operations; energy turns them into joules.
type Counters struct {
	Reads       int64 `json:"reads"`       // read operations (one per group of ≤ RowsPerRead driven rows per plane)
	RowsDriven  int64 `json:"rows_driven"` // row activations
	CellReads   int64 `json:"cell_reads"`  // cells sensed: driven rows × used columns
	Conversions int64 `json:"conversions"` // ADC conversions
	ShiftAdds   int64 `json:"shift_adds"`  // partial sums shifted and added into the accumulators
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
	// state): index ((o*slices)+b)*2 + 0 for w⁺ and +1 for w⁻. The
	// columns are views, in order, into bits, one contiguous block of
	// words per column, so that a read streams through memory.
	cols  []bitvec.Vec
	bits  []uint64
	words int // words per column
	// rowWeights holds, row-major (rows × outputs), the integer weight
	// each row adds to each output through the ideal popcount core, faults
	// folded in: Σ_b (w⁺_b − w⁻_b)·2^b, which fits an int8 for ≤ 8-bit
	// weights. A read of few driven rows adds these instead of counting
	// every column; nil unless every cell is at a nominal level.
	rowWeights []int8
	// lanes holds, for a laned array (Laned), row by row, the w⁺ cells of
	// the row in LaneWords words of 8-bit lanes: byte k of word j is 1 if
	// output 8j + k's w⁺ cell is on.
	lanes []uint64
	// complementary is set when every w⁻ column is exactly the complement
	// of its w⁺ column over the used rows (±1 weights, no stuck cell): a
	// pair then reads popcount(s AND w⁺) − (|s| − popcount(s AND w⁺)), one
	// popcount instead of two. plus holds the w⁺ columns again, word
	// index by word index: word wi of output o's w⁺ column is
	// plus[wi·outputs + o], so that a read of one or two non-zero words
	// streams through contiguous words.
	complementary bool
	plus          []uint64
	// fullScale is the ADC's largest output code, 2^ADCBits − 1.
	fullScale int
	// maxCode is fullScale when a popcount read can exceed it, or −1 when
	// none can (the fast path).
	maxCode int
	// readCycles is the latency of one read: drive and settle, then the
	// busiest ADC converts its columns one after another.
	readCycles int64
	// gOff is G_off in units of G_on and noise the relative read noise σ.
	gOff, noise float64
	// noiseTables[n][k] samples the code offset that read noise gives a
	// column of k on-cells among n driven rows (see codeNoiseTables); nil
	// unless reads are noisy and every cell is at a nominal level.
	noiseTables [][]noiseTable
	// eventProb is the largest probability that read noise changes a
	// conversion's code, and eventRate −ln(1 − eventProb), the rate of the
	// clock that finds those conversions (Scratch.nextEvent).
	eventProb, eventRate float64
	// The ADC subtracts adcOff per driven row and converts perCode codes
	// per unit of current: G_off and 1/(G_on − G_off) as calibrated on the
	// nominal levels, both scaled to the mean cell with CalibrateADC.
	adcOff, perCode float64
	// q holds the conductances of the used cells when variation or IR drop
	// make them differ from the two nominal levels (nil otherwise: a
	// column's current then follows from its popcount). They are
	// fixed-point numbers of qScale units per G_on, row-major, the columns
	// of a pair (w⁺, w⁻ of one slice) in the low and high 32 bits of one
	// word, so that one 64-bit add sums both; qScale leaves room for the
	// largest read without a carry crossing between them (see packCells).
	q      []uint64
	qScale float64
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
		// Past 62 bits no count could reach full scale; the cap keeps the
		// shift from overflowing.
		fullScale: 1<<min(p.ADCBits, 62) - 1, maxCode: -1, gOff: 1 / d.OnOffRatio, noise: d.ReadNoiseSigma}
	a.adcOff, a.perCode = a.gOff, 1/(1-a.gOff)
	if p.CalibrateADC {
		// Reference columns of many cells conduct the mean of the
		// lognormal, e^(σ²/2) times the median that the nominal levels
		// describe.
		mean := math.Exp(d.VariationSigma * d.VariationSigma / 2)
		a.adcOff, a.perCode = a.adcOff*mean, a.perCode/mean
	}
	limit := int8(1)
	if weightBits > 1 {
		limit = int8(1<<(weightBits-1) - 1)
	}
	a.words = bitvec.Words(rows)
	a.bits = make([]uint64, used*a.words)
	for i := range a.cols {
		a.cols[i] = a.bits[i*a.words : (i+1)*a.words : (i+1)*a.words]
	}
	outside := func(v int8, o, r int) error {
		return fmt.Errorf("crossbar: weight %d at output %d row %d is outside the %d-bit range", v, o, r, weightBits)
	}
	for o := 0; o < outputs; o++ {
		if weightBits == 1 {
			// A ±1 weight sets its row's bit in the w⁺ or the w⁻ column,
			// chosen by its sign bit rather than by a branch.
			pm := [2]bitvec.Vec{a.cols[2*o], a.cols[2*o+1]}
			for r := 0; r < rows; r++ {
				v := w(o, r)
				if v != 1 && v != -1 {
					return nil, outside(v, o, r)
				}
				pm[uint8(v)>>7][r>>6] |= 1 << (r & 63)
			}
			continue
		}
		for r := 0; r < rows; r++ {
			v := w(o, r)
			if v > limit || v < -limit {
				return nil, outside(v, o, r)
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
	if slices == 1 && complementary(a.cols, a.rows) {
		a.complementary = true
		a.plus = make([]uint64, a.words*outputs)
		for o := 0; o < outputs; o++ {
			for wi, x := range a.cols[2*o] {
				a.plus[wi*outputs+o] = x
			}
		}
	}
	if a.fullScale < min(p.RowsPerRead, rows) {
		a.maxCode = a.fullScale
	}
	if a.complementary && outputs <= LaneOutputs && a.Exact() {
		a.lanes = a.laneWeights()
	}
	if a.q == nil {
		a.rowWeights = a.effectiveWeights()
		if a.noise > 0 {
			a.noiseTables = codeNoiseTables(a, min(p.RowsPerRead, rows))
			a.eventProb, a.eventRate = eventRates(a.noiseTables)
		}
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
	if a.p.RemapFaultyColumns {
		m.remap(a.cols, a.rows, phys)
	}
	m.foldFaults(a.cols, a.rows, phys)
	if d.analog() {
		g := m.conductances(a.p, d, a.cols, a.rows, phys)
		a.q, a.qScale = packCells(g, a.rows, a.usedCols, min(a.p.RowsPerRead, a.rows))
	}
}

// laneWeights tabulates lanes from the w⁺ columns' set bits.
func (a *Array) laneWeights() []uint64 {
	lanes := make([]uint64, a.rows*LaneWords)
	for o := 0; o < a.outputs; o++ {
		for wi, x := range a.cols[2*o] {
			for ; x != 0; x &= x - 1 {
				lanes[(wi<<6|bits.TrailingZeros64(x))*LaneWords+o/8] |= 1 << (8 * (o % 8))
			}
		}
	}
	return lanes
}

// effectiveWeights tabulates rowWeights from the columns' bits, visiting
// the set bits only.
func (a *Array) effectiveWeights() []int8 {
	w := make([]int8, a.rows*a.outputs)
	for o := 0; o < a.outputs; o++ {
		for b := 0; b < a.slices; b++ {
			col := (o*a.slices + b) * 2
			for sign, c := range a.cols[col : col+2] {
				// Partial sums stay within ±(2^(b+1) − 1) ≤ 127.
				d := int8(1<<b) * int8(1-2*sign)
				for wi, x := range c {
					for ; x != 0; x &= x - 1 {
						w[(wi<<6|bits.TrailingZeros64(x))*a.outputs+o] += d
					}
				}
			}
		}
	}
	return w
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

// complementary reports whether each column pair's cells are exactly one of
// w⁺, w⁻ on every used row.
func complementary(cols []bitvec.Vec, rows int) bool {
	full := bitvec.New(rows)
	for r := 0; r < rows; r++ {
		full.Set(r)
	}
	for i := 0; i+1 < len(cols); i += 2 {
		pos, neg := cols[i], cols[i+1]
		for w := range pos {
			if pos[w]&neg[w] != 0 || pos[w]|neg[w] != full[w] {
				return false
			}
		}
	}
	return true
}
