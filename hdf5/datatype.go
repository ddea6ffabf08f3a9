package hdf5

import (
	"errors"
	"fmt"
)

// Class is what kind of values a datatype holds.
type Class int

// The classes of datatype. Other covers the HDF5 types this reader does not
// decode (compound, array, reference, opaque, bitfield, time, complex,
// variable-length sequences, integers with padding bits, non-IEEE floats);
// their objects can be listed but reading their values returns an error.
const (
	Int    Class = iota + 1 // signed integer
	Uint                    // unsigned integer
	Float                   // IEEE 754 binary16, binary32 or binary64
	String                  // fixed- or variable-length string
	Bool                    // h5py's boolean: an enum FALSE=0, TRUE=1 over int8
	Enum                    // any other enum over an integer; read as integers
	Other
)

// Datatype describes the elements of a dataset or attribute.
type Datatype struct {
	Class Class
	// Size is the size of one element in the file, in bytes; for a
	// variable-length string it is the size of its heap reference.
	Size      int
	BigEndian bool
	VarLen    bool // variable-length string
	UTF8      bool // string character set is UTF-8 (else ASCII)
	// What names an Other type, for messages ("compound", "array", ...).
	What string
}

// String spells the type like numpy's dtype.str: "<i4", ">f8", "|u1",
// "|b1", "|S8"; "str" for a variable-length string, "enum<i2" for an enum.
func (t Datatype) String() string {
	order := "<"
	if t.BigEndian {
		order = ">"
	}
	if t.Size == 1 {
		order = "|"
	}
	switch t.Class {
	case Int:
		return fmt.Sprintf("%si%d", order, t.Size)
	case Uint:
		return fmt.Sprintf("%su%d", order, t.Size)
	case Float:
		return fmt.Sprintf("%sf%d", order, t.Size)
	case Bool:
		return "|b1"
	case Enum:
		return fmt.Sprintf("enum%si%d", order, t.Size)
	case String:
		if t.VarLen {
			return "str"
		}
		return fmt.Sprintf("|S%d", t.Size)
	}
	return t.What
}

// HDF5 datatype classes.
const (
	classFixed  = 0
	classFloat  = 1
	classString = 3
	classEnum   = 8
	classVarLen = 9
)

var classNames = map[int]string{
	2: "time", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 10: "array", 11: "complex",
}

// dtype is a decoded datatype message.
type dtype struct {
	pub    Datatype
	signed bool   // integer and enum bases
	pad    int    // string padding: 0 null-terminated, 1 null-padded, 2 space-padded
	base   *dtype // enum base
}

// maxTypeDepth bounds nested datatypes (an enum's base, a string's
// characters) so that a crafted message cannot recurse without end.
const maxTypeDepth = 4

// parseDatatype decodes a datatype message. Types this reader cannot decode
// come back as class Other, not as an error, so that their objects can
// still be listed; for those the decoder may stop before the end of the
// message, which is fine because every caller knows the message length.
func parseDatatype(d *decoder, depth int) (*dtype, error) {
	if depth > maxTypeDepth {
		return nil, errors.New("datatype nested too deeply")
	}
	cv := d.u8()
	bits := uint32(d.u8()) | uint32(d.u8())<<8 | uint32(d.u8())<<16
	size := d.u32()
	if d.err != nil {
		return nil, fmt.Errorf("datatype: %w", d.err)
	}
	version, class := cv>>4, int(cv&0x0f)
	if version < 1 || version > 5 {
		return nil, fmt.Errorf("datatype version %d: %w", version, errors.ErrUnsupported)
	}
	if size == 0 || size > 1<<24 {
		return nil, fmt.Errorf("datatype size %d", size)
	}
	t := &dtype{pub: Datatype{Size: int(size), BigEndian: bits&1 != 0}}
	other := func(what string) (*dtype, error) {
		t.pub.Class, t.pub.What = Other, what
		return t, nil
	}
	switch class {
	case classFixed:
		offset, precision := d.u16(), d.u16()
		if d.err != nil {
			return nil, fmt.Errorf("integer type: %w", d.err)
		}
		t.signed = bits&0x08 != 0
		if offset != 0 || int(precision) != 8*t.pub.Size || !oneOf(t.pub.Size, 1, 2, 4, 8) {
			return other(fmt.Sprintf("%d-byte integer with %d bits at offset %d", size, precision, offset))
		}
		t.pub.Class = Uint
		if t.signed {
			t.pub.Class = Int
		}
		return t, nil
	case classFloat:
		return parseFloat(d, t, bits)
	case classString:
		t.pub.Class = String
		t.pad = int(bits & 0x0f)
		t.pub.UTF8 = (bits>>4)&0x0f == 1
		t.pub.BigEndian = false
		return t, nil
	case classEnum:
		return parseEnum(d, t, bits, version, depth)
	case classVarLen:
		if bits&0x0f != 1 {
			return other("variable-length sequence")
		}
		base, err := parseDatatype(d, depth+1)
		if err != nil {
			return nil, err
		}
		if base.pub.Size != 1 {
			return other("variable-length string of wide characters")
		}
		t.pub.Class, t.pub.VarLen = String, true
		t.pad = int((bits >> 4) & 0x0f)
		t.pub.UTF8 = (bits>>8)&0x0f == 1
		t.pub.BigEndian = false
		return t, nil
	}
	if name, ok := classNames[class]; ok {
		return other(name)
	}
	return nil, fmt.Errorf("datatype class %d", class)
}

// parseFloat accepts the IEEE 754 binary16, binary32 and binary64 layouts.
func parseFloat(d *decoder, t *dtype, bits uint32) (*dtype, error) {
	offset, precision := d.u16(), d.u16()
	expLoc, expSize, mantLoc, mantSize := d.u8(), d.u8(), d.u8(), d.u8()
	bias := d.u32()
	if d.err != nil {
		return nil, fmt.Errorf("float type: %w", d.err)
	}
	sign := (bits >> 8) & 0xff
	norm := (bits >> 4) & 3
	type ieeeLayout struct {
		size                            int
		expLoc, expSize, mantSize, sign uint32
		bias                            uint32
	}
	ieee := []ieeeLayout{{2, 10, 5, 10, 15, 15}, {4, 23, 8, 23, 31, 127}, {8, 52, 11, 52, 63, 1023}}
	for _, l := range ieee {
		if t.pub.Size == l.size && offset == 0 && int(precision) == 8*l.size &&
			uint32(expLoc) == l.expLoc && uint32(expSize) == l.expSize && mantLoc == 0 &&
			uint32(mantSize) == l.mantSize && sign == l.sign && bias == l.bias && norm == 2 &&
			bits&0x40 == 0 {
			t.pub.Class = Float
			return t, nil
		}
	}
	t.pub.Class = Other
	t.pub.What = fmt.Sprintf("non-IEEE %d-byte float", t.pub.Size)
	return t, nil
}

// parseEnum decodes an enum over an integer base; h5py writes booleans as
// the enum {FALSE: 0, TRUE: 1} over int8.
func parseEnum(d *decoder, t *dtype, bits uint32, version uint8, depth int) (*dtype, error) {
	n := int(bits & 0xffff)
	base, err := parseDatatype(d, depth+1)
	if err != nil {
		return nil, err
	}
	if base.pub.Class != Int && base.pub.Class != Uint || base.pub.Size != t.pub.Size {
		t.pub.Class, t.pub.What = Other, "enum over "+base.pub.String()
		return t, nil
	}
	t.base = base
	t.signed = base.signed
	t.pub.BigEndian = base.pub.BigEndian
	t.pub.Class = Enum
	// Names are NUL-terminated, padded to 8 bytes before version 3; the
	// values follow them, packed.
	names := make([]string, 0, min(n, d.remaining()))
	for i := 0; i < n && d.err == nil; i++ {
		start := d.off
		for d.err == nil && d.u8() != 0 {
		}
		names = append(names, string(d.b[start:max(start, d.off-1)]))
		if version < 3 {
			d.skip((8 - (d.off-start)%8) % 8)
		}
	}
	vals := d.take(n * base.pub.Size)
	if d.err != nil {
		return nil, fmt.Errorf("enum type: %w", d.err)
	}
	if n == 2 && base.pub.Size == 1 {
		named := map[string]byte{names[0]: vals[0], names[1]: vals[1]}
		if v, ok := named["FALSE"]; ok && v == 0 {
			if v, ok := named["TRUE"]; ok && v == 1 {
				t.pub.Class = Bool
			}
		}
	}
	return t, nil
}

func oneOf(v int, set ...int) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// maxRank is the largest rank HDF5 allows.
const maxRank = 32

// dataspace is a decoded dataspace message. dims is nil for a null
// dataspace and empty for a scalar.
type dataspace struct {
	dims    []uint64
	maxDims []uint64 // nil when the file gives none (then equal to dims)
	null    bool
}

func parseDataspace(d *decoder) (*dataspace, error) {
	version := d.u8()
	rank := int(d.u8())
	flags := d.u8()
	ds := &dataspace{}
	switch version {
	case 1:
		d.skip(5)
	case 2:
		switch d.u8() {
		case 0: // scalar
			rank = 0
		case 1: // simple
		case 2:
			ds.null = true
			return ds, d.err
		default:
			d.fail("dataspace type")
		}
	default:
		return nil, fmt.Errorf("dataspace version %d: %w", version, errors.ErrUnsupported)
	}
	if rank > maxRank {
		return nil, fmt.Errorf("dataspace rank %d > %d", rank, maxRank)
	}
	ds.dims = make([]uint64, rank)
	for i := range ds.dims {
		ds.dims[i] = d.length()
	}
	if flags&1 != 0 {
		ds.maxDims = make([]uint64, rank)
		for i := range ds.maxDims {
			ds.maxDims[i] = d.length()
			if d.lenSize < 8 && ds.maxDims[i] == 1<<(8*uint(d.lenSize))-1 {
				ds.maxDims[i] = undef // unlimited
			}
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("dataspace: %w", d.err)
	}
	return ds, nil
}

// count returns the number of elements, or an error when it exceeds limit.
func (ds *dataspace) count(limit uint64) (uint64, error) {
	if ds.null {
		return 0, nil
	}
	n := uint64(1)
	for _, v := range ds.dims {
		var ok bool
		if n, ok = mulCheck(n, v, limit); !ok {
			return 0, fmt.Errorf("dataspace %v has more than %d elements", ds.dims, limit)
		}
	}
	return n, nil
}
