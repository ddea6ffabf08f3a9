package tomlkeys

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	doc := `# comment
top = 1
[crossbar]
rows = 128
"odd.key" = 2
list = [
  1,
  2,
]
after = 3
[chip]
clock_mhz = 200
`
	got := Lines([]byte(doc), func(p ...string) string { return strings.Join(p, ".") })
	want := map[string]int{"top": 2, "crossbar": 3, "crossbar.rows": 4, "crossbar.odd.key": 5, "crossbar.list": 6, "crossbar.after": 10, "chip": 11, "chip.clock_mhz": 12}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("line of %s = %d, want %d", k, got[k], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("found %d keys, want %d: %v", len(got), len(want), got)
	}
}

func TestNearest(t *testing.T) {
	keys := []string{"adc_bits", "rows_per_read", "clock_mhz"}
	for _, tt := range []struct{ typo, want string }{
		{"adc_bit", "adc_bits"}, {"adc_btis", "adc_bits"}, {"clock", "clock_mhz"}, {"rows_per_rd", "rows_per_read"}, {"voltage", ""},
	} {
		if got := Nearest(tt.typo, keys, nil); got != tt.want {
			t.Errorf("Nearest(%q) = %q, want %q", tt.typo, got, tt.want)
		}
	}
}
