package hdf5

import (
	"errors"
	"fmt"
)

// chunkRef locates one stored chunk.
type chunkRef struct {
	scaled []uint64 // chunk coordinates: element offsets divided by the chunk shape
	addr   uint64
	size   uint64 // bytes stored
	mask   uint32 // filters skipped for this chunk
}

// chunkGrid is the geometry the chunk indexes need.
type chunkGrid struct {
	dims     []uint64 // dataset dimensions
	chunk    []uint64 // chunk dimensions
	n        []uint64 // chunks along each dimension, for the current dimensions
	maxN     []uint64 // chunks along each dimension for the maximum dimensions (unlimited: n)
	unlim    int      // the unlimited dimension, or -1
	bytes    uint64   // bytes in one chunk
	filtered bool
}

// chunkFloor is the chunk size a limited read accepts whatever its limit:
// h5py makes chunks of up to 1 MiB, which can be larger than a small
// dataset with room to grow.
const chunkFloor = 1 << 20

// grid lays out the dataset's chunks, refusing chunks of more than budget
// bytes.
func (ds *Dataset) grid(budget uint64) (*chunkGrid, error) {
	l := ds.layout
	g := &chunkGrid{dims: ds.space.dims, chunk: l.chunk, unlim: -1, filtered: len(ds.filters) > 0}
	elems := uint64(1)
	for i, c := range l.chunk {
		var ok bool
		if elems, ok = mulCheck(elems, c, budget); !ok {
			return nil, fmt.Errorf("chunk %v is larger than %d elements", l.chunk, budget)
		}
		d := g.dims[i]
		g.n = append(g.n, ceilDiv(d, c))
		m := d
		if ds.space.maxDims != nil {
			m = ds.space.maxDims[i]
		}
		if m == undef {
			g.unlim = i
			m = d
		}
		g.maxN = append(g.maxN, max(ceilDiv(m, c), ceilDiv(d, c)))
	}
	var ok bool
	if g.bytes, ok = mulCheck(elems, uint64(ds.typ.pub.Size), budget); !ok {
		return nil, fmt.Errorf("chunk %v of %d-byte elements is larger than %d bytes", l.chunk, ds.typ.pub.Size, budget)
	}
	return g, nil
}

func ceilDiv(a, b uint64) uint64 { return a/b + min(a%b, 1) }

// unravel turns a linear chunk index over counts (row-major) into chunk
// coordinates.
func unravel(i uint64, counts []uint64) []uint64 {
	s := make([]uint64, len(counts))
	for k := len(counts) - 1; k >= 0; k-- {
		if counts[k] == 0 {
			return s
		}
		s[k] = i % counts[k]
		i /= counts[k]
	}
	return s
}

func (ds *Dataset) readChunked(nbytes, budget uint64) ([]byte, error) {
	g, err := ds.grid(max(budget, min(ds.f.dataBudget(), chunkFloor)))
	if err != nil {
		return nil, err
	}
	out := ds.filled(nbytes)
	total := uint64(1)
	for _, n := range g.n {
		total *= n // at most the element count, checked by the caller
	}
	done := make([]uint64, (total+63)/64)
	elem := uint64(ds.typ.pub.Size)
	// What the chunks take to read and inflate is capped too: a crafted
	// index could point every chunk at the same large stored bytes.
	spent, limit := uint64(0), 2*max(budget, g.bytes)
	err = ds.chunks(g, func(c chunkRef) error {
		lin := uint64(0)
		for i, s := range c.scaled {
			if s >= g.n[i] {
				return nil // beyond the current extent: left from before a shrink
			}
			lin = lin*g.n[i] + s
		}
		if done[lin/64]&(1<<(lin%64)) != 0 {
			return fmt.Errorf("chunk %v stored twice", c.scaled)
		}
		done[lin/64] |= 1 << (lin % 64)
		if !g.filtered && c.size != g.bytes {
			return fmt.Errorf("chunk %v of %d bytes, want %d", c.scaled, c.size, g.bytes)
		}
		if spent += min(c.size, limit) + g.bytes; spent > limit {
			return fmt.Errorf("chunks take more than %d bytes to read and inflate", limit)
		}
		stored, err := ds.f.readData(c.addr, c.size)
		if err != nil {
			return fmt.Errorf("chunk %v: %w", c.scaled, err)
		}
		data, err := unfilter(ds.filters, stored, c.mask, g.bytes, int(elem))
		if err != nil {
			return fmt.Errorf("chunk %v: %w", c.scaled, err)
		}
		if uint64(len(data)) != g.bytes {
			return fmt.Errorf("chunk %v holds %d bytes, want %d", c.scaled, len(data), g.bytes)
		}
		copyChunk(out, data, g, c.scaled, elem)
		return nil
	})
	return out, err
}

// copyChunk copies the part of a chunk that lies inside the dataset into
// out, one run along the last dimension at a time.
func copyChunk(out, data []byte, g *chunkGrid, scaled []uint64, elem uint64) {
	rank := len(g.dims)
	count := make([]uint64, rank)
	for i := range rank {
		start := scaled[i] * g.chunk[i]
		count[i] = min(g.chunk[i], g.dims[i]-start)
	}
	run := count[rank-1] * elem
	idx := make([]uint64, rank-1)
	for {
		src, dst := uint64(0), uint64(0)
		for i := range rank {
			at := uint64(0)
			if i < rank-1 {
				at = idx[i]
			}
			src = src*g.chunk[i] + at
			dst = dst*g.dims[i] + scaled[i]*g.chunk[i] + at
		}
		copy(out[dst*elem:dst*elem+run], data[src*elem:src*elem+run])
		k := rank - 2
		for ; k >= 0; k-- {
			if idx[k]++; idx[k] < count[k] {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// chunks calls fn for every chunk the index records.
func (ds *Dataset) chunks(g *chunkGrid, fn func(chunkRef) error) error {
	l := ds.layout
	if l.addr == undef {
		return nil // nothing written yet
	}
	var err error
	switch l.index {
	case indexBTreeV1:
		err = ds.btreeV1Chunks(g, fn)
	case indexSingle:
		c := chunkRef{scaled: make([]uint64, len(g.dims)), addr: l.addr, size: g.bytes}
		if l.singleFiltered {
			c.size, c.mask = l.singleSize, l.singleMask
		}
		err = fn(c)
	case indexImplicit:
		err = implicitChunks(ds.f, g, l.addr, fn)
	case indexFixedArray:
		err = ds.fixedArrayChunks(g, fn)
	case indexExtArray:
		err = ds.extArrayChunks(g, fn)
	case indexBTreeV2:
		err = ds.btreeV2Chunks(g, fn)
	}
	if err != nil {
		return fmt.Errorf("%s chunk index at 0x%x: %w", indexNames[l.index], l.addr, err)
	}
	return nil
}

// btreeV1Chunks reads a version 1 B-tree of chunks, whose keys hold each
// chunk's stored size, filter mask and element offsets (plus a zero for the
// element-size dimension).
func (ds *Dataset) btreeV1Chunks(g *chunkGrid, fn func(chunkRef) error) error {
	rank := len(g.dims)
	return ds.f.walkV1BTree(ds.layout.addr, 1, 8+8*(rank+1), func(key []byte, child uint64) error {
		d := ds.f.decoder(key)
		c := chunkRef{addr: child, size: uint64(d.u32()), mask: d.u32(), scaled: make([]uint64, rank)}
		for i := range rank {
			off := d.u64()
			if off%g.chunk[i] != 0 {
				return fmt.Errorf("chunk offset %d is not a multiple of the chunk size %d", off, g.chunk[i])
			}
			c.scaled[i] = off / g.chunk[i]
		}
		return fn(c)
	})
}

// implicitChunks visits the chunks of the implicit index: every chunk of the
// maximum extent, allocated in order from base.
func implicitChunks(f *File, g *chunkGrid, base uint64, fn func(chunkRef) error) error {
	// All chunks were allocated together: they must fit in the file.
	total := uint64(1)
	for _, n := range g.maxN {
		var ok bool
		if total, ok = mulCheck(total, n, f.size); !ok {
			return fmt.Errorf("%v chunks do not fit in the file", g.maxN)
		}
	}
	if _, ok := mulCheck(total, g.bytes, f.size); !ok {
		return fmt.Errorf("%d chunks of %d bytes do not fit in the file", total, g.bytes)
	}
	for i := range total {
		addr := base + i*g.bytes
		if err := fn(chunkRef{scaled: unravel(i, g.maxN), addr: addr, size: g.bytes}); err != nil {
			return err
		}
	}
	return nil
}

// chunkEntry decodes a chunk address and, for filtered chunks, the stored
// size (sizeLen bytes) and filter mask, as fixed and extensible arrays and
// v2 B-trees record them.
func chunkEntry(d *decoder, g *chunkGrid, sizeLen int) chunkRef {
	c := chunkRef{addr: d.addr(), size: g.bytes}
	if g.filtered {
		c.size = d.uint(sizeLen)
		c.mask = d.u32()
	}
	return c
}

// entrySizeLen checks that a chunk entry of entrySize bytes has room for an
// address and, if filtered, a mask, and returns the width of the stored size.
func (ds *Dataset) entrySizeLen(g *chunkGrid, entrySize int) (int, error) {
	sizeLen := 0
	if g.filtered {
		sizeLen = entrySize - ds.f.offSize - 4
	}
	if (g.filtered && (sizeLen < 1 || sizeLen > 8)) || (!g.filtered && entrySize != ds.f.offSize) {
		return 0, fmt.Errorf("chunk entries of %d bytes", entrySize)
	}
	return sizeLen, nil
}

// fixedArrayChunks reads a fixed array index: one entry per chunk of the
// maximum extent, in a data block that is split into pages when it holds
// more than 2^pageBits entries.
func (ds *Dataset) fixedArrayChunks(g *chunkGrid, fn func(chunkRef) error) error {
	f := ds.f
	O := uint64(f.offSize)
	b, err := f.readAt(ds.layout.addr, 8+uint64(f.lenSize)+O+4)
	if err != nil {
		return err
	}
	d := f.decoder(b)
	d.signature("FAHD")
	d.skip(2) // version, client
	entrySize := int(d.u8())
	pageBits := d.u8()
	n := d.length()
	dblk := d.addr()
	if d.err != nil {
		return d.err
	}
	if err := f.verify(b, "fixed array header", ds.layout.addr); err != nil {
		return err
	}
	sizeLen, err := ds.entrySizeLen(g, entrySize)
	if err != nil {
		return err
	}
	if pageBits > 32 || n > f.size/uint64(entrySize) {
		return fmt.Errorf("fixed array of %d entries, %d page bits", n, pageBits)
	}
	pageN := uint64(1) << pageBits
	prefix := 4 + 1 + 1 + O
	var pages, bitmap uint64
	if n > pageN {
		pages = (n + pageN - 1) / pageN
		bitmap = (pages + 7) / 8
	}
	entries := n * uint64(entrySize)
	if pages > 0 {
		entries = 0 // the entries are in the pages that follow the block
	}
	blk, err := f.readAt(dblk, prefix+bitmap+entries+4)
	if err != nil {
		return fmt.Errorf("data block: %w", err)
	}
	d = f.decoder(blk)
	d.signature("FADB")
	if d.err != nil {
		return fmt.Errorf("data block at 0x%x: %w", dblk, d.err)
	}
	if err := f.verify(blk, "fixed array data block", dblk); err != nil {
		return err
	}
	visit := func(d *decoder, first, count uint64) error {
		for i := first; i < first+count; i++ {
			c := chunkEntry(d, g, sizeLen)
			if d.err != nil {
				return d.err
			}
			if c.addr == undef {
				continue
			}
			c.scaled = unravel(i, g.maxN)
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	if pages == 0 {
		return visit(f.decoder(blk[prefix:]), 0, n)
	}
	pageAddr := dblk + uint64(len(blk))
	for p := range pages {
		count := min(pageN, n-p*pageN)
		size := count*uint64(entrySize) + 4
		// A page is used only once its bit (most significant first) is set.
		if blk[prefix+p/8]&(0x80>>(p%8)) != 0 {
			page, err := f.readAt(pageAddr, size)
			if err != nil {
				return fmt.Errorf("data block page: %w", err)
			}
			if err := f.verify(page, "fixed array data block page", pageAddr); err != nil {
				return err
			}
			if err := visit(f.decoder(page), p*pageN, count); err != nil {
				return err
			}
		}
		pageAddr += size
	}
	return nil
}

// btreeV2Chunks reads a v2 B-tree index (record type 10, or 11 when
// filtered): each record has a chunk entry and the chunk coordinates.
func (ds *Dataset) btreeV2Chunks(g *chunkGrid, fn func(chunkRef) error) error {
	typ := uint8(10)
	if g.filtered {
		typ = 11
	}
	rank := len(g.dims)
	return ds.f.v2BTreeRecords(ds.layout.addr, typ, func(rec []byte) error {
		sizeLen, err := ds.entrySizeLen(g, len(rec)-8*rank)
		if err != nil {
			return err
		}
		d := ds.f.decoder(rec)
		c := chunkEntry(d, g, sizeLen)
		c.scaled = make([]uint64, rank)
		for i := range c.scaled {
			c.scaled[i] = d.u64()
		}
		if d.err != nil {
			return d.err
		}
		return fn(c)
	})
}

// extArrayChunks reads an extensible array index, used when one dimension
// is unlimited. Entries are numbered with that dimension moved first; the
// first few are in the index block, the rest in data blocks that the index
// block points at directly or through secondary blocks, with data blocks
// growing in size from one "super block" to the next.
func (ds *Dataset) extArrayChunks(g *chunkGrid, fn func(chunkRef) error) error {
	f := ds.f
	O, L := uint64(f.offSize), uint64(f.lenSize)
	b, err := f.readAt(ds.layout.addr, 12+6*L+O+4)
	if err != nil {
		return err
	}
	d := f.decoder(b)
	d.signature("EAHD")
	d.skip(2) // version, client
	entrySize := int(d.u8())
	maxBits := int(d.u8())
	idxElmts := uint64(d.u8())
	minElmts := uint64(d.u8())
	minPtrs := uint64(d.u8())
	pageBits := int(d.u8())
	d.skip(6 * int(L)) // block and element counts
	iblk := d.addr()
	if d.err != nil {
		return d.err
	}
	if err := f.verify(b, "extensible array header", ds.layout.addr); err != nil {
		return err
	}
	sizeLen, err := ds.entrySizeLen(g, entrySize)
	if err != nil {
		return err
	}
	minElmtsBits, ok1 := log2(minElmts)
	minPtrsBits, ok2 := log2(minPtrs)
	if !ok1 || !ok2 || maxBits > 64 || maxBits < minElmtsBits || pageBits > 32 {
		return fmt.Errorf("extensible array parameters: %d bits, %d elements and %d pointers at least", maxBits, minElmts, minPtrs)
	}
	if g.unlim < 0 {
		return errors.New("extensible array index on a dataset with no unlimited dimension")
	}
	ea := &extArray{
		ds: ds, g: g, fn: fn, entrySize: uint64(entrySize), sizeLen: sizeLen,
		blockOffLen: (maxBits + 7) / 8, pageN: uint64(1) << pageBits, minElmts: minElmts,
	}
	// Entries past the chunks of the current extent are never read: blocks
	// that hold only such entries are skipped.
	end := g.n[g.unlim]
	for k, n := range g.maxN {
		if k != g.unlim {
			var ok bool
			if end, ok = mulCheck(end, n, 1<<62); !ok {
				end = 1 << 62
			}
		}
	}
	// Super block s holds 2^floor(s/2) data blocks of 2^ceil(s/2)*minElmts
	// entries; the index block points at the data blocks of the first
	// 2*log2(minPtrs) super blocks itself, and at secondary blocks for the
	// rest.
	nsblks := 1 + maxBits - minElmtsBits
	iblkSblks := min(2*minPtrsBits, nsblks)
	ndblk := 2 * (minPtrs - 1)
	nsblk := uint64(nsblks - iblkSblks)
	blk, err := f.readAt(iblk, 4+1+1+O+idxElmts*ea.entrySize+(ndblk+nsblk)*O+4)
	if err != nil {
		return fmt.Errorf("index block: %w", err)
	}
	d = f.decoder(blk)
	d.signature("EAIB")
	d.skip(2 + int(O)) // version, client, header address
	if d.err != nil {
		return fmt.Errorf("index block at 0x%x: %w", iblk, d.err)
	}
	if err := f.verify(blk, "extensible array index block", iblk); err != nil {
		return err
	}
	if err := ea.entries(d, 0, idxElmts); err != nil {
		return err
	}
	next := idxElmts
	s, inSblk := 0, uint64(0)
	for range ndblk {
		addr := d.addr()
		if next >= end {
			return d.err
		}
		n := ea.dblkElmts(s)
		if err := ea.dataBlock(addr, next, n); err != nil {
			return err
		}
		next += n
		if inSblk++; inSblk == uint64(1)<<(s/2) {
			s, inSblk = s+1, 0
		}
	}
	for s := iblkSblks; s < nsblks && next < end; s++ {
		addr := d.addr()
		if addr != undef {
			if err := ea.secondaryBlock(addr, s, next); err != nil {
				return err
			}
		}
		inc, ok := mulCheck(uint64(1)<<(s/2), ea.dblkElmts(s), 1<<62)
		if !ok {
			break
		}
		next += inc
	}
	return d.err
}

type extArray struct {
	ds          *Dataset
	g           *chunkGrid
	fn          func(chunkRef) error
	entrySize   uint64
	sizeLen     int
	blockOffLen int
	pageN       uint64
	minElmts    uint64
}

func (ea *extArray) dblkElmts(s int) uint64 { return uint64(1) << ((s + 1) / 2) * ea.minElmts }

// entries decodes count entries numbered from first.
func (ea *extArray) entries(d *decoder, first, count uint64) error {
	for i := first; i < first+count; i++ {
		c := chunkEntry(d, ea.g, ea.sizeLen)
		if d.err != nil {
			return d.err
		}
		if c.addr == undef {
			continue
		}
		c.scaled = ea.coords(i)
		if c.scaled == nil {
			continue // past the extent of the dataset
		}
		if err := ea.fn(c); err != nil {
			return err
		}
	}
	return nil
}

// coords maps entry i to chunk coordinates: entries count chunks in
// row-major order with the unlimited dimension moved to the front.
func (ea *extArray) coords(i uint64) []uint64 {
	g := ea.g
	order := []int{g.unlim}
	for k := range g.dims {
		if k != g.unlim {
			order = append(order, k)
		}
	}
	s := make([]uint64, len(order))
	for k := len(order) - 1; k >= 1; k-- {
		n := g.maxN[order[k]]
		if n == 0 {
			return nil
		}
		s[order[k]] = i % n
		i /= n
	}
	if i >= g.n[g.unlim] {
		return nil
	}
	s[g.unlim] = i
	return s
}

func (ea *extArray) secondaryBlock(addr uint64, s int, first uint64) error {
	f := ea.ds.f
	O := uint64(f.offSize)
	n := ea.dblkElmts(s)
	if n > ea.pageN {
		return fmt.Errorf("paged extensible array data blocks: %w", errors.ErrUnsupported)
	}
	ndblks := uint64(1) << (s / 2)
	b, err := f.readAt(addr, 4+1+1+O+uint64(ea.blockOffLen)+ndblks*O+4)
	if err != nil {
		return fmt.Errorf("secondary block: %w", err)
	}
	d := f.decoder(b)
	d.signature("EASB")
	d.skip(2 + int(O) + ea.blockOffLen) // version, client, header address, block offset
	if d.err != nil {
		return fmt.Errorf("secondary block at 0x%x: %w", addr, d.err)
	}
	if err := f.verify(b, "extensible array secondary block", addr); err != nil {
		return err
	}
	for range ndblks {
		if err := ea.dataBlock(d.addr(), first, n); err != nil {
			return err
		}
		first += n
	}
	return d.err
}

func (ea *extArray) dataBlock(addr, first, n uint64) error {
	if addr == undef {
		return nil
	}
	if n > ea.pageN {
		return fmt.Errorf("paged extensible array data blocks: %w", errors.ErrUnsupported)
	}
	f := ea.ds.f
	prefix := 4 + 1 + 1 + uint64(f.offSize) + uint64(ea.blockOffLen)
	b, err := f.readAt(addr, prefix+n*ea.entrySize+4)
	if err != nil {
		return fmt.Errorf("data block: %w", err)
	}
	d := f.decoder(b)
	d.signature("EADB")
	d.skip(int(prefix) - 4)
	if d.err != nil {
		return fmt.Errorf("data block at 0x%x: %w", addr, d.err)
	}
	if err := f.verify(b, "extensible array data block", addr); err != nil {
		return err
	}
	return ea.entries(d, first, n)
}
