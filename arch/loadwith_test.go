package arch

import (
	"strings"
	"testing"
)

// TestLoadWith: overrides apply in order on top of the file and the result
// is validated as a whole; a bad override names itself.
func TestLoadWith(t *testing.T) {
	const preset = "../configs/rram-xnor.toml"
	cfg, err := LoadWith(preset, []string{"crossbar.adc_bits=4", "chip.mesh_width=8", "crossbar.adc_bits=5"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Crossbar.ADCBits != 5 || cfg.Chip.MeshWidth != 8 {
		t.Errorf("adc_bits %d, mesh_width %d; want 5 and 8", cfg.Crossbar.ADCBits, cfg.Chip.MeshWidth)
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"crossbar.adc_bit=4"}, "--set crossbar.adc_bit=4: "},
		{[]string{"crossbar.adc_bits"}, "--set crossbar.adc_bits: want key=value"},
		{[]string{"chip.clock_mhz=0"}, preset + " with --set chip.clock_mhz=0:\n"},
	} {
		if _, err := LoadWith(preset, tc.sets); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error starting %q", tc.sets, err, tc.want)
		}
	}
}
