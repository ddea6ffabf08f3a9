// Package tomlkeys holds what strict TOML decoding needs beyond the toml
// package: the line that names each key (the toml package keeps positions
// private) and the known key a misspelt one most likely meant.
package tomlkeys

import (
	"strconv"
	"strings"
)

// Lines maps each dotted key of a TOML document, its parts joined by join,
// to the first line that names it; table headers map too. It is a light
// re-scan of a document that already parsed and only labels errors: a
// misread line (inside a multi-line string, say) costs a wrong line
// number, never a wrong result. Continuation lines of multi-line arrays
// are skipped.
func Lines(data []byte, join func(parts ...string) string) map[string]int {
	lines := map[string]int{}
	record := func(key string, n int) {
		if _, ok := lines[key]; !ok {
			lines[key] = n
		}
	}
	table, depth := "", 0
	for i, raw := range strings.Split(string(data), "\n") {
		s := strings.TrimSpace(raw)
		if depth > 0 || s == "" || s[0] == '#' {
			depth += brackets(s)
			continue
		}
		if s[0] == '[' {
			name := strings.TrimLeft(s, "[")
			if end := indexUnquoted(name, ']'); end >= 0 {
				table = join(Split(name[:end])...)
				record(table, i+1)
			}
			continue
		}
		eq := indexUnquoted(s, '=')
		if eq < 0 {
			continue
		}
		key := join(Split(s[:eq])...)
		if table != "" {
			key = table + "." + key
		}
		record(key, i+1)
		depth = brackets(s[eq+1:])
	}
	return lines
}

// brackets is the net count of '[' over ']' outside strings and comments.
func brackets(s string) int {
	n := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return n
		case c == '[':
			n++
		case c == ']':
			n--
		}
	}
	return n
}

// indexUnquoted returns the index of the first c outside TOML quotes, or -1.
func indexUnquoted(s string, c byte) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch {
		case quote == '"' && s[i] == '\\':
			i++
		case quote != 0:
			if s[i] == quote {
				quote = 0
			}
		case s[i] == '"' || s[i] == '\'':
			quote = s[i]
		case s[i] == c:
			return i
		}
	}
	return -1
}

// Split splits a dotted TOML key into its unquoted parts.
func Split(s string) []string {
	var parts []string
	for {
		dot := indexUnquoted(s, '.')
		part := s
		if dot >= 0 {
			part = s[:dot]
		}
		part = strings.TrimSpace(part)
		if len(part) >= 2 && part[0] == '"' {
			if u, err := strconv.Unquote(part); err == nil {
				part = u
			}
		} else if len(part) >= 2 && part[0] == '\'' {
			part = part[1 : len(part)-1]
		}
		parts = append(parts, part)
		if dot < 0 {
			return parts
		}
		s = s[dot+1:]
	}
}

// Nearest returns the candidate whose projected name is closest to target,
// if the distance is small relative to the target's length (a third of its
// characters, at least one) or the target is a prefix of the name (a key
// written without its unit suffix, "clock" for "clock_mhz"). A nil project
// compares candidates as they are; project may also exclude candidates.
func Nearest(target string, candidates []string, project func(string) (string, bool)) string {
	best, bestDist := "", max(1, len(target)/3)+1
	for _, cand := range candidates {
		name, ok := cand, true
		if project != nil {
			name, ok = project(cand)
		}
		if !ok {
			continue
		}
		d := EditDistance(target, name)
		if len(target) >= 4 && strings.HasPrefix(name, target) {
			d = 1
		}
		if d < bestDist {
			best, bestDist = cand, d
		}
	}
	return best
}

// EditDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters, the usual
// shapes of a typo, each cost 1.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// rows i-2, i-1 and i of the dynamic-programming table
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
