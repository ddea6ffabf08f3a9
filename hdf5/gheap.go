package hdf5

import (
	"errors"
	"fmt"
)

// globalHeap is a global heap collection: the objects variable-length
// strings point at, by index.
type globalHeap struct {
	objects map[uint16][]byte
}

// globalObject returns object index of the collection at addr.
func (f *File) globalObject(addr uint64, index uint32) ([]byte, error) {
	h, ok := f.gheap[addr]
	if !ok {
		var err error
		if h, err = f.readGlobalHeap(addr); err != nil {
			return nil, fmt.Errorf("global heap at 0x%x: %w", addr, err)
		}
	}
	obj, ok := h.objects[uint16(index)]
	if !ok || index > 0xffff {
		return nil, fmt.Errorf("global heap at 0x%x: no object %d", addr, index)
	}
	return obj, nil
}

func (f *File) readGlobalHeap(addr uint64) (*globalHeap, error) {
	head, err := f.readAt(addr, 8+uint64(f.lenSize))
	if err != nil {
		return nil, err
	}
	d := f.decoder(head)
	d.signature("GCOL")
	if v := d.u8(); d.err == nil && v != 1 {
		return nil, fmt.Errorf("version %d: %w", v, errors.ErrUnsupported)
	}
	d.skip(3)
	size := d.length()
	if d.err != nil {
		return nil, d.err
	}
	b, err := f.readAt(addr, size)
	if err != nil {
		return nil, err
	}
	d = f.decoder(b)
	d.skip(len(head))
	h := &globalHeap{objects: map[uint16][]byte{}}
	// Each object has a 16-byte header (with 8-byte lengths); object 0 is
	// the free space and ends the list, as does room too small for a header.
	for d.remaining() >= 8+f.lenSize && d.err == nil {
		index := d.u16()
		d.skip(2 + 4) // reference count, reserved
		n := d.length()
		if index == 0 {
			break
		}
		if n > uint64(d.remaining()) {
			return nil, fmt.Errorf("object %d of %d bytes runs past the collection", index, n)
		}
		h.objects[index] = d.take(int(n))
		d.skip(min(int((8-n%8)%8), d.remaining())) // data is padded to 8 bytes
	}
	if d.err != nil {
		return nil, d.err
	}
	f.gheap[addr] = h
	return h, nil
}
