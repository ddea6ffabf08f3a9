package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// builder assembles small HDF5 files by hand (superblock 0, version 1
// object headers, 8-byte addresses and lengths) to test what a crafted file
// can do that h5py would never write.
type builder struct{ b []byte }

type msg struct {
	typ  uint16
	data []byte
}

func le(vals ...any) []byte {
	var buf bytes.Buffer
	for _, v := range vals {
		binary.Write(&buf, binary.LittleEndian, v)
	}
	return buf.Bytes()
}

// newBuilder reserves the superblock; finish fills it in.
func newBuilder() *builder { return &builder{b: make([]byte, 96)} }

// add appends data at an 8-aligned address and returns the address.
func (b *builder) add(data []byte) uint64 {
	for len(b.b)%8 != 0 {
		b.b = append(b.b, 0)
	}
	addr := uint64(len(b.b))
	b.b = append(b.b, data...)
	return addr
}

// header appends a version 1 object header holding msgs.
func (b *builder) header(msgs ...msg) uint64 {
	var body []byte
	for _, m := range msgs {
		data := append([]byte(nil), m.data...)
		for len(data)%8 != 0 {
			data = append(data, 0)
		}
		body = append(body, le(m.typ, uint16(len(data)), uint8(0), [3]byte{})...)
		body = append(body, data...)
	}
	return b.add(append(le(uint8(1), uint8(0), uint16(len(msgs)), uint32(1), uint32(len(body)), uint32(0)), body...))
}

func (b *builder) finish(root uint64) []byte {
	sb := le([8]byte{0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'}, [4]byte{}, uint8(0), uint8(8), uint8(8), uint8(0),
		uint16(4), uint16(16), uint32(0), uint64(0), uint64(undef), uint64(len(b.b)), uint64(undef),
		uint64(0), root, uint32(0), uint32(0), [16]byte{})
	copy(b.b, sb)
	return b.b
}

func linkMsg(name string, addr uint64) msg {
	return msg{msgLink, append(le(uint8(1), uint8(0), uint8(len(name))), append([]byte(name), le(addr)...)...)}
}

func spaceMsg(dims ...uint64) msg {
	return msg{msgDataspace, le(uint8(1), uint8(len(dims)), uint8(0), [5]byte{}, dims)}
}

var u8Type = msg{msgDatatype, le(uint8(0x10), [3]byte{}, uint32(1), uint16(0), uint16(8))}

var vlenStringType = msg{msgDatatype, le(uint8(0x19), uint8(1), [2]byte{}, uint32(16),
	uint8(0x10), [3]byte{}, uint32(1), uint16(0), uint16(8))}

func contiguousMsg(addr, size uint64) msg {
	return msg{msgLayout, le(uint8(3), uint8(1), addr, size)}
}

func chunkedMsg(btree uint64, chunk ...uint32) msg {
	return msg{msgLayout, le(uint8(3), uint8(2), uint8(len(chunk)+1), btree, chunk, uint32(1))}
}

// chunkTree appends a one-node v1 B-tree of 1-D chunks of u8 elements.
func (b *builder) chunkTree(chunk uint64, sizes []uint32, offsets, addrs []uint64) uint64 {
	node := le([4]byte{'T', 'R', 'E', 'E'}, uint8(1), uint8(0), uint16(len(addrs)), uint64(undef), uint64(undef))
	for i, a := range addrs {
		node = append(node, le(sizes[i], uint32(0), offsets[i]*chunk, uint64(0), a)...)
	}
	return b.add(append(node, le(uint32(0), uint32(0), uint64(1<<40), uint64(0))...))
}

func deflate(data []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

// open reads a built file with a small data budget and returns the root.
func open(t *testing.T, data []byte) *Group {
	t.Helper()
	f, err := newReader(bytes.NewReader(data), int64(len(data)), readerOptions{maxBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	return f.Root()
}

// readErr reads dataset name and returns the error, which must come fast.
func readErr(t *testing.T, root *Group, name string) error {
	t.Helper()
	start := time.Now()
	ds, err := root.Dataset(name)
	if err == nil {
		_, err = ds.Read()
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%s took %v", name, d)
	}
	return err
}

// TestReadLimit: ReadLimit refuses a dataset above its limit before
// reading any of its data (here data that lies beyond the end of the
// file), and reads one within it.
func TestReadLimit(t *testing.T) {
	const n = 4096
	b := newBuilder()
	stored := deflate(make([]byte, n))
	tree := b.chunkTree(n, []uint32{uint32(len(stored))}, []uint64{0}, []uint64{b.add(stored)})
	filters := msg{msgFilters, le(uint8(2), uint8(1), uint16(1), uint16(0), uint16(0))}
	zipped := b.header(spaceMsg(n), u8Type, filters, chunkedMsg(tree, n))
	away := b.header(spaceMsg(n), u8Type, contiguousMsg(1<<40, n))
	data := b.finish(b.header(linkMsg("zipped", zipped), linkMsg("away", away)))
	f, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		limit uint64
		ok    bool
	}{
		{"zipped", 8 * n, true},
		{"zipped", 8*n - 1, false},
		{"away", 8*n - 1, false},
	} {
		ds, err := f.Root().Dataset(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ds.ReadLimit(tc.limit)
		switch {
		case tc.ok && (err != nil || len(v.floats)+len(v.uints) != n):
			t.Errorf("%s within %d bytes: %v", tc.name, tc.limit, err)
		case !tc.ok && (!errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "[4096] elements of 8 bytes: more than the 32767 bytes decoded")):
			t.Errorf("%s above %d bytes: %v", tc.name, tc.limit, err)
		}
	}
}

func TestHostile(t *testing.T) {
	want := func(t *testing.T, err error, text string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), text) {
			t.Errorf("error %v, want one containing %q", err, text)
		}
	}

	t.Run("huge contiguous", func(t *testing.T) {
		b := newBuilder()
		ds := b.header(spaceMsg(1<<40), u8Type, contiguousMsg(0, 1<<40))
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "more than")
	})

	t.Run("huge sparse chunked", func(t *testing.T) {
		b := newBuilder()
		ds := b.header(spaceMsg(1<<20, 1<<20), u8Type,
			msg{msgLayout, le(uint8(3), uint8(2), uint8(3), uint64(undef), uint32(4), uint32(4), uint32(1))})
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "more than")
	})

	t.Run("chunked scalar", func(t *testing.T) {
		b := newBuilder()
		ds := b.header(spaceMsg(), u8Type, msg{msgLayout, le(uint8(3), uint8(2), uint8(1), uint64(undef), uint32(1))})
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "scalar")
	})

	// Every index entry points at the same small chunk that inflates to
	// the whole chunk: reading must stop at the budget, not inflate on.
	t.Run("one chunk many times", func(t *testing.T) {
		b := newBuilder()
		const chunk, n = 4096, 400
		stored := deflate(make([]byte, chunk))
		at := b.add(stored)
		sizes, offs, addrs := make([]uint32, n), make([]uint64, n), make([]uint64, n)
		for i := range n {
			sizes[i], offs[i], addrs[i] = uint32(len(stored)), uint64(i), at
		}
		tree := b.chunkTree(chunk, sizes, offs, addrs)
		filters := msg{msgFilters, le(uint8(2), uint8(1), uint16(1), uint16(0), uint16(0))}
		ds := b.header(spaceMsg(chunk*n), u8Type, filters, chunkedMsg(tree, chunk))
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "more than")
	})

	t.Run("chunk stored twice", func(t *testing.T) {
		b := newBuilder()
		at := b.add(make([]byte, 8))
		tree := b.chunkTree(8, []uint32{8, 8}, []uint64{0, 0}, []uint64{at, at})
		ds := b.header(spaceMsg(16), u8Type, chunkedMsg(tree, 8))
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "stored twice")
	})

	t.Run("B-tree cycle", func(t *testing.T) {
		b := newBuilder()
		node := b.add(nil)
		b.add(le([4]byte{'T', 'R', 'E', 'E'}, uint8(1), uint8(1), uint16(1), uint64(undef), uint64(undef),
			uint32(8), uint32(0), uint64(0), uint64(0), node, uint32(0), uint32(0), uint64(8), uint64(0)))
		ds := b.header(spaceMsg(8), u8Type, chunkedMsg(node, 8))
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "referenced twice")
	})

	// Many references to one large string: the strings are capped in all.
	t.Run("repeated string", func(t *testing.T) {
		b := newBuilder()
		obj := bytes.Repeat([]byte("x"), 1024)
		gcol := b.add(append(le([4]byte{'G', 'C', 'O', 'L'}, uint8(1), [3]byte{}, uint64(16+16+len(obj)),
			uint16(1), uint16(1), uint32(0), uint64(len(obj))), obj...))
		const n = 200
		data := bytes.Repeat(le(uint32(len(obj)), gcol, uint32(1)), n)
		ds := b.header(spaceMsg(n), vlenStringType, contiguousMsg(b.add(data), uint64(len(data))))
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "strings longer than")
	})

	t.Run("header continues into itself", func(t *testing.T) {
		b := newBuilder()
		b.add(nil)
		// The continuation message is the third, after the 16-byte prefix,
		// the dataspace message (24 bytes) and the datatype (24 bytes); it
		// points at itself.
		self := uint64(len(b.b)) + 16 + 24 + 24
		b.header(spaceMsg(1), u8Type, msg{msgContinuation, le(self, uint64(24))})
		ds := self - 64
		want(t, readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d"), "referenced twice")
	})

	// A group that links to itself: walking ends, and a long path through
	// it costs one decode of the group.
	t.Run("group cycle", func(t *testing.T) {
		b := newBuilder()
		b.add(nil)
		self := uint64(len(b.b))
		if got := b.header(linkMsg("g", self)); got != self {
			t.Fatal("header moved")
		}
		root := open(t, b.finish(self))
		n := 0
		if err := root.f.Walk(func(string, Object) error { n++; return nil }); err != nil || n != 1 {
			t.Errorf("walk visited %d objects, %v", n, err)
		}
		start := time.Now()
		if _, err := root.Group(strings.Repeat("g/", 100000)); err != nil {
			t.Error(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a path through the cycle took %v", d)
		}
	})

	t.Run("soft link loop", func(t *testing.T) {
		b := newBuilder()
		soft := func(name, target string) msg {
			return msg{msgLink, append(le(uint8(1), uint8(0x08), uint8(1), uint8(len(name))),
				append([]byte(name), append(le(uint16(len(target))), target...)...)...)}
		}
		root := open(t, b.finish(b.header(soft("a", "/b"), soft("b", "/a"))))
		_, err := root.Object("a")
		want(t, err, "soft links")
	})

	t.Run("not HDF5", func(t *testing.T) {
		_, err := NewReader(bytes.NewReader(make([]byte, 4096)), 4096)
		want(t, err, "not an HDF5 file")
	})

	t.Run("unsupported chunk index", func(t *testing.T) {
		b := newBuilder()
		ds := b.header(spaceMsg(8), u8Type,
			msg{msgLayout, le(uint8(4), uint8(2), uint8(0), uint8(2), uint8(1), uint8(8), uint8(1), uint8(6), uint64(0))})
		err := readErr(t, open(t, b.finish(b.header(linkMsg("d", ds)))), "d")
		want(t, err, "unsupported chunk index type 6")
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%v does not wrap errors.ErrUnsupported", err)
		}
	})
}

// pad8 pads b with zeros to a multiple of 8 bytes.
func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// attrMsg is a version 1 attribute message holding one u8 scalar.
func attrMsg(name string, v uint8) msg {
	space := spaceMsg().data
	data := le(uint8(1), uint8(0), uint16(len(name)+1), uint16(len(u8Type.data)), uint16(len(space)))
	data = append(data, pad8(append([]byte(name), 0))...)
	data = append(data, pad8(append([]byte(nil), u8Type.data...))...)
	data = append(data, pad8(append([]byte(nil), space...))...)
	return msg{msgAttribute, append(data, v)}
}

// builtSeed is a small file for the fuzz corpus, a few hundred bytes where
// the h5py fixtures take kilobytes: a chunked, shuffled and deflated
// dataset, a variable-length string, a soft link and an attribute.
func builtSeed() []byte {
	b := newBuilder()
	chunk := deflate([]byte{1, 2, 3, 4})
	c0, c1 := b.add(chunk), b.add(chunk)
	tree := b.chunkTree(4, []uint32{uint32(len(chunk)), uint32(len(chunk))}, []uint64{0, 1}, []uint64{c0, c1})
	filters := msg{msgFilters, le(uint8(2), uint8(2), uint16(2), uint16(0), uint16(1), uint32(1),
		uint16(1), uint16(0), uint16(1), uint32(6))}
	chunked := b.header(spaceMsg(6), u8Type, filters, chunkedMsg(tree, 4), attrMsg("a", 7))
	gcol := b.add(append(le([4]byte{'G', 'C', 'O', 'L'}, uint8(1), [3]byte{}, uint64(48),
		uint16(1), uint16(1), uint32(0), uint64(5)), []byte("hello\x00\x00\x00")...))
	ref := le(uint32(5), gcol, uint32(1))
	str := b.header(spaceMsg(1), vlenStringType, contiguousMsg(b.add(ref), uint64(len(ref))))
	soft := msg{msgLink, append(le(uint8(1), uint8(0x08), uint8(1), uint8(1)), append([]byte("l"), append(le(uint16(2)), "/c"...)...)...)}
	return b.finish(b.header(linkMsg("c", chunked), linkMsg("s", str), soft))
}

func TestBuiltSeed(t *testing.T) {
	root := open(t, builtSeed())
	ds, err := root.Dataset("l")
	if err != nil {
		t.Fatal(err)
	}
	if x, err := ds.Int64s(); err != nil || !slices.Equal(x, []int64{1, 2, 3, 4, 1, 2}) {
		t.Errorf("chunked: %v, %v", x, err)
	}
	a, err := ds.Attrs()
	if err != nil {
		t.Fatal(err)
	}
	if x, err := a["a"].Int64s(); err != nil || !slices.Equal(x, []int64{7}) {
		t.Errorf("attribute: %v, %v", x, err)
	}
	if s, err := root.Dataset("s"); err != nil {
		t.Error(err)
	} else if x, err := s.Strings(); err != nil || !slices.Equal(x, []string{"hello"}) {
		t.Errorf("string: %v, %v", x, err)
	}
}
