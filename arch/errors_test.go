package arch

import (
	"path/filepath"
	"testing"

	"github.com/nmsim/nmsim/internal/expected"
)

// TestErrorMessages parses every testdata/errors/*.toml and compares the
// full error text with the neighbouring .expected file, so a change in the
// wording users see is a visible diff in review.
func TestErrorMessages(t *testing.T) {
	expected.Files(t, filepath.Join("testdata", "errors", "*.toml"), func(t *testing.T, name string, data []byte) string {
		_, err := Parse(data, name)
		if err == nil {
			t.Fatalf("Parse(%s) succeeded; every input here must fail", name)
		}
		return err.Error() + "\n"
	})
}
