package hdf5

import (
	"errors"
	"fmt"
)

// Dataset is an HDF5 dataset. Its values are read on demand.
type Dataset struct {
	f        *File
	path     string
	oh       *objectHeader
	space    *dataspace
	typ      *dtype
	layout   *layout
	filters  []filter
	fill     []byte // one element; nil when the fill value is zero
	external bool   // the data is in other files
}

// Path returns the path the dataset was opened by.
func (ds *Dataset) Path() string { return ds.path }

// Shape returns the dimensions: empty for a scalar, nil for a null
// dataspace (h5py.Empty).
func (ds *Dataset) Shape() []int { return shape(ds.space) }

// Dtype describes the elements.
func (ds *Dataset) Dtype() Datatype { return ds.typ.pub }

// Layout describes how the dataset is stored.
func (ds *Dataset) Layout() Layout {
	l := Layout{Class: [...]string{"compact", "contiguous", "chunked"}[ds.layout.class]}
	if ds.layout.class == layoutChunked {
		l.Index = indexNames[ds.layout.index]
		for _, c := range ds.layout.chunk {
			l.Chunk = append(l.Chunk, int(c))
		}
	}
	for _, fl := range ds.filters {
		l.Filters = append(l.Filters, fl.String())
	}
	return l
}

// Attrs reads the dataset's attributes.
func (ds *Dataset) Attrs() (map[string]Value, error) {
	a, err := ds.f.attrs(ds.oh)
	if err != nil {
		return nil, fmt.Errorf("hdf5: %s: %w", ds.path, err)
	}
	return a, nil
}

// Read reads every element.
func (ds *Dataset) Read() (Value, error) {
	return ds.ReadLimit(MaxDataBytes)
}

// ErrTooLarge is wrapped by the error of ReadLimit for a dataset larger
// than its limit.
var ErrTooLarge = errors.New("larger than the read allows")

// ReadLimit reads every element, as Read does, but refuses a dataset whose
// decoded value would take more than limit bytes (8 per number, 16 plus
// its length per string) with an error wrapping ErrTooLarge, before any of
// its data is read or inflated. A caller that knows how much it can use
// bounds its memory by what it asks for, whatever the file says.
func (ds *Dataset) ReadLimit(limit uint64) (Value, error) {
	v, err := ds.read(min(limit, ds.f.dataBudget()))
	if err != nil {
		return Value{}, fmt.Errorf("hdf5: %s: %w", ds.path, err)
	}
	return v, nil
}

// Float64s reads a numeric dataset as float64s, in row-major order.
func (ds *Dataset) Float64s() ([]float64, error) {
	v, err := ds.Read()
	if err != nil {
		return nil, err
	}
	x, err := v.Float64s()
	if err != nil {
		return nil, fmt.Errorf("hdf5: %s: %w", ds.path, err)
	}
	return x, nil
}

// Int64s reads an integer, enum or boolean dataset as int64s.
func (ds *Dataset) Int64s() ([]int64, error) {
	v, err := ds.Read()
	if err != nil {
		return nil, err
	}
	x, err := v.Int64s()
	if err != nil {
		return nil, fmt.Errorf("hdf5: %s: %w", ds.path, err)
	}
	return x, nil
}

// Strings reads a string dataset.
func (ds *Dataset) Strings() ([]string, error) {
	v, err := ds.Read()
	if err != nil {
		return nil, err
	}
	x, err := v.Strings()
	if err != nil {
		return nil, fmt.Errorf("hdf5: %s: %w", ds.path, err)
	}
	return x, nil
}

func shape(sp *dataspace) []int {
	if sp.null {
		return nil
	}
	s := make([]int, len(sp.dims))
	for i, v := range sp.dims {
		// Clamped to fit an int: only a crafted file has dimensions this
		// large, and its data cannot be read anyway.
		s[i] = int(min(v, 1<<62))
	}
	return s
}

func (f *File) newDataset(oh *objectHeader) (*Dataset, error) {
	ds, err := f.decodeDataset(oh)
	if err != nil {
		return nil, fmt.Errorf("dataset at 0x%x: %w", oh.addr, err)
	}
	return ds, nil
}

func (f *File) decodeDataset(oh *objectHeader) (*Dataset, error) {
	ds := &Dataset{f: f, oh: oh}
	m := oh.find(msgDataspace)
	if m == nil {
		return nil, errors.New("no dataspace message")
	}
	data, err := f.messageData(m)
	if err != nil {
		return nil, err
	}
	if ds.space, err = parseDataspace(f.decoder(data)); err != nil {
		return nil, err
	}
	if m = oh.find(msgDatatype); m == nil {
		return nil, errors.New("no datatype message")
	}
	if data, err = f.messageData(m); err != nil {
		return nil, err
	}
	if ds.typ, err = parseDatatype(f.decoder(data), 0); err != nil {
		return nil, err
	}
	if m = oh.find(msgFilters); m != nil {
		if data, err = f.messageData(m); err != nil {
			return nil, err
		}
		if ds.filters, err = parseFilters(f.decoder(data)); err != nil {
			return nil, err
		}
	}
	if ds.layout, err = parseLayout(f.decoder(oh.find(msgLayout).data), len(ds.space.dims), ds.typ.pub.Size); err != nil {
		return nil, err
	}
	if len(ds.filters) > 0 && ds.layout.class != layoutChunked {
		return nil, errors.New("filters on a dataset that is not chunked")
	}
	ds.external = oh.find(msgExternal) != nil
	ds.fill, err = f.fillValue(oh, ds.typ.pub.Size)
	return ds, err
}

// fillValue returns the dataset's fill value when it is defined, has the
// size of an element and is not all zeros.
func (f *File) fillValue(oh *objectHeader, size int) ([]byte, error) {
	var v []byte
	if m := oh.find(msgFill); m != nil {
		data, err := f.messageData(m)
		if err != nil {
			return nil, err
		}
		d := f.decoder(data)
		switch version := d.u8(); version {
		case 1, 2:
			d.skip(2) // allocation and fill write times
			defined := d.u8()
			if version == 1 || defined != 0 {
				v = d.take(int(d.u32()))
			}
		case 3:
			if flags := d.u8(); flags&0x20 != 0 {
				v = d.take(int(d.u32()))
			}
		default:
			return nil, fmt.Errorf("fill value message version %d: %w", version, errors.ErrUnsupported)
		}
		if d.err != nil {
			return nil, fmt.Errorf("fill value message: %w", d.err)
		}
	} else if m := oh.find(msgFillOld); m != nil {
		d := f.decoder(m.data)
		v = d.take(int(d.u32()))
		if d.err != nil {
			return nil, fmt.Errorf("fill value message: %w", d.err)
		}
	}
	if len(v) != size {
		return nil, nil
	}
	for _, b := range v {
		if b != 0 {
			return v, nil
		}
	}
	return nil, nil
}

// messageData returns a message's data, following it to the object header
// that holds it when the message is shared (a committed datatype).
func (f *File) messageData(m *message) ([]byte, error) {
	if m.flags&msgFlagShared == 0 {
		return m.data, nil
	}
	return f.sharedMessage(m.typ, m.data, 0)
}

// maxSharedHops bounds how many shared messages are followed in a row.
const maxSharedHops = 4

func (f *File) sharedMessage(typ uint16, ref []byte, hops int) ([]byte, error) {
	if hops >= maxSharedHops {
		return nil, errors.New("shared messages nested too deeply")
	}
	d := f.decoder(ref)
	version, kind := d.u8(), d.u8()
	switch version {
	case 1:
		d.skip(6)
	case 2:
	case 3:
		if kind == 1 {
			return nil, fmt.Errorf("message type 0x%x in the shared message heap: %w", typ, errors.ErrUnsupported)
		}
	default:
		return nil, fmt.Errorf("shared message version %d: %w", version, errors.ErrUnsupported)
	}
	addr := d.addr()
	if d.err != nil {
		return nil, fmt.Errorf("shared message: %w", d.err)
	}
	oh, err := f.readObjectHeader(addr)
	if err != nil {
		return nil, fmt.Errorf("shared message: %w", err)
	}
	m := oh.find(typ)
	if m == nil {
		return nil, fmt.Errorf("shared message: object header at 0x%x has no message of type 0x%x", addr, typ)
	}
	if m.flags&msgFlagShared != 0 {
		return f.sharedMessage(typ, m.data, hops+1)
	}
	return m.data, nil
}

func (ds *Dataset) read(budget uint64) (Value, error) {
	if ds.typ.pub.Class == Other {
		return Value{}, fmt.Errorf("datatype %s: %w", ds.typ.pub.What, errors.ErrUnsupported)
	}
	if ds.external {
		return Value{}, fmt.Errorf("data in external files: %w", errors.ErrUnsupported)
	}
	raw, err := ds.readRaw(budget)
	if err != nil {
		return Value{}, err
	}
	return ds.f.decodeValue(ds.typ, ds.space, raw, budget)
}

// readRaw returns every element as stored, in row-major order, if their
// decoded value fits budget bytes.
func (ds *Dataset) readRaw(budget uint64) ([]byte, error) {
	f := ds.f
	elem := uint64(ds.typ.pub.Size)
	// Decoded, each number takes 8 bytes, each string at least 16.
	n, err := ds.space.count(budget / max(elem, 8))
	if err != nil {
		if budget < f.dataBudget() {
			return nil, fmt.Errorf("%v elements of %d bytes: more than the %d bytes decoded: %w", ds.space.dims, max(elem, 8), budget, ErrTooLarge)
		}
		return nil, err
	}
	nbytes := n * elem
	if nbytes == 0 {
		return nil, nil
	}
	l := ds.layout
	switch l.class {
	case layoutCompact:
		if uint64(len(l.compact)) < nbytes {
			return nil, fmt.Errorf("compact data of %d bytes, want %d", len(l.compact), nbytes)
		}
		return l.compact[:nbytes], nil
	case layoutContiguous:
		if l.addr == undef {
			return ds.filled(nbytes), nil // never written
		}
		if l.size < nbytes {
			return nil, fmt.Errorf("contiguous data of %d bytes, want %d", l.size, nbytes)
		}
		return f.readData(l.addr, nbytes)
	}
	return ds.readChunked(nbytes, budget)
}

// filled returns n bytes of fill value.
func (ds *Dataset) filled(n uint64) []byte {
	out := make([]byte, n)
	if ds.fill != nil {
		for i := uint64(0); i < n; i += uint64(len(ds.fill)) {
			copy(out[i:], ds.fill)
		}
	}
	return out
}
