// Package docs holds the documentation; its test checks that the pages are
// self-contained.
package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLinks checks that every relative link of README.md and docs/*.md
// names a file or directory of the repository.
func TestLinks(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages: %v", err)
	}
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, page := range append(pages, filepath.Join("..", "README.md")) {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllSubmatch(text, -1) {
			target := string(m[1])
			if strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), target)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", page, target)
			}
		}
	}
}

// TestNoOutsideNotes checks that no page, comment, help text or config
// refers to notes outside the repository (numbered papers, a DESIGN.md)
// instead of naming the paper or a page of docs/.
func TestNoOutsideNotes(t *testing.T) {
	outside := regexp.MustCompile(`(?i:\bpapers? [1-3]\b)|DESIGN\.md`)
	self, err := filepath.Abs("docs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != ".." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".toml", ".sh", ".py", ".cff":
		default:
			return nil
		}
		if abs, _ := filepath.Abs(path); abs == self {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range outside.FindAll(text, -1) {
			t.Errorf("%s refers to %q: name the paper, or the page in docs/", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
