package chip

import (
	"encoding/binary"
	"math/bits"

	"github.com/nmsim/nmsim/crossbar"
)

// A layer of Exact arrays (crossbar.Array.Exact: every cell at a nominal
// level, no read that the ADC clips, read noise if any drawn by events) is
// computed fused: without bit-planes and without reading block by block
// (with read noise, Worker.addReadNoise then adds each read's noise from
// the bit-planes, as Read would). Each non-zero input value x is listed,
// with its row, at every position that reads it (the mapper's scatter
// list), and its driven rows counted per (position, row split, plane);
// then each position with input sums x times its inputs' rows' lanes, a
// chunk of lanes at a time in registers, moves the lanes to its outputs
// (sooner if a lane could overflow), and is charged its reads from the
// counts (crossbar.Array.Reads, Charge). The lanes of a laned layer (±1
// weights, crossbar.Array.Laned) are 8 bits wide and count the driven w⁺
// cells (crossbar.LaneRow, FlushLanes: output = 2·lane − n for an input n
// in all); those of another are 16 or 32 bits wide and sum the weights
// plus wideBias (crossbar.Array.RowWeights: output = lane − wideBias·n),
// so that a 64-bit add serves eight, four or two outputs. The sums,
// counters and cycles are those of reading every block at every position
// (TestFusedEqualsRead). The loops avoid branches that depend on the data
// where they can (on this kind of work a mispredicted branch costs more
// than the adds), and the hottest are functions of their own, kept from
// being inlined: inlined into a larger function, their values are kept on
// the stack.

// fusedWiring is a fused layer's tables, shared by every worker.
type fusedWiring struct {
	blockSplit []int // per block, its row split
	// entries are the netlist's scatter entries (ScatterSlot, ScatterRow),
	// aligned with them, as fusedEntry.
	entries []fusedEntry
	// lanes holds per fan-in row its rowWords words of lanes: for a
	// laned layer (ones) LaneWords words per column split, else
	// 64/laneBits outputs to a word; then chunkWords words of padding,
	// so that a chunk of the last row may be read whole. limit is the
	// most input a chunk's lanes may take before they go to acc.
	lanes    []uint64
	rowWords int
	ones     bool
	laneBits int
	limit    int
	// countWords is the words of packed counts per (position, row split):
	// countPlanes planes in each, 16 bits per plane. overRead has in each
	// plane's 16 bits 0x7fff − crossbar.rows_per_read: a count word plus
	// overRead has bit 15 of a plane set where the plane drives more rows
	// than one read does.
	countWords int
	overRead   uint64
	// listOff[pos] is where position pos's inputs start in
	// fusedState.list: a position has one entry per scatter entry that
	// reaches it.
	listOff []int32
}

// countPlanes is the number of planes whose driven rows one count word
// holds, 16 bits each: a row split has at most crossbar.rows ≤ 4096 rows
// (arch validates it), so a plane's count, and the sum of a word's four,
// keep clear of bit 15. planeOnes has a one in each plane's bits,
// planeTops bit 15 of each.
const (
	countPlanes = 4
	planeOnes   = 0x0001000100010001
	planeTops   = 0x8000800080008000
)

// wideBias is what a wide lane adds to a weight (in [−127, 127]) so that
// it is positive: a lane's share of one input is at most 2·wideBias − 1.
// A wide lane is 16 bits for inputs of at most wideInputBits bits (at
// least 17 inputs of the largest value fit), else 32: a 16-bit lane of
// 8-bit inputs would go to the outputs after every input.
const (
	wideBias      = 128
	wideInputBits = 4
)

// chunkWords is the words of lanes summed at once (addLanes): a laned
// layer's column split (crossbar.LaneWords), 32 outputs of another.
const chunkWords = crossbar.LaneWords

// fusedEntry is a scatter entry in the offsets that computeFused needs:
// of its (position, row split)'s first count word in fusedState.counts,
// its position, and its fan-in row's first word in fusedWiring.lanes.
type fusedEntry struct{ count, pos, row int32 }

// laneInput is an input that a position reads: its fan-in row's first
// word in fusedWiring.lanes and its value.
type laneInput struct{ row, x uint32 }

// fusedState is a worker's state for a fused layer. counts holds the
// driven rows of every (position, row split) and plane, packed
// (countPlanes per word), rows each block's driven rows, splitReads and
// splitRows a position's reads and driven rows per row split (of a layer
// without fire-once marks, their sums over the positions, and splitHits
// the positions with a read), list the
// inputs of every position: position pos's from fusedWiring.listOff[pos]
// up to the low 32 bits of end[pos], whose high 32 bits sum their values.
// counts are zero and end equals listOff between computes.
type fusedState struct {
	counts                []uint64
	rows                  []int64
	splitReads, splitRows []int64
	splitHits             []int64
	list                  []laneInput
	end                   []uint64
	countWords            int // fusedWiring.countWords
}

// wireFused tabulates layer st, whose arrays are Exact, and laned if
// laned is set.
func wireFused(st *hwLayer, xbRows, rowsPerRead int, laned bool) *fusedWiring {
	const lw = crossbar.LaneWords
	lm, nl := st.lm, st.nl
	wr := &fusedWiring{blockSplit: make([]int, len(lm.Blocks)), entries: make([]fusedEntry, len(nl.ScatterSlot)),
		countWords: (lm.InputBits + countPlanes - 1) / countPlanes, ones: laned, listOff: make([]int32, lm.Positions+1),
		overRead: uint64(0x7fff-rowsPerRead) * planeOnes}
	if laned {
		wr.rowWords, wr.limit, wr.laneBits = lm.ColSplits*lw, crossbar.MaxLane, 8
	} else {
		wr.laneBits = 16
		if lm.InputBits > wideInputBits {
			wr.laneBits = 32
		}
		per := 64 / wr.laneBits
		wr.rowWords, wr.limit = (lm.Outputs+per-1)/per, (1<<wr.laneBits-1)/(2*wideBias-1)
	}
	wr.lanes = make([]uint64, lm.FanIn*wr.rowWords+chunkWords)
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
				per := 64 / wr.laneBits
				row[o/per] |= uint64(int(w)+wideBias) << (wr.laneBits * (o % per))
			}
		}
	}
	splits := int32(lm.RowSplits)
	for k, slot := range nl.ScatterSlot {
		f := slot%splits*int32(xbRows) + nl.ScatterRow[k]
		wr.entries[k] = fusedEntry{count: slot * int32(wr.countWords), pos: slot / splits, row: f * int32(wr.rowWords)}
		wr.listOff[slot/splits+1]++
	}
	for pos := range lm.Positions {
		wr.listOff[pos+1] += wr.listOff[pos]
	}
	return wr
}

// newState makes a worker's state for layer s.
func (wr *fusedWiring) newState(s *hwLayer) *fusedState {
	lm := s.lm
	st := &fusedState{
		counts: make([]uint64, lm.Positions*lm.RowSplits*wr.countWords), rows: make([]int64, len(lm.Blocks)),
		splitReads: make([]int64, lm.RowSplits), splitRows: make([]int64, lm.RowSplits), splitHits: make([]int64, lm.RowSplits),
		list: make([]laneInput, len(wr.entries)), end: make([]uint64, lm.Positions), countWords: wr.countWords,
	}
	for pos := range st.end {
		st.end[pos] = uint64(wr.listOff[pos])
	}
	return st
}

// spread puts bit p of the low countPlanes bits of x into bit 16p: one
// driven row in each of the planes x drives, packed as counts are.
func spread(x uint64) uint64 {
	return x&1 | x&2<<15 | x&4<<30 | x&8<<45
}

// computeFused is compute for a fused layer: it sets acc, posInput, the
// counters and the blocks' cycles and values. Every non-zero input is
// first listed with the positions that read it, then each position with
// input sums its list's lanes and is charged its reads.
func computeFused(s *hwLayer, ss *layerState) {
	listInputs(s, ss)
	fs := ss.fused
	clear(ss.blockCyc) // the reads, until charged
	clear(ss.blockVals)
	clear(fs.rows)
	clear(fs.splitReads)
	clear(fs.splitRows)
	clear(fs.splitHits)
	lo := s.fused.listOff
	for pos, end := range fs.end {
		if uint32(end) == uint32(lo[pos]) {
			if ss.posInput.Get(pos) {
				// It had input at the last compute: elsewhere acc is
				// already zero.
				clear(ss.acc[pos*s.lm.Outputs : (pos+1)*s.lm.Outputs])
				ss.posInput[pos>>6] &^= 1 << (pos & 63)
			}
			continue
		}
		ss.posInput.Set(pos)
		sumPosition(s, ss, pos, fs.list[lo[pos]:uint32(end)], int(end>>32))
		fs.end[pos] = uint64(lo[pos])
		chargePosition(s, ss, pos)
	}
	if ss.done == nil {
		// Every block of a row split reads alike at a position: the
		// split's sums over the positions are each of its blocks'.
		for bi := range s.lm.Blocks {
			r := s.fused.blockSplit[bi]
			ss.blockCyc[bi], fs.rows[bi] = fs.splitReads[r], fs.splitRows[r]
			ss.blockVals[bi] = fs.splitHits[r] * int64(s.lm.Blocks[bi].Outputs())
		}
	}
	for bi, a := range s.arrays {
		if reads := ss.blockCyc[bi]; reads > 0 {
			ss.blockCyc[bi] = a.Charge(reads, fs.rows[bi], &ss.counters)
		}
	}
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

// zero64 reports whether in holds 64 inputs or more, the first 64 zero.
func zero64(in []uint8) bool {
	if len(in) < 64 {
		return false
	}
	var or uint64
	for k := 0; k < 64; k += 8 {
		or |= binary.LittleEndian.Uint64(in[k:])
	}
	return or == 0
}

// count adds the driven rows of an input value x to the count words of
// its (position, row split), for inputs of more than countPlanes bits.
func count(counts []uint64, x uint64) {
	for k := 0; x>>(countPlanes*k) != 0; k++ {
		counts[k] += spread(x >> (countPlanes * k))
	}
}

// listInputs lists every non-zero input value with its row at every
// position that reads it, and counts its driven rows there.
func listInputs(s *hwLayer, ss *layerState) {
	entries, fs := s.fused.entries, ss.fused
	for i := 0; i < len(ss.in); i += 8 {
		if i%64 == 0 && zero64(ss.in[i:]) {
			i += 56 // 64 inputs of zero passed over at once
			continue
		}
		word, m := inputWord(ss.in, i)
		for ; m != 0; m &= m - 1 {
			b := bits.TrailingZeros64(m) &^ 7
			e := i + b>>3
			fs.listInput(entries[s.nl.ScatterOff[e]:s.nl.ScatterOff[e+1]], word>>uint(b)&0xff)
		}
	}
}

// listInput lists an input of value x at the positions of its scatter
// entries, and counts its driven rows there. It is not inlined, so that
// its loop keeps its values in registers.
//
//go:noinline
func (fs *fusedState) listInput(entries []fusedEntry, x uint64) {
	counts, end, list := fs.counts, fs.end, fs.list
	spx := spread(x) // a count word's share of x, for a layer of one
	if fs.countWords > 1 {
		for _, en := range entries {
			count(counts[en.count:], x)
		}
		spx = 0
	}
	for _, en := range entries {
		counts[en.count] += spx
		k := &end[en.pos]
		list[uint32(*k)] = laneInput{uint32(en.row), uint32(x)}
		*k += 1 | x<<32
	}
}

// sumPosition sets the outputs of position pos in acc from the inputs it
// reads, whose values sum to fill, chunk by chunk of lanes: a chunk's
// lanes go to the outputs when they are full and at the end.
func sumPosition(s *hwLayer, ss *layerState, pos int, in []laneInput, fill int) {
	wr := s.fused
	acc := ss.acc[pos*s.lm.Outputs : (pos+1)*s.lm.Outputs]
	per := 64 / wr.laneBits * chunkWords // outputs per chunk
	if wr.ones {
		per = s.lm.OutputsPerBlock
	}
	for c := 0; c*per < len(acc); c++ {
		out := acc[c*per : min((c+1)*per, len(acc))]
		lanes := wr.lanes[c*chunkWords:]
		for rest, set := in, true; len(rest) > 0; set = false {
			k, n := len(rest), fill
			if fill > wr.limit {
				k, n = fitting(rest, wr.limit)
			}
			var sum [chunkWords]uint64
			sum[0], sum[1], sum[2], sum[3] = addLanes(lanes, rest[:k])
			sum[4], sum[5], sum[6], sum[7] = addLanes(lanes[chunkWords/2:], rest[:k])
			if wr.ones {
				crossbar.FlushLanes(out, &sum, int64(n), set)
			} else {
				flushWide(out, &sum, int64(n), set, wr.laneBits)
			}
			rest = rest[k:]
		}
	}
}

// fitting returns how many of the inputs in, from the first, a chunk's
// lanes can take without passing limit (at least one: limit ≥ 255), and
// their values' sum.
func fitting(in []laneInput, limit int) (k, n int) {
	for k = 0; k < len(in) && n+int(in[k].x) <= limit; k++ {
		n += int(in[k].x)
	}
	return max(k, 1), max(n, int(in[0].x))
}

// addLanes returns four words of lanes from each input's row, x times
// for an input of value x, summed. The four sums stay in registers: it
// is not inlined, since the compiler would then keep them on the stack.
//
//go:noinline
func addLanes(lanes []uint64, in []laneInput) (s0, s1, s2, s3 uint64) {
	for _, e := range in {
		i := uint(e.row)
		r := lanes[i : i+4 : i+4]
		x := uint64(e.x)
		s0 += r[0] * x // no lane carries into the next: the input fits
		s1 += r[1] * x
		s2 += r[2] * x
		s3 += r[3] * x
	}
	return s0, s1, s2, s3
}

// flushWide moves the wide lanes of sum (laneBits bits each), into
// which input n in all went, into the outputs out: it sets them if set,
// else adds to them.
func flushWide(out []int64, sum *[chunkWords]uint64, n int64, set bool, laneBits int) {
	b, per, mask := wideBias*n, 64/laneBits, uint64(1)<<laneBits-1
	for j, w := range sum {
		if per*j >= len(out) {
			return
		}
		o := out[per*j : min(per*j+per, len(out))]
		switch {
		case len(o) == 4 && set:
			o := (*[4]int64)(o) // output by output, as in crossbar.FlushLanes
			o[0], o[1], o[2], o[3] = int64(w&0xffff)-b, int64(w>>16&0xffff)-b, int64(w>>32&0xffff)-b, int64(w>>48)-b
			continue
		case len(o) == 2 && per == 2 && set:
			o := (*[2]int64)(o)
			o[0], o[1] = int64(w&0xffffffff)-b, int64(w>>32)-b
			continue
		}
		for k := range o {
			x := int64(w>>(laneBits*k)&mask) - b
			if !set {
				x += o[k]
			}
			o[k] = x
		}
	}
}

// chargePosition charges the reads at position pos, which has input,
// from the driven rows counted, and clears its counts: to each block for
// a fire-once layer, else to its row splits' sums, which computeFused
// gives to their blocks once (a block loop per position cost 2.5 % of a
// MNIST conv run).
func chargePosition(s *hwLayer, ss *layerState, pos int) {
	ls, wr := ss.fused, s.fused
	cw := wr.countWords
	per := s.lm.RowSplits * cw
	// Every array of a chip reads RowsPerRead rows at a time, so a row
	// split's reads are the same for each of its blocks.
	a0 := s.arrays[0]
	counts := ls.counts[pos*per : (pos+1)*per]
	for r := range ls.splitReads {
		var reads, rows int64
		for _, c := range counts[r*cw : (r+1)*cw] {
			rows += int64(c * planeOnes >> 48) // the four planes' sum
			if (c+wr.overRead)&planeTops == 0 {
				// No plane drives more rows than one read: a read per
				// plane with a driven row.
				reads += int64(bits.OnesCount64((c + (0x7fff * planeOnes)) & planeTops))
				continue
			}
			for p := 0; p < countPlanes; p++ {
				reads += a0.Reads(int(c >> (16 * p) & 0xffff))
			}
		}
		if ss.done == nil {
			// Summed here, given to the blocks once (computeFused).
			ls.splitReads[r] += reads
			ls.splitRows[r] += rows
			ls.splitHits[r] += int64(uint64(-reads) >> 63) // 1 if reads > 0
			continue
		}
		ls.splitReads[r], ls.splitRows[r] = reads, rows
	}
	clear(counts)
	if ss.done == nil {
		return
	}
	// A fire-once layer charges block by block: a block whose neurons
	// have all fired is not read.
	for bi := range s.lm.Blocks {
		b := &s.lm.Blocks[bi] // not a copy: this loop runs every timestep
		r := wr.blockSplit[bi]
		reads := ls.splitReads[r]
		if reads == 0 || allDone(ss.done, pos, s.lm.Positions, b.OutLo, b.OutHi) {
			continue // no read, or every neuron this read would feed has fired
		}
		ss.blockCyc[bi] += reads
		ls.rows[bi] += ls.splitRows[r]
		ss.blockVals[bi] += int64(b.Outputs())
	}
}
