package chip

import (
	"encoding/binary"
	"math/bits"

	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/internal/bitvec"
)

// A layer of Exact arrays (crossbar.Array.Exact: every cell at a nominal
// level, no read that the ADC clips, read noise if any drawn by events) is
// computed fused: without bit-planes and without reading block by block
// (with read noise, Worker.addReadNoise then adds each read's noise from
// the bit-planes, as Read would). Each non-zero
// input value x adds x times its rows' lanes straight into the lanes of
// every position that reads it, a position's lanes go to its outputs once
// (sooner if a lane could overflow), and the reads are charged from the
// driven rows counted per (position, row split, plane)
// (crossbar.Array.Reads, Charge). The lanes of a laned layer (±1 weights,
// crossbar.Array.Laned) are 8 bits wide and count the driven w⁺ cells
// (crossbar.LaneRow, FlushLanes: output = 2·lane − n for an input n in
// all); those of another are 16 bits wide and sum the weights plus
// wideBias (crossbar.Array.RowWeights: output = lane − wideBias·n), so
// that a 64-bit add serves four outputs. The sums, counters and cycles
// are those of reading every block at every position
// (TestFusedEqualsRead). The loops avoid branches that depend on the data
// where they can: on this kind of work a mispredicted branch costs more
// than the adds.

// fusedWiring is a fused layer's tables, shared by every worker.
type fusedWiring struct {
	blockSplit []int // per block, its row split
	// entries are the netlist's scatter entries (ScatterSlot, ScatterRow),
	// aligned with them, as fusedEntry.
	entries []fusedEntry
	// lanes holds per fan-in row its rowWords words of lanes: for a
	// laned layer (ones) LaneWords words per column split, else four
	// outputs to a word. limit is the most input a position's lanes may
	// take before they go to acc.
	lanes    []uint64
	rowWords int
	ones     bool
	limit    int
	// countWords is the words of packed counts per (position, row split):
	// countPlanes planes in each, 16 bits per plane.
	countWords int
}

// countPlanes is the number of planes whose driven rows one count word
// holds, 16 bits each: a row split has at most crossbar.rows ≤ 4096 rows
// (arch validates it).
const countPlanes = 4

// wideBias is what a wide lane adds to a weight (in [−127, 127]) so that
// it is positive: a lane's share of one input is at most 2·wideBias − 1.
const wideBias = 128

// fusedEntry is a scatter entry in the offsets that computeFused needs:
// of its (position, row split)'s first count word in fusedState.counts,
// its position, and its fan-in row's first word in fusedWiring.lanes.
type fusedEntry struct{ count, pos, row int32 }

// fusedState is a worker's state for a fused layer. counts holds the
// driven rows of every (position, row split) and plane, packed
// (countPlanes per word), rows each block's driven rows, splitReads and
// splitRows a position's reads and driven rows per row split, sum the lanes of
// every position, fill per position the input they hold, and spilled the
// positions whose lanes went to acc before. All but rows are zero between
// computes.
type fusedState struct {
	counts                []uint64
	rows                  []int64
	splitReads, splitRows []int64
	sum                   []uint64
	fill                  []int
	spilled               bitvec.Vec
}

// wireFused tabulates layer st, whose arrays are Exact, and laned if
// laned is set.
func wireFused(st *hwLayer, xbRows int, laned bool) *fusedWiring {
	const lw = crossbar.LaneWords
	lm, nl := st.lm, st.nl
	wr := &fusedWiring{blockSplit: make([]int, len(lm.Blocks)), entries: make([]fusedEntry, len(nl.ScatterSlot)),
		countWords: (lm.InputBits + countPlanes - 1) / countPlanes, ones: laned}
	if laned {
		wr.rowWords, wr.limit = lm.ColSplits*lw, crossbar.MaxLane
	} else {
		wr.rowWords, wr.limit = (lm.Outputs+3)/4, 0xffff/(2*wideBias-1)
	}
	wr.lanes = make([]uint64, lm.FanIn*wr.rowWords)
	for bi, b := range lm.Blocks {
		wr.blockSplit[bi] = b.RowLo / xbRows
		c := b.OutLo / lm.OutputsPerBlock
		for r := 0; r < b.Rows(); r++ {
			row := wr.lanes[(b.RowLo+r)*wr.rowWords:][:wr.rowWords]
			if laned {
				copy(row[c*lw:], st.arrays[bi].LaneRow(r)[:])
				continue
			}
			for o, w := range st.arrays[bi].RowWeights(r) {
				o += b.OutLo
				row[o/4] |= uint64(int(w)+wideBias) << (16 * (o % 4))
			}
		}
	}
	splits := int32(lm.RowSplits)
	for k, slot := range nl.ScatterSlot {
		f := slot%splits*int32(xbRows) + nl.ScatterRow[k]
		wr.entries[k] = fusedEntry{count: slot * int32(wr.countWords), pos: slot / splits, row: f * int32(wr.rowWords)}
	}
	return wr
}

// newState makes a worker's state for layer s.
func (wr *fusedWiring) newState(s *hwLayer) *fusedState {
	lm := s.lm
	return &fusedState{
		counts: make([]uint64, lm.Positions*lm.RowSplits*wr.countWords), rows: make([]int64, len(lm.Blocks)),
		splitReads: make([]int64, lm.RowSplits), splitRows: make([]int64, lm.RowSplits),
		sum: make([]uint64, lm.Positions*wr.rowWords), fill: make([]int, lm.Positions), spilled: bitvec.New(lm.Positions),
	}
}

// spread puts bit p of the low countPlanes bits of x into bit 16p: one
// driven row in each of the planes x drives, packed as counts are.
func spread(x uint64) uint64 {
	return x&1 | x&2<<15 | x&4<<30 | x&8<<45
}

// computeFused is compute for a fused layer: it sets acc, posInput, the
// counters and the blocks' cycles and values.
func computeFused(s *hwLayer, ss *layerState) {
	sumLanes(s, ss)
	chargeFused(s, ss)
}

// inputWord returns inputs i, …, i+7 (those there are) as the bytes of a
// word, and a mask of bit 7 of each non-zero byte: most inputs are zero,
// and eight are passed over at once.
func inputWord(in []uint8, i int) (word, nonZero uint64) {
	if i+8 <= len(in) {
		word = binary.LittleEndian.Uint64(in[i:])
	} else {
		for k, v := range in[i:] {
			word |= uint64(v) << (8 * k)
		}
	}
	return word, (word | (word&0x7f7f7f7f7f7f7f7f + 0x7f7f7f7f7f7f7f7f)) & 0x8080808080808080
}

// count adds the driven rows of an input value x to the count words of
// its (position, row split).
func count(counts []uint64, x uint64) {
	for k := range counts {
		counts[k] += spread(x >> (countPlanes * k))
	}
}

// sumLanes adds, for every non-zero input value x, x times its row's
// lanes into the lanes of every position that reads it, and the lanes
// into acc.
func sumLanes(s *hwLayer, ss *layerState) {
	wr, fs := s.fused, ss.fused
	rw, cw := wr.rowWords, wr.countWords
	for i := 0; i < len(ss.in); i += 8 {
		word, m := inputWord(ss.in, i)
		for ; m != 0; m &= m - 1 {
			b := bits.TrailingZeros64(m) &^ 7
			e, x := i+b>>3, word>>uint(b)&0xff
			for _, en := range wr.entries[s.nl.ScatterOff[e]:s.nl.ScatterOff[e+1]] {
				count(fs.counts[en.count:int(en.count)+cw], x)
				pos := int(en.pos)
				if fs.fill[pos]+int(x) > wr.limit {
					flushLanes(s, ss, pos)
					fs.spilled.Set(pos)
				}
				fs.fill[pos] += int(x)
				sum := fs.sum[pos*rw : (pos+1)*rw]
				for k, l := range wr.lanes[en.row:][:len(sum)] {
					sum[k] += l * x // no lane carries into the next: fill ≤ limit
				}
			}
		}
	}
	// posInput still marks the positions with input at the last compute:
	// elsewhere acc is already zero.
	for pos := 0; pos < s.lm.Positions; pos++ {
		switch {
		case fs.fill[pos] > 0:
			flushLanes(s, ss, pos)
		case !fs.spilled.Get(pos) && ss.posInput.Get(pos):
			clear(ss.acc[pos*s.lm.Outputs : (pos+1)*s.lm.Outputs])
		}
	}
	fs.spilled.Clear()
}

// flushLanes moves the lanes of position pos into its outputs in acc, and
// clears them: it sets the outputs on the position's first flush, adds to
// them after that.
func flushLanes(s *hwLayer, ss *layerState, pos int) {
	wr, fs := s.fused, ss.fused
	n := int64(fs.fill[pos])
	fs.fill[pos] = 0
	set := !fs.spilled.Get(pos)
	sum := fs.sum[pos*wr.rowWords : (pos+1)*wr.rowWords]
	acc := ss.acc[pos*s.lm.Outputs : (pos+1)*s.lm.Outputs]
	if wr.ones {
		const lw = crossbar.LaneWords
		per := s.lm.OutputsPerBlock
		for c := 0; c < s.lm.ColSplits; c++ {
			crossbar.FlushLanes(acc[c*per:min((c+1)*per, len(acc))], (*[lw]uint64)(sum[c*lw:]), n, set)
		}
		return
	}
	b := wideBias * n
	for j, w := range sum {
		out := acc[4*j : min(4*j+4, len(acc))]
		if len(out) == 4 && set {
			*(*[4]int64)(out) = [4]int64{int64(w&0xffff) - b, int64(w>>16&0xffff) - b, int64(w>>32&0xffff) - b, int64(w>>48) - b}
			continue
		}
		for k := range out {
			x := int64(w>>(16*k)&0xffff) - b
			if !set {
				x += out[k]
			}
			out[k] = x
		}
	}
	clear(sum)
}

// chargeFused charges each block's reads at every position from the
// driven rows counted, sets posInput, and clears the counts.
func chargeFused(s *hwLayer, ss *layerState) {
	ls, wr := ss.fused, s.fused
	clear(ss.blockCyc) // the reads, until charged
	clear(ss.blockVals)
	clear(ls.rows)
	ss.posInput.Clear()
	cw, ib := wr.countWords, s.lm.InputBits
	per := s.lm.RowSplits * cw
	// Every array of a chip reads RowsPerRead rows at a time, so a row
	// split's reads are the same for each of its blocks.
	a0 := s.arrays[0]
	for pos := 0; pos < s.lm.Positions; pos++ {
		counts := ls.counts[pos*per : (pos+1)*per]
		var any uint64
		for _, n := range counts {
			any |= n
		}
		if any == 0 {
			continue // no input, no read
		}
		ss.posInput.Set(pos)
		for r := range ls.splitReads {
			var reads, rows int64
			split := counts[r*cw : (r+1)*cw]
			for p := 0; p < ib; p++ {
				n := int(split[p/countPlanes] >> (16 * (p % countPlanes)) & 0xffff)
				reads += a0.Reads(n)
				rows += int64(n)
			}
			ls.splitReads[r], ls.splitRows[r] = reads, rows
		}
		for bi, b := range s.lm.Blocks {
			if ss.done != nil && allDone(ss.done, pos, s.lm.Positions, b.OutLo, b.OutHi) {
				continue // every neuron this read would feed has fired
			}
			if r := wr.blockSplit[bi]; ls.splitReads[r] > 0 {
				ss.blockCyc[bi] += ls.splitReads[r]
				ls.rows[bi] += ls.splitRows[r]
				ss.blockVals[bi] += int64(b.Outputs())
			}
		}
		clear(counts)
	}
	for bi, a := range s.arrays {
		if reads := ss.blockCyc[bi]; reads > 0 {
			ss.blockCyc[bi] = a.Charge(reads, ls.rows[bi], &ss.counters)
		}
	}
}
