package hdf5

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzMaxBytes lowers the data budget while fuzzing: the budget logic is
// the same at any size, and small buffers leave the time for parsing.
const fuzzMaxBytes = 1 << 20

// FuzzOpen opens, walks and reads everything in arbitrary bytes, with and
// without checksum verification (a crafted file can carry valid checksums,
// so the parsers behind them must be safe too). The seed corpus in
// testdata/fuzz/FuzzOpen holds the tiny fixtures that gen.py writes.
func FuzzOpen(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "userblock.h5"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(builtSeed())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, skip := range []bool{false, true} {
			opts := readerOptions{skipChecksums: skip, maxBytes: fuzzMaxBytes}
			if file, err := newReader(bytes.NewReader(data), int64(len(data)), opts); err == nil {
				exercise(t, file)
			}
		}
	})
}

// exercise reads everything reachable in f, ignoring errors: it is there to
// find panics, hangs and runaway allocations. Every decoded value must stay
// within the data budget.
func exercise(t *testing.T, f *File) {
	budget := int(f.dataBudget())
	check := func(v Value) {
		if 8*v.Len() > budget {
			t.Fatalf("decoded %d elements, budget %d bytes", v.Len(), budget)
		}
		v.Float64s()
		v.Strings()
		v.Bools()
	}
	f.Walk(func(path string, obj Object) error {
		attrs, _ := obj.Attrs()
		for _, v := range attrs {
			check(v)
		}
		switch o := obj.(type) {
		case *Dataset:
			o.Layout()
			o.Shape()
			v, _ := o.Read()
			check(v)
		case *Group:
			for _, name := range o.Members() {
				o.Object(name) // follows soft links
			}
		}
		return nil
	})
}

// TestCorrupt flips and truncates the tiny fixtures byte by byte and reads
// everything in each result: none may panic, and each must finish quickly.
func TestCorrupt(t *testing.T) {
	stride := 5
	if testing.Short() {
		stride = 31
	}
	for _, name := range []string{"tiny_earliest.h5", "tiny_latest.h5", "userblock.h5"} {
		orig, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(orig); i += stride {
			for _, mutate := range []func([]byte) []byte{
				func(b []byte) []byte { b[i] ^= 0xff; return b },
				func(b []byte) []byte { b[i] = 0xff; return b },
				func(b []byte) []byte { return b[:i] },
			} {
				data := mutate(bytes.Clone(orig))
				start := time.Now()
				for _, skip := range []bool{false, true} {
					opts := readerOptions{skipChecksums: skip, maxBytes: fuzzMaxBytes}
					if f, err := newReader(bytes.NewReader(data), int64(len(data)), opts); err == nil {
						exercise(t, f)
					}
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%s with byte %d changed: %v", name, i, d)
				}
			}
		}
	}
}
