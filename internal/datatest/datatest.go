// Package datatest finds the data sets for tests. A fresh clone holds only
// data/mnist, the first 1000 images of the MNIST test set; the full data
// sets ($NMSIM_DATA, else ../shared/data beside the module root; see
// data/README.md) may be absent. A test that needs data that are absent
// skips with a one-line reason; data that are present but unreadable fail
// it.
package datatest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/nmsim/nmsim/workloads/dataset"
)

// Dir returns the data directory that nmsim's commands use by default
// (dataset.ResolveDir: the full data sets, else the committed slice) after
// checking that it holds split of the named data set ("mnist" or
// "fashion-mnist"); it skips t when it does not.
func Dir(t testing.TB, name, split string) string {
	t.Helper()
	_, dir := load(t, name, split)
	return dir
}

// Set returns the first n samples (all when n ≤ 0) of split of the named
// data set from the directory Dir returns, skipping t when it is absent.
// The MNIST test split is always there: the committed slice serves when
// the full set is absent, so a test asking for more than 1000 test images
// gets 1000.
func Set(t testing.TB, name, split string, n int) *dataset.Set {
	t.Helper()
	s, _ := load(t, name, split)
	if n > 0 {
		s = s.Slice(n)
	}
	return s
}

func load(t testing.TB, name, split string) (*dataset.Set, string) {
	t.Helper()
	dir, how := dataset.ResolveDir("")
	if dir == "" {
		t.Skipf("no data directory (%s)", how)
	}
	s, err := dataset.Load(name, dir, split)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no %s %s split in %s (%s)", name, split, dir, how)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// Full returns the directory of the full data sets (dataset.FullDir),
// skipping t when there is none or when it lacks the subdirectory sub
// ("mnist", "fashion-mnist", "nmnist", "nir"). It never returns the
// committed slice.
func Full(t testing.TB, sub string) string {
	t.Helper()
	dir, how := dataset.FullDir()
	if dir == "" {
		t.Skipf("needs the full data sets: %s (see data/README.md)", how)
	}
	if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
		t.Skipf("no %s/ in %s (%s)", sub, dir, how)
	}
	return dir
}
