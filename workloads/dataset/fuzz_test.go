package dataset

import (
	"bytes"
	"testing"
)

// FuzzReadIDX feeds arbitrary bytes to ReadIDX: it must never panic, and
// what it accepts must be consistent with its own header.
func FuzzReadIDX(f *testing.F) {
	f.Add(idxFile(MagicLabels, []uint32{3}, []byte{0, 1, 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ReadIDX(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := 1
		for _, d := range idx.Dims {
			n *= d
		}
		if len(idx.Data) != n {
			t.Fatalf("dims %v but %d bytes of data", idx.Dims, len(idx.Data))
		}
	})
}
