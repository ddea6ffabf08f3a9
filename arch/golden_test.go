package arch

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/errors from the current output")

// TestErrorGoldens parses every testdata/errors/*.toml and compares the
// full error text with the neighbouring .golden file, so a change in the
// wording users see is a visible diff in review.
func TestErrorGoldens(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "errors", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/errors/*.toml inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".toml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			_, perr := Parse(data, filepath.Base(in))
			if perr == nil {
				t.Fatalf("Parse(%s) succeeded; every input here must fail", in)
			}
			got := perr.Error() + "\n"
			golden := strings.TrimSuffix(in, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./arch -run TestErrorGoldens -update)", err)
			}
			if got != string(want) {
				t.Errorf("error text for %s differs from %s\n--- got\n%s--- want\n%s", in, golden, got, want)
			}
		})
	}
}
