package model

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic, and
// whatever it accepts must be a valid model that re-encodes to a file that
// decodes to the same model. Since nearly every mutation breaks the
// checksum, each input is also tried with its checksum repaired, which lets
// the fuzzer reach the graph and tensor decoding behind it.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	if err := Encode(&buf, testModel()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := Encode(&buf, extendedModel()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		checkDecode(t, repairChecksum(data))
	})
}

func checkDecode(t *testing.T, data []byte) {
	m, err := Decode(data)
	if err != nil {
		return
	}
	var out bytes.Buffer
	if err := Encode(&out, m); err != nil {
		t.Fatalf("decoded model does not re-encode: %v", err)
	}
	again, err := Decode(out.Bytes())
	if err != nil {
		t.Fatalf("re-encoded model does not decode: %v", err)
	}
	if !reflect.DeepEqual(again, m) {
		t.Fatal("re-encoded model decodes differently")
	}
}

// repairChecksum returns a copy of data whose stated checksum is replaced,
// in place, by the one its content hashes to; data itself when its header
// does not parse far enough for that.
func repairChecksum(data []byte) []byte {
	if len(data) < 8 {
		return data
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) {
		return data
	}
	hdr, body := data[8:8+n], data[8+n:]
	meta, tensors, err := parseHeader(hdr, uint64(len(body)))
	if err != nil {
		return data
	}
	list := make([]*tensor, 0, len(tensors))
	for _, t := range tensors {
		list = append(list, t)
	}
	stated, sum := meta[keyChecksum], checksum(body, meta[keyModel], list)
	i := bytes.Index(hdr, []byte(stated))
	if stated == "" || len(stated) != len(sum) || i < 0 {
		return data
	}
	fixed := bytes.Clone(data)
	copy(fixed[8+i:], sum)
	return fixed
}
