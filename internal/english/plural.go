// Package english writes counts of things in English: "1 timestep",
// "16 timesteps".
package english

import (
	"strconv"
	"strings"
)

// Count writes n and the noun, in the plural unless n is 1 (or -1): an
// "s" appended, "es" after s, x, z, ch or sh ("class"), or "ies" for a
// final consonant and "y" ("directory").
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Noun is the noun alone, singular for 1 and plural otherwise.
func Noun(n int, noun string) string {
	if n == 1 || n == -1 {
		return noun
	}
	if stem, ok := strings.CutSuffix(noun, "y"); ok && stem != "" && !strings.ContainsAny(stem[len(stem)-1:], "aeiou") {
		return stem + "ies"
	}
	for _, end := range []string{"s", "x", "z", "ch", "sh"} {
		if strings.HasSuffix(noun, end) {
			return noun + "es"
		}
	}
	return noun + "s"
}
