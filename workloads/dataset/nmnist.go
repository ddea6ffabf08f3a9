package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// N-MNIST (Orchard et al., "Converting static image datasets to spiking
// neuromorphic datasets using saccades", 2015) holds MNIST digits recorded
// by an event camera: per sample, a stream of events on a 34×34 sensor
// with two polarities. The data directory holds its original layout,
//
//	<dir>/nmnist/{Train,Test}/<class>/<index>.bin
//
// and LoadNMNIST bins each stream into frames of event counts, as the NIR
// paper's N-MNIST network was run (tonic.transforms.ToFrame with a time
// window of 1 ms; paper/02_cnn of github.com/neuromorphs/NIR).

// NMNIST constants.
const (
	NMNISTSide     = 34
	NMNISTClasses  = 10
	NMNISTWindowUS = 1000 // the NIR paper's frame length, µs
	// nmnistOverflowY marks a timestamp-overflow event in the original
	// format; later timestamps are advanced by nmnistOverflowUS, as
	// tonic's reader (after event-Python's) does.
	nmnistOverflowY  = 240
	nmnistOverflowUS = 1 << 13
	// maxNMNISTFile bounds one sample file (real ones are under 40 KB).
	maxNMNISTFile = 64 << 20
)

// Event is one N-MNIST event.
type Event struct {
	X, Y uint8
	// On is the polarity bit (1: brightness increased).
	On bool
	// T is the time in µs from the start of the recording.
	T uint32
}

// ReadEvents decodes N-MNIST's 40-bit events: byte 0 is x, byte 1 y, the
// top bit of byte 2 the polarity and the other 23 bits of bytes 2–4 the
// timestamp in µs, big-endian. Overflow events (y = 240) are dropped and
// advance later timestamps by 2^13 µs. Events must lie on the 34×34 sensor
// and be in time order.
func ReadEvents(r io.Reader) ([]Event, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxNMNISTFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxNMNISTFile {
		return nil, fmt.Errorf("larger than %d bytes", maxNMNISTFile)
	}
	if len(data)%5 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of 5-byte events", len(data))
	}
	events := make([]Event, 0, len(data)/5)
	var offset uint32
	for i := 0; i < len(data); i += 5 {
		e := Event{
			X: data[i], Y: data[i+1], On: data[i+2]&0x80 != 0,
			T: uint32(data[i+2]&0x7f)<<16 | uint32(data[i+3])<<8 | uint32(data[i+4]),
		}
		if e.Y == nmnistOverflowY {
			offset += nmnistOverflowUS
			continue
		}
		e.T += offset
		if e.X >= NMNISTSide || e.Y >= NMNISTSide {
			return nil, fmt.Errorf("event %d at (%d, %d) is off the %d×%d sensor", i/5, e.X, e.Y, NMNISTSide, NMNISTSide)
		}
		if n := len(events); n > 0 && e.T < events[n-1].T {
			return nil, fmt.Errorf("event %d at %d µs comes before the previous one at %d µs", i/5, e.T, events[n-1].T)
		}
		events = append(events, e)
	}
	return events, nil
}

// FrameOptions say how events become frames.
type FrameOptions struct {
	// Frames is the number of frames per sample: recordings with fewer
	// complete windows get empty frames after their last one (as padding
	// a batch does), longer ones are cut.
	Frames int
	// WindowUS is the frame length in µs (NMNISTWindowUS when 0).
	WindowUS int
	// MaxCount saturates the per-pixel counts (255 when 0), so that they
	// fit the model's input bits.
	MaxCount int
	// Trim makes Frames an upper bound for LoadNMNIST: a sample holds only
	// as many frames as the longest recording loaded has complete
	// windows. The frames after that would be empty in every sample, and a
	// frame-coded model reads zeros past a sample's last frame anyway, so
	// a run of any length gives the same result from less memory.
	Trim bool
}

func (o FrameOptions) withDefaults() (FrameOptions, error) {
	if o.WindowUS == 0 {
		o.WindowUS = NMNISTWindowUS
	}
	if o.MaxCount == 0 {
		o.MaxCount = math.MaxUint8
	}
	switch {
	case o.Frames < 1 || o.Frames > 1<<16:
		return o, fmt.Errorf("frames %d, want 1..%d", o.Frames, 1<<16)
	case o.WindowUS < 1:
		return o, fmt.Errorf("window %d µs, want > 0", o.WindowUS)
	case o.MaxCount < 1 || o.MaxCount > math.MaxUint8:
		return o, fmt.Errorf("max count %d, want 1..255", o.MaxCount)
	}
	return o, nil
}

// FrameShape is the shape of one N-MNIST frame: polarity × y × x.
var FrameShape = model.Shape{C: 2, H: NMNISTSide, W: NMNISTSide}

// BinEvents adds time-ordered events into dst, o.Frames frames of
// FrameShape (frame-major, each frame polarity, y, x), as tonic's ToFrame
// with a time window does: window k covers [t0 + k·w, t0 + (k+1)·w) from
// the first event's time t0, and only complete windows count, so there are
// max(1, ⌊(t_last − t0 − w)/w⌋ + 1) of them and the events after the last
// one are dropped. It returns how many counts were saturated at MaxCount.
func BinEvents(events []Event, o FrameOptions, dst []uint8) (clipped int, err error) {
	if o, err = o.withDefaults(); err != nil {
		return 0, err
	}
	size := FrameShape.Size()
	if len(dst) != o.Frames*size {
		return 0, fmt.Errorf("destination of %d values, want %d frames of %d", len(dst), o.Frames, size)
	}
	clear(dst)
	if len(events) == 0 {
		return 0, nil
	}
	t0, w := int64(events[0].T), int64(o.WindowUS)
	windows := min(completeWindows(events, o.WindowUS), int64(o.Frames))
	for _, e := range events {
		k := (int64(e.T) - t0) / w
		if k >= windows {
			break
		}
		c := 0
		if e.On {
			c = 1
		}
		i := int(k)*size + FrameShape.Index(c, int(e.Y), int(e.X))
		if int(dst[i]) < o.MaxCount {
			dst[i]++
		} else {
			clipped++
		}
	}
	return clipped, nil
}

// completeWindows is the number of frames BinEvents fills from a
// non-empty recording: its complete windows, at least one.
func completeWindows(events []Event, windowUS int) int64 {
	t0, w := int64(events[0].T), int64(windowUS)
	if d := int64(events[len(events)-1].T) - t0 - w; d >= 0 {
		return d/w + 1
	}
	return 1 // the recording is shorter than a window
}

// NMNISTSample names one sample file.
type NMNISTSample struct {
	Path  string
	Class int
	Index int // the MNIST index in the file name
}

// NMNISTFiles lists split "train" or "test" of N-MNIST under dir (the data
// directory holding nmnist/), ordered by MNIST index.
func NMNISTFiles(dir, split string) ([]NMNISTSample, error) {
	sub, err := splitName("nmnist", split, "Train", "Test")
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "nmnist", sub)
	var files []NMNISTSample
	for class := range NMNISTClasses {
		entries, err := os.ReadDir(filepath.Join(root, strconv.Itoa(class)))
		if err != nil {
			return nil, fmt.Errorf("dataset nmnist: %w", err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".bin")
			if !ok || e.IsDir() {
				continue
			}
			idx, err := strconv.Atoi(name)
			if err != nil {
				return nil, fmt.Errorf("dataset nmnist: %s: want <MNIST index>.bin", filepath.Join(root, strconv.Itoa(class), e.Name()))
			}
			files = append(files, NMNISTSample{Path: filepath.Join(root, strconv.Itoa(class), e.Name()), Class: class, Index: idx})
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("dataset nmnist: no samples in %s", root)
	}
	slices.SortFunc(files, func(a, b NMNISTSample) int {
		if a.Index != b.Index {
			return a.Index - b.Index
		}
		return a.Class - b.Class
	})
	return files, nil
}

// LoadNMNIST reads the first n samples (all when n ≤ 0) of a split and bins
// each into o.Frames frames. A frame-coded sample is its frames back to
// back, which is byte for byte a (Frames·2)×34×34 image, so the result is a
// Set of that shape: a model with frame coding and input FrameShape reads
// Image(i) as Frames frames. It also returns how many counts saturated.
func LoadNMNIST(dir, split string, n int, o FrameOptions) (*Set, int, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, 0, fmt.Errorf("dataset nmnist: %w", err)
	}
	files, err := NMNISTFiles(dir, split)
	if err != nil {
		return nil, 0, err
	}
	if n > 0 && n < len(files) {
		files = files[:n]
	}
	if o.Trim {
		// A first pass finds the longest recording; the files are small
		// and read again below.
		longest := int64(1)
		for _, f := range files {
			events, err := readEventFile(f.Path)
			if err != nil {
				return nil, 0, err
			}
			longest = max(longest, completeWindows(events, o.WindowUS))
		}
		o.Frames = int(min(longest, int64(o.Frames)))
	}
	shape := model.Shape{C: FrameShape.C * o.Frames, H: NMNISTSide, W: NMNISTSide}
	s := &Set{Name: "nmnist", Shape: shape, Images: make([]uint8, len(files)*shape.Size()), Labels: make([]uint8, len(files)), Classes: NMNISTClasses}
	var clipped int
	for i, f := range files {
		events, err := readEventFile(f.Path)
		if err != nil {
			return nil, 0, err
		}
		c, err := BinEvents(events, o, s.Image(i))
		if err != nil {
			return nil, 0, fmt.Errorf("dataset nmnist: %s: %w", f.Path, err)
		}
		clipped += c
		s.Labels[i] = uint8(f.Class)
	}
	return s, clipped, nil
}

func readEventFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset nmnist: %w", err)
	}
	defer f.Close()
	events, err := ReadEvents(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("dataset nmnist: %s: %w", path, err)
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("dataset nmnist: %s: %w", path, errors.New("no events"))
	}
	return events, nil
}
