package dataset

import (
	"bytes"
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
