// Package hdf5 is a small, read-only reader for the HDF5 files that h5py
// writes, enough to read NIR graphs and other model files without cgo.
//
// It reads superblock versions 0 to 3, version 1 and 2 object headers,
// symbol-table groups and link-message groups (compact and dense), compact,
// contiguous and chunked datasets (every chunk index HDF5 1.10 writes) with
// the deflate and shuffle filters, integers, IEEE floats, booleans, enums
// and fixed- and variable-length strings, and attributes. Anything else is
// refused with an error that wraps errors.ErrUnsupported. docs/hdf5.md lists
// what is supported and the bounds on memory.
//
// The reader treats the file as hostile: every offset and length is checked
// against the file size before use, no allocation is sized by a length field
// that has not been checked, cycles are detected, and decoded data is capped
// (see MaxDataBytes), so a corrupt or crafted file gets an error, never a
// panic or an unbounded allocation.
package hdf5

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxDataBytes caps the memory one decoded dataset or attribute value may
// take, counting 8 bytes for every number and 16 bytes plus its length for
// every string. Reads are also capped at 1100 times the size of the file,
// about the most that deflated data can expand to; see docs/hdf5.md.
const MaxDataBytes = 1 << 30

// dataRatio bounds how far stored data can expand when decoded: deflate
// cannot expand its input by more than about 1032 to 1, and a variable-length
// string element (16 bytes in the file) cannot point at more bytes than the
// file holds.
const dataRatio = 1100

// signature is the HDF5 format signature that begins the superblock.
const signature = "\x89HDF\r\n\x1a\n"

// ErrNotFound is returned (wrapped) when a path names no link.
var ErrNotFound = errors.New("not found")

// File is an open HDF5 file. It is not safe for concurrent use.
type File struct {
	r         io.ReaderAt
	closer    io.Closer
	size      uint64 // bytes readable through r
	base      uint64 // file position of the superblock: addresses count from it
	offSize   int    // bytes in a file address
	lenSize   int    // bytes in a length
	sbVersion int
	root      *Group

	// meta caches every piece of metadata read, by address and size, and
	// metaBytes counts them. A well-formed file is read about once over;
	// a crafted one whose structures overlap or repeat could make a reader
	// go over the same bytes again and again, so metaBytes is capped (see
	// metaLimit) and repeated reads of the same piece are free.
	meta      map[[2]uint64][]byte
	metaBytes uint64

	// gheap caches decoded global heap collections (variable-length string
	// storage) by address.
	gheap map[uint64]*globalHeap

	// objects caches opened groups and datasets by object header address,
	// and objErrs the addresses that failed: a crafted file can link one
	// object from many places (or a path can pass through one group many
	// times), and each must cost one parse.
	objects map[uint64]Object
	objErrs map[uint64]error

	readerOptions
}

// readerOptions are for the tests only.
type readerOptions struct {
	// skipChecksums turns off checksum verification, so that fuzzed inputs
	// reach the parsers behind the checksums: a crafted file can carry valid
	// checksums, so those parsers must be safe without them.
	skipChecksums bool
	// maxBytes, when not zero, lowers the data budget, so that fuzzing
	// spends its time on parsing rather than on filling large buffers.
	maxBytes uint64
}

// Open opens the HDF5 file at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hdf5: %w", err)
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("hdf5: %w", err)
	}
	f, err := NewReader(fh, fi.Size())
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	f.closer = fh
	return f, nil
}

// NewReader reads an HDF5 file of size bytes from r.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	return newReader(r, size, readerOptions{})
}

func newReader(r io.ReaderAt, size int64, opts readerOptions) (*File, error) {
	if size < 0 {
		return nil, errors.New("hdf5: negative file size")
	}
	f := &File{
		r: r, size: uint64(size), meta: map[[2]uint64][]byte{}, gheap: map[uint64]*globalHeap{},
		objects: map[uint64]Object{}, objErrs: map[uint64]error{}, readerOptions: opts,
	}
	rootAddr, err := f.readSuperblock()
	if err != nil {
		return nil, fmt.Errorf("hdf5: superblock: %w", err)
	}
	root, err := f.openGroup("/", rootAddr)
	if err != nil {
		return nil, fmt.Errorf("hdf5: root group: %w", err)
	}
	f.root = root
	return f, nil
}

// Close closes the file opened by Open; for NewReader it does nothing.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Root returns the root group.
func (f *File) Root() *Group { return f.root }

// SuperblockVersion returns the version of the superblock (0 to 3): h5py
// writes 0 by default and 2 or 3 with libver='v108' or 'latest'.
func (f *File) SuperblockVersion() int { return f.sbVersion }

// readSuperblock finds and decodes the superblock and returns the address
// of the root group's object header.
func (f *File) readSuperblock() (uint64, error) {
	// The superblock sits at 0, 512, 1024, 2048, ...: a user block may come
	// before it.
	pos := uint64(0)
	for {
		if pos+8 > f.size {
			return 0, errors.New("no HDF5 signature found: not an HDF5 file")
		}
		sig := make([]byte, 8)
		if _, err := f.r.ReadAt(sig, int64(pos)); err != nil {
			return 0, err
		}
		if string(sig) == signature {
			break
		}
		if pos == 0 {
			pos = 512
		} else {
			pos *= 2
		}
	}
	f.base = pos
	// Read what the largest superblock (version 1 with 8-byte fields) needs,
	// or what the file has.
	n := min(f.size-pos, 8+16+4+4*8+2*8+24)
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(pos)); err != nil {
		return 0, err
	}
	d := &decoder{b: b}
	d.skip(8)
	f.sbVersion = int(d.u8())
	var rootAddr, eof uint64
	switch f.sbVersion {
	case 0, 1:
		d.skip(4) // free-space, root entry and shared-header versions, reserved
		f.offSize, f.lenSize = int(d.u8()), int(d.u8())
		if err := f.checkSizes(); err != nil {
			return 0, err
		}
		d.offSize, d.lenSize = f.offSize, f.lenSize
		d.skip(1 + 2 + 2 + 4) // reserved, group leaf and internal K, flags
		if f.sbVersion == 1 {
			d.skip(4) // indexed-storage K, reserved
		}
		d.addr() // base address: the superblock's position is used instead
		d.addr() // free-space info
		eof = d.addr()
		d.addr() // driver info block
		// The root group's symbol table entry: a name offset, the object
		// header address, and a cache of the header that is not needed.
		d.addr()
		rootAddr = d.addr()
		d.skip(4 + 4 + 16)
	case 2, 3:
		f.offSize, f.lenSize = int(d.u8()), int(d.u8())
		if err := f.checkSizes(); err != nil {
			return 0, err
		}
		d.offSize, d.lenSize = f.offSize, f.lenSize
		d.skip(1) // consistency flags
		d.addr()  // base address
		d.addr()  // superblock extension: holds nothing this reader needs
		eof = d.addr()
		rootAddr = d.addr()
		d.skip(4) // checksum
		if d.err == nil {
			if err := f.verify(d.b[:d.off], "superblock", 0); err != nil {
				return 0, err
			}
		}
	default:
		return 0, fmt.Errorf("version %d: %w", f.sbVersion, errors.ErrUnsupported)
	}
	if d.err != nil {
		return 0, d.err
	}
	// Unlike other addresses, the end-of-file address counts from the start
	// of the file, user block included.
	if eof != undef && eof > f.size {
		return 0, fmt.Errorf("truncated file: end-of-file address 0x%x, but the file has %d bytes", eof, f.size)
	}
	return rootAddr, nil
}

func (f *File) checkSizes() error {
	for _, s := range []int{f.offSize, f.lenSize} {
		if s != 2 && s != 4 && s != 8 {
			return fmt.Errorf("field size %d (offsets %d, lengths %d): %w", s, f.offSize, f.lenSize, errors.ErrUnsupported)
		}
	}
	return nil
}

// metaLimit is the most metadata one File reads: a well-formed file needs
// little more than its size, since every piece is read once and cached.
func (f *File) metaLimit() uint64 { return 16*f.size + 1<<20 }

// readAt reads n bytes of metadata at file address addr; the result is
// cached and must not be modified.
func (f *File) readAt(addr, n uint64) ([]byte, error) {
	key := [2]uint64{addr, n}
	if b, ok := f.meta[key]; ok {
		return b, nil
	}
	b, err := f.readData(addr, n)
	if err != nil {
		return nil, err
	}
	if f.metaBytes += n; f.metaBytes > f.metaLimit() {
		return nil, fmt.Errorf("more than %d bytes of metadata read from a %d-byte file: corrupt file", f.metaLimit(), f.size)
	}
	f.meta[key] = b
	return b, nil
}

// avail is the number of bytes from address addr to the end of the file.
func (f *File) avail(addr uint64) uint64 {
	end := f.size - f.base
	if addr >= end {
		return 0
	}
	return end - addr
}

// readData reads n bytes at file address addr, after checking that they lie
// in the file; n is therefore bounded by the file size before it is
// allocated.
func (f *File) readData(addr, n uint64) ([]byte, error) {
	if addr == undef {
		return nil, errors.New("undefined address")
	}
	if n > f.avail(addr) {
		return nil, fmt.Errorf("%d bytes at 0x%x run past the end of the file (%d bytes)", n, addr, f.size-f.base)
	}
	b := make([]byte, n)
	if got, err := f.r.ReadAt(b, int64(f.base+addr)); got < len(b) {
		return nil, fmt.Errorf("reading %d bytes at 0x%x: %w", n, addr, err)
	}
	return b, nil
}

// verify checks the lookup3 checksum in the last four bytes of b, a block
// of metadata of kind what at addr.
func (f *File) verify(b []byte, what string, addr uint64) error {
	if f.skipChecksums {
		return nil
	}
	if len(b) < 4 {
		return fmt.Errorf("%s at 0x%x: too short for a checksum", what, addr)
	}
	n := len(b) - 4
	got := uint32(b[n]) | uint32(b[n+1])<<8 | uint32(b[n+2])<<16 | uint32(b[n+3])<<24
	if want := lookup3(b[:n]); got != want {
		return fmt.Errorf("%s at 0x%x: checksum 0x%08x, computed 0x%08x: corrupt file", what, addr, got, want)
	}
	return nil
}

// dataBudget is the most bytes one decoded value may take (see
// MaxDataBytes), and the most that the chunks of one dataset may inflate to.
func (f *File) dataBudget() uint64 {
	b := uint64(MaxDataBytes)
	if f.size <= MaxDataBytes/dataRatio {
		b = max(f.size*dataRatio, 1<<16)
	}
	if f.maxBytes != 0 {
		b = min(b, f.maxBytes)
	}
	return b
}
