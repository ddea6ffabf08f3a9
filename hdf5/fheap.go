package hdf5

import (
	"errors"
	"fmt"
)

// fractalHeap is a fractal heap: the store for the links of a group and the
// attributes of an object once there are too many to keep in its header.
// Only what a reader needs is kept: how to find a managed object from its
// heap ID through the doubling table of direct and indirect blocks.
type fractalHeap struct {
	f              *File
	addr           uint64
	idLen          int
	filtered       bool
	width          uint64 // blocks per row of the doubling table
	startBlock     uint64 // size of the blocks in the first two rows
	maxDirect      uint64 // largest direct block; larger rows are indirect blocks
	maxDirectRows  int    // rows of direct blocks in an indirect block
	rootAddr       uint64
	rootRows       int // 0: the root is a direct block
	checksumDirect bool
	offBytes       int // width of heap offsets in IDs and block headers
	lenBytes       int // width of object lengths in managed IDs
	blocks         map[uint64][]byte
}

func (f *File) readFractalHeap(addr uint64) (*fractalHeap, error) {
	h, err := f.readFractalHeapHeader(addr)
	if err != nil {
		return nil, fmt.Errorf("fractal heap at 0x%x: %w", addr, err)
	}
	return h, nil
}

func (f *File) readFractalHeapHeader(addr uint64) (*fractalHeap, error) {
	O, L := uint64(f.offSize), uint64(f.lenSize)
	size := 22 + 12*L + 3*O + 4
	head, err := f.readAt(addr, 9)
	if err != nil {
		return nil, err
	}
	filterLen := uint64(head[7]) | uint64(head[8])<<8
	if filterLen > 0 {
		size += L + 4 + filterLen
	}
	b, err := f.readAt(addr, size)
	if err != nil {
		return nil, err
	}
	d := f.decoder(b)
	d.signature("FRHP")
	if v := d.u8(); d.err == nil && v != 0 {
		return nil, fmt.Errorf("version %d: %w", v, errors.ErrUnsupported)
	}
	h := &fractalHeap{f: f, addr: addr, blocks: map[uint64][]byte{}}
	h.idLen = int(d.u16())
	d.skip(2) // filter information length, read above
	h.filtered = filterLen > 0
	flags := d.u8()
	h.checksumDirect = flags&0x02 != 0
	maxManaged := uint64(d.u32())
	d.length() // next huge object ID
	d.addr()   // v2 B-tree of huge objects
	d.length() // free space in managed blocks
	d.addr()   // free-space manager
	for range 8 {
		d.length() // managed, allocated and iterator offsets; object counts and sizes
	}
	h.width = uint64(d.u16())
	h.startBlock = d.length()
	h.maxDirect = d.length()
	maxHeapBits := int(d.u16())
	d.skip(2) // starting rows of the root indirect block
	h.rootAddr = d.addr()
	h.rootRows = int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if err := f.verify(b, "fractal heap header", addr); err != nil {
		return nil, err
	}
	widthBits, okWidth := log2(h.width)
	startBits, okStart := log2(h.startBlock)
	directBits, okDirect := log2(h.maxDirect)
	// The last check keeps every row, and a whole row, of the root block
	// within 64 bits of heap address space.
	if !okWidth || !okStart || !okDirect || h.maxDirect < h.startBlock || maxHeapBits < 1 ||
		maxHeapBits > 64 || directBits > maxHeapBits || widthBits+startBits+h.rootRows > 64 {
		return nil, fmt.Errorf("doubling table: width %d, blocks %d to %d, %d bits, %d root rows",
			h.width, h.startBlock, h.maxDirect, maxHeapBits, h.rootRows)
	}
	h.maxDirectRows = directBits - startBits + 2
	h.offBytes = (maxHeapBits + 7) / 8
	h.lenBytes = encSize(min(h.maxDirect, maxManaged))
	return h, nil
}

// object returns the object whose heap ID is id.
func (h *fractalHeap) object(id []byte) ([]byte, error) {
	if len(id) == 0 {
		return nil, errors.New("empty heap ID")
	}
	if id[0]>>6 != 0 {
		return nil, fmt.Errorf("heap ID version %d: %w", id[0]>>6, errors.ErrUnsupported)
	}
	switch (id[0] >> 4) & 3 {
	case 0: // managed: an offset into the heap's address space and a length
		d := h.f.decoder(id[1:])
		off, n := d.uint(h.offBytes), d.uint(h.lenBytes)
		if d.err != nil {
			return nil, fmt.Errorf("heap ID: %w", d.err)
		}
		if h.filtered {
			return nil, fmt.Errorf("fractal heap at 0x%x has I/O filters: %w", h.addr, errors.ErrUnsupported)
		}
		return h.managed(off, n)
	case 2: // tiny: the object is in the ID itself
		n, data := int(id[0]&0x0f)+1, id[1:]
		if h.idLen > 18 && len(id) > 1 { // the extended form has a 12-bit length
			n, data = (int(id[0]&0x0f)<<8|int(id[1]))+1, id[2:]
		}
		if n > len(data) {
			return nil, fmt.Errorf("tiny heap object of %d bytes in a %d-byte ID", n, len(id))
		}
		return data[:n], nil
	}
	return nil, fmt.Errorf("huge fractal heap objects: %w", errors.ErrUnsupported)
}

// rowSize is the size of the blocks in row r of the doubling table.
func (h *fractalHeap) rowSize(r int) uint64 {
	if r < 2 {
		return h.startBlock
	}
	return h.startBlock << uint(r-1)
}

func (h *fractalHeap) managed(off, n uint64) ([]byte, error) {
	if h.rootAddr == undef {
		return nil, errors.New("heap object in an empty heap")
	}
	if h.rootRows == 0 {
		return h.fromDirect(h.rootAddr, 0, h.startBlock, off, n)
	}
	return h.fromIndirect(h.rootAddr, 0, h.rootRows, off, n)
}

// fromIndirect finds the object at heap offset off in the indirect block at
// addr, which starts at heap offset blockOff and has nrows rows.
func (h *fractalHeap) fromIndirect(addr, blockOff uint64, nrows int, off, n uint64) ([]byte, error) {
	O := uint64(h.f.offSize)
	direct := uint64(min(nrows, h.maxDirectRows)) * h.width
	indirect := uint64(0)
	if nrows > h.maxDirectRows {
		indirect = uint64(nrows-h.maxDirectRows) * h.width
	}
	b, err := h.block(addr, 4+1+O+uint64(h.offBytes)+(direct+indirect)*O+4, "FHIB", blockOff)
	if err != nil {
		return nil, err
	}
	entries := b[4+1+O+uint64(h.offBytes):]
	pos := blockOff
	for r := 0; r < nrows; r++ {
		rs := h.rowSize(r)
		if off-pos >= h.width*rs {
			pos += h.width * rs
			continue
		}
		col := (off - pos) / rs
		start := pos + col*rs
		i := uint64(r)*h.width + col
		child := h.f.decoder(entries[i*O:]).addr()
		if child == undef {
			return nil, fmt.Errorf("heap offset %d is in an unallocated block", off)
		}
		if r < h.maxDirectRows {
			return h.fromDirect(child, start, rs, off, n)
		}
		startBits, _ := log2(h.startBlock)
		rsBits, _ := log2(rs)
		return h.fromIndirect(child, start, rsBits-startBits+1, off, n)
	}
	return nil, fmt.Errorf("heap offset %d is past the indirect block at 0x%x", off, addr)
}

// fromDirect returns the n bytes at heap offset off from the direct block
// at addr, which starts at heap offset blockOff and holds size bytes.
func (h *fractalHeap) fromDirect(addr, blockOff, size, off, n uint64) ([]byte, error) {
	b, err := h.block(addr, size, "FHDB", blockOff)
	if err != nil {
		return nil, err
	}
	prefix := uint64(5 + h.f.offSize + h.offBytes)
	if h.checksumDirect {
		prefix += 4
	}
	// Offsets count from the start of the block, header included.
	rel := off - blockOff
	if rel < prefix || rel > size || n > size-rel {
		return nil, fmt.Errorf("heap object of %d bytes at offset %d is outside the direct block at 0x%x", n, off, addr)
	}
	return b[rel : rel+n], nil
}

// block returns the direct (FHDB) or indirect (FHIB) block of size bytes at
// addr, which must start at heap offset blockOff. Blocks are read and
// checked once and kept: every object lookup walks from the root.
func (h *fractalHeap) block(addr, size uint64, sig string, blockOff uint64) ([]byte, error) {
	b, ok := h.blocks[addr]
	if !ok {
		var err error
		if b, err = h.readBlock(addr, size, sig); err != nil {
			return nil, fmt.Errorf("fractal heap block at 0x%x: %w", addr, err)
		}
		h.blocks[addr] = b
	}
	if uint64(len(b)) != size || string(b[:4]) != sig {
		return nil, fmt.Errorf("fractal heap block at 0x%x used as two kinds of block", addr)
	}
	d := h.f.decoder(b)
	d.skip(5 + h.f.offSize) // signature, version, heap header address
	if got := d.uint(h.offBytes); got != blockOff {
		return nil, fmt.Errorf("fractal heap block at 0x%x has offset %d, want %d", addr, got, blockOff)
	}
	return b, d.err
}

func (h *fractalHeap) readBlock(addr, size uint64, sig string) ([]byte, error) {
	b, err := h.f.readAt(addr, size)
	if err != nil {
		return nil, err
	}
	d := h.f.decoder(b)
	d.signature(sig)
	d.skip(1 + h.f.offSize + h.offBytes) // version, heap header address, block offset
	if d.err != nil {
		return nil, d.err
	}
	if sig == "FHIB" {
		return b, h.f.verify(b, "fractal heap indirect block", addr)
	}
	if h.checksumDirect && !h.f.skipChecksums {
		// The checksum covers the whole block with its own field zeroed.
		sum := d.u32()
		if d.err != nil {
			return nil, d.err
		}
		zeroed := append([]byte(nil), b...)
		clear(zeroed[d.off-4 : d.off])
		if got := lookup3(zeroed); got != sum {
			return nil, fmt.Errorf("checksum 0x%08x, computed 0x%08x: corrupt file", sum, got)
		}
	}
	return b, nil
}
