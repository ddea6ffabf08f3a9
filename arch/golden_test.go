package arch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/golden"
)

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
			golden.Check(t, strings.TrimSuffix(in, ".toml")+".golden", got)
		})
	}
}
