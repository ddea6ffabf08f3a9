// Package dataset loads the image data sets that nmsim runs through a
// simulated chip: MNIST and Fashion-MNIST in their IDX files, and
// Caltech Face/Motorbike ("caltech-fm") from JPEG folders through a fixed
// difference-of-Gaussians front end (caltech.go).
//
// The data directory holds one folder per data set with the original file
// names, gzip-compressed or not:
//
//	<dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//	<dir>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//	<dir>/caltech-face-motorbike/{TrainingSet,TestingSet}/{Face,Motor}/*.jpg
//
// ResolveDir finds that directory, taking the first of:
//
//  1. the command-line flag, when non-empty;
//  2. the NMSIM_DATA environment variable, when non-empty;
//  3. ../shared/data beside the module root (the directory holding go.mod,
//     found by walking up from the working directory), when it exists;
//  4. ./data in the working directory, when it exists (in the repository
//     root that is the committed 1000-image MNIST test slice);
//  5. data/ in the module root, so that the committed slice is found from
//     any directory inside the repository.
package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nmsim/nmsim/workloads/model"
)

// Set is a labelled image data set held in memory.
type Set struct {
	Name string
	// Shape is one image's shape (1x28x28 for MNIST).
	Shape model.Shape
	// Images holds Len() images of Shape.Size() bytes each, CHW order.
	Images []uint8
	Labels []uint8
	// Classes is the number of classes; every label is below it.
	Classes int
}

// known maps the data set names Load accepts to their class counts.
var known = map[string]int{
	"mnist":         10,
	"fashion-mnist": 10,
	"caltech-fm":    len(caltechClasses),
}

// knownNames lists the known data sets for error messages: the image sets
// Load reads and nmnist, whose events LoadNMNIST reads.
func knownNames() string {
	names := []string{"nmnist"}
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Len is the number of samples.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns sample i's pixels, a sub-slice of Images (not a copy; its
// capacity ends at the image so an append cannot overwrite the next one).
// It panics if i is out of range, like a slice index.
func (s *Set) Image(i int) []uint8 {
	n := s.Shape.Size()
	return s.Images[i*n : (i+1)*n : (i+1)*n]
}

// Slice returns the first n samples (all of them when n ≥ Len, none when
// n ≤ 0), sharing memory with s.
func (s *Set) Slice(n int) *Set {
	n = max(0, min(n, s.Len()))
	c := *s
	c.Images = s.Images[:n*s.Shape.Size()]
	c.Labels = s.Labels[:n]
	return &c
}

// FromIDX builds a set from an images and a labels IDX stream (each raw or
// gzip-compressed), e.g. files embedded in the binary. name sets the class
// count when it is a known data set; otherwise it is the largest label + 1.
func FromIDX(name string, images, labels io.Reader) (*Set, error) {
	img, err := ReadIDX(images)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: images: %w", name, err)
	}
	lab, err := ReadIDX(labels)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: labels: %w", name, err)
	}
	return fromIDX(name, img, lab)
}

func fromIDX(name string, img, lab *IDX) (*Set, error) {
	if img.Magic != MagicImages {
		return nil, fmt.Errorf("dataset %s: images file has magic %d, want %d", name, img.Magic, MagicImages)
	}
	if lab.Magic != MagicLabels {
		return nil, fmt.Errorf("dataset %s: labels file has magic %d, want %d", name, lab.Magic, MagicLabels)
	}
	n, h, w := img.Dims[0], img.Dims[1], img.Dims[2]
	if lab.Dims[0] != n {
		return nil, fmt.Errorf("dataset %s: images file has %d items of %dx%d but labels file has %d items", name, n, h, w, lab.Dims[0])
	}
	classes, isKnown := known[name]
	if !isKnown {
		classes = int(slices.Max(lab.Data)) + 1
	}
	for i, l := range lab.Data {
		if int(l) >= classes {
			return nil, fmt.Errorf("dataset %s: label %d of item %d is outside 0..%d", name, l, i, classes-1)
		}
	}
	return &Set{
		Name:    name,
		Shape:   model.Shape{C: 1, H: h, W: w},
		Images:  img.Data,
		Labels:  lab.Data,
		Classes: classes,
	}, nil
}

// Load reads split "train" or "test" of the named data set ("mnist",
// "fashion-mnist" or "caltech-fm") from dir, laid out as the package
// documentation says.
func Load(name, dir, split string) (*Set, error) {
	s, _, err := LoadFirst(name, dir, split, 0)
	return s, err
}

// LoadFirst is Load for the first n samples (all when n ≤ 0 or n is at
// least the split's count), and returns the split's count too. Of a
// compressed IDX file it decompresses only what those samples need (the
// whole MNIST test set is 7.8 MB, about 0.04 s of a run's CPU time).
func LoadFirst(name, dir, split string, n int) (set *Set, total int, err error) {
	if name == "nmnist" {
		return nil, 0, errors.New("dataset: nmnist holds event streams, not images: LoadNMNIST reads it")
	}
	if _, ok := known[name]; !ok {
		return nil, 0, fmt.Errorf("dataset: unknown data set %q (known: %s)", name, knownNames())
	}
	if name == "caltech-fm" {
		set, err := LoadCaltech(dir, split)
		if err != nil {
			return nil, 0, err
		}
		if n > 0 {
			return set.Slice(n), set.Len(), nil
		}
		return set, set.Len(), nil
	}
	prefix, err := splitName(name, split, "train", "t10k")
	if err != nil {
		return nil, 0, err
	}
	base := filepath.Join(dir, name, prefix)
	img, err := readIDXFile(base+"-images-idx3-ubyte", n)
	if err != nil {
		return nil, 0, fmt.Errorf("dataset %s: %w", name, err)
	}
	lab, err := readIDXFile(base+"-labels-idx1-ubyte", n)
	if err != nil {
		return nil, 0, fmt.Errorf("dataset %s: %w", name, err)
	}
	set, err = fromIDX(name, img, lab)
	if err != nil {
		return nil, 0, err
	}
	return set, img.Dims[0], nil
}

// splitName is data set name's own name (train or test) for split "train"
// or "test".
func splitName(name, split, train, test string) (string, error) {
	switch split {
	case "train":
		return train, nil
	case "test":
		return test, nil
	}
	return "", fmt.Errorf("dataset %s: unknown split %q (want train or test)", name, split)
}

// readIDXFile reads the first n items (all if n ≤ 0) of path.gz, or of
// path when there is no compressed copy.
func readIDXFile(path string, n int) (*IDX, error) {
	f, err := os.Open(path + ".gz")
	if os.IsNotExist(err) {
		f, err = os.Open(path)
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s.gz or %s: %w (see data/README.md for where to get it)", path, path, fs.ErrNotExist)
		}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx, err := ReadIDXFirst(f, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return idx, nil
}

// SHA256 is the hex SHA-256 of the set's content: shape, sample count,
// images and labels.
func (s *Set) SHA256() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %d\n", s.Shape, s.Len())
	h.Write(s.Images)
	h.Write(s.Labels)
	return hex.EncodeToString(h.Sum(nil))
}
