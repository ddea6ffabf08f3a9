package hdf5

import (
	"errors"
	"fmt"
)

// walkV1BTree visits the leaves of the version 1 B-tree at addr whose nodes
// have type nodeType (0: group nodes, 1: raw data chunks) and keys of
// keySize bytes. For every child of a leaf node it calls fn with the key
// before that child and the child's address.
func (f *File) walkV1BTree(addr uint64, nodeType uint8, keySize int, fn func(key []byte, child uint64) error) error {
	seen := map[uint64]bool{}
	var walk func(addr uint64, level int) error
	walk = func(addr uint64, level int) error {
		if seen[addr] {
			return fmt.Errorf("v1 B-tree node at 0x%x referenced twice", addr)
		}
		seen[addr] = true
		headSize := 8 + 2*uint64(f.offSize)
		head, err := f.readAt(addr, headSize)
		if err != nil {
			return fmt.Errorf("v1 B-tree node: %w", err)
		}
		d := f.decoder(head)
		d.signature("TREE")
		typ, lvl, n := d.u8(), int(d.u8()), int(d.u16())
		if d.err != nil {
			return fmt.Errorf("v1 B-tree node at 0x%x: %w", addr, d.err)
		}
		if typ != nodeType {
			return fmt.Errorf("v1 B-tree node at 0x%x has type %d, want %d", addr, typ, nodeType)
		}
		if level >= 0 && lvl != level {
			return fmt.Errorf("v1 B-tree node at 0x%x has level %d, want %d", addr, lvl, level)
		}
		entry := keySize + f.offSize
		body, err := f.readAt(addr+headSize, uint64(n*entry+keySize))
		if err != nil {
			return fmt.Errorf("v1 B-tree node at 0x%x: %w", addr, err)
		}
		for i := 0; i < n; i++ {
			e := f.decoder(body[i*entry:])
			key := e.take(keySize)
			child := e.addr()
			if lvl == 0 {
				err = fn(key, child)
			} else {
				err = walk(child, lvl-1)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	return walk(addr, -1)
}

// v2BTree is the header of a version 2 B-tree with what it takes to decode
// its nodes.
type v2BTree struct {
	addr     uint64
	typ      uint8
	nodeSize uint64
	recSize  int
	depth    int
	root     uint64
	rootN    uint64
	// maxRec[l] is the most records a node at level l can hold and cum[l]
	// the most in a subtree rooted there; they set the width of the counts
	// stored with child pointers.
	maxRec  []uint64
	cum     []uint64
	nrecLen int // width of a child's record count: from the leaf maximum
	offSize int
}

// maxV2Depth bounds the depth of a version 2 B-tree. A depth of 10 holds
// more records than any file: this only stops a crafted header.
const maxV2Depth = 16

func (f *File) readV2BTree(addr uint64, wantType uint8) (*v2BTree, error) {
	size := 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + uint64(f.offSize) + 2 + uint64(f.lenSize) + 4
	b, err := f.readAt(addr, size)
	if err != nil {
		return nil, err
	}
	d := f.decoder(b)
	d.signature("BTHD")
	if v := d.u8(); d.err == nil && v != 0 {
		return nil, fmt.Errorf("version %d: %w", v, errors.ErrUnsupported)
	}
	t := &v2BTree{addr: addr, offSize: f.offSize}
	t.typ = d.u8()
	t.nodeSize = uint64(d.u32())
	t.recSize = int(d.u16())
	t.depth = int(d.u16())
	d.skip(2) // split and merge percentages
	t.root = d.addr()
	t.rootN = uint64(d.u16())
	d.length() // total records
	if d.err != nil {
		return nil, d.err
	}
	if err := f.verify(b, "v2 B-tree header", addr); err != nil {
		return nil, err
	}
	if t.typ != wantType {
		return nil, fmt.Errorf("type %d, want %d", t.typ, wantType)
	}
	const overhead = 10 // signature, version, type, checksum
	if t.recSize == 0 || t.nodeSize <= overhead || t.nodeSize > f.size || t.depth > maxV2Depth {
		return nil, fmt.Errorf("node size %d, record size %d, depth %d", t.nodeSize, t.recSize, t.depth)
	}
	leaf := (t.nodeSize - overhead) / uint64(t.recSize)
	t.maxRec = []uint64{leaf}
	t.cum = []uint64{leaf}
	t.nrecLen = encSize(leaf)
	for l := 1; l <= t.depth; l++ {
		ptr := t.pointerSize(l)
		if t.nodeSize < overhead+ptr {
			return nil, fmt.Errorf("node size %d too small for depth %d", t.nodeSize, t.depth)
		}
		m := (t.nodeSize - overhead - ptr) / (uint64(t.recSize) + ptr)
		c, ok := mulCheck(m+1, t.cum[l-1], 1<<62)
		if !ok {
			c = 1 << 62
		}
		t.maxRec = append(t.maxRec, m)
		t.cum = append(t.cum, min(c+m, 1<<62))
	}
	return t, nil
}

// pointerSize is the size of a child pointer in a node at level l: the
// address, the child's record count and, above the lowest internal level,
// the child subtree's total record count.
func (t *v2BTree) pointerSize(l int) uint64 {
	n := uint64(t.offSize + t.nrecLen)
	if l > 1 {
		n += uint64(encSize(t.cum[l-1]))
	}
	return n
}

// records calls fn with every record of the v2 B-tree at addr, whose type
// must be wantType.
func (f *File) v2BTreeRecords(addr uint64, wantType uint8, fn func(rec []byte) error) error {
	t, err := f.readV2BTree(addr, wantType)
	if err != nil {
		return fmt.Errorf("v2 B-tree at 0x%x: %w", addr, err)
	}
	if t.root == undef || t.rootN == 0 {
		return nil
	}
	seen := map[uint64]bool{}
	return f.v2Node(t, t.root, t.depth, t.rootN, seen, fn)
}

func (f *File) v2Node(t *v2BTree, addr uint64, level int, n uint64, seen map[uint64]bool, fn func([]byte) error) error {
	if seen[addr] {
		return fmt.Errorf("v2 B-tree node at 0x%x referenced twice", addr)
	}
	seen[addr] = true
	if n > t.maxRec[level] {
		return fmt.Errorf("v2 B-tree node at 0x%x: %d records, at most %d fit", addr, n, t.maxRec[level])
	}
	b, err := f.readAt(addr, t.nodeSize)
	if err != nil {
		return fmt.Errorf("v2 B-tree node: %w", err)
	}
	d := f.decoder(b)
	sig := "BTIN"
	if level == 0 {
		sig = "BTLF"
	}
	d.signature(sig)
	d.skip(1) // version
	if typ := d.u8(); d.err == nil && typ != t.typ {
		return fmt.Errorf("v2 B-tree node at 0x%x has type %d, want %d", addr, typ, t.typ)
	}
	recs := d.take(int(n) * t.recSize)
	type child struct{ addr, n uint64 }
	var children []child
	if level > 0 {
		children = make([]child, n+1)
		for i := range children {
			children[i].addr = d.addr()
			children[i].n = d.uint(t.nrecLen)
			if level > 1 {
				d.uint(encSize(t.cum[level-1])) // the subtree's total
			}
		}
	}
	d.skip(4)
	if d.err != nil {
		return fmt.Errorf("v2 B-tree node at 0x%x: %w", addr, d.err)
	}
	if err := f.verify(b[:d.off], "v2 B-tree node", addr); err != nil {
		return err
	}
	// In order: child 0, record 0, child 1, ..., record n-1, child n.
	for i := 0; i <= int(n); i++ {
		if level > 0 {
			if err := f.v2Node(t, children[i].addr, level-1, children[i].n, seen, fn); err != nil {
				return err
			}
		}
		if i < int(n) {
			if err := fn(recs[i*t.recSize : (i+1)*t.recSize]); err != nil {
				return err
			}
		}
	}
	return nil
}
