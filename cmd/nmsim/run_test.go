package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRunBounds: a run's length is bounded before anything is loaded.
func TestRunBounds(t *testing.T) {
	dir := fixture(t)
	_, _, err := runCLI("run", presetPath, filepath.Join(dir, "model.bin"), "--timesteps", "1000000000")
	if err == nil || !strings.Contains(err.Error(), "--timesteps 1000000000: at most 65536") {
		t.Fatalf("got %v, want the --timesteps bound", err)
	}
}
