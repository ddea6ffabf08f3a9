package datatest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/dataset"
)

// recorder is a testing.TB whose Skipf and Fatal end only the helper's
// goroutine, recording why.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (*recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

// call runs f on a recorder in its own goroutine.
func call(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestSkipsWhenAbsent(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(dataset.EnvDataDir, empty)
	r := call(t, func(tb testing.TB) { Set(tb, "mnist", "test", 10) })
	if !strings.Contains(r.skipped, "no mnist test split in "+empty) || r.failed != "" {
		t.Errorf("Set on an empty directory: skipped %q, failed %q", r.skipped, r.failed)
	}
	r = call(t, func(tb testing.TB) { Full(tb, "nir") })
	if !strings.Contains(r.skipped, "no nir/ in "+empty) || r.failed != "" {
		t.Errorf("Full on an empty directory: skipped %q, failed %q", r.skipped, r.failed)
	}
}

func TestFailsWhenBroken(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "mnist"), 0o755)
	os.WriteFile(filepath.Join(dir, "mnist", "t10k-images-idx3-ubyte"), []byte("not an IDX file"), 0o644)
	t.Setenv(dataset.EnvDataDir, dir)
	r := call(t, func(tb testing.TB) { Set(tb, "mnist", "test", 10) })
	if r.skipped != "" || !strings.Contains(r.failed, "t10k-images-idx3-ubyte") {
		t.Errorf("Set on a broken file: skipped %q, failed %q", r.skipped, r.failed)
	}
}

// TestCommittedSlice finds the 1000 MNIST test images committed in the
// repository as a data directory, and no training split in it.
func TestCommittedSlice(t *testing.T) {
	slice, err := filepath.Abs(filepath.Join("..", "..", "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(dataset.EnvDataDir, slice)
	var s *dataset.Set
	r := call(t, func(tb testing.TB) { s = Set(tb, "mnist", "test", 0) })
	if r.skipped != "" || r.failed != "" || s.Len() != 1000 {
		t.Fatalf("Set: skipped %q, failed %q", r.skipped, r.failed)
	}
	if r = call(t, func(tb testing.TB) { Dir(tb, "mnist", "train") }); !strings.Contains(r.skipped, "no mnist train split") {
		t.Errorf("Dir for the training split: skipped %q, failed %q", r.skipped, r.failed)
	}
}
