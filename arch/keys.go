package arch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// field is one leaf of the schema, found by walking the toml tags, so a new
// struct field becomes a key, a --set target and a sweep axis without any
// per-key code.
type field struct {
	key   string        // dotted: "crossbar.adc_bits"
	value reflect.Value // addressable, inside the Config it was taken from
}

// tagName is the TOML name of a struct field; fields without a tag are not
// part of the schema.
func tagName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
	return name
}

// fields lists every leaf key of c in declaration order.
func (c *Config) fields() []field {
	var out []field
	root := reflect.ValueOf(c).Elem()
	for i := range root.NumField() {
		table := tagName(root.Type().Field(i))
		tv := root.Field(i)
		if table == "" || tv.Kind() != reflect.Struct {
			continue
		}
		for j := range tv.NumField() {
			if name := tagName(tv.Type().Field(j)); name != "" {
				out = append(out, field{key: table + "." + name, value: tv.Field(j)})
			}
		}
	}
	return out
}

// lookup finds the leaf for a dotted key.
func (c *Config) lookup(key string) (field, bool) {
	for _, f := range c.fields() {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// tables lists the table names of the schema in declaration order.
func (c *Config) tables() []string {
	var out []string
	for _, f := range c.fields() {
		t, _, _ := strings.Cut(f.key, ".")
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Keys returns every dotted key of the schema, sorted.
func (c *Config) Keys() []string {
	fs := c.fields()
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	slices.Sort(keys)
	return keys
}

// Get returns the value of a dotted key as TOML text (strings quoted).
func (c *Config) Get(key string) (string, error) {
	f, ok := c.lookup(key)
	if !ok {
		return "", &FieldError{Key: key, Msg: unknownKeyMsg(key, c)}
	}
	return formatValue(f.value.Interface()), nil
}

// Set assigns a dotted key from TOML text, as given to --set key=value. A
// string key also accepts a bare word (torus for "torus") because shells
// make quoting painful. Set checks the key and the type but not the range:
// call Validate after the last Set, since cross-field limits depend on keys
// that may not be set yet.
func (c *Config) Set(key, value string) error {
	f, ok := c.lookup(key)
	if !ok {
		return &FieldError{Key: key, Msg: unknownKeyMsg(key, c)}
	}
	v, err := parseValue(value)
	if err != nil {
		if f.value.Kind() != reflect.String {
			return &FieldError{Key: key, Value: value, Msg: fmt.Sprintf("expected %s: %v", kindName(f.value.Kind()), err)}
		}
		v = value
	}
	if msg := assign(f.value, v); msg != "" {
		return &FieldError{Key: key, Value: value, Msg: msg}
	}
	return nil
}

// Encode writes c as TOML with every key, in schema order, so equal configs
// give equal bytes (reports and result hashes rely on that).
func (c *Config) Encode(w io.Writer) error {
	if err := toml.NewEncoder(w).Encode(c); err != nil {
		return fmt.Errorf("arch: encode config: %w", err)
	}
	return nil
}

// parseValue reads one TOML value by decoding it as the right-hand side of
// a one-key document.
func parseValue(text string) (any, error) {
	var doc map[string]any
	md, err := toml.Decode("v = "+text, &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("not a TOML value (%s)", pe.Message)
		}
		return nil, fmt.Errorf("not a TOML value: %w", err)
	}
	if len(md.Keys()) != 1 {
		return nil, fmt.Errorf("not a single TOML value")
	}
	return doc["v"], nil
}

// assign stores a decoded TOML value into a schema field, returning what is
// wrong with it or "". TOML integers are accepted for float keys (clock_mhz
// = 200) but not the other way round, so 6.5 ADC bits is an error rather
// than a silent truncation.
func assign(dst reflect.Value, v any) string {
	switch dst.Kind() {
	case reflect.Int:
		n, ok := v.(int64)
		if !ok {
			return "expected an integer, got " + typeName(v)
		}
		if dst.OverflowInt(n) {
			return "integer does not fit in this platform's int"
		}
		dst.SetInt(n)
	case reflect.Float64:
		switch n := v.(type) {
		case float64:
			dst.SetFloat(n)
		case int64:
			dst.SetFloat(float64(n))
		default:
			return "expected a number, got " + typeName(v)
		}
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return "expected a string, got " + typeName(v)
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return "expected a boolean, got " + typeName(v)
		}
		dst.SetBool(b)
	default:
		return "the schema has a field of unsupported kind " + dst.Kind().String()
	}
	return ""
}

// kindName names what a field of the given kind accepts.
func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	default:
		return "a string"
	}
}

// typeName names the TOML type of a decoded value, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	case time.Time:
		return "a date-time"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// formatValue renders a value as TOML text with the toml encoder, so
// quoting and float syntax match what Encode writes.
func formatValue(v any) string {
	if _, ok := v.(map[string]any); ok {
		return "{...}"
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any{"v": v}); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(buf.String())
	return strings.TrimPrefix(s, "v = ")
}

// Override applies key=value overrides (as --set gives them) in order;
// like Set, it leaves validation to the caller.
func (c *Config) Override(sets []string) error {
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--set %s: want key=value, e.g. crossbar.adc_bits=4", kv)
		}
		if err := c.Set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("--set %s: %w", kv, err)
		}
	}
	return nil
}
