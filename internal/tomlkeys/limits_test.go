package tomlkeys

import (
	"strings"
	"testing"
)

func TestCheckLimits(t *testing.T) {
	nested := func(n int) string {
		return "a = " + strings.Repeat("{b = ", n) + "1" + strings.Repeat("}", n) + "\n"
	}
	for _, tc := range []struct {
		name, text string
		line       int
		want       string // "" for accepted
	}{
		{"shallow", "[axes]\nx = {noc = {routing = [\"xy\", \"yx\"]}}\n", 0, ""},
		{"at the limit", nested(MaxDepth - 1), 0, ""},
		{"inline tables 4000 deep", "# nesting\n" + nested(4000), 2, "nested more than 32 deep"},
		{"arrays", "\nx = " + strings.Repeat("[", 33), 2, "nested more than 32 deep"},
		{"brackets in strings", "a = \"" + strings.Repeat("[", 100) + "\"\nb = '" + strings.Repeat("{", 100) + "'\n", 0, ""},
		{"brackets in a multi-line string", "a = \"\"\"\n" + strings.Repeat("[", 100) + "\n\\\"\"\"\"\n" + "b = '''" + strings.Repeat("[", 50) + "'''\n", 0, ""},
		{"brackets in a comment", "# " + strings.Repeat("[", 100) + "\nx = 1\n", 0, ""},
		{"line after a multi-line string", "a = \"\"\"\n\n\"\"\"\nb = " + strings.Repeat("[", 40), 4, "nested more than 32 deep"},
		{"too large", "# " + strings.Repeat("x", MaxFileSize), 0, "larger than 1048576 bytes"},
	} {
		line, err := CheckLimits([]byte(tc.text))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || line != tc.line):
			t.Errorf("%s: line %d error %v, want line %d and %q", tc.name, line, err, tc.line, tc.want)
		}
	}
}

// FuzzCheckLimits: any input gets an answer without a panic, and an
// accepted one has no more than MaxDepth brackets open at any point
// outside quotes (a bound the scan can only overestimate).
func FuzzCheckLimits(f *testing.F) {
	f.Add([]byte("[axes]\n\"crossbar.rows\" = [64, 128] # c\n"))
	f.Add([]byte("a = \"\"\"x\n\\\"\"\"\"\nb = '''[[[\n'''\nc = {d = [1, {e = 2}]}\n"))
	f.Add([]byte("a = \"" + strings.Repeat("[", 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		line, err := CheckLimits(data)
		if err == nil && line != 0 {
			t.Fatalf("line %d without an error", line)
		}
		if err != nil && line > strings.Count(string(data), "\n")+1 {
			t.Fatalf("line %d past the end of %d lines", line, strings.Count(string(data), "\n")+1)
		}
		depth := 0
		for _, c := range data {
			if c == '[' || c == '{' {
				depth++
			}
		}
		if depth <= MaxDepth && err != nil && len(data) <= MaxFileSize {
			t.Fatalf("refused %q with %d brackets in all: %v", data, depth, err)
		}
	})
}
