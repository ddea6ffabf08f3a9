// Package expected compares test output with expected-output files
// (.expected), in the spirit of cockroachdb/datadriven: the expected text
// lives in testdata, and `go test -update` rewrites it from the current
// output for review. Only tests import it. (In nmsim "golden" means the
// reference-SNN check of the chip's spikes, never these files.)
package expected

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .expected files from the current output")

// Check fails t unless got equals the content of the file at path; with
// -update it writes got there instead.
func Check(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// Files runs a subtest for every file matching pattern: output turns the
// file's content into text, which must equal the neighbouring file with
// the input's extension replaced by .expected.
func Files(t *testing.T, pattern string, output func(t *testing.T, name string, data []byte) string) {
	t.Helper()
	inputs, err := filepath.Glob(pattern)
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs match %s: %v", pattern, err)
	}
	for _, in := range inputs {
		base := strings.TrimSuffix(in, filepath.Ext(in))
		t.Run(filepath.Base(base), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			Check(t, base+".expected", output(t, filepath.Base(in), data))
		})
	}
}
