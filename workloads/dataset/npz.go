package dataset

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// A user's own samples come as a NumPy .npz archive (np.savez or
// np.savez_compressed) of two arrays, in C order, of any bool, integer or
// float dtype holding whole numbers in 0..255:
//
//   - frames: [N, C, H, W] (any shape whose dimensions after the first
//     hold one sample of the model's input), the same input at every
//     timestep; or, for a frame-coded model, [N, T, C, H, W]: T frames per
//     sample, frame t read at timestep t and zeros after the last;
//   - labels: [N], the class of each sample.
//
// LoadNPZ reads it; docs/datasets.md describes the format.

// Limits on an .npz file.
const (
	// MaxNPYValues bounds the values of one array (held as one byte each):
	// 1 GiB is 1,000 N-MNIST samples of 300 frames or a million MNIST
	// images. A larger set is better split into several runs.
	MaxNPYValues = 1 << 30
	// maxNPYHeader bounds an .npy header (numpy writes under 200 bytes).
	maxNPYHeader = 1 << 16
	// maxNPYDims bounds an array's dimensions.
	maxNPYDims = 8
)

// Array is one decoded .npy array of small whole numbers: its shape and
// its values in C order.
type Array struct {
	Shape  []int
	Values []uint8
}

// ReadNPY decodes one .npy stream (format versions 1 to 3, little- or
// big-endian bool, integer and float dtypes, C order) whose values are
// whole numbers in 0..255, refusing an array of more than limit values
// before reading it.
func ReadNPY(r io.Reader, limit int64) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return nil, errors.New("npy: not an .npy array (no \\x93NUMPY magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy: format version %d.%d unknown", pre[6], pre[7])
	}
	if hlen > maxNPYHeader {
		return nil, fmt.Errorf("npy: header of %d bytes, at most %d", hlen, maxNPYHeader)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("npy: header: %w", err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(header))
	if err != nil {
		return nil, fmt.Errorf("npy: header %q: %w", strings.TrimSpace(string(header)), err)
	}
	if fortran {
		return nil, errors.New("npy: Fortran-order array; save it in C order (np.ascontiguousarray)")
	}
	decode, size, err := dtype(descr)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	n := int64(1)
	for _, d := range shape {
		if d > 0 && n > limit/int64(d) {
			return nil, fmt.Errorf("npy: shape %v has more than %d values", shape, limit)
		}
		n *= int64(d)
	}
	// Read in pieces, so that a header promising more than the stream
	// holds costs no more memory than the stream.
	a := &Array{Shape: shape, Values: make([]uint8, 0, min(n, 1<<20))}
	buf := make([]byte, 64<<10/size*size)
	for left := n * int64(size); left > 0; {
		b := buf[:min(int64(len(buf)), left)]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("npy: data of shape %v: %w", shape, err)
		}
		for i := 0; i < len(b); i += size {
			v := decode(b[i : i+size])
			if !(v >= 0 && v <= 255) || v != math.Trunc(v) {
				return nil, fmt.Errorf("npy: value %v at index %d: want whole numbers in 0..255", v, len(a.Values))
			}
			a.Values = append(a.Values, uint8(v))
		}
		left -= int64(len(b))
	}
	return a, nil
}

// dtype returns the decoder of one element of a dtype string such as
// "<f4" (widened to float64: exact for every value that is kept) and its
// size.
func dtype(descr string) (decode func([]byte) float64, size int, err error) {
	if len(descr) < 3 {
		return nil, 0, fmt.Errorf("dtype %q unknown", descr)
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch descr[0] {
	case '<', '|', '=':
	case '>':
		order = binary.BigEndian
	default:
		return nil, 0, fmt.Errorf("dtype %q: byte order %q unknown", descr, descr[0])
	}
	switch descr[1:] {
	case "b1", "u1":
		return func(b []byte) float64 { return float64(b[0]) }, 1, nil
	case "i1":
		return func(b []byte) float64 { return float64(int8(b[0])) }, 1, nil
	case "u2":
		return func(b []byte) float64 { return float64(order.Uint16(b)) }, 2, nil
	case "i2":
		return func(b []byte) float64 { return float64(int16(order.Uint16(b))) }, 2, nil
	case "u4":
		return func(b []byte) float64 { return float64(order.Uint32(b)) }, 4, nil
	case "i4":
		return func(b []byte) float64 { return float64(int32(order.Uint32(b))) }, 4, nil
	case "u8":
		return func(b []byte) float64 { return float64(order.Uint64(b)) }, 8, nil
	case "i8":
		return func(b []byte) float64 { return float64(int64(order.Uint64(b))) }, 8, nil
	case "f4":
		return func(b []byte) float64 { return float64(math.Float32frombits(order.Uint32(b))) }, 4, nil
	case "f8":
		return func(b []byte) float64 { return math.Float64frombits(order.Uint64(b)) }, 8, nil
	}
	return nil, 0, fmt.Errorf("dtype %q not supported (bool, integers, float32, float64)", descr)
}

// parseNPYHeader reads the Python dict literal of an .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	s := strings.TrimSpace(h)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return "", false, nil, errors.New("not a dict")
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	seen := map[string]bool{}
	for s != "" {
		var key string
		if key, s, err = pyString(s); err != nil {
			return "", false, nil, err
		}
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, ":") {
			return "", false, nil, fmt.Errorf("no ':' after %q", key)
		}
		s = strings.TrimSpace(s[1:])
		if seen[key] {
			return "", false, nil, fmt.Errorf("key %q twice", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			if descr, s, err = pyString(s); err != nil {
				return "", false, nil, err
			}
		case "fortran_order":
			switch {
			case strings.HasPrefix(s, "False"):
				s = s[5:]
			case strings.HasPrefix(s, "True"):
				fortran, s = true, s[4:]
			default:
				return "", false, nil, errors.New("fortran_order is not True or False")
			}
		case "shape":
			if shape, s, err = pyTuple(s); err != nil {
				return "", false, nil, err
			}
		default:
			return "", false, nil, fmt.Errorf("key %q unknown", key)
		}
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, ",") {
			s = strings.TrimSpace(s[1:])
		} else if s != "" {
			return "", false, nil, fmt.Errorf("no ',' after %q", key)
		}
	}
	if !seen["descr"] || !seen["fortran_order"] || !seen["shape"] {
		return "", false, nil, errors.New("want the keys descr, fortran_order and shape")
	}
	return descr, fortran, shape, nil
}

// pyString reads a quoted Python string without escapes from the start of s.
func pyString(s string) (str, rest string, err error) {
	if s == "" || s[0] != '\'' && s[0] != '"' {
		return "", "", fmt.Errorf("want a quoted string at %.20q", s)
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", "", fmt.Errorf("unterminated string at %.20q", s)
	}
	return s[1 : 1+end], s[2+end:], nil
}

// pyTuple reads a tuple of non-negative integers, "(2, 3)", "(5,)" or "()".
func pyTuple(s string) (dims []int, rest string, err error) {
	if !strings.HasPrefix(s, "(") {
		return nil, "", fmt.Errorf("shape is not a tuple at %.20q", s)
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return nil, "", errors.New("shape tuple not closed")
	}
	body := strings.TrimSpace(s[1:end])
	if body != "" {
		parts := strings.Split(strings.TrimSuffix(body, ","), ",")
		for _, p := range parts {
			d, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "L")))
			if err != nil || d < 0 {
				return nil, "", fmt.Errorf("shape dimension %q is not a non-negative integer", strings.TrimSpace(p))
			}
			dims = append(dims, d)
		}
	}
	if len(dims) > maxNPYDims {
		return nil, "", fmt.Errorf("%d dimensions, at most %d", len(dims), maxNPYDims)
	}
	return dims, s[end+1:], nil
}

// ReadNPZ reads the named arrays of an .npz archive (NAME.npy members,
// stored or deflated); a missing one is an error naming those present.
func ReadNPZ(r io.ReaderAt, size int64, names ...string) (map[string]*Array, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	members := map[string]*zip.File{}
	var present []string
	for _, f := range z.File {
		if name, ok := strings.CutSuffix(f.Name, ".npy"); ok {
			members[name] = f
			present = append(present, name)
		}
	}
	out := map[string]*Array{}
	for _, name := range names {
		f, ok := members[name]
		if !ok {
			return nil, fmt.Errorf("npz: no array %q (it holds %s)", name, strings.Join(present, ", "))
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("npz: %s: %w", name, err)
		}
		a, err := ReadNPY(rc, MaxNPYValues)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("npz: %s: %w", name, err)
		}
		out[name] = a
	}
	return out, nil
}

// LoadNPZ reads a user's samples from the .npz file at path (see the top of
// this file) for a model whose input is in, frame-coded when frames, with
// values of at most maxValue (the model's input width). A frame-coded set
// has the shape of T frames stacked along channels, as LoadNMNIST's.
func LoadNPZ(path string, in model.Shape, frames bool, maxValue int) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	arrays, err := ReadNPZ(f, fi.Size(), "frames", "labels")
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	s, err := fromArrays(arrays["frames"], arrays["labels"], in, frames, maxValue)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	s.Name = "file:" + path
	return s, nil
}

// fromArrays checks frames and labels against the model's input and
// builds the set.
func fromArrays(x, y *Array, in model.Shape, frames bool, maxValue int) (*Set, error) {
	if len(y.Shape) != 1 {
		return nil, fmt.Errorf("labels of shape %v: want [N]", y.Shape)
	}
	n := y.Shape[0]
	if n == 0 {
		return nil, errors.New("no samples")
	}
	if len(x.Shape) < 2 || x.Shape[0] != n {
		return nil, fmt.Errorf("frames of shape %v: want [%d, ...], one sample per label", x.Shape, n)
	}
	per := len(x.Values) / n // values per sample
	T := 1
	switch {
	case per == in.Size():
	case frames && len(x.Shape) >= 3 && x.Shape[1] > 0 && per == x.Shape[1]*in.Size():
		T = x.Shape[1]
	default:
		want := fmt.Sprintf("[%d, %d, %d, %d]", n, in.C, in.H, in.W)
		if frames {
			want += fmt.Sprintf(" or [%d, T, %d, %d, %d]", n, in.C, in.H, in.W)
		}
		return nil, fmt.Errorf("frames of shape %v, but the model reads %v samples: want %s", x.Shape, in, want)
	}
	for i, v := range x.Values {
		if int(v) > maxValue {
			return nil, fmt.Errorf("frames value %d at index %d: the model reads values of at most %d", v, i, maxValue)
		}
	}
	s := &Set{Shape: model.Shape{C: in.C * T, H: in.H, W: in.W}, Images: x.Values, Labels: y.Values}
	for _, l := range y.Values {
		s.Classes = max(s.Classes, int(l)+1)
	}
	return s, nil
}
