package hdf5

import (
	"bytes"
	"errors"
	"fmt"
)

// attrs reads the attributes of an object: attribute messages in its
// header and, when an attribute info message names a fractal heap, the
// attribute messages stored densely there, indexed by a v2 B-tree of names.
// An attribute of a type this reader cannot decode is still returned, with
// class Other; its accessors return the error.
func (f *File) attrs(oh *objectHeader) (map[string]Value, error) {
	out := map[string]Value{}
	add := func(b []byte) error {
		name, v, err := f.parseAttribute(b)
		if err != nil {
			return err
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("two attributes named %q", name)
		}
		out[name] = v
		return nil
	}
	for _, m := range oh.msgs {
		if m.typ != msgAttribute {
			continue
		}
		if m.flags&msgFlagShared != 0 {
			return nil, fmt.Errorf("shared attribute message: %w", errors.ErrUnsupported)
		}
		if err := add(m.data); err != nil {
			return nil, err
		}
	}
	info := oh.find(msgAttrInfo)
	if info == nil {
		return out, nil
	}
	d := f.decoder(info.data)
	d.skip(1) // version
	if flags := d.u8(); flags&1 != 0 {
		d.skip(2) // maximum creation index
	}
	heapAddr, nameIndex := d.addr(), d.addr()
	if d.err != nil {
		return nil, fmt.Errorf("attribute info message: %w", d.err)
	}
	if heapAddr == undef {
		return out, nil
	}
	heap, err := f.readFractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	// Name index records: an 8-byte heap ID, the message flags, a creation
	// order and a hash of the name.
	err = f.v2BTreeRecords(nameIndex, 8, func(rec []byte) error {
		if len(rec) < 9 {
			return fmt.Errorf("attribute name record of %d bytes", len(rec))
		}
		if rec[8]&msgFlagShared != 0 {
			return fmt.Errorf("shared attribute message: %w", errors.ErrUnsupported)
		}
		b, err := heap.object(rec[:8])
		if err != nil {
			return err
		}
		return add(b)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseAttribute decodes an attribute message: a name, a datatype, a
// dataspace and the data itself.
func (f *File) parseAttribute(b []byte) (string, Value, error) {
	d := f.decoder(b)
	version := d.u8()
	var flags uint8
	switch version {
	case 1:
		d.skip(1)
	case 2, 3:
		flags = d.u8()
	default:
		if d.err == nil {
			return "", Value{}, fmt.Errorf("attribute message version %d: %w", version, errors.ErrUnsupported)
		}
	}
	nameSize, typeSize, spaceSize := int(d.u16()), int(d.u16()), int(d.u16())
	if version == 3 {
		d.skip(1) // character set of the name
	}
	// Version 1 pads the name, datatype and dataspace to 8 bytes.
	padded := func(n int) int {
		if version == 1 {
			return (n + 7) &^ 7
		}
		return n
	}
	nameField := d.take(padded(nameSize))
	typeField := d.take(padded(typeSize))
	spaceField := d.take(padded(spaceSize))
	if d.err != nil {
		return "", Value{}, fmt.Errorf("attribute message: %w", d.err)
	}
	name := string(nameField[:min(nameSize, len(nameField))])
	if i := bytes.IndexByte([]byte(name), 0); i >= 0 {
		name = name[:i]
	}
	v, err := f.attributeValue(d, flags, typeField, spaceField)
	if err != nil {
		return "", Value{}, fmt.Errorf("attribute %q: %w", name, err)
	}
	return name, v, nil
}

func (f *File) attributeValue(d *decoder, flags uint8, typeField, spaceField []byte) (Value, error) {
	if flags&0x01 != 0 { // a committed datatype
		var err error
		if typeField, err = f.sharedMessage(msgDatatype, typeField, 0); err != nil {
			return Value{}, err
		}
	}
	if flags&0x02 != 0 {
		return Value{}, fmt.Errorf("shared dataspace: %w", errors.ErrUnsupported)
	}
	t, err := parseDatatype(f.decoder(typeField), 0)
	if err != nil {
		return Value{}, err
	}
	sp, err := parseDataspace(f.decoder(spaceField))
	if err != nil {
		return Value{}, err
	}
	if t.pub.Class == Other {
		return Value{Shape: shape(sp), Type: t.pub, err: fmt.Errorf("datatype %s: %w", t.pub.What, errors.ErrUnsupported)}, nil
	}
	// The data follows in the message, so the element count is bounded by
	// what is left of it, and by the data budget once decoded.
	n, err := sp.count(min(uint64(d.remaining()/t.pub.Size), f.dataBudget()/8))
	if err != nil {
		return Value{}, fmt.Errorf("data: %w", err)
	}
	raw := d.take(int(n) * t.pub.Size)
	if d.err != nil {
		return Value{}, d.err
	}
	return f.decodeValue(t, sp, raw, f.dataBudget())
}
