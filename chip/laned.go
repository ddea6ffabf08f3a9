package chip

import (
	"encoding/binary"
	"math/bits"

	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/internal/bitvec"
)

// A laned layer (every array crossbar.Array.Laned: ideal ±1 arrays whose
// ADC no read saturates) is computed without bit-planes and without
// reading block by block: each non-zero input value x adds x times its
// rows' lanes (crossbar.LaneRow) straight into the lanes of every
// position that reads it, a position's lanes go to its outputs once
// (crossbar.FlushLanes; sooner if a lane could pass crossbar.MaxLane),
// and the reads are charged from the driven rows counted per (position,
// row split, plane) (crossbar.Array.Reads, Charge). The sums, counters
// and cycles are those of reading every block at every position
// (TestLanedEqualsRead). The loops avoid branches that depend on the
// data where they can: on this kind of work a mispredicted branch costs
// more than the adds.

// laneWiring is a laned layer's tables, shared by every worker.
type laneWiring struct {
	blockSplit []int // per block, its row split
	// rows holds per fan-in row, per column split, its LaneWords words of
	// lanes; entries the netlist's scatter entries (ScatterSlot,
	// ScatterRow), aligned with them, as laneEntry.
	rows    []uint64
	entries []laneEntry
	// countWords is the words of packed counts per (position, row split):
	// countPlanes planes in each, 16 bits per plane.
	countWords int
}

// countPlanes is the number of planes whose driven rows one count word
// holds, 16 bits each: a row split has at most crossbar.rows ≤ 4096 rows
// (arch validates it).
const countPlanes = 4

// laneEntry is a scatter entry in the offsets that scatterLanes needs: of
// its (position, row split)'s first count word in laneState.counts, its
// position and its row of the fan-in.
type laneEntry struct{ count, pos, row int32 }

// laneState is a worker's state for a laned layer. sum holds the lanes of
// every (position, column split), fill per position the input they hold,
// spilled the positions whose lanes went to acc before, and counts the
// driven rows of every (position, row split) and plane, packed
// (countPlanes per word); all four are zero between computes. rows holds
// each block's driven rows.
type laneState struct {
	sum     []uint64
	fill    []int
	spilled bitvec.Vec
	counts  []uint64
	rows    []int64
}

// wireLanes tabulates the lanes of layer st, whose arrays are laned.
func wireLanes(st *hwLayer, xbRows int) *laneWiring {
	const lw = crossbar.LaneWords
	lm, nl := st.lm, st.nl
	cs := lm.ColSplits
	wr := &laneWiring{blockSplit: make([]int, len(lm.Blocks)), rows: make([]uint64, lm.FanIn*cs*lw),
		entries: make([]laneEntry, len(nl.ScatterSlot)), countWords: (lm.InputBits + countPlanes - 1) / countPlanes}
	for bi, b := range lm.Blocks {
		wr.blockSplit[bi] = b.RowLo / xbRows
		c := b.OutLo / lm.OutputsPerBlock
		for r := 0; r < b.Rows(); r++ {
			copy(wr.rows[((b.RowLo+r)*cs+c)*lw:], st.arrays[bi].LaneRow(r)[:])
		}
	}
	splits := int32(lm.RowSplits)
	for k, slot := range nl.ScatterSlot {
		wr.entries[k] = laneEntry{count: slot * int32(wr.countWords), pos: slot / splits, row: slot%splits*int32(xbRows) + nl.ScatterRow[k]}
	}
	return wr
}

// newState makes a worker's state for layer s.
func (wr *laneWiring) newState(s *hwLayer) *laneState {
	lm := s.lm
	return &laneState{
		sum: make([]uint64, lm.Positions*lm.ColSplits*crossbar.LaneWords), fill: make([]int, lm.Positions),
		spilled: bitvec.New(lm.Positions), counts: make([]uint64, lm.Positions*lm.RowSplits*wr.countWords),
		rows: make([]int64, len(lm.Blocks)),
	}
}

// spread puts bit p of the low countPlanes bits of x into bit 16p: one
// driven row in each of the planes x drives, packed as counts are.
func spread(x uint64) uint64 {
	return x&1 | x&2<<15 | x&4<<30 | x&8<<45
}

// computeLaned is compute for a laned layer: it sets acc, posInput, the
// counters and the blocks' cycles and values.
func computeLaned(s *hwLayer, ss *layerState) {
	const lw = crossbar.LaneWords
	wr, ls := s.lanes, ss.lanes
	cs, cw := s.lm.ColSplits, wr.countWords
	in := ss.in
	for i := 0; i < len(in); i += 8 {
		var word uint64 // eight inputs at once: most are zero
		if i+8 <= len(in) {
			word = binary.LittleEndian.Uint64(in[i:])
		} else {
			for k, v := range in[i:] {
				word |= uint64(v) << (8 * k)
			}
		}
		// Bit 7 of each non-zero byte.
		for m := (word | (word&0x7f7f7f7f7f7f7f7f + 0x7f7f7f7f7f7f7f7f)) & 0x8080808080808080; m != 0; m &= m - 1 {
			b := bits.TrailingZeros64(m) &^ 7
			e, x := i+b>>3, word>>uint(b)&crossbar.MaxLane
			for _, en := range wr.entries[s.nl.ScatterOff[e]:s.nl.ScatterOff[e+1]] {
				for k := 0; k < cw; k++ {
					ls.counts[int(en.count)+k] += spread(x >> (countPlanes * k))
				}
				pos := int(en.pos)
				if ls.fill[pos]+int(x) > crossbar.MaxLane {
					flushLanes(s, ss, pos)
					ls.spilled.Set(pos)
				}
				ls.fill[pos] += int(x)
				for c := 0; c < cs; c++ {
					crossbar.AddLanes((*[lw]uint64)(ls.sum[(pos*cs+c)*lw:]), (*[lw]uint64)(wr.rows[(int(en.row)*cs+c)*lw:]), x)
				}
			}
		}
	}
	for pos := 0; pos < s.lm.Positions; pos++ {
		switch {
		case ls.fill[pos] > 0:
			flushLanes(s, ss, pos)
		case !ls.spilled.Get(pos):
			clear(ss.acc[pos*s.lm.Outputs : (pos+1)*s.lm.Outputs])
		}
	}
	ls.spilled.Clear()
	chargeLaned(s, ss)
}

// flushLanes moves the lanes of position pos into its outputs in acc:
// sets them on the position's first flush, adds to them after that.
func flushLanes(s *hwLayer, ss *layerState, pos int) {
	ls := ss.lanes
	n := int64(ls.fill[pos])
	ls.fill[pos] = 0
	cs, per, set := s.lm.ColSplits, s.lm.OutputsPerBlock, !ls.spilled.Get(pos)
	acc := ss.acc[pos*s.lm.Outputs : (pos+1)*s.lm.Outputs]
	for c := 0; c < cs; c++ {
		i := (pos*cs + c) * crossbar.LaneWords
		crossbar.FlushLanes(acc[c*per:min((c+1)*per, len(acc))], (*[crossbar.LaneWords]uint64)(ls.sum[i:]), n, set)
	}
}

// chargeLaned charges each block's reads at every position from the
// driven rows counted, sets posInput, and clears the counts.
func chargeLaned(s *hwLayer, ss *layerState) {
	ls, wr := ss.lanes, s.lanes
	clear(ss.blockCyc) // the reads, until charged
	clear(ss.blockVals)
	clear(ls.rows)
	ss.posInput.Clear()
	cw, ib := wr.countWords, s.lm.InputBits
	per := s.lm.RowSplits * cw
	for pos := 0; pos < s.lm.Positions; pos++ {
		counts := ls.counts[pos*per : (pos+1)*per]
		for bi, b := range s.lm.Blocks {
			if ss.done != nil && allDone(ss.done, pos, s.lm.Positions, b.OutLo, b.OutHi) {
				continue // every neuron this read would feed has fired
			}
			var reads, rows int64
			split := counts[wr.blockSplit[bi]*cw:]
			for p := 0; p < ib; p++ {
				n := int(split[p/countPlanes] >> (16 * (p % countPlanes)) & 0xffff)
				reads += s.arrays[bi].Reads(n)
				rows += int64(n)
			}
			if reads > 0 {
				ss.blockCyc[bi] += reads
				ls.rows[bi] += rows
				ss.blockVals[bi] += int64(b.Outputs())
			}
		}
		for _, n := range counts {
			if n != 0 {
				ss.posInput.Set(pos)
				clear(counts)
				break
			}
		}
	}
	for bi, a := range s.arrays {
		ss.blockCyc[bi] = a.Charge(ss.blockCyc[bi], ls.rows[bi], &ss.counters)
	}
}
