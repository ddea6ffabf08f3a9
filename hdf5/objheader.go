package hdf5

import (
	"errors"
	"fmt"
)

// Object header message types this reader acts on.
const (
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgExternal     = 0x07
	msgLayout       = 0x08
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// Message flag bits.
const (
	msgFlagShared     = 0x02 // the data is a reference to a message stored elsewhere
	msgFlagMustDecode = 0x80 // fail if the type is not understood
)

// knownMessages are the message types the format defines. A reader may skip
// the ones it has no use for; a type outside this list that is flagged
// "must decode" makes the object unreadable.
var knownMessages = map[uint16]bool{
	0x00: true, msgDataspace: true, msgLinkInfo: true, msgDatatype: true, msgFillOld: true,
	msgFill: true, msgLink: true, msgExternal: true, msgLayout: true, 0x09: true, 0x0a: true,
	msgFilters: true, msgAttribute: true, 0x0d: true, 0x0e: true, 0x0f: true,
	msgContinuation: true, msgSymbolTable: true, 0x12: true, 0x13: true, 0x14: true,
	msgAttrInfo: true, 0x16: true, 0x17: true,
}

type message struct {
	typ   uint16
	flags uint8
	data  []byte
}

type objectHeader struct {
	addr uint64
	msgs []message
}

// find returns the first message of type typ, or nil.
func (oh *objectHeader) find(typ uint16) *message {
	for i := range oh.msgs {
		if oh.msgs[i].typ == typ {
			return &oh.msgs[i]
		}
	}
	return nil
}

// readObjectHeader reads the object header at addr with all its
// continuation blocks.
func (f *File) readObjectHeader(addr uint64) (*objectHeader, error) {
	oh, err := f.readObjectHeaderBlocks(addr)
	if err != nil {
		return nil, fmt.Errorf("object header at 0x%x: %w", addr, err)
	}
	return oh, nil
}

// headerBlock is a piece of an object header still to be parsed.
type headerBlock struct{ addr, size uint64 }

func (f *File) readObjectHeaderBlocks(addr uint64) (*objectHeader, error) {
	oh := &objectHeader{addr: addr}
	// Enough for the longest version 2 prefix, or what the file has.
	head, err := f.readAt(addr, min(f.avail(addr), 6+16+4+8))
	if err != nil {
		return nil, err
	}
	var v2, crtOrder bool
	var first []byte
	switch {
	case len(head) >= 4 && string(head[:4]) == "OHDR":
		v2 = true
		crtOrder = len(head) > 5 && head[5]&0x04 != 0
		first, err = f.headerV2Chunk0(addr, head)
	case len(head) >= 1 && head[0] == 1:
		first, err = f.headerV1Chunk0(addr, head)
	case len(head) >= 1:
		err = fmt.Errorf("version %d: %w", head[0], errors.ErrUnsupported)
	default:
		err = errors.New("empty")
	}
	if err != nil {
		return nil, err
	}
	// Continuation blocks must be distinct, and all blocks together no
	// larger than the file: legitimate blocks do not overlap, and the cap
	// stops a crafted header from re-reading the file through many
	// continuation messages.
	total := uint64(len(first))
	seen := map[uint64]bool{addr: true}
	var queue []headerBlock
	block := first
	for {
		conts, err := f.parseMessages(oh, block, v2, crtOrder)
		if err != nil {
			return nil, err
		}
		for _, c := range conts {
			if seen[c.addr] {
				return nil, fmt.Errorf("continuation block at 0x%x referenced twice", c.addr)
			}
			seen[c.addr] = true
			if total += c.size; total > f.size {
				return nil, errors.New("continuation blocks larger than the file")
			}
			queue = append(queue, c)
		}
		if len(queue) == 0 {
			return oh, nil
		}
		c := queue[0]
		queue = queue[1:]
		if block, err = f.readAt(c.addr, c.size); err != nil {
			return nil, fmt.Errorf("continuation block: %w", err)
		}
		if v2 {
			if len(block) < 8 {
				return nil, fmt.Errorf("continuation block at 0x%x of %d bytes", c.addr, len(block))
			}
			d := f.decoder(block)
			d.signature("OCHK")
			if d.err != nil {
				return nil, fmt.Errorf("continuation block at 0x%x: %w", c.addr, d.err)
			}
			if err := f.verify(block, "continuation block", c.addr); err != nil {
				return nil, err
			}
			block = block[4 : len(block)-4]
		}
	}
}

// headerV1Chunk0 returns the message data of a version 1 header's first
// chunk; head holds at least the start of the header.
func (f *File) headerV1Chunk0(addr uint64, head []byte) ([]byte, error) {
	d := f.decoder(head)
	d.skip(1 + 1 + 2 + 4) // version, reserved, message count, reference count
	size := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	// The 12-byte prefix is padded to 16 so that messages are 8-aligned.
	return f.readAt(addr+16, uint64(size))
}

// headerV2Chunk0 returns the message data of a version 2 header's first
// chunk after checking its checksum.
func (f *File) headerV2Chunk0(addr uint64, head []byte) ([]byte, error) {
	d := f.decoder(head)
	d.skip(4)
	if v := d.u8(); v != 2 {
		return nil, fmt.Errorf("OHDR version %d: %w", v, errors.ErrUnsupported)
	}
	flags := d.u8()
	if flags&0x20 != 0 {
		d.skip(16) // access, modification, change and birth times
	}
	if flags&0x10 != 0 {
		d.skip(4) // attribute phase change values
	}
	size := d.uint(1 << (flags & 3))
	if d.err != nil {
		return nil, d.err
	}
	prefix := uint64(d.off)
	if size > f.size {
		return nil, fmt.Errorf("chunk of %d bytes is larger than the file", size)
	}
	b, err := f.readAt(addr, prefix+size+4)
	if err != nil {
		return nil, err
	}
	if err := f.verify(b, "object header", addr); err != nil {
		return nil, err
	}
	return b[prefix : prefix+size], nil
}

// parseMessages appends the messages in one chunk of an object header to
// oh and returns the continuation blocks they point to.
//
// crtOrder says whether version 2 message prefixes carry a creation order
// (bit 2 of the header's flags).
func (f *File) parseMessages(oh *objectHeader, b []byte, v2, crtOrder bool) ([]headerBlock, error) {
	var conts []headerBlock
	d := f.decoder(b)
	prefix := 8 // version 1: type, size, flags, reserved
	if v2 {
		prefix = 4 // type, size, flags
		if crtOrder {
			prefix += 2 // and the creation order
		}
	}
	// What is left after the last message is padding, or in version 2 a
	// gap too small for a message.
	for d.remaining() >= prefix {
		var typ uint16
		if v2 {
			typ = uint16(d.u8())
		} else {
			typ = d.u16()
		}
		size := int(d.u16())
		flags := d.u8()
		if !v2 {
			d.skip(3) // reserved
		}
		if crtOrder {
			d.skip(2) // the message's creation order
		}
		data := d.take(size)
		if d.err != nil {
			return nil, fmt.Errorf("message type 0x%x: %w", typ, d.err)
		}
		if !knownMessages[typ] && flags&msgFlagMustDecode != 0 {
			return nil, fmt.Errorf("message type 0x%x must be understood to read this object: %w", typ, errors.ErrUnsupported)
		}
		if typ == msgContinuation {
			cd := f.decoder(data)
			c := headerBlock{addr: cd.addr(), size: cd.length()}
			if cd.err != nil {
				return nil, fmt.Errorf("continuation message: %w", cd.err)
			}
			conts = append(conts, c)
			continue
		}
		if typ != 0 {
			oh.msgs = append(oh.msgs, message{typ: typ, flags: flags, data: data})
		}
	}
	return conts, nil
}
