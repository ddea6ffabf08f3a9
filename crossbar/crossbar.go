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
	"fmt"

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
	// cols holds one bit vector over the used rows per physical column:
	// index ((o*slices)+b)*2 + 0 for w⁺ and +1 for w⁻.
	cols []bitvec.Vec
	// maxCode is the ADC's largest output code, or −1 when no read can
	// exceed it (the fast path).
	maxCode int
	// readCycles is the latency of one read: drive and settle, then the
	// busiest ADC converts its columns one after another.
	readCycles int64
}

// Weights gives the weight from row r to output o of the block to program.
type Weights func(o, r int) int8

// Program writes a rows × outputs block of k-bit weights into a new array.
func Program(p Params, rows, outputs, weightBits int, w Weights) (*Array, error) {
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
	a := &Array{p: p, rows: rows, outputs: outputs, slices: slices, usedCols: used, cols: make([]bitvec.Vec, used), maxCode: -1}
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
	if p.ADCBits < 31 && 1<<p.ADCBits-1 < min(p.RowsPerRead, rows) {
		a.maxCode = 1<<p.ADCBits - 1
	}
	a.readCycles = int64(p.ReadLatencyCycles) + int64(min(p.ColsPerADC, used))*int64(p.ADCLatencyCycles)
	return a, nil
}

// Rows is the number of rows in use.
func (a *Array) Rows() int { return a.rows }

// Outputs is the number of logical outputs.
func (a *Array) Outputs() int { return a.outputs }

// UsedCols is the number of physical columns in use.
func (a *Array) UsedCols() int { return a.usedCols }

// Scratch is a worker's working memory for reads that need the ADC's
// clipping path.
type Scratch struct {
	active []int
	mask   bitvec.Vec
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
		if a.maxCode < 0 || active <= a.maxCode {
			a.readWhole(plane, p, acc)
		} else {
			a.readChunks(plane, p, acc, s)
		}
	}
	return cycles
}

// readWhole is the fast path: no column sum can reach the ADC's limit, so
// the reads of a plane add up to one popcount per column.
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

// readChunks drives the set rows RowsPerRead at a time and saturates each
// column's count at the ADC's largest code before it is accumulated.
func (a *Array) readChunks(plane bitvec.Vec, p int, acc []int64, s *Scratch) {
	s.active = s.active[:0]
	for r := 0; r < a.rows; r++ {
		if plane.Get(r) {
			s.active = append(s.active, r)
		}
	}
	if len(s.mask) < len(plane) {
		s.mask = bitvec.New(a.rows)
	}
	mask := s.mask[:len(plane)]
	for lo := 0; lo < len(s.active); lo += a.p.RowsPerRead {
		mask.Clear()
		for _, r := range s.active[lo:min(lo+a.p.RowsPerRead, len(s.active))] {
			mask.Set(r)
		}
		for o := 0; o < a.outputs; o++ {
			var sum int64
			for b := 0; b < a.slices; b++ {
				col := (o*a.slices + b) * 2
				pos := min(bitvec.AndCount(mask, a.cols[col]), a.maxCode)
				neg := min(bitvec.AndCount(mask, a.cols[col+1]), a.maxCode)
				sum += int64(pos-neg) << b
			}
			acc[o] += sum << p
		}
	}
}
