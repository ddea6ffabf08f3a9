package dataset

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/model"
)

// npy encodes an array as numpy.save does (format 1.0, header padded so
// that the data starts at a multiple of 64).
func npy(descr string, shape []int, data []byte) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(data)
	return b.Bytes()
}

// npz zips arrays as numpy.savez (stored) or savez_compressed (deflated).
func npz(t testing.TB, compressed bool, arrays map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, name := range []string{"frames", "labels", "extra"} {
		data, ok := arrays[name]
		if !ok {
			continue
		}
		method := zip.Store
		if compressed {
			method = zip.Deflate
		}
		w, err := z.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func f32(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func i64(vals ...int64) []byte {
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return b
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mine.npz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadNPZ(t *testing.T) {
	// Three constant samples of 1x2x2, uint8, stored.
	pixels := []byte{0, 1, 2, 3, 10, 11, 12, 13, 255, 254, 253, 252}
	path := writeFile(t, npz(t, false, map[string][]byte{
		"frames": npy("|u1", []int{3, 1, 2, 2}, pixels),
		"labels": npy("<i8", []int{3}, i64(2, 0, 1)),
	}))
	s, err := LoadNPZ(path, model.Shape{C: 1, H: 2, W: 2}, false, 255)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "file:"+path || s.Shape != (model.Shape{C: 1, H: 2, W: 2}) || !bytes.Equal(s.Images, pixels) ||
		!bytes.Equal(s.Labels, []byte{2, 0, 1}) || s.Classes != 3 {
		t.Fatalf("set %+v", s)
	}
	// Two samples of 3 frames of 2x1x1 spikes as float32, deflated, for a
	// frame-coded model; big-endian labels.
	spikes := []float32{1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1}
	be := make([]byte, 4)
	binary.BigEndian.PutUint16(be, 1)
	binary.BigEndian.PutUint16(be[2:], 0)
	path = writeFile(t, npz(t, true, map[string][]byte{
		"frames": npy("<f4", []int{2, 3, 2, 1, 1}, f32(spikes...)),
		"labels": npy(">u2", []int{2}, be),
		"extra":  npy("<f8", []int{1}, make([]byte, 8)),
	}))
	s, err = LoadNPZ(path, model.Shape{C: 2, H: 1, W: 1}, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Shape != (model.Shape{C: 6, H: 1, W: 1}) || s.Len() != 2 || s.Image(1)[5] != 1 || !bytes.Equal(s.Labels, []byte{1, 0}) {
		t.Fatalf("frames set %+v", s)
	}
}

func TestLoadNPZErrors(t *testing.T) {
	in := model.Shape{C: 1, H: 2, W: 2}
	good := npy("|u1", []int{1, 1, 2, 2}, []byte{1, 2, 3, 4})
	labels := npy("<i8", []int{1}, i64(0))
	for _, tc := range []struct {
		name   string
		arrays map[string][]byte
		want   string
	}{
		{"no labels", map[string][]byte{"frames": good}, `no array "labels" (it holds frames)`},
		{"wrong shape", map[string][]byte{"frames": npy("|u1", []int{1, 3}, []byte{1, 2, 3}), "labels": labels}, "frames of shape [1 3], but the model reads 1x2x2 samples: want [1, 1, 2, 2]"},
		{"fraction", map[string][]byte{"frames": npy("<f4", []int{1, 1, 2, 2}, f32(0, 0.5, 1, 1)), "labels": labels}, "value 0.5 at index 1: want whole numbers in 0..255"},
		{"negative label", map[string][]byte{"frames": good, "labels": npy("<i8", []int{1}, i64(-1))}, "value -1 at index 0"},
		{"too wide for the model", map[string][]byte{"frames": good, "labels": labels}, "frames value 2 at index 1: the model reads values of at most 1"},
		{"labels per sample", map[string][]byte{"frames": good, "labels": npy("<i8", []int{2}, i64(0, 1))}, "want [2, ...], one sample per label"},
		{"truncated data", map[string][]byte{"frames": good[:len(good)-1], "labels": labels}, "unexpected EOF"},
		{"huge shape", map[string][]byte{"frames": npy("|u1", []int{1 << 20, 1 << 20, 4}, nil), "labels": labels}, "has more than 1073741824 values"},
		{"not npy", map[string][]byte{"frames": []byte("PK\x03\x04 not an array"), "labels": labels}, "no \\x93NUMPY magic"},
		{"fortran", map[string][]byte{"frames": bytes.Replace(good, []byte("False"), []byte("True "), 1), "labels": labels}, "Fortran-order"},
		{"complex", map[string][]byte{"frames": npy("<c8", []int{1}, make([]byte, 8)), "labels": labels}, `dtype "<c8" not supported`},
	} {
		maxValue := 255
		if tc.name == "too wide for the model" {
			maxValue = 1
		}
		_, err := LoadNPZ(writeFile(t, npz(t, false, tc.arrays)), in, false, maxValue)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := LoadNPZ(writeFile(t, []byte("not a zip")), in, false, 255); err == nil || !strings.Contains(err.Error(), "npz: zip") {
		t.Errorf("not a zip: %v", err)
	}
}

// FuzzReadNPY: any stream gets an array or an error, never a panic, and
// an array's values fill its shape.
func FuzzReadNPY(f *testing.F) {
	f.Add(npy("|u1", []int{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(npy("<f8", []int{1}, make([]byte, 8)))
	f.Add(npy(">i4", []int{}, []byte{0, 0, 0, 7}))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'shape': (1,)}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadNPY(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if len(a.Values) != n {
			t.Fatalf("shape %v with %d values", a.Shape, len(a.Values))
		}
	})
}

// FuzzReadNPZ: any archive gets arrays or an error, never a panic.
func FuzzReadNPZ(f *testing.F) {
	f.Add(npz(f, false, map[string][]byte{"frames": npy("|u1", []int{1, 2}, []byte{1, 2}), "labels": npy("<i8", []int{1}, i64(0))}))
	f.Add(npz(f, true, map[string][]byte{"frames": npy("<f4", []int{1, 1}, f32(3)), "labels": npy("|u1", []int{1}, []byte{1})}))
	f.Fuzz(func(t *testing.T, data []byte) {
		arrays, err := ReadNPZ(bytes.NewReader(data), int64(len(data)), "frames", "labels")
		if err == nil && (arrays["frames"] == nil || arrays["labels"] == nil) {
			t.Fatal("no error but an array missing")
		}
	})
}
