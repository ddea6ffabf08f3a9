package dataset_test

// The tests of the full data sets; each skips when its set is absent (a
// fresh clone holds only the committed 1000-image MNIST test slice).

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

func TestMNISTTest(t *testing.T) {
	s, err := dataset.Load("mnist", datatest.Full(t, "mnist"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 10000 || s.Shape != (model.Shape{C: 1, H: 28, W: 28}) || len(s.Images) != 10000*28*28 || s.Classes != 10 {
		t.Fatalf("got %d samples of %v (%d bytes), %d classes", s.Len(), s.Shape, len(s.Images), s.Classes)
	}
	if s.Labels[0] != 7 {
		t.Errorf("first label %d, want 7", s.Labels[0])
	}
	for i, l := range s.Labels {
		if l > 9 {
			t.Fatalf("label %d is %d", i, l)
		}
	}
	if img := s.Image(1); len(img) != 784 || &img[0] != &s.Images[784] {
		t.Error("Image(1) is not the sub-slice at 784")
	}
}

func TestFashionMNISTTrain(t *testing.T) {
	s, err := dataset.Load("fashion-mnist", datatest.Full(t, "fashion-mnist"), "train")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 60000 || s.Shape != (model.Shape{C: 1, H: 28, W: 28}) {
		t.Fatalf("got %d samples of %v", s.Len(), s.Shape)
	}
}

// TestCommittedSlice checks that data/mnist is the first 1000 samples of
// the full MNIST test set.
func TestCommittedSlice(t *testing.T) {
	full, err := dataset.Load("mnist", datatest.Full(t, "mnist"), "test")
	if err != nil {
		t.Fatal(err)
	}
	slice, err := dataset.Load("mnist", filepath.Join("..", "..", "data"), "test")
	if err != nil {
		t.Fatal(err)
	}
	want := full.Slice(1000)
	if slice.Len() != 1000 || !bytes.Equal(slice.Images, want.Images) || !bytes.Equal(slice.Labels, want.Labels) {
		t.Fatalf("committed slice (%d samples) is not the first 1000 test samples", slice.Len())
	}
	f, err := os.Open(filepath.Join("..", "..", "data", "mnist", "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := os.Open(filepath.Join("..", "..", "data", "mnist", "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	viaReaders, err := dataset.FromIDX("mnist", img, f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(viaReaders.Labels, slice.Labels) {
		t.Error("dataset.FromIDX and dataset.Load disagree")
	}
}

// TestNMNISTTest loads the 100 test samples and checks them against values
// computed with numpy following tonic (ToFrame, time_window = 1000 µs).
func TestNMNISTTest(t *testing.T) {
	dir := datatest.Full(t, "nmnist")
	s, clipped, err := dataset.LoadNMNIST(dir, "test", 0, dataset.FrameOptions{Frames: 310})
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
	size := dataset.FrameShape.Size()
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
	if _, _, err := dataset.LoadNMNIST(dir, "val", 0, dataset.FrameOptions{Frames: 1}); err == nil {
		t.Error("split val accepted")
	}
	first, _, err := dataset.LoadNMNIST(dir, "train", 3, dataset.FrameOptions{Frames: 2})
	if err != nil || first.Len() != 3 || first.Labels[0] != 5 {
		t.Errorf("first 3 training samples: %v", err)
	}
}
