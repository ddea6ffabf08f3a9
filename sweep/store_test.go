package sweep

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeResults(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, ResultsFile)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTornLineCut: a partial last line (a write cut short by SIGKILL) is
// cut off when the store opens; the complete lines count as done.
func TestTornLineCut(t *testing.T) {
	dir := t.TempDir()
	good := `{"key":"a","point":{}}` + "\n" + `{"key":"b","point":{}}` + "\n"
	path := writeResults(t, dir, good+`{"key":"c","poi`)
	s, torn, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if torn != len(`{"key":"c","poi`) || len(s.done) != 2 || !s.done["a"] || !s.done["b"] {
		t.Errorf("torn %d, done %v", torn, s.done)
	}
	if err := s.append(&Result{Key: "c", Point: map[string]any{"seed": 1}}); err != nil {
		t.Fatal(err)
	}
	s.close()
	got, _ := os.ReadFile(path)
	if want := good + `{"key":"c","point":{"seed":1}}` + "\n"; string(got) != want {
		t.Errorf("file after repair and append:\n%s\nwant\n%s", got, want)
	}
}

func TestStoreRejects(t *testing.T) {
	cases := map[string]string{
		"not json":  `{"key":"a","point":{}}` + "\nhello\n",
		"no key":    `{"point":{}}` + "\n",
		"duplicate": `{"key":"a"}` + "\n" + `{"key":"a"}` + "\n",
		"blank":     `{"key":"a"}` + "\n\n",
	}
	wants := map[string]string{
		"not json":  "results.jsonl:2: not a result line",
		"no key":    "results.jsonl:1: not a result line (no key)",
		"duplicate": "results.jsonl:2: point a is already on an earlier line",
		"blank":     "results.jsonl:2: not a result line",
	}
	for name, text := range cases {
		dir := t.TempDir()
		writeResults(t, dir, text)
		_, _, err := openStore(dir)
		if err == nil || !strings.Contains(err.Error(), wants[name]) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, wants[name])
		}
	}
}

// TestStoreLocked: a second sweep on the same directory is refused while
// the first holds it, and allowed once it is closed.
func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	s, _, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := openStore(dir); err == nil || !strings.Contains(err.Error(), "in use by another sweep") {
		t.Errorf("second open: %v", err)
	}
	s.close()
	s2, _, err := openStore(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	s2.close()
}
