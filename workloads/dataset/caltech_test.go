package dataset

import (
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoGKernel(t *testing.T) {
	n := 2*dogRadius + 1
	var sum int64
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			k := dogKernel[y*n+x]
			sum += k
			if k != dogKernel[x*n+y] || k != dogKernel[y*n+n-1-x] {
				t.Fatalf("kernel not symmetric at (%d,%d)", x, y)
			}
		}
	}
	if sum != 0 || dogKernel[dogRadius*n+dogRadius] <= 0 || dogKernel[dogRadius*n] >= 0 {
		t.Errorf("kernel sums to %d, centre %d, edge %d: want 0, > 0, < 0", sum, dogKernel[dogRadius*n+dogRadius], dogKernel[dogRadius*n])
	}
}

// square is a w×h image (origin (3, 5), on purpose not (0, 0)) of grey 20
// with a square of grey 200 whose corner is at (x0, y0) in units of the
// resized pixels.
func square(w, h, x0, y0 int) *image.Gray {
	const s = 8 // source pixels per resized pixel
	img := image.NewGray(image.Rect(3, 5, 3+s*w, 5+s*h))
	for y := 0; y < s*h; y++ {
		for x := 0; x < s*w; x++ {
			v := uint8(20)
			if x >= s*x0 && x < s*(x0+8) && y >= s*y0 && y < s*(y0+8) {
				v = 200
			}
			img.SetGray(3+x, 5+y, color.Gray{Y: v})
		}
	}
	return img
}

// TestCaltechFrontEnd: a flat image sends no spike; a bright square on a
// dark ground gives ON responses inside its edge and OFF outside, never
// both at one pixel, the strongest at 255; a mirrored image gives the
// mirrored sample.
func TestCaltechFrontEnd(t *testing.T) {
	flat := image.NewGray(image.Rect(0, 0, 8*CaltechW, 8*CaltechH))
	for i := range flat.Pix {
		flat.Pix[i] = 128
	}
	for i, v := range Caltech(flat) {
		if v != 0 {
			t.Fatalf("flat image: output %d is %d", i, v)
		}
	}
	const x0, y0 = 6, 6
	out := Caltech(square(CaltechW, CaltechH, x0, y0))
	n := CaltechH * CaltechW
	on, off := out[:n], out[n:]
	peak := uint8(0)
	for i := range on {
		if on[i] > 0 && off[i] > 0 {
			t.Fatalf("pixel %d is both ON (%d) and OFF (%d)", i, on[i], off[i])
		}
		peak = max(peak, on[i], off[i])
	}
	if peak != 255 {
		t.Errorf("strongest response %d, want 255", peak)
	}
	at := func(c []uint8, x, y int) uint8 { return c[y*CaltechW+x] }
	if at(on, x0, y0+4) == 0 || at(off, x0, y0+4) != 0 || at(off, x0-1, y0+4) == 0 || at(on, x0-1, y0+4) != 0 {
		t.Errorf("left edge: ON inside %d, OFF outside %d; want both > 0", at(on, x0, y0+4), at(off, x0-1, y0+4))
	}
	if at(on, 0, 0) != 0 || at(off, 0, 0) != 0 || at(on, x0+4, y0+4) != 0 {
		t.Errorf("flat regions respond: corner %d/%d, centre %d", at(on, 0, 0), at(off, 0, 0), at(on, x0+4, y0+4))
	}
	// The square mirrored left to right sits at CaltechW−8−x0.
	mirrored := Caltech(square(CaltechW, CaltechH, CaltechW-8-x0, y0))
	for c := 0; c < 2; c++ {
		for y := 0; y < CaltechH; y++ {
			for x := 0; x < CaltechW; x++ {
				if a, b := out[c*n+y*CaltechW+x], mirrored[c*n+y*CaltechW+CaltechW-1-x]; a != b {
					t.Fatalf("channel %d (%d,%d): %d, mirrored %d", c, x, y, a, b)
				}
			}
		}
	}
}

// TestCaltech loads both splits of the shared data: sizes, balanced
// alternating labels and samples that carry spikes.
func TestCaltech(t *testing.T) {
	dir, how := ResolveDir("")
	if dir == "" || !isDir(filepath.Join(dir, CaltechDir)) {
		t.Skipf("no %s/ in the data directory (%s)", CaltechDir, how)
	}
	for split, want := range map[string]int{"train": 400, "test": 396} {
		s, err := Load("caltech-fm", dir, split)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != want || s.Shape != CaltechShape || s.Classes != 2 || len(s.Images) != want*CaltechShape.Size() {
			t.Fatalf("%s: %d samples of %v, %d classes; want %d of %v, 2", split, s.Len(), s.Shape, s.Classes, want, CaltechShape)
		}
		for i, l := range s.Labels {
			if int(l) != i%2 {
				t.Fatalf("%s: label %d of sample %d, want %d", split, l, i, i%2)
			}
		}
		for i := 0; i < s.Len(); i++ {
			nz := 0
			for _, v := range s.Image(i) {
				if v > 0 {
					nz++
				}
			}
			if nz < 50 {
				t.Errorf("%s: sample %d has only %d non-zero inputs", split, i, nz)
			}
		}
	}
}

func TestCaltechErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadCaltech(dir, "val"); err == nil || !strings.Contains(err.Error(), `unknown split "val"`) {
		t.Errorf("unknown split: %v", err)
	}
	if _, err := LoadCaltech(dir, "test"); err == nil || !strings.Contains(err.Error(), filepath.Join(CaltechDir, "TestingSet", "Face")) {
		t.Errorf("missing folder: %v", err)
	}
	face := filepath.Join(dir, CaltechDir, "TestingSet", "Face")
	motor := filepath.Join(dir, CaltechDir, "TestingSet", "Motor")
	os.MkdirAll(face, 0o755)
	os.MkdirAll(motor, 0o755)
	if _, err := LoadCaltech(dir, "test"); err == nil || !strings.Contains(err.Error(), "no .jpg files") {
		t.Errorf("empty folder: %v", err)
	}
	writeJPEG := func(path string, w, h int) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := jpeg.Encode(f, square(w, h, 1, 1), nil); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	writeJPEG(filepath.Join(face, "a.jpg"), CaltechW, CaltechH)
	writeJPEG(filepath.Join(motor, "a.jpg"), CaltechW, CaltechH)
	writeJPEG(filepath.Join(motor, "b.jpg"), CaltechW, CaltechH)
	s, err := LoadCaltech(dir, "test")
	if err != nil || s.Len() != 3 || s.Labels[0] != 0 || s.Labels[1] != 1 || s.Labels[2] != 1 {
		t.Fatalf("3 files: %v", err)
	}
	os.WriteFile(filepath.Join(face, "b.jpg"), []byte("not a jpeg"), 0o644)
	if _, err := LoadCaltech(dir, "test"); err == nil || !strings.Contains(err.Error(), "b.jpg") {
		t.Errorf("bad JPEG: %v", err)
	}
	writeJPEG(filepath.Join(face, "b.jpg"), 1, 1)
	if _, err := LoadCaltech(dir, "test"); err == nil || !strings.Contains(err.Error(), "smaller than") {
		t.Errorf("tiny JPEG: %v", err)
	}
}
