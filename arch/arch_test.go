package arch

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/tomlkeys"
)

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default() does not validate:\n%v", err)
	}
	if w := Default().Warnings(); len(w) != 0 {
		t.Errorf("Default() has warnings: %q", w)
	}
}

// The preset file and Default() must not drift apart: Default() is what a
// partial file is laid over, the preset is what users read.
func TestPresetEqualsDefault(t *testing.T) {
	path := filepath.Join("..", "configs", "rram-xnor.toml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("%s differs from Default():\n got %+v\nwant %+v", path, *c, *Default())
	}
	// Every key must be spelled out in the preset, not inherited silently.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := keyLines(data)
	for _, k := range c.Keys() {
		if _, ok := lines[k]; !ok {
			t.Errorf("%s does not set %s", path, k)
		}
	}
}

func TestPartialFileKeepsDefaults(t *testing.T) {
	c, err := Parse([]byte("[crossbar]\nadc_bits = 5\n"), "partial.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Crossbar.ADCBits = 5
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", *c, *want)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "clip") {
		t.Errorf("Warnings() = %q, want one about clipping", w)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	c, err := Parse(nil, "empty.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Error("an empty file does not give Default()")
	}
}

func TestIntegerForFloatKey(t *testing.T) {
	c, err := Parse([]byte("[chip]\nclock_mhz = 400\n"), "f.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Chip.ClockMHz != 400 {
		t.Errorf("clock_mhz = %v, want 400", c.Chip.ClockMHz)
	}
}

func TestParseErrorsAreFieldErrors(t *testing.T) {
	_, err := Parse([]byte("[crossbar]\nadc_bit = 6\n"), "x.toml")
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want one Errors entry, got %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(*FieldError) failed on %v", err)
	}
	if fe.File != "x.toml" || fe.Line != 2 || fe.Key != "crossbar.adc_bit" {
		t.Errorf("got %+v", *fe)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.Contains(err.Error(), "nope.toml") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		key, value string
		check      func(*Config) bool
		wantErr    string // substring; "" for success
	}{
		{"crossbar.adc_bits", "4", func(c *Config) bool { return c.Crossbar.ADCBits == 4 }, ""},
		{"chip.clock_mhz", "1e3", func(c *Config) bool { return c.Chip.ClockMHz == 1000 }, ""},
		{"chip.clock_mhz", "250", func(c *Config) bool { return c.Chip.ClockMHz == 250 }, ""},
		{"chip.topology", `"torus"`, func(c *Config) bool { return c.Chip.Topology == "torus" }, ""},
		{"chip.topology", "torus", func(c *Config) bool { return c.Chip.Topology == "torus" }, ""},
		{"crossbar.adc_bit", "4", nil, `unknown key "crossbar.adc_bit" (did you mean "crossbar.adc_bits"?)`},
		{"adc_bits", "4", nil, `(did you mean "crossbar.adc_bits"?)`},
		{"crosbar.rows", "4", nil, `(did you mean "crossbar.rows"?)`},
		{"crossbar.rows", "abc", nil, "crossbar.rows = abc: expected an integer"},
		{"crossbar.rows", `"128"`, nil, "expected an integer, got a string"},
		{"crossbar.adc_bits", "6.5", nil, "expected an integer, got a float"},
		{"chip.clock_mhz", "fast", nil, "expected a number"},
		{"chip.topology", "3", nil, "expected a string, got an integer"},
		{"crossbar.rows", "1\nx = 2", nil, "not a single TOML value"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			c := Default()
			err := c.Set(tt.key, tt.value)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(c) {
					t.Errorf("value not stored: %+v", *c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(c, Default()) {
				t.Error("a failed Set changed the config")
			}
		})
	}
}

// Set does not validate: the caller may set rows and rows_per_read in any
// order and validate once.
func TestSetThenValidate(t *testing.T) {
	c := Default()
	if err := c.Set("crossbar.rows_per_read", "300"); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	want := "crossbar.rows_per_read = 300: must be in 1..128 rows (crossbar.rows)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
	if err := c.Set("crossbar.rows", "512"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("after raising rows: %v", err)
	}
}

func TestKeys(t *testing.T) {
	keys := Default().Keys()
	if !slices.IsSorted(keys) {
		t.Error("Keys() is not sorted")
	}
	// One key per leaf field of every table.
	n := 0
	rt := reflect.TypeFor[Config]()
	for i := range rt.NumField() {
		n += rt.Field(i).Type.NumField()
	}
	if len(keys) != n {
		t.Errorf("len(Keys()) = %d, want %d", len(keys), n)
	}
	for _, want := range []string{"chip.mesh_width", "crossbar.adc_bits", "noc.max_spikes_per_packet", "tech.node_nm", "tile.power_gating"} {
		if !slices.Contains(keys, want) {
			t.Errorf("Keys() lacks %s", want)
		}
	}
}

func TestGet(t *testing.T) {
	c := Default()
	for key, want := range map[string]string{
		"crossbar.adc_bits": "6",
		"chip.topology":     `"mesh"`,
		"chip.clock_mhz":    "200.0",
		"tech.node_nm":      "32.0",
	} {
		got, err := c.Get(key)
		if err != nil || got != want {
			t.Errorf("Get(%s) = %q, %v; want %q", key, got, err, want)
		}
	}
	if _, err := c.Get("chip.clock"); err == nil || !strings.Contains(err.Error(), `did you mean "chip.clock_mhz"?`) {
		t.Errorf("Get of a misspelt key: %v", err)
	}
	// Every key's Get output is accepted by Set: sweeps read and write keys
	// as text.
	for _, key := range c.Keys() {
		v, err := c.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Set(key, v); err != nil {
			t.Errorf("Set(%s, Get(%s) = %s): %v", key, key, v, err)
		}
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Error("Set(k, Get(k)) changed the config")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	c := Default()
	// Values that stress formatting: a large and a tiny float, a float that
	// is an integer.
	c.Device.ReadPulseNS = 1e-7
	c.Tile.InputBufferKB = 12345.6789
	c.Chip.ClockMHz = 1000
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(buf.Bytes(), "encoded.toml")
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", *back, *c)
	}
	for _, key := range c.Keys() {
		if _, name, _ := strings.Cut(key, "."); !strings.Contains(buf.String(), name+" =") {
			t.Errorf("Encode output lacks %s", key)
		}
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.Chip.MeshWidth = 0
	c.Crossbar.Cell = "single"
	c.Device.ROnKOhm = math.Inf(1)
	var errs Errors
	if !errors.As(c.Validate(), &errs) || len(errs) != 3 {
		t.Fatalf("want 3 problems, got %v", errs)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"adc_bit", "adc_bits", 1},
		{"adc_btis", "adc_bits", 1}, {"kitten", "sitting", 3},
	} {
		if got := tomlkeys.EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// A quoted key containing a dot is one key, not a table and a key; shown
// quoted, the suggestion of the unquoted key reads as the fix it is.
func TestQuotedDottedKey(t *testing.T) {
	_, err := Parse([]byte("\"chip.mesh_width\" = 3\n"), "q.toml")
	want := `q.toml:1: unknown key "\"chip.mesh_width\"" (did you mean "chip.mesh_width"?)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// Weights use one bit per cell, so extra levels are legal but unused: a
// warning, not an error.
func TestDeviceLevelsWarning(t *testing.T) {
	c, err := Parse([]byte("[device]\nlevels = 4\n"), "levels.toml")
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "device.levels = 4") {
		t.Errorf("Warnings() = %q, want one about device.levels", w)
	}
}

// TestUnphysicalValuesAreErrors: values that type-check but describe no
// chip are rejected by Validate, naming the key.
func TestUnphysicalValuesAreErrors(t *testing.T) {
	for _, kv := range [][2]string{
		{"chip.clock_mhz", "1e-300"},
		{"chip.clock_mhz", "inf"},
		{"neuron.update", "sometimes"},
		{"tech.node_nm", "5"},
		{"tech.node_nm", "180"},
		{"tech.vdd", "-0.9"},
		{"tech.vdd", "nan"},
		{"tech.process", "lp"},
		{"tile.input_buffer_cell", "dram"},
		{"device.read_voltage", "0"},
		{"device.r_on_kohm", "-inf"},
		{"tile.input_buffer_kb", "-1"},
		{"neuron.membrane_bits", "1"},
	} {
		c := Default()
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), kv[0]+" = ") {
			t.Errorf("%s = %s: Validate() = %v, want an error naming the key", kv[0], kv[1], err)
		}
	}
}
