package hdf5

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Object is a group or a dataset.
type Object interface {
	// Path is the path the object was opened by.
	Path() string
	// Attrs reads the object's attributes.
	Attrs() (map[string]Value, error)
}

type linkKind int

const (
	hardLink linkKind = iota
	softLink
	externalLink
	userLink
)

type link struct {
	kind   linkKind
	addr   uint64 // hard links: the object header
	target string // soft links: a path; external links: "file:path"
}

// Group is an HDF5 group.
type Group struct {
	f     *File
	path  string
	oh    *objectHeader
	links map[string]link
	names []string // sorted
}

// Path returns the path the group was opened by.
func (g *Group) Path() string { return g.path }

// Members returns the names of the group's links, sorted by name: its
// groups, datasets and committed datatypes, and soft and external links.
func (g *Group) Members() []string { return slices.Clone(g.names) }

// Attrs reads the group's attributes.
func (g *Group) Attrs() (map[string]Value, error) {
	a, err := g.f.attrs(g.oh)
	if err != nil {
		return nil, fmt.Errorf("hdf5: %s: %w", g.path, err)
	}
	return a, nil
}

// Object opens the group or dataset at path, relative to g unless it starts
// with "/". Soft links are followed; external links are refused.
func (g *Group) Object(path string) (Object, error) {
	hops := 0
	obj, name, err := g.f.resolve(g, g.path, path, &hops)
	if err != nil {
		return nil, fmt.Errorf("hdf5: %w", err)
	}
	return withPath(obj, name), nil
}

// Group opens the group at path.
func (g *Group) Group(path string) (*Group, error) {
	obj, err := g.Object(path)
	if err != nil {
		return nil, err
	}
	sub, ok := obj.(*Group)
	if !ok {
		return nil, fmt.Errorf("hdf5: %s is a dataset, not a group", obj.Path())
	}
	return sub, nil
}

// Dataset opens the dataset at path.
func (g *Group) Dataset(path string) (*Dataset, error) {
	obj, err := g.Object(path)
	if err != nil {
		return nil, err
	}
	ds, ok := obj.(*Dataset)
	if !ok {
		return nil, fmt.Errorf("hdf5: %s is a group, not a dataset", obj.Path())
	}
	return ds, nil
}

// maxSoftLinks bounds the soft links followed in one lookup, as HDF5 does,
// so that links pointing at each other end in an error.
const maxSoftLinks = 16

// resolve finds the object at path from the group cur, whose path is base,
// and returns it with its full path. The objects on the way are not named,
// so that a long path costs no more than its length.
func (f *File) resolve(cur *Group, base, path string, hops *int) (Object, string, error) {
	if strings.HasPrefix(path, "/") {
		cur, base = f.root, "/"
	}
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	at := func(n int) string { return joinPath(base, strings.Join(parts[:n], "/")) }
	var obj Object = cur
	for i, name := range parts {
		if i > 0 {
			sub, ok := obj.(*Group)
			if !ok {
				return nil, "", fmt.Errorf("%s is not a group", at(i))
			}
			cur = sub
		}
		l, ok := cur.links[name]
		if !ok {
			return nil, "", fmt.Errorf("%s: %w", at(i+1), ErrNotFound)
		}
		var err error
		switch l.kind {
		case hardLink:
			obj, err = f.object(l.addr)
		case softLink:
			if *hops++; *hops > maxSoftLinks {
				return nil, "", fmt.Errorf("%s: more than %d soft links", at(i+1), maxSoftLinks)
			}
			if obj, _, err = f.resolve(cur, at(i), l.target, hops); err != nil {
				err = fmt.Errorf("soft link to %s: %w", l.target, err)
			}
		case externalLink:
			err = fmt.Errorf("an external link to %s: %w", l.target, errors.ErrUnsupported)
		default:
			err = fmt.Errorf("a user-defined link: %w", errors.ErrUnsupported)
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", at(i+1), err)
		}
	}
	return obj, at(len(parts)), nil
}

func joinPath(dir, name string) string {
	switch {
	case name == "":
		return dir
	case strings.HasPrefix(name, "/"):
		return name
	}
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

// errCommittedType marks an object that is a committed datatype: it has a
// path but is neither a group nor a dataset.
var errCommittedType = errors.New("committed datatype, not a group or dataset")

// openObject opens the group or dataset at addr under the name path.
func (f *File) openObject(path string, addr uint64) (Object, error) {
	obj, err := f.object(addr)
	if err != nil {
		return nil, err
	}
	return withPath(obj, path), nil
}

// withPath returns a copy of a group or dataset named path.
func withPath(obj Object, path string) Object {
	switch o := obj.(type) {
	case *Group:
		g := *o
		g.path = path
		return &g
	case *Dataset:
		ds := *o
		ds.path = path
		return &ds
	}
	panic("unreachable: objects are groups or datasets")
}

// object returns the group or dataset at addr, decoding it on first use.
func (f *File) object(addr uint64) (Object, error) {
	if obj, ok := f.objects[addr]; ok {
		return obj, nil
	}
	if err, ok := f.objErrs[addr]; ok {
		return nil, err
	}
	obj, err := f.decodeObject(addr)
	if err != nil {
		f.objErrs[addr] = err
		return nil, err
	}
	f.objects[addr] = obj
	return obj, nil
}

func (f *File) decodeObject(addr uint64) (Object, error) {
	oh, err := f.readObjectHeader(addr)
	if err != nil {
		return nil, err
	}
	switch {
	case oh.find(msgSymbolTable) != nil || oh.find(msgLinkInfo) != nil || oh.find(msgLink) != nil:
		return f.newGroup(oh)
	case oh.find(msgLayout) != nil:
		return f.newDataset(oh)
	case oh.find(msgDatatype) != nil:
		return nil, errCommittedType
	}
	return nil, fmt.Errorf("object header at 0x%x is neither a group nor a dataset", addr)
}

func (f *File) openGroup(path string, addr uint64) (*Group, error) {
	obj, err := f.openObject(path, addr)
	if err != nil {
		return nil, err
	}
	g, ok := obj.(*Group)
	if !ok {
		return nil, fmt.Errorf("%s is not a group", path)
	}
	return g, nil
}

func (f *File) newGroup(oh *objectHeader) (*Group, error) {
	g := &Group{f: f, oh: oh, links: map[string]link{}}
	add := func(name string, l link) error {
		if name == "" {
			return errors.New("link with an empty name")
		}
		if _, dup := g.links[name]; dup {
			return fmt.Errorf("two links named %q", name)
		}
		g.links[name] = l
		g.names = append(g.names, name)
		return nil
	}
	var err error
	if m := oh.find(msgSymbolTable); m != nil {
		err = f.symbolTableLinks(m.data, add)
	} else {
		err = f.messageLinks(oh, add)
	}
	if err != nil {
		return nil, fmt.Errorf("group at 0x%x: %w", oh.addr, err)
	}
	slices.Sort(g.names)
	return g, nil
}

// symbolTableLinks reads an old-style group: a v1 B-tree of symbol table
// nodes whose entries name their links by offset into a local heap.
func (f *File) symbolTableLinks(data []byte, add func(string, link) error) error {
	d := f.decoder(data)
	btree, heapAddr := d.addr(), d.addr()
	if d.err != nil {
		return fmt.Errorf("symbol table message: %w", d.err)
	}
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return err
	}
	entrySize := 2*f.offSize + 24
	return f.walkV1BTree(btree, 0, f.lenSize, func(_ []byte, snod uint64) error {
		head, err := f.readAt(snod, 8)
		if err != nil {
			return fmt.Errorf("symbol table node: %w", err)
		}
		d := f.decoder(head)
		d.signature("SNOD")
		d.skip(2) // version, reserved
		n := int(d.u16())
		if d.err != nil {
			return fmt.Errorf("symbol table node at 0x%x: %w", snod, d.err)
		}
		body, err := f.readAt(snod+8, uint64(n*entrySize))
		if err != nil {
			return fmt.Errorf("symbol table node at 0x%x: %w", snod, err)
		}
		d = f.decoder(body)
		for range n {
			nameOff := d.uint(f.offSize)
			addr := d.addr()
			cache := d.u32()
			d.skip(4)
			scratch := d.take(16)
			name, err := heap.name(nameOff)
			if err != nil {
				return err
			}
			l := link{kind: hardLink, addr: addr}
			if cache == 2 { // a soft link: its value is in the heap too
				l.kind = softLink
				if l.target, err = heap.name(f.decoder(scratch).uint(4)); err != nil {
					return err
				}
			}
			if err := add(name, l); err != nil {
				return err
			}
		}
		return d.err
	})
}

type localHeap struct {
	addr uint64
	data []byte
}

func (f *File) localHeap(addr uint64) (*localHeap, error) {
	head, err := f.readAt(addr, 8+2*uint64(f.lenSize)+uint64(f.offSize))
	if err != nil {
		return nil, fmt.Errorf("local heap: %w", err)
	}
	d := f.decoder(head)
	d.signature("HEAP")
	d.skip(4) // version, reserved
	size := d.length()
	d.length() // free list
	dataAddr := d.addr()
	if d.err != nil {
		return nil, fmt.Errorf("local heap at 0x%x: %w", addr, d.err)
	}
	data, err := f.readAt(dataAddr, size)
	if err != nil {
		return nil, fmt.Errorf("local heap at 0x%x: %w", addr, err)
	}
	return &localHeap{addr: addr, data: data}, nil
}

// name returns the NUL-terminated string at offset off.
func (h *localHeap) name(off uint64) (string, error) {
	if off >= uint64(len(h.data)) {
		return "", fmt.Errorf("name at offset %d is outside the local heap at 0x%x", off, h.addr)
	}
	s := h.data[off:]
	end := slices.Index(s, 0)
	if end < 0 {
		return "", fmt.Errorf("name at offset %d in the local heap at 0x%x is not terminated", off, h.addr)
	}
	return string(s[:end]), nil
}

// messageLinks reads a new-style group: link messages in its header
// (compact storage) or, when the link info message names a fractal heap,
// link messages in that heap indexed by a v2 B-tree of names (dense).
func (f *File) messageLinks(oh *objectHeader, add func(string, link) error) error {
	for _, m := range oh.msgs {
		if m.typ != msgLink {
			continue
		}
		name, l, err := f.parseLink(m.data)
		if err != nil {
			return err
		}
		if err := add(name, l); err != nil {
			return err
		}
	}
	info := oh.find(msgLinkInfo)
	if info == nil {
		return nil
	}
	d := f.decoder(info.data)
	d.skip(1) // version
	if flags := d.u8(); flags&1 != 0 {
		d.skip(8) // maximum creation index
	}
	heapAddr, nameIndex := d.addr(), d.addr()
	if d.err != nil {
		return fmt.Errorf("link info message: %w", d.err)
	}
	if heapAddr == undef {
		return nil
	}
	heap, err := f.readFractalHeap(heapAddr)
	if err != nil {
		return err
	}
	// Name index records: a 4-byte hash of the name, then a 7-byte heap ID.
	return f.v2BTreeRecords(nameIndex, 5, func(rec []byte) error {
		if len(rec) < 5 {
			return fmt.Errorf("link name record of %d bytes", len(rec))
		}
		b, err := heap.object(rec[4:])
		if err != nil {
			return err
		}
		name, l, err := f.parseLink(b)
		if err != nil {
			return err
		}
		return add(name, l)
	})
}

// parseLink decodes a link message.
func (f *File) parseLink(b []byte) (string, link, error) {
	d := f.decoder(b)
	if v := d.u8(); d.err == nil && v != 1 {
		return "", link{}, fmt.Errorf("link message version %d: %w", v, errors.ErrUnsupported)
	}
	flags := d.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		d.skip(8) // creation order
	}
	if flags&0x10 != 0 {
		d.skip(1) // character set of the name
	}
	n := d.uint(1 << (flags & 3))
	if n > uint64(d.remaining()) {
		return "", link{}, fmt.Errorf("link name of %d bytes in a %d-byte message", n, len(b))
	}
	name := string(d.take(int(n)))
	var l link
	switch typ {
	case 0:
		l = link{kind: hardLink, addr: d.addr()}
	case 1:
		l = link{kind: softLink, target: string(d.take(int(d.u16())))}
	case 64:
		// A version/flags byte, then the file name and the object path,
		// each NUL-terminated.
		v := d.take(int(d.u16()))
		if len(v) > 0 {
			file, path, _ := strings.Cut(strings.TrimRight(string(v[1:]), "\x00"), "\x00")
			l = link{kind: externalLink, target: file + ":" + path}
		}
	default:
		l = link{kind: userLink}
	}
	if d.err != nil {
		return "", link{}, fmt.Errorf("link message %q: %w", name, d.err)
	}
	return name, l, nil
}

// Walk calls fn for the root group and then for every group and dataset
// reachable from it through hard links, depth first in name order. Like
// h5py's visititems, it visits each object once, by the first path that
// reaches it, so it ends on files whose groups form cycles; soft and
// external links and committed datatypes are skipped. An error from fn or
// from opening an object stops the walk.
func (f *File) Walk(fn func(path string, obj Object) error) error {
	seen := map[uint64]bool{f.root.oh.addr: true}
	var walk func(g *Group) error
	walk = func(g *Group) error {
		for _, name := range g.names {
			l := g.links[name]
			if l.kind != hardLink || seen[l.addr] {
				continue
			}
			seen[l.addr] = true
			path := joinPath(g.path, name)
			obj, err := f.openObject(path, l.addr)
			if errors.Is(err, errCommittedType) {
				continue
			}
			if err != nil {
				return fmt.Errorf("hdf5: %s: %w", path, err)
			}
			if err := fn(path, obj); err != nil {
				return err
			}
			if sub, ok := obj.(*Group); ok {
				if err := walk(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := fn("/", f.root); err != nil {
		return err
	}
	return walk(f.root)
}
