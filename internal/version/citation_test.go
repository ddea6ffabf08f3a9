package version

import (
	"os"
	"regexp"
	"testing"
)

// TestCitationVersion keeps CITATION.cff's version equal to Version.
func TestCitationVersion(t *testing.T) {
	cff, err := os.ReadFile("../../CITATION.cff")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version: "([^"]+)"$`).FindSubmatch(cff)
	switch {
	case m == nil:
		t.Errorf(`CITATION.cff has no line version: "%s"`, Version)
	case string(m[1]) != Version:
		t.Errorf("CITATION.cff says version %s, package version %s", m[1], Version)
	}
}
