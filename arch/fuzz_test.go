package arch

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that no input makes Parse panic and that whatever Parse
// accepts survives Encode → Parse unchanged (reports hash the encoding).
func FuzzParse(f *testing.F) {
	if preset, err := os.ReadFile(filepath.Join("..", "configs", "rram-xnor.toml")); err == nil {
		f.Add(preset)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.toml")
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error text")
			}
			return
		}
		var buf bytes.Buffer
		if err := c.Encode(&buf); err != nil {
			t.Fatalf("Encode of a parsed config: %v", err)
		}
		back, err := Parse(buf.Bytes(), "encoded.toml")
		if err != nil {
			t.Fatalf("re-Parse of Encode output: %v\n%s", err, buf.String())
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", *back, *c)
		}
	})
}
