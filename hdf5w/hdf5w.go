// Package hdf5w writes small HDF5 files: groups and datasets of 64-bit
// floats, 64-bit integers and fixed-length strings, which is all a NIR graph
// needs. It is the writing half of package hdf5 (which only reads), kept
// apart so that the reader stays read-only.
//
// It writes the oldest format that every HDF5 reader understands, as h5py
// does with libver="earliest": superblock version 0, version 1 object
// headers, symbol-table groups (a v1 B-tree of symbol nodes plus a local
// heap) and contiguous datasets, all little-endian with 8-byte offsets and
// lengths. There are no attributes, no chunking, no compression and no free
// space: the file is laid out once, in order, and written in one go, so the
// same tree always gives the same bytes.
package hdf5w

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// File is an HDF5 file being built in memory. Create groups and datasets
// under Root, then call WriteTo.
type File struct {
	root *Group
}

// New returns an empty file (a root group with no members).
func New() *File { return &File{root: newGroup("/")} }

// Root is the root group.
func (f *File) Root() *Group { return f.root }

// Group is a group being built. Its members are written in name order, as
// symbol-table groups require.
type Group struct {
	path    string
	members map[string]any // *Group or *dataset
}

func newGroup(path string) *Group { return &Group{path: path, members: map[string]any{}} }

// dataset is one dataset: its datatype, shape and little-endian bytes.
type dataset struct {
	dtype []byte // encoded datatype message
	shape []int
	data  []byte
}

// The superblock's K values, HDF5's defaults: a symbol node holds up to
// 2·leafK entries and a group B-tree node up to 2·internalK children (a
// group of more than 256 links has a B-tree of more than one level).
const (
	leafK     = 4
	internalK = 16
	// maxRank is HDF5's own limit on dimensions.
	maxRank = 32
)

// undef is HDF5's undefined address.
const undef = math.MaxUint64

// Group creates the member group name (a single link name) and returns it.
func (g *Group) Group(name string) (*Group, error) {
	if err := g.checkNew(name); err != nil {
		return nil, err
	}
	c := newGroup(g.child(name))
	g.members[name] = c
	return c, nil
}

// Float64s creates a dataset of little-endian IEEE binary64 values with the
// given shape (nil or empty for a scalar), in row-major order.
func (g *Group) Float64s(name string, shape []int, v []float64) error {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return g.add(name, float64Type(), shape, len(v), data)
}

// Int64s creates a dataset of little-endian signed 64-bit integers.
func (g *Group) Int64s(name string, shape []int, v []int64) error {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return g.add(name, int64Type(), shape, len(v), data)
}

// Strings creates a dataset of fixed-length, null-padded strings (UTF-8
// when any is not ASCII), each as long as the longest. Strings may not
// contain NUL bytes, which the padding could not tell apart.
func (g *Group) Strings(name string, shape []int, v []string) error {
	size, ascii := 1, true
	for i, s := range v {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return fmt.Errorf("hdf5w: %s: string %d is not NUL-free UTF-8", g.child(name), i)
		}
		size = max(size, len(s))
		for j := 0; j < len(s) && ascii; j++ {
			ascii = s[j] < 0x80
		}
	}
	data := make([]byte, size*len(v))
	for i, s := range v {
		copy(data[i*size:], s)
	}
	return g.add(name, stringType(size, ascii), shape, len(v), data)
}

func (g *Group) child(name string) string {
	if g.path == "/" {
		return "/" + name
	}
	return g.path + "/" + name
}

// checkNew refuses link names HDF5 cannot hold or that already exist.
func (g *Group) checkNew(name string) error {
	switch {
	case name == "" || name == "." || strings.ContainsAny(name, "/\x00") || !utf8.ValidString(name):
		return fmt.Errorf("hdf5w: %q in %s is not a valid link name (non-empty UTF-8, no '/' or NUL, not \".\")", name, g.path)
	case g.members[name] != nil:
		return fmt.Errorf("hdf5w: %s already exists", g.child(name))
	}
	return nil
}

func (g *Group) add(name string, dtype []byte, shape []int, n int, data []byte) error {
	if err := g.checkNew(name); err != nil {
		return err
	}
	if len(shape) > maxRank {
		return fmt.Errorf("hdf5w: %s: rank %d, at most %d", g.child(name), len(shape), maxRank)
	}
	size := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("hdf5w: %s: negative dimension in shape %v", g.child(name), shape)
		}
		size *= d
	}
	if size != n {
		return fmt.Errorf("hdf5w: %s: shape %v holds %d values, got %d", g.child(name), shape, size, n)
	}
	g.members[name] = &dataset{dtype: dtype, shape: slices.Clone(shape), data: data}
	return nil
}

// Datatype messages (HDF5 specification, IV.A.2.d).
func int64Type() []byte {
	// Class 0 (fixed point), version 1; signed, little-endian; 8 bytes;
	// bit offset 0, precision 64.
	return []byte{0x10, 0x08, 0, 0, 8, 0, 0, 0, 0, 0, 64, 0}
}

func float64Type() []byte {
	// Class 1 (floating point), version 1; little-endian, implied leading
	// mantissa bit (0x20), sign at bit 63; 8 bytes; offset 0, precision 64,
	// exponent at bit 52 of 11 bits, mantissa at bit 0 of 52 bits, bias 1023.
	return []byte{0x11, 0x20, 63, 0, 8, 0, 0, 0, 0, 0, 64, 0, 52, 11, 0, 52, 0xff, 0x03, 0, 0}
}

func stringType(size int, ascii bool) []byte {
	// Class 3 (string), version 1; padding 1 (null pad), character set
	// 0 (ASCII) or 1 (UTF-8) in the high nibble.
	flags := byte(0x01)
	if !ascii {
		flags |= 0x10
	}
	b := []byte{0x13, flags, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], uint32(size))
	return b
}

// Sizes of the fixed structures, with 8-byte offsets and lengths.
const (
	superblockSize = 96
	entrySize      = 40                                     // symbol table entry
	snodSize       = 8 + 2*leafK*entrySize                  // symbol node, full capacity
	btreeSize      = 24 + 2*internalK*8 + (2*internalK+1)*8 // group B-tree node, full capacity
	heapHeaderSize = 32                                     // local heap prefix
	freeNull       = 1                                      // the local heap's "no free block"
	msgHeaderSize  = 8                                      // v1 object header message prefix
	ohdrPrefixSize = 16                                     // v1 object header prefix, aligned
)

// WriteTo writes the file to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(f.Bytes())
	return int64(n), err
}

// Bytes lays the file out and returns its bytes.
func (f *File) Bytes() []byte {
	l := &layout{}
	l.buf.Write(make([]byte, superblockSize))
	root := l.group(f.root)
	out := l.buf.Bytes()
	sb := out[:superblockSize]
	copy(sb, "\x89HDF\r\n\x1a\n")
	// Versions 0 (superblock, free space, root symbol table entry,
	// reserved, shared header); 8-byte offsets and lengths.
	copy(sb[8:], []byte{0, 0, 0, 0, 0, 8, 8, 0})
	binary.LittleEndian.PutUint16(sb[16:], leafK)
	binary.LittleEndian.PutUint16(sb[18:], internalK)
	// Flags 0, base address 0, no free-space info, end of file, no driver
	// information.
	le := binary.LittleEndian
	le.PutUint64(sb[24:], 0)
	le.PutUint64(sb[32:], undef)
	le.PutUint64(sb[40:], uint64(len(out)))
	le.PutUint64(sb[48:], undef)
	putEntry(sb[56:], 0, root)
	return out
}

// layout appends objects to a buffer; an object's address is its offset.
type layout struct {
	buf bytes.Buffer
}

func (l *layout) align() {
	if pad := l.buf.Len() % 8; pad != 0 {
		l.buf.Write(make([]byte, 8-pad))
	}
}

func (l *layout) addr() uint64 { return uint64(l.buf.Len()) }

// groupAddrs is where a group's structures were put.
type groupAddrs struct {
	header, btree, heap uint64
}

// group writes g's members (depth first), then its local heap, symbol
// nodes, B-tree and object header, and returns their addresses.
func (l *layout) group(g *Group) groupAddrs {
	names := make([]string, 0, len(g.members))
	for n := range g.members {
		names = append(names, n)
	}
	slices.Sort(names) // byte order, as HDF5 compares link names
	type member struct {
		name   string
		header uint64
		group  *groupAddrs
	}
	members := make([]member, len(names))
	for i, n := range names {
		members[i].name = n
		switch m := g.members[n].(type) {
		case *Group:
			a := l.group(m)
			members[i].header, members[i].group = a.header, &a
		case *dataset:
			members[i].header = l.dataset(m)
		}
	}

	// Local heap: the empty string at offset 0 (the B-tree's first key),
	// then every name, NUL-terminated and padded to 8 bytes.
	var heap bytes.Buffer
	heap.Write(make([]byte, 8))
	offsets := make([]uint64, len(members))
	for i, m := range members {
		offsets[i] = uint64(heap.Len())
		heap.WriteString(m.name)
		heap.Write(make([]byte, 8-len(m.name)%8))
	}
	l.align()
	var a groupAddrs
	a.heap = l.addr()
	hdr := make([]byte, heapHeaderSize)
	copy(hdr, "HEAP")
	binary.LittleEndian.PutUint64(hdr[8:], uint64(heap.Len()))
	binary.LittleEndian.PutUint64(hdr[16:], freeNull)
	binary.LittleEndian.PutUint64(hdr[24:], a.heap+heapHeaderSize)
	l.buf.Write(hdr)
	l.buf.Write(heap.Bytes())

	// Symbol nodes of up to 2·leafK entries each, written at full capacity
	// because readers read a node's whole allocated size.
	var snods []uint64
	var lastKeys []uint64 // heap offset of each node's last name
	for start := 0; start < len(members); start += 2 * leafK {
		end := min(start+2*leafK, len(members))
		node := make([]byte, snodSize)
		copy(node, "SNOD")
		node[4] = 1 // version
		binary.LittleEndian.PutUint16(node[6:], uint16(end-start))
		for i := start; i < end; i++ {
			putEntry(node[8+(i-start)*entrySize:], offsets[i], groupAddrsOr(members[i].header, members[i].group))
		}
		l.align()
		snods = append(snods, l.addr())
		lastKeys = append(lastKeys, offsets[end-1])
		l.buf.Write(node)
	}

	a.btree = l.btree(snods, lastKeys)

	// The group's object header: one symbol table message (type 0x11).
	stab := make([]byte, 16)
	binary.LittleEndian.PutUint64(stab, a.btree)
	binary.LittleEndian.PutUint64(stab[8:], a.heap)
	a.header = l.objectHeader([]message{{0x11, stab}})
	return a
}

// btree writes the group B-tree over the symbol nodes at children, whose
// last names are at heap offsets last, and returns its root's address.
// Level 0 nodes point at up to 2·internalK symbol nodes, each level above
// at up to 2·internalK nodes of the level below, up to a single root. Key
// i of a node is the heap offset of the last name under child i−1 (key 0:
// the last name before the node, "" for the first), so that a lookup can
// descend by name; the nodes of a level are linked to their siblings, which
// HDF5 1.8 follows along the leaf level.
func (l *layout) btree(children, last []uint64) uint64 {
	const fan = 2 * internalK
	for level := 0; ; level++ {
		n := max(1, (len(children)+fan-1)/fan) // an empty group has one empty node
		l.align()
		base := l.addr() // btreeSize is a multiple of 8: the nodes lie back to back
		up := make([]uint64, n)
		upLast := make([]uint64, n)
		for j := range n {
			start, end := j*fan, min((j+1)*fan, len(children))
			tree := make([]byte, btreeSize)
			copy(tree, "TREE")
			tree[4], tree[5] = 0, byte(level) // group node
			binary.LittleEndian.PutUint16(tree[6:], uint16(end-start))
			left, right := uint64(undef), uint64(undef)
			if j > 0 {
				left = base + uint64(j-1)*btreeSize
			}
			if j < n-1 {
				right = base + uint64(j+1)*btreeSize
			}
			binary.LittleEndian.PutUint64(tree[8:], left)
			binary.LittleEndian.PutUint64(tree[16:], right)
			if start > 0 {
				binary.LittleEndian.PutUint64(tree[24:], last[start-1])
			}
			for i := start; i < end; i++ {
				p := 32 + 16*(i-start)
				binary.LittleEndian.PutUint64(tree[p:], children[i])
				binary.LittleEndian.PutUint64(tree[p+8:], last[i])
			}
			up[j] = base + uint64(j)*btreeSize
			if end > start {
				upLast[j] = last[end-1]
			}
			l.buf.Write(tree)
		}
		if n == 1 {
			return up[0]
		}
		children, last = up, upLast
	}
}

// groupAddrsOr is the symbol-table entry content of a member: a group's
// cached B-tree and heap, or only the header of a dataset.
func groupAddrsOr(header uint64, g *groupAddrs) groupAddrs {
	if g != nil {
		return *g
	}
	return groupAddrs{header: header}
}

// putEntry encodes a symbol table entry. Groups carry cache type 1 with
// their B-tree and heap addresses in the scratch pad, as HDF5 writes them.
func putEntry(b []byte, nameOffset uint64, a groupAddrs) {
	le := binary.LittleEndian
	le.PutUint64(b, nameOffset)
	le.PutUint64(b[8:], a.header)
	if a.btree != 0 {
		le.PutUint32(b[16:], 1)
		le.PutUint64(b[24:], a.btree)
		le.PutUint64(b[32:], a.heap)
	}
}

// dataset writes a dataset's data and object header and returns the
// header's address.
func (l *layout) dataset(d *dataset) uint64 {
	dataAddr := uint64(undef)
	if len(d.data) > 0 {
		l.align()
		dataAddr = l.addr()
		l.buf.Write(d.data)
	}
	// Dataspace, version 1: rank, no maximum dimensions; rank 0 is a scalar.
	space := make([]byte, 8+8*len(d.shape))
	space[0], space[1] = 1, byte(len(d.shape))
	for i, n := range d.shape {
		binary.LittleEndian.PutUint64(space[8+8*i:], uint64(n))
	}
	// Data layout, version 3, contiguous: address and size.
	lay := make([]byte, 18)
	lay[0], lay[1] = 3, 1
	binary.LittleEndian.PutUint64(lay[2:], dataAddr)
	binary.LittleEndian.PutUint64(lay[10:], uint64(len(d.data)))
	return l.objectHeader([]message{{0x01, space}, {0x03, d.dtype}, {0x08, lay}})
}

// message is one object header message: its type and data.
type message struct {
	typ  uint16
	data []byte
}

// objectHeader writes a version 1 object header holding msgs and returns
// its address. Each message's data is padded to a multiple of 8 bytes.
func (l *layout) objectHeader(msgs []message) uint64 {
	var body bytes.Buffer
	for _, m := range msgs {
		size := (len(m.data) + 7) &^ 7
		h := make([]byte, msgHeaderSize)
		binary.LittleEndian.PutUint16(h, m.typ)
		binary.LittleEndian.PutUint16(h[2:], uint16(size))
		body.Write(h)
		body.Write(m.data)
		body.Write(make([]byte, size-len(m.data)))
	}
	prefix := make([]byte, ohdrPrefixSize)
	prefix[0] = 1 // version
	binary.LittleEndian.PutUint16(prefix[2:], uint16(len(msgs)))
	binary.LittleEndian.PutUint32(prefix[4:], 1) // reference count
	binary.LittleEndian.PutUint32(prefix[8:], uint32(body.Len()))
	l.align()
	at := l.addr()
	l.buf.Write(prefix)
	l.buf.Write(body.Bytes())
	return at
}
