package hdf5

import (
	"encoding/binary"
	"fmt"
	"math"
)

// undef is the undefined address (all bits set), whatever the size of
// offsets: decoder.addr widens a narrower all-ones field to it.
const undef = math.MaxUint64

// decoder reads little-endian fields from a byte slice. The first read past
// the end records an error and every later read returns zero, so a parser
// can decode a whole structure and check err once; loops whose count comes
// from the file must also test err (or check the count against remaining
// first) so that a hostile count cannot spin.
type decoder struct {
	b       []byte
	off     int
	offSize int // bytes in an address
	lenSize int // bytes in a length
	err     error
}

func (f *File) decoder(b []byte) *decoder {
	return &decoder{b: b, offSize: f.offSize, lenSize: f.lenSize}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

// take returns the next n bytes, or nil once the data is exhausted.
func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.remaining() {
		d.err = fmt.Errorf("truncated: %d bytes wanted at offset %d of %d", n, d.off, len(d.b))
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) skip(n int) { d.take(n) }

func (d *decoder) u8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) u16() uint16 { return uint16(d.uint(2)) }
func (d *decoder) u32() uint32 { return uint32(d.uint(4)) }
func (d *decoder) u64() uint64 { return d.uint(8) }

// uint reads an n-byte little-endian unsigned integer, 0 <= n <= 8.
func (d *decoder) uint(n int) uint64 {
	if n > 8 {
		d.fail("integer field of %d bytes", n)
		return 0
	}
	p := d.take(n)
	if p == nil {
		return 0
	}
	var buf [8]byte
	copy(buf[:], p)
	return binary.LittleEndian.Uint64(buf[:])
}

// addr reads a file address, returning undef for the undefined address.
func (d *decoder) addr() uint64 {
	v := d.uint(d.offSize)
	if d.offSize < 8 && v == 1<<(8*uint(d.offSize))-1 {
		return undef
	}
	return v
}

func (d *decoder) length() uint64 { return d.uint(d.lenSize) }

// signature checks a four-byte block signature.
func (d *decoder) signature(want string) {
	p := d.take(4)
	if p != nil && string(p) != want {
		d.fail("signature %q, want %q", p, want)
	}
}

// fail records err unless an earlier error is already recorded.
func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

// encSize is the number of bytes the format uses for a field that holds
// values up to max: the fewest whole bytes that represent max (at least one).
func encSize(max uint64) int {
	n := 1
	for max > 0xff {
		max >>= 8
		n++
	}
	return n
}

// log2 returns k when v == 1<<k, and ok false when v is not a power of two.
func log2(v uint64) (k int, ok bool) {
	if v == 0 || v&(v-1) != 0 {
		return 0, false
	}
	for v > 1 {
		v >>= 1
		k++
	}
	return k, true
}

// mulCheck multiplies, reporting overflow past limit.
func mulCheck(a, b, limit uint64) (uint64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > limit/b {
		return 0, false
	}
	return a * b, true
}
