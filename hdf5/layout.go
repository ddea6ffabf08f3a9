package hdf5

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// Layout classes.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
)

// Chunk index types of layout message version 4; version 3 and earlier
// always index chunks with a version 1 B-tree (indexBTreeV1 here).
const (
	indexBTreeV1    = 0
	indexSingle     = 1
	indexImplicit   = 2
	indexFixedArray = 3
	indexExtArray   = 4
	indexBTreeV2    = 5
)

var indexNames = []string{"btree-v1", "single", "implicit", "fixed-array", "extensible-array", "btree-v2"}

// layout is a decoded data layout message.
type layout struct {
	version int
	class   int
	compact []byte   // compact: the data
	addr    uint64   // contiguous: the data; chunked: the index (or the single chunk)
	size    uint64   // contiguous: bytes stored
	chunk   []uint64 // chunked: chunk dimensions, in elements
	index   int      // chunked: the chunk index type
	// Single chunk index: the filtered size and filter mask of the chunk.
	singleFiltered bool
	singleSize     uint64
	singleMask     uint32
}

// Layout describes how a dataset is stored.
type Layout struct {
	// Class is "compact", "contiguous" or "chunked".
	Class string
	// Index is how chunks are found: "btree-v1", "single", "implicit",
	// "fixed-array", "extensible-array" or "btree-v2"; empty unless chunked.
	Index string
	// Chunk is the chunk shape; nil unless chunked.
	Chunk []int
	// Filters are the filters applied on write, in order: "deflate",
	// "shuffle", or "filter N" for one this reader cannot undo.
	Filters []string
}

func parseLayout(d *decoder, rank, elemSize int) (*layout, error) {
	l := &layout{version: int(d.u8())}
	if d.err == nil && (l.version < 3 || l.version > 5) {
		return nil, fmt.Errorf("data layout message version %d: %w", l.version, errors.ErrUnsupported)
	}
	l.class = int(d.u8())
	switch l.class {
	case layoutCompact:
		l.compact = d.take(int(d.u16()))
	case layoutContiguous:
		l.addr = d.addr()
		l.size = d.length()
	case layoutChunked:
		if err := l.parseChunked(d, rank, elemSize); err != nil {
			return nil, err
		}
	case 3:
		return nil, fmt.Errorf("virtual dataset layout: %w", errors.ErrUnsupported)
	default:
		d.fail("layout class %d", l.class)
	}
	if d.err != nil {
		return nil, fmt.Errorf("data layout message: %w", d.err)
	}
	return l, nil
}

func (l *layout) parseChunked(d *decoder, rank, elemSize int) error {
	if rank == 0 {
		return errors.New("chunked layout for a scalar dataset")
	}
	var dims []uint64
	flags := uint8(0)
	if l.version == 3 {
		n := int(d.u8())
		l.addr = d.addr()
		for range min(n, d.remaining()/4) {
			dims = append(dims, uint64(d.u32()))
		}
	} else {
		flags = d.u8()
		n := int(d.u8())
		width := int(d.u8())
		if width < 1 || width > 8 {
			d.fail("chunk dimensions of %d bytes", width)
		}
		for range min(n, d.remaining()/max(width, 1)) {
			dims = append(dims, d.uint(width))
		}
		l.index = int(d.u8())
		switch l.index {
		case indexSingle:
			if flags&0x02 != 0 {
				l.singleFiltered = true
				l.singleSize = d.length()
				l.singleMask = d.u32()
			}
		case indexImplicit:
		case indexFixedArray:
			d.skip(1) // page bits: the fixed array header repeats them
		case indexExtArray:
			d.skip(5) // creation parameters: the extensible array header repeats them
		case indexBTreeV2:
			d.skip(6) // node size, split and merge percentages: the B-tree header repeats them
		default:
			if d.err == nil {
				return fmt.Errorf("unsupported chunk index type %d: %w", l.index, errors.ErrUnsupported)
			}
		}
		l.addr = d.addr()
	}
	if d.err != nil {
		return fmt.Errorf("data layout message: %w", d.err)
	}
	// The last dimension is the size of an element, in bytes.
	if len(dims) != rank+1 || dims[rank] != uint64(elemSize) {
		return fmt.Errorf("chunk dimensions %v for rank %d and %d-byte elements", dims, rank, elemSize)
	}
	l.chunk = dims[:rank]
	for _, c := range l.chunk {
		if c == 0 {
			return fmt.Errorf("chunk dimensions %v", l.chunk)
		}
	}
	return nil
}

// filter is one stage of a filter pipeline.
type filter struct {
	id     uint16
	params []uint32
}

const (
	filterDeflate = 1
	filterShuffle = 2
)

var filterNames = map[uint16]string{
	filterDeflate: "deflate", filterShuffle: "shuffle", 3: "fletcher32", 4: "szip",
	5: "nbit", 6: "scaleoffset", 32000: "lzf", 32001: "blosc", 32004: "lz4", 32008: "bitshuffle",
	32015: "zstd",
}

func (fl filter) String() string {
	switch fl.id {
	case filterDeflate, filterShuffle:
		return filterNames[fl.id]
	}
	if name, ok := filterNames[fl.id]; ok {
		return fmt.Sprintf("filter %d (%s)", fl.id, name)
	}
	return fmt.Sprintf("filter %d", fl.id)
}

// maxFilters is the most filters a pipeline may hold.
const maxFilters = 32

func parseFilters(d *decoder) ([]filter, error) {
	version := d.u8()
	n := int(d.u8())
	if d.err == nil && (version < 1 || version > 2) {
		return nil, fmt.Errorf("filter pipeline version %d: %w", version, errors.ErrUnsupported)
	}
	if n > maxFilters {
		return nil, fmt.Errorf("filter pipeline with %d filters", n)
	}
	if version == 1 {
		d.skip(6)
	}
	var fs []filter
	for range n {
		fl := filter{id: d.u16()}
		nameLen := 0
		if version == 1 || fl.id >= 256 {
			nameLen = int(d.u16())
		}
		d.skip(2) // flags
		nvals := int(d.u16())
		if version == 1 {
			nameLen = (nameLen + 7) &^ 7 // padded to 8 bytes
		}
		d.skip(nameLen)
		for range min(nvals, d.remaining()/4) {
			fl.params = append(fl.params, d.u32())
		}
		if len(fl.params) < nvals {
			d.fail("filter %d: %d parameters", fl.id, nvals)
		}
		if version == 1 && nvals%2 == 1 {
			d.skip(4)
		}
		fs = append(fs, fl)
	}
	if d.err != nil {
		return nil, fmt.Errorf("filter pipeline: %w", d.err)
	}
	return fs, nil
}

// unfilter undoes the pipeline on one stored chunk, skipping the filters
// whose bits are set in mask. The result may be at most limit bytes: the
// decompressor stops there, so a crafted chunk cannot inflate without end.
func unfilter(fs []filter, b []byte, mask uint32, limit uint64, elemSize int) ([]byte, error) {
	for i := len(fs) - 1; i >= 0; i-- {
		if i < 32 && mask&(1<<uint(i)) != 0 {
			continue
		}
		switch fs[i].id {
		case filterDeflate:
			zr, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("deflate: %w", err)
			}
			var out bytes.Buffer
			out.Grow(int(min(limit, uint64(len(b))*dataRatio)))
			n, err := io.Copy(&out, io.LimitReader(zr, int64(limit)+1))
			if err != nil {
				return nil, fmt.Errorf("deflate: %w", err)
			}
			if uint64(n) > limit {
				return nil, fmt.Errorf("deflate: chunk inflates past %d bytes", limit)
			}
			b = out.Bytes()
		case filterShuffle:
			size := elemSize
			if len(fs[i].params) > 0 {
				size = int(fs[i].params[0])
			}
			b = unshuffle(b, size)
		default:
			return nil, fmt.Errorf("%s: %w", fs[i], errors.ErrUnsupported)
		}
	}
	return b, nil
}

// unshuffle reverses the shuffle filter, which stores byte k of every
// element together, for k = 0 .. size-1; bytes past the last whole element
// are stored as they are.
func unshuffle(b []byte, size int) []byte {
	if size <= 1 || len(b) < size {
		return b
	}
	n := len(b) / size
	out := make([]byte, len(b))
	for k := range size {
		plane := b[k*n : (k+1)*n]
		for i, v := range plane {
			out[i*size+k] = v
		}
	}
	copy(out[n*size:], b[n*size:])
	return out
}
