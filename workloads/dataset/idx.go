package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels).
const (
	MagicImages = 2051
	MagicLabels = 2049
)

// MaxIDXBytes caps an IDX payload (Fashion-MNIST's training images, the
// largest file nmsim reads, are 47 MB).
const MaxIDXBytes = 256 << 20

// IDX is the content of an IDX file of unsigned bytes.
type IDX struct {
	Magic uint32
	// Dims are the dimensions from the header: [N, H, W] for images, [N]
	// for labels.
	Dims []int
	// Data holds the product of Dims bytes in row-major order (the first
	// items only, from ReadIDXFirst).
	Data []uint8
}

// ReadIDX reads an IDX images or labels file, raw or gzip-compressed (told
// apart by the gzip magic bytes). The payload must be exactly as long as the
// header says; memory grows with the bytes actually read, never with the
// header's claim alone.
func ReadIDX(r io.Reader) (*IDX, error) { return ReadIDXFirst(r, 0) }

// ReadIDXFirst is ReadIDX for the first n items only (all of them when n
// ≤ 0 or n is at least the header's count): Dims are still the header's,
// Data holds the items read. It stops reading after them, so it checks
// the header and those bytes, not the rest of the file (a gzip stream's
// checksum, at its end, included).
func ReadIDXFirst(r io.Reader, n int) (*IDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer gz.Close()
		src = gz
	}
	var head [4]byte
	if _, err := io.ReadFull(src, head[:]); err != nil {
		return nil, fmt.Errorf("idx: reading magic: %w", unexpected(err))
	}
	magic := binary.BigEndian.Uint32(head[:])
	var ndims int
	switch magic {
	case MagicImages:
		ndims = 3
	case MagicLabels:
		ndims = 1
	default:
		return nil, fmt.Errorf("idx: magic %d (%#08x) is neither %d (images) nor %d (labels)", magic, magic, MagicImages, MagicLabels)
	}
	dimBytes := make([]byte, 4*ndims)
	if _, err := io.ReadFull(src, dimBytes); err != nil {
		return nil, fmt.Errorf("idx: reading dimensions: %w", unexpected(err))
	}
	f := &IDX{Magic: magic, Dims: make([]int, ndims)}
	size := 1
	for i := range f.Dims {
		d := int(binary.BigEndian.Uint32(dimBytes[4*i:]))
		if d == 0 {
			return nil, fmt.Errorf("idx: dimension %d is 0", i)
		}
		if d > MaxIDXBytes || size > MaxIDXBytes/d {
			return nil, fmt.Errorf("idx: dimensions %v exceed the %d-byte limit", dims(dimBytes), MaxIDXBytes)
		}
		f.Dims[i] = d
		size *= d
	}
	want, whole := size, n <= 0 || n >= f.Dims[0]
	if !whole {
		want = size / f.Dims[0] * n
	}
	// Read one byte more than expected to detect trailing data.
	limit := int64(want)
	if whole {
		limit++
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(int(limit), 1<<20)))
	if _, err := buf.ReadFrom(io.LimitReader(src, limit)); err != nil {
		return nil, fmt.Errorf("idx: reading %d-byte payload: %w", want, err)
	}
	switch {
	case buf.Len() < want:
		return nil, fmt.Errorf("idx: truncated: header %v promises %d payload bytes, file has %d", f.Dims, size, buf.Len())
	case buf.Len() > want:
		return nil, fmt.Errorf("idx: data after the %d-byte payload that header %v describes", size, f.Dims)
	}
	f.Data = buf.Bytes()
	return f, nil
}

// dims renders raw header dimensions for an error message.
func dims(b []byte) []uint32 {
	d := make([]uint32, len(b)/4)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return d
}

// unexpected turns a clean EOF inside a header into ErrUnexpectedEOF, since
// a file that ends there is truncated.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
