package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// widest is the longest line of out, in characters.
func widest(out string) int {
	w := 0
	for _, l := range strings.Split(out, "\n") {
		w = max(w, utf8.RuneCountInString(l))
	}
	return w
}

// TestFitTable draws random tables at random widths: every line of the
// drawn tables fits, and every column's words come out in order (the key
// column in every part).
func TestFitTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		return strings.Repeat(string(rune('a'+rng.IntN(26))), 1+rng.IntN(12))
	}
	cell := func() string {
		ws := make([]string, rng.IntN(8))
		for i := range ws {
			ws[i] = word()
		}
		return strings.Join(ws, " ")
	}
	// Wrapping moves spaces to line ends and may cut a long word.
	squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
	for trial := range 100 {
		cols, width := 1+rng.IntN(14), 20+rng.IntN(120)
		header := make([]string, cols)
		for i := range header {
			header[i] = fmt.Sprintf("c%d%s", i, word())
		}
		rows := make([][]string, rng.IntN(5))
		for r := range rows {
			rows[r] = make([]string, cols)
			for i := range rows[r] {
				rows[r][i] = cell()
			}
		}
		var b bytes.Buffer
		table(&b, width, header, rows)
		if w := widest(b.String()); w > width {
			t.Fatalf("trial %d: %d columns wide, want ≤ %d:\n%s", trial, w, width, b.String())
		}
		placed := make([]int, cols)
		for _, p := range fitTable(width, header, rows) {
			if strings.ReplaceAll(p.header[0], "\n", "") != header[0] {
				t.Fatalf("trial %d: a part starts with column %q, want the key %q", trial, p.header[0], header[0])
			}
			for j, h := range p.header {
				c := slices.Index(header, strings.ReplaceAll(h, "\n", ""))
				if c < 0 {
					t.Fatalf("trial %d: header %q is no column's", trial, h)
				}
				placed[c]++
				for r := range rows {
					if squash(p.rows[r][j]) != squash(rows[r][c]) {
						t.Fatalf("trial %d: row %d column %d reads %q, want %q", trial, r, c, p.rows[r][j], rows[r][c])
					}
				}
			}
		}
		for c := 1; c < cols; c++ {
			if placed[c] != 1 {
				t.Fatalf("trial %d: column %d is in %d parts, want 1", trial, c, placed[c])
			}
		}
	}
}

// TestTablesFitATerminal: inspect, map and compare print tables of at
// most 100 columns by default (the provenance of a real model holds a
// command line of 300 characters; compare has 20 columns), and --wide
// prints them whole.
func TestTablesFitATerminal(t *testing.T) {
	dir := fixture(t)
	m := testmodel.Random(rand.New(rand.NewPCG(21, 22)), func() testmodel.Options { o := testmodel.Small; o.Side = 28; return o }())
	m.Provenance = map[string]string{"command": "nmsim train " + strings.Repeat("--flag value ", 25), "method": "convert"}
	long := filepath.Join(dir, "long.bin")
	if err := model.Save(long, m); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"inspect", long},
		{"map", presetPath, long},
		{"compare", presetPath, long, long, "--samples", "2", "--golden"},
	} {
		out, _, err := runCLI(args...)
		if err != nil {
			t.Fatal(err)
		}
		if w := widest(out); w > defaultTableWidth {
			t.Errorf("%s: %d columns wide, want ≤ %d:\n%s", args[0], w, defaultTableWidth, out)
		}
		wide, _, err := runCLI(append(args, "--wide")...)
		if err != nil {
			t.Fatal(err)
		}
		if args[0] != "map" && widest(wide) <= defaultTableWidth {
			t.Errorf("%s --wide: %d columns wide, want the full width:\n%s", args[0], widest(wide), wide)
		}
		if args[0] == "compare" && (strings.Count(out, "golden mismatches") != 1 || strings.Count(out, "┌") < 2 || strings.Count(wide, "┌") != 1) {
			t.Errorf("compare: want one table split into several, whole with --wide:\n%s\n%s", out, wide)
		}
	}
}
