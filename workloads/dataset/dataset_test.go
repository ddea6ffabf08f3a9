package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxFile builds an IDX file with the given magic and dims; payload may be
// shorter or longer than the dims say.
func idxFile(magic uint32, dims []uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	raw := idxFile(MagicImages, []uint32{2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	for name, b := range map[string][]byte{"raw": raw, "gzip": gz(raw)} {
		f, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Magic != MagicImages || len(f.Dims) != 3 || f.Dims[2] != 3 || len(f.Data) != 12 || f.Data[11] != 12 {
			t.Fatalf("%s: got %+v", name, f)
		}
	}
}

// TestReadIDXFirst holds a partial read to the whole file's first items:
// the header's dimensions, the first n items' bytes, and reading stops
// there (bytes after them, even a broken gzip trailer, are not looked at),
// while a file that ends within them is still an error. n ≤ 0 or past the
// count is a whole read, with its checks.
func TestReadIDXFirst(t *testing.T) {
	raw := idxFile(MagicImages, []uint32{3, 1, 2}, []byte{1, 2, 3, 4, 5, 6})
	broken := gz(raw)
	broken[len(broken)-5] ^= 1 // CRC-32 in the trailer
	for name, b := range map[string][]byte{"raw": raw, "gzip": gz(raw), "bad crc after the items": broken} {
		f, err := ReadIDXFirst(bytes.NewReader(b), 2)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Dims[0] != 3 || !bytes.Equal(f.Data, []byte{1, 2, 3, 4}) {
			t.Fatalf("%s: dims %v, data %v; want [3 1 2] and the first two items", name, f.Dims, f.Data)
		}
	}
	if _, err := ReadIDXFirst(bytes.NewReader(raw[:len(raw)-3]), 2); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("a file ending within the items read: got %v, want truncated", err)
	}
	for _, n := range []int{0, 3, 9} {
		if _, err := ReadIDXFirst(bytes.NewReader(broken), n); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("n = %d, a whole read: got %v, want the gzip checksum error", n, err)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxFile(MagicLabels, []uint32{3}, []byte{0, 1, 2})
	corruptGzip := gz(good)
	corruptGzip[len(corruptGzip)-5] ^= 1 // CRC-32 in the trailer
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "reading magic: unexpected EOF"},
		{"wrong magic", idxFile(2050, []uint32{3}, []byte{0, 1, 2}), "magic 2050 (0x00000802) is neither 2051 (images) nor 2049 (labels)"},
		{"float type", idxFile(0x0d01, []uint32{3}, nil), "is neither"},
		{"short dims", good[:6], "reading dimensions: unexpected EOF"},
		{"zero dim", idxFile(MagicLabels, []uint32{0}, nil), "dimension 0 is 0"},
		{"truncated", good[:len(good)-1], "truncated: header [3] promises 3 payload bytes, file has 2"},
		{"truncated gzip", gz(good)[:20], "unexpected EOF"},
		{"trailing", append(bytes.Clone(good), 9), "data after the 3-byte payload"},
		{"huge", idxFile(MagicImages, []uint32{1 << 30, 1 << 30, 1 << 30}, nil), "exceed the"},
		{"bad crc", corruptGzip, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

func TestFromIDXErrors(t *testing.T) {
	images := idxFile(MagicImages, []uint32{2, 1, 2}, []byte{1, 2, 3, 4})
	labels := idxFile(MagicLabels, []uint32{2}, []byte{0, 9})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		want           string
	}{
		{"swapped", labels, images, "images file has magic 2049, want 2051"},
		{"labels as images", images, images, "labels file has magic 2051, want 2049"},
		{"count mismatch", images, idxFile(MagicLabels, []uint32{3}, []byte{0, 1, 2}), "images file has 2 items of 1x2 but labels file has 3 items"},
		{"label range", images, idxFile(MagicLabels, []uint32{2}, []byte{0, 10}), "label 10 of item 1 is outside 0..9"},
		{"truncated images", images[:len(images)-1], labels, "mnist: images: idx: truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromIDX("mnist", bytes.NewReader(tc.images), bytes.NewReader(tc.labels))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
	s, err := FromIDX("custom", bytes.NewReader(images), bytes.NewReader(labels))
	if err != nil {
		t.Fatal(err)
	}
	if s.Classes != 10 || s.Len() != 2 || s.Slice(1).Len() != 1 || s.Slice(-1).Len() != 0 || s.Slice(5).Len() != 2 {
		t.Errorf("custom set: %d classes, %d samples", s.Classes, s.Len())
	}
	if img := s.Image(0); cap(img) != 2 {
		t.Errorf("Image(0) has capacity %d, want 2", cap(img))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load("cifar", dir, "test"); err == nil || !strings.Contains(err.Error(), "known: caltech-fm, fashion-mnist, mnist, nmnist") {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Load("mnist", dir, "val"); err == nil || !strings.Contains(err.Error(), `unknown split "val"`) {
		t.Errorf("unknown split: %v", err)
	}
	_, err := Load("mnist", dir, "test")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "mnist", "t10k-images-idx3-ubyte")) {
		t.Errorf("missing files: %v", err)
	}
	// Uncompressed files are found too, and a bad file's error names it.
	os.MkdirAll(filepath.Join(dir, "mnist"), 0o755)
	os.WriteFile(filepath.Join(dir, "mnist", "t10k-images-idx3-ubyte"), idxFile(MagicImages, []uint32{1, 1, 1}, []byte{5}), 0o644)
	bad := filepath.Join(dir, "mnist", "t10k-labels-idx1-ubyte")
	os.WriteFile(bad, idxFile(MagicLabels, []uint32{1}, nil), 0o644)
	if _, err := Load("mnist", dir, "test"); err == nil || !strings.Contains(err.Error(), bad+": idx: truncated") {
		t.Errorf("bad labels file: %v", err)
	}
	os.WriteFile(bad, idxFile(MagicLabels, []uint32{1}, []byte{3}), 0o644)
	if s, err := Load("mnist", dir, "test"); err != nil || s.Labels[0] != 3 || s.Image(0)[0] != 5 {
		t.Errorf("raw files: %v", err)
	}
}

// TestLoadFirst: the first n samples of a split are Load's first n, with
// the split's count; n ≤ 0 or past the count is the whole split.
func TestLoadFirst(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "fashion-mnist"), 0o755)
	base := filepath.Join(dir, "fashion-mnist", "t10k-")
	os.WriteFile(base+"images-idx3-ubyte.gz", gz(idxFile(MagicImages, []uint32{4, 1, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8})), 0o644)
	os.WriteFile(base+"labels-idx1-ubyte.gz", gz(idxFile(MagicLabels, []uint32{4}, []byte{9, 8, 7, 6})), 0o644)
	all, err := Load("fashion-mnist", dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{-1, 0, 1, 3, 4, 5} {
		s, total, err := LoadFirst("fashion-mnist", dir, "test", n)
		if err != nil {
			t.Fatalf("n = %d: %v", n, err)
		}
		want := all.Slice(n)
		if n <= 0 {
			want = all
		}
		if total != 4 || !bytes.Equal(s.Images, want.Images) || !bytes.Equal(s.Labels, want.Labels) || s.Shape != all.Shape {
			t.Fatalf("n = %d: total %d, %d samples; want 4 and %d", n, total, s.Len(), want.Len())
		}
	}
}

func TestResolveDir(t *testing.T) {
	if dir, how := ResolveDir("/x"); dir != "/x" || how != "flag" {
		t.Errorf("flag: %q %q", dir, how)
	}
	t.Setenv(EnvDataDir, "/from/env")
	if dir, how := ResolveDir(""); dir != "/from/env" || how != "$NMSIM_DATA" {
		t.Errorf("env: %q %q", dir, how)
	}
	t.Setenv(EnvDataDir, "")
	// Outside any module, only ./data can be found.
	tmp := t.TempDir()
	t.Chdir(tmp)
	if dir, _ := ResolveDir(""); dir != "" {
		t.Errorf("empty dir resolved to %q", dir)
	}
	os.Mkdir("data", 0o755)
	if dir, how := ResolveDir(""); dir != "data" || how != "./data" {
		t.Errorf("./data: %q %q", dir, how)
	}
	// ./data may be the committed slice: FullDir never returns it, and
	// what is missing there is reported as fs.ErrNotExist.
	if dir, how := FullDir(); dir != "" || !strings.Contains(how, "unset") {
		t.Errorf("FullDir with ./data only: %q %q", dir, how)
	}
	if _, err := Load("mnist", "data", "test"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "data/README.md") {
		t.Errorf("missing files: %v", err)
	}
	// A module with ../shared/data beside it wins over ./data.
	os.MkdirAll(filepath.Join(tmp, "shared", "data"), 0o755)
	os.MkdirAll(filepath.Join(tmp, "repo", "sub"), 0o755)
	os.WriteFile(filepath.Join(tmp, "repo", "go.mod"), []byte("module x\n"), 0o644)
	t.Chdir(filepath.Join(tmp, "repo", "sub"))
	if dir, _ := ResolveDir(""); dir != filepath.Join(tmp, "shared", "data") {
		t.Errorf("shared: %q", dir)
	}
	if dir, _ := FullDir(); dir != filepath.Join(tmp, "shared", "data") {
		t.Errorf("FullDir with shared: %q", dir)
	}
}
