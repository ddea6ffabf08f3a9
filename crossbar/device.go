package crossbar

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"

	"github.com/nmsim/nmsim/internal/bitvec"
)

// Device describes the memory cells of an array (from arch.Device).
// Conductances are expressed in units of G_on, so G_off = 1/OnOffRatio;
// docs/device-model.md gives the equations.
type Device struct {
	OnOffRatio float64 // G_on / G_off, > 1
	// Levels is the number of conductance levels a cell can hold. Weights
	// are stored one bit per cell (binary cells and bit-slices), which uses
	// only the lowest and highest level, so any Levels ≥ 2 behaves alike
	// until multi-bit cells are modelled.
	Levels int
	// VariationSigma is the device-to-device σ of ln G: every cell's
	// conductance is multiplied once, at programming, by exp(σ·z), z ~ N(0,1).
	VariationSigma float64
	// ReadNoiseSigma is the read noise: on every read, each driven cell's
	// current gets an independent Gaussian of variance σ²·g (g in units of
	// G_on), relative σ for an on-cell. Variance growing with the current
	// is how thermal and shot noise behave, and it makes a column's noise
	// one Gaussian of variance σ²·I, drawn once per column per read.
	ReadNoiseSigma float64
	// StuckAtOffRate and StuckAtOnRate are the fractions of cells stuck at
	// G_off and at G_on whatever is programmed; they sum to at most 1.
	StuckAtOffRate, StuckAtOnRate float64
	// IRDrop is the wire resistance of one cell pitch relative to the
	// on-resistance; a cell d pitches of wire away from its row driver and
	// sense amplifier conducts g/(1 + IRDrop·g·d). 0 turns it off.
	IRDrop float64
}

// Ideal reports whether every cell is exactly G_on or G_off, noiseless and
// with ideal wires: the array is then a pure popcount engine.
func (d Device) Ideal() bool {
	return d.VariationSigma == 0 && d.ReadNoiseSigma == 0 && d.StuckAtOffRate == 0 && d.StuckAtOnRate == 0 && d.IRDrop == 0
}

// faulty reports whether any cell may be stuck.
func (d Device) faulty() bool { return d.StuckAtOffRate > 0 || d.StuckAtOnRate > 0 }

// analog reports whether cells need individual conductances: with only
// faults and read noise, every cell is still exactly G_on or G_off and a
// column's current follows from its popcount.
func (d Device) analog() bool { return d.VariationSigma > 0 || d.IRDrop > 0 }

// validate returns every problem with d. arch validates user input; this
// guards programmatic callers, since a NaN here would silently poison every
// read.
func (d Device) validate() error {
	var errs []error
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !(d.OnOffRatio > 1) || !finite(d.OnOffRatio) {
		errs = append(errs, fmt.Errorf("on/off ratio %v must be a finite number > 1", d.OnOffRatio))
	}
	if d.Levels < 2 {
		errs = append(errs, fmt.Errorf("%d conductance levels; a cell needs at least 2", d.Levels))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"variation sigma", d.VariationSigma}, {"read noise sigma", d.ReadNoiseSigma}, {"IR drop", d.IRDrop}} {
		if !(f.v >= 0) || !finite(f.v) {
			errs = append(errs, fmt.Errorf("%s %v must be a finite number ≥ 0", f.name, f.v))
		}
	}
	off, on := d.StuckAtOffRate, d.StuckAtOnRate
	if !(off >= 0 && off <= 1) || !(on >= 0 && on <= 1) || off+on > 1 {
		errs = append(errs, fmt.Errorf("stuck-at rates off %v and on %v must lie in [0, 1] and sum to at most 1", off, on))
	}
	return errors.Join(errs...)
}

// Cell states of the device map.
const (
	cellOK uint8 = iota
	cellStuckOff
	cellStuckOn
)

// deviceMap is one draw of a physical array's cells: which are stuck and
// each cell's variation factor, row-major over all Rows × Cols cells.
type deviceMap struct {
	cols  int
	stuck []uint8   // nil without faults
	vary  []float32 // exp(σ·z); nil without variation
}

// drawDeviceMap draws every cell of the physical array, row by row, fault
// first and variation second. Drawing the whole array rather than the cells
// in use makes a device map a property of the physical array: the same rng
// state gives the same cells whatever block is programmed into them.
func drawDeviceMap(p Params, d Device, rng *rand.Rand) deviceMap {
	m := deviceMap{cols: p.Cols}
	n := p.Rows * p.Cols
	if d.faulty() {
		m.stuck = make([]uint8, n)
	}
	if d.VariationSigma > 0 {
		m.vary = make([]float32, n)
	}
	for i := 0; i < n; i++ {
		if m.stuck != nil {
			switch u := rng.Float64(); {
			case u < d.StuckAtOffRate:
				m.stuck[i] = cellStuckOff
			case u < d.StuckAtOffRate+d.StuckAtOnRate:
				m.stuck[i] = cellStuckOn
			}
		}
		if m.vary != nil {
			m.vary[i] = float32(math.Exp(d.VariationSigma * rng.NormFloat64()))
		}
	}
	return m
}

// remap reassigns used columns to physical ones (phys[j] holds column j):
// worst first, a column whose stuck cells disagree with its programmed bits
// moves to the spare physical column, one no used column occupies, where
// the fewest disagree, if that is fewer; the column it leaves becomes a
// spare, since its faults may suit another column's bits. This is
// fault-aware remapping after a post-fabrication test has located the
// stuck cells (a march test, say); variation is not tested for, and a
// remapped column keeps the variation and IR drop of its new place.
func (m deviceMap) remap(cols []bitvec.Vec, rows int, phys []int) {
	if m.stuck == nil || len(cols) == m.cols {
		return
	}
	// Stuck-at-on and stuck-at-off masks of every physical column over the
	// used rows.
	on, off := make([]bitvec.Vec, m.cols), make([]bitvec.Vec, m.cols)
	for c := range m.cols {
		on[c], off[c] = bitvec.New(rows), bitvec.New(rows)
		for r := 0; r < rows; r++ {
			switch m.stuck[r*m.cols+c] {
			case cellStuckOn:
				on[c].Set(r)
			case cellStuckOff:
				off[c].Set(r)
			}
		}
	}
	disagree := func(col bitvec.Vec, c int) int {
		n := 0
		for w, b := range col {
			n += bits.OnesCount64(b&off[c][w] | on[c][w]&^b)
		}
		return n
	}
	cost := make([]int, len(cols))
	order := make([]int, len(cols))
	for j, col := range cols {
		cost[j], order[j] = disagree(col, phys[j]), j
	}
	slices.SortStableFunc(order, func(x, y int) int { return cost[y] - cost[x] })
	var spare []int
	for c := len(cols); c < m.cols; c++ {
		spare = append(spare, c)
	}
	for _, j := range order {
		if cost[j] == 0 {
			return
		}
		best, bestCost := -1, cost[j]
		for i, c := range spare {
			if n := disagree(cols[j], c); n < bestCost {
				best, bestCost = i, n
			}
		}
		if best >= 0 {
			spare[best], phys[j] = phys[j], spare[best]
		}
	}
}

// foldFaults overwrites the programmed bits of the cells that are stuck:
// what a column conducts is then again a popcount of its (effective) bits.
// phys[j] is the physical column that holds used column j.
func (m deviceMap) foldFaults(cols []bitvec.Vec, rows int, phys []int) {
	if m.stuck == nil {
		return
	}
	for j, col := range cols {
		for r := 0; r < rows; r++ {
			switch m.stuck[r*m.cols+phys[j]] {
			case cellStuckOff:
				col[r>>6] &^= 1 << (uint(r) & 63)
			case cellStuckOn:
				col.Set(r)
			}
		}
	}
}

// conductances returns the effective conductance of every used cell,
// row-major over rows × len(cols), in units of G_on: the nominal level of
// the cell's effective bit, times its variation factor, attenuated by the
// wire between it and its driver and sense amplifier. Row drivers sit left
// of physical column 0 and sense amplifiers below the last physical row, so
// the cell at (r, c) is (c + 1) + (Rows − r) wire pitches from both.
func (m deviceMap) conductances(p Params, d Device, cols []bitvec.Vec, rows int, phys []int) []float64 {
	used := len(cols)
	g := make([]float64, rows*used)
	gOff := 1 / d.OnOffRatio
	for r := 0; r < rows; r++ {
		for j, col := range cols {
			v := gOff
			if col.Get(r) {
				v = 1
			}
			c := phys[j]
			if m.vary != nil {
				v *= float64(m.vary[r*m.cols+c])
			}
			if d.IRDrop > 0 {
				wire := float64(c+1) + float64(p.Rows-r)
				v /= 1 + d.IRDrop*v*wire
			}
			g[r*used+j] = v
		}
	}
	return g
}

// packCells stores the conductances g (row-major, rows × used, used even)
// as fixed-point numbers, columns 2i and 2i+1 of a row in the low and high
// 32 bits of word i, and returns the words and the scale in units per G_on.
// The scale is the largest that keeps any sum of maxRows cells within 32
// bits, so that 64-bit adds sum two columns at once without a carry
// crossing between them. Its resolution, G_on / scale, is about
// maxRows·max(g) / 2^32, far below what moves an ADC code.
func packCells(g []float64, rows, used, maxRows int) ([]uint64, float64) {
	gMax := 0.0
	for _, v := range g {
		gMax = max(gMax, v)
	}
	scale := (math.MaxUint32/float64(maxRows) - 1) / gMax
	q := make([]uint64, rows*used/2)
	for i := range q {
		lo := uint64(math.Floor(g[2*i]*scale + 0.5))
		hi := uint64(math.Floor(g[2*i+1]*scale + 0.5))
		q[i] = lo | hi<<32
	}
	return q, scale
}
