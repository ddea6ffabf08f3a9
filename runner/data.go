package runner

import (
	"fmt"
	"strings"

	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// FilePrefix marks a data set given as a file of the user's own samples,
// "file:PATH" (see dataset.LoadNPZ): the whole file is the test split.
const FilePrefix = "file:"

// DatasetFor is the data set to run m on: name when given, else the one m
// records it was trained on (provenance "dataset"), else MNIST.
func DatasetFor(m *model.Model, name string) string {
	switch {
	case name != "":
		return name
	case m.Provenance["dataset"] != "":
		return m.Provenance["dataset"]
	}
	return "mnist"
}

// CheckDataset refuses to run m on a data set other than the one it
// records it was trained on: its outputs would mean other classes, and the
// accuracy would be silently wrong. With allow the mismatch is returned as
// a warning instead. A model that records no data set passes.
func CheckDataset(m *model.Model, name string, allow bool) (warning string, err error) {
	trained := m.Provenance["dataset"]
	if trained == "" || trained == name || strings.HasPrefix(name, FilePrefix) {
		// A user's own file is theirs to match to the model.
		return "", nil
	}
	msg := fmt.Sprintf("model %q was trained on %s, not %s: its classes need not mean the same", m.Name, trained, name)
	if !allow {
		return "", fmt.Errorf("runner: %s (allow it with --allow-dataset-mismatch)", msg)
	}
	return msg, nil
}

// LoadTestSet reads the first samples (all when 0) of the test split of
// the named data set from dir, in the form m reads it: IDX images, N-MNIST
// event streams binned into frames of m's frame length (counts clipped
// where training clipped them, else at m's input width), at most T frames
// per sample and no more than the longest recording fills, or a .npz file
// of the user's own samples ("file:PATH").
// Asking for more samples than the split holds is an error. CheckData
// tells whether m can read the set.
func LoadTestSet(name, dir string, samples, T int, m *model.Model) (*dataset.Set, error) {
	var set *dataset.Set
	var err error
	total := -1 // the split's samples, where the set holds only the first
	switch path, file := strings.CutPrefix(name, FilePrefix); {
	case file:
		set, err = dataset.LoadNPZ(path, m.Input.Shape, m.Input.Coding == model.CodingFrames, 1<<m.Input.Bits-1)
	case name == "nmnist":
		set, err = loadNMNIST(dir, samples, T, m)
	case name == "mnist" || name == "fashion-mnist" || name == "caltech-fm":
		set, total, err = dataset.LoadFirst(name, dir, "test", samples)
	default:
		err = fmt.Errorf("unknown data set %q (known: mnist, fashion-mnist, caltech-fm, nmnist, or %sPATH for a .npz file of your own)", name, FilePrefix)
	}
	if err != nil {
		return nil, err
	}
	if total < 0 {
		total = set.Len()
	}
	if samples > total {
		hint := "; data/README.md says how to get the full data sets"
		if strings.HasPrefix(name, FilePrefix) {
			hint = ""
		}
		return nil, fmt.Errorf("%d samples asked for, but the %s test split has only %d%s", samples, name, total, hint)
	}
	if samples > 0 {
		set = set.Slice(samples)
	}
	return set, nil
}

func loadNMNIST(dir string, samples, T int, m *model.Model) (*dataset.Set, error) {
	if m.Input.Coding != model.CodingFrames {
		hint := "train or import it with frame coding"
		if src := m.Provenance["source"]; m.Provenance["method"] == "NIR import" && src != "" {
			// NIR does not say how samples are fed; import assumed constant.
			hint = fmt.Sprintf("NIR graphs do not record it: re-import with `nmsim import %s -o %s.bin --coding frames`", src, m.Name)
		}
		return nil, fmt.Errorf("nmnist gives event frames, but model %q reads %s-coded input; %s", m.Name, m.Input.Coding, hint)
	}
	// Files beyond samples are not read; one more tells that there are
	// more than asked for without reading the whole split.
	n := samples
	if n > 0 {
		n++
	}
	set, _, err := dataset.LoadNMNIST(dir, "test", n, dataset.FrameOptions{
		Frames: T, WindowUS: m.Input.FrameUS, MaxCount: min(m.Input.Max(), 255), Trim: true,
	})
	return set, err
}

// CheckData accepts a data set that m can read: samples of m's input
// shape (or, for a frame-coded model, a whole number of such frames
// stacked along channels) and no more classes than m has outputs.
func CheckData(set *dataset.Set, m *model.Model) error {
	in := m.Input.Shape
	frames := m.Input.Coding == model.CodingFrames && set.Shape.H == in.H && set.Shape.W == in.W && set.Shape.C%in.C == 0
	if set.Shape != in && !frames {
		return fmt.Errorf("runner: data set %s has %s samples, model %q expects %s (%s coding)", set.Name, set.Shape, m.Name, in, m.Input.Coding)
	}
	if set.Classes > m.Classes {
		return fmt.Errorf("runner: data set %s has %d classes, model %q only %d outputs", set.Name, set.Classes, m.Name, m.Classes)
	}
	return nil
}
