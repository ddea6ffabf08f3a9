package dataset

import (
	"bytes"
	"path/filepath"
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

// TestNMNISTTest loads the 100 test samples and checks them against values
// computed with numpy following tonic (ToFrame, time_window = 1000 µs).
func TestNMNISTTest(t *testing.T) {
	dir, how := ResolveDir("")
	if dir == "" || !isDir(filepath.Join(dir, "nmnist")) {
		t.Skipf("no nmnist/ in the data directory (%s)", how)
	}
	s, clipped, err := LoadNMNIST(dir, "test", 0, FrameOptions{Frames: 310})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 100 || s.Shape.C != 620 || clipped != 0 {
		t.Fatalf("%d samples of %v, %d clipped", s.Len(), s.Shape, clipped)
	}
	perClass := make([]int, 10)
	for _, l := range s.Labels {
		perClass[l]++
	}
	if got := perClass; got[0] != 8 || got[1] != 14 || got[8] != 2 || got[9] != 11 {
		t.Errorf("samples per class %v", got)
	}
	// Sample 0 is MNIST test digit 1 (a 7): 3330 events in 302 complete
	// windows hold 3329 of them, 1717 of polarity 1; frame 150 holds 24.
	size := FrameShape.Size()
	sum := func(b []uint8) (n int) {
		for _, x := range b {
			n += int(x)
		}
		return n
	}
	x := s.Image(0)
	var on int
	for f := range 310 {
		on += sum(x[f*size+size/2 : (f+1)*size])
	}
	if s.Labels[0] != 7 || sum(x) != 3329 || on != 1717 || sum(x[150*size:151*size]) != 24 || sum(x[302*size:]) != 0 {
		t.Errorf("sample 0: label %d, %d events, %d on, %d in frame 150, %d after frame 301", s.Labels[0], sum(x), on, sum(x[150*size:151*size]), sum(x[302*size:]))
	}
	if s.Labels[1] != 2 || sum(s.Image(1)) != 4839 {
		t.Errorf("sample 1: label %d, %d events", s.Labels[1], sum(s.Image(1)))
	}
	if _, _, err := LoadNMNIST(dir, "val", 0, FrameOptions{Frames: 1}); err == nil {
		t.Error("split val accepted")
	}
	first, _, err := LoadNMNIST(dir, "train", 3, FrameOptions{Frames: 2})
	if err != nil || first.Len() != 3 || first.Labels[0] != 5 {
		t.Errorf("first 3 training samples: %v", err)
	}
}
