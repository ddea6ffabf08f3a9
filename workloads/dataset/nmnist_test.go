package dataset

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// event encodes one N-MNIST event.
func event(x, y uint8, on bool, t uint32) []byte {
	b := []byte{x, y, byte(t >> 16 & 0x7f), byte(t >> 8), byte(t)}
	if on {
		b[2] |= 0x80
	}
	return b
}

func TestReadEvents(t *testing.T) {
	var data []byte
	data = append(data, event(0, 0, false, 5)...)
	data = append(data, event(33, 2, true, 1<<23-1)...)
	data = append(data, event(0, nmnistOverflowY, false, 0)...) // overflow: later events + 2^13 µs
	data = append(data, event(1, 33, true, 1<<23-10)...)
	ev, err := ReadEvents(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{{0, 0, false, 5}, {33, 2, true, 1<<23 - 1}, {1, 33, true, 1<<23 - 10 + 1<<13}}
	if len(ev) != len(want) {
		t.Fatalf("events %+v", ev)
	}
	for i := range want {
		if ev[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, ev[i], want[i])
		}
	}
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{data[:7], "7 bytes is not a whole number of 5-byte events"},
		{event(34, 0, false, 0), "event 0 at (34, 0) is off the 34×34 sensor"},
		{append(event(0, 0, false, 9), event(0, 0, false, 8)...), "event 1 at 8 µs comes before the previous one at 9 µs"},
	} {
		if _, err := ReadEvents(bytes.NewReader(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// TestBinEvents follows tonic's ToFrame(time_window) by hand: windows from
// the first event's time, complete windows only, half-open.
func TestBinEvents(t *testing.T) {
	ev := []Event{
		{X: 1, Y: 2, On: true, T: 100},   // window 0
		{X: 1, Y: 2, On: true, T: 1099},  // window 0, same pixel
		{X: 3, Y: 0, On: false, T: 1100}, // window 1
		{X: 5, Y: 5, On: true, T: 2150},  // last event: (2150-100-1000)/1000+1 = 2 windows, so dropped
	}
	size := FrameShape.Size()
	dst := make([]uint8, 3*size)
	clipped, err := BinEvents(ev, FrameOptions{Frames: 3}, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint8, 3*size)
	want[FrameShape.Index(1, 2, 1)] = 2
	want[size+FrameShape.Index(0, 0, 3)] = 1
	if clipped != 0 || !bytes.Equal(dst, want) {
		t.Errorf("frames differ (clipped %d)", clipped)
	}
	// Saturation, and a cut to one frame.
	dst = dst[:size]
	if clipped, err = BinEvents(ev, FrameOptions{Frames: 1, MaxCount: 1}, dst); err != nil || clipped != 1 || dst[FrameShape.Index(1, 2, 1)] != 1 {
		t.Errorf("clipped %d, %v", clipped, err)
	}
	// A recording shorter than a window still gives one frame.
	if _, err = BinEvents(ev[:1], FrameOptions{Frames: 1}, dst); err != nil || dst[FrameShape.Index(1, 2, 1)] != 1 {
		t.Errorf("short recording: %v", err)
	}
	for _, o := range []FrameOptions{{}, {Frames: 1, WindowUS: -1}, {Frames: 1, MaxCount: 256}} {
		if _, err := BinEvents(ev, o, dst); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := BinEvents(ev, FrameOptions{Frames: 2}, dst); err == nil {
		t.Error("a destination of the wrong size was accepted")
	}
}

// writeNMNIST writes recordings as N-MNIST test files of class 0 under a
// temporary data directory.
func writeNMNIST(t *testing.T, recordings ...[]byte) string {
	t.Helper()
	dir := t.TempDir()
	for class := range NMNISTClasses {
		if err := os.MkdirAll(filepath.Join(dir, "nmnist", "Test", strconv.Itoa(class)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range recordings {
		if err := os.WriteFile(filepath.Join(dir, "nmnist", "Test", "0", strconv.Itoa(i)+".bin"), r, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestLoadNMNISTTrim: with Trim a sample holds only the frames the longest
// recording fills, however many timesteps are asked for, and those frames
// are the ones an untrimmed load gives.
func TestLoadNMNISTTrim(t *testing.T) {
	long := slices.Concat(event(1, 1, true, 0), event(2, 2, false, 1200), event(3, 3, true, 3500)) // 3 complete windows of 1 ms
	short := slices.Concat(event(4, 4, true, 0), event(5, 5, true, 1500))                          // 1
	dir := writeNMNIST(t, long, short)
	exact, _, err := LoadNMNIST(dir, "test", 0, FrameOptions{Frames: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ frames, want int }{{1 << 16, 3}, {3, 3}, {2, 2}} {
		s, _, err := LoadNMNIST(dir, "test", 0, FrameOptions{Frames: tc.frames, Trim: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.Shape.C != 2*tc.want || s.Len() != 2 {
			t.Fatalf("at most %d frames: %d samples of %v, want %d frames", tc.frames, s.Len(), s.Shape, tc.want)
		}
		n := tc.want * FrameShape.Size()
		for i := range 2 {
			if !bytes.Equal(s.Image(i), exact.Image(i)[:n]) {
				t.Errorf("at most %d frames: sample %d differs from the untrimmed load", tc.frames, i)
			}
		}
	}
}
