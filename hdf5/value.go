package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Value is the decoded content of a dataset or attribute, in row-major
// order.
type Value struct {
	// Shape is the dimensions: empty for a scalar, nil for a null dataspace
	// (h5py.Empty), which holds no elements.
	Shape []int
	Type  Datatype

	ints   []int64 // Int, Enum with a signed base, Bool
	uints  []uint64
	floats []float64
	strs   []string
	err    error // why the values could not be decoded
}

// Len returns the number of elements.
func (v Value) Len() int {
	return len(v.ints) + len(v.uints) + len(v.floats) + len(v.strs)
}

// Float64s returns numeric values as float64s; integers are converted.
func (v Value) Float64s() ([]float64, error) {
	if v.err != nil {
		return nil, v.err
	}
	switch {
	case v.floats != nil:
		return v.floats, nil
	case v.ints != nil:
		out := make([]float64, len(v.ints))
		for i, x := range v.ints {
			out[i] = float64(x)
		}
		return out, nil
	case v.uints != nil:
		out := make([]float64, len(v.uints))
		for i, x := range v.uints {
			out[i] = float64(x)
		}
		return out, nil
	case v.strs != nil:
		return nil, fmt.Errorf("%s values are not numbers", v.Type)
	}
	return []float64{}, nil
}

// Int64s returns integer, enum and boolean values; unsigned values above
// the int64 range and floats are an error.
func (v Value) Int64s() ([]int64, error) {
	if v.err != nil {
		return nil, v.err
	}
	switch {
	case v.ints != nil:
		return v.ints, nil
	case v.uints != nil:
		out := make([]int64, len(v.uints))
		for i, x := range v.uints {
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%s value %d overflows int64", v.Type, x)
			}
			out[i] = int64(x)
		}
		return out, nil
	case v.floats != nil || v.strs != nil:
		return nil, fmt.Errorf("%s values are not integers", v.Type)
	}
	return []int64{}, nil
}

// Uint64s returns unsigned integer values (and non-negative signed ones).
func (v Value) Uint64s() ([]uint64, error) {
	if v.err != nil {
		return nil, v.err
	}
	switch {
	case v.uints != nil:
		return v.uints, nil
	case v.ints != nil:
		out := make([]uint64, len(v.ints))
		for i, x := range v.ints {
			if x < 0 {
				return nil, fmt.Errorf("%s value %d is negative", v.Type, x)
			}
			out[i] = uint64(x)
		}
		return out, nil
	case v.floats != nil || v.strs != nil:
		return nil, fmt.Errorf("%s values are not integers", v.Type)
	}
	return []uint64{}, nil
}

// Bools returns boolean values.
func (v Value) Bools() ([]bool, error) {
	if v.err != nil {
		return nil, v.err
	}
	if v.Type.Class != Bool {
		return nil, fmt.Errorf("%s values are not booleans", v.Type)
	}
	out := make([]bool, len(v.ints))
	for i, x := range v.ints {
		out[i] = x != 0
	}
	return out, nil
}

// Strings returns string values.
func (v Value) Strings() ([]string, error) {
	if v.err != nil {
		return nil, v.err
	}
	if v.Type.Class != String {
		return nil, fmt.Errorf("%s values are not strings", v.Type)
	}
	if v.strs == nil {
		return []string{}, nil
	}
	return v.strs, nil
}

// Text returns the value of a string holding exactly one element, such as
// a scalar string dataset or attribute.
func (v Value) Text() (string, error) {
	s, err := v.Strings()
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", fmt.Errorf("%d strings, want one", len(s))
	}
	return s[0], nil
}

// decodeValue decodes raw, the stored elements of a dataset or attribute.
func (f *File) decodeValue(t *dtype, sp *dataspace, raw []byte, budget uint64) (Value, error) {
	v := Value{Shape: shape(sp), Type: t.pub}
	if t.pub.Class == Other {
		return Value{}, fmt.Errorf("datatype %s: %w", t.pub.What, errors.ErrUnsupported)
	}
	size := t.pub.Size
	n := len(raw) / size
	var order binary.ByteOrder = binary.LittleEndian
	if t.pub.BigEndian {
		order = binary.BigEndian
	}
	elem := func(i int) []byte { return raw[i*size : (i+1)*size] }
	switch t.pub.Class {
	case Int, Uint, Enum, Bool:
		if t.signed {
			v.ints = make([]int64, n)
			for i := range n {
				v.ints[i] = signExtend(readUint(order, elem(i)), size)
			}
		} else {
			v.uints = make([]uint64, n)
			for i := range n {
				v.uints[i] = readUint(order, elem(i))
			}
			if t.pub.Class == Bool || t.pub.Class == Enum {
				// Keep every enum's values in one place, as int64s.
				v.ints = make([]int64, n)
				for i, x := range v.uints {
					v.ints[i] = int64(x)
				}
				v.uints = nil
			}
		}
	case Float:
		v.floats = make([]float64, n)
		for i := range n {
			bits := readUint(order, elem(i))
			switch size {
			case 2:
				v.floats[i] = halfToFloat64(uint16(bits))
			case 4:
				v.floats[i] = float64(math.Float32frombits(uint32(bits)))
			default:
				v.floats[i] = math.Float64frombits(bits)
			}
		}
	case String:
		var err error
		if v.strs, err = f.decodeStrings(t, raw, n, budget); err != nil {
			return Value{}, err
		}
	}
	return v, nil
}

func readUint(order binary.ByteOrder, b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	}
	return order.Uint64(b)
}

func signExtend(x uint64, size int) int64 {
	shift := uint(64 - 8*size)
	return int64(x<<shift) >> shift
}

// halfToFloat64 converts an IEEE 754 binary16 value.
func halfToFloat64(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10)&0x1f, float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// decodeStrings decodes n fixed-length strings, or n variable-length string
// references into the global heap. The total length is held to the data
// budget: many references to one large heap object must not multiply it.
func (f *File) decodeStrings(t *dtype, raw []byte, n int, total uint64) ([]string, error) {
	out := make([]string, n)
	size := t.pub.Size
	budget := total - min(total, uint64(n)*16)
	for i := range n {
		b := raw[i*size : (i+1)*size]
		if t.pub.VarLen {
			d := f.decoder(b)
			length := uint64(d.u32())
			addr := d.addr()
			index := d.u32()
			if d.err != nil {
				return nil, fmt.Errorf("variable-length string: %w", d.err)
			}
			if length == 0 {
				continue
			}
			obj, err := f.globalObject(addr, index)
			if err != nil {
				return nil, fmt.Errorf("variable-length string %d: %w", i, err)
			}
			if length > uint64(len(obj)) {
				return nil, fmt.Errorf("variable-length string %d of %d bytes in a %d-byte heap object", i, length, len(obj))
			}
			b = obj[:length]
		}
		if uint64(len(b)) > budget {
			return nil, fmt.Errorf("strings longer than %d bytes in all: %w", total, ErrTooLarge)
		}
		budget -= uint64(len(b))
		out[i] = trimString(b, t.pad)
	}
	return out, nil
}

// trimString applies a string's padding rule: null-terminated strings end
// at the first NUL, null- and space-padded ones lose their trailing pad.
func trimString(b []byte, pad int) string {
	switch pad {
	case 0:
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
	case 1:
		b = bytes.TrimRight(b, "\x00")
	case 2:
		b = bytes.TrimRight(b, " ")
	}
	return string(b)
}
