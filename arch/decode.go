package arch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nmsim/nmsim/internal/tomlkeys"
)

// Load reads and parses an arch.toml file; see Parse.
func Load(path string) (*Config, error) {
	data, err := tomlkeys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("arch: load config: %w", err)
	}
	return Parse(data, path)
}

// LoadWith reads path, applies the overrides (Override) and validates
// the result as a whole, so an override gets the same checks as the file.
func LoadWith(path string, sets []string) (*Config, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Override(sets); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		if len(sets) > 0 {
			return nil, fmt.Errorf("%s with --set %s:\n%w", path, strings.Join(sets, " "), err)
		}
		return nil, fmt.Errorf("%s:\n%w", path, err)
	}
	return cfg, nil
}

// Parse decodes data on top of Default(), so a file only needs the keys it
// changes, then validates the result. filename only labels the errors. On
// failure the error is an Errors holding every problem (unknown keys with a
// suggestion, wrong types, out-of-range values) sorted by line.
func Parse(data []byte, filename string) (*Config, error) {
	// Decoding into a generic map first, rather than straight into Config,
	// lets us report every unknown key and every type error in one pass;
	// the toml package stops at the first type mismatch.
	if line, err := tomlkeys.CheckLimits(data); err != nil {
		return nil, Errors{&FieldError{File: filename, Line: line, Msg: err.Error()}}
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, Errors{syntaxError(filename, err)}
	}
	c := Default()
	lines := keyLines(data)
	set := map[string]bool{}
	var errs Errors
	for _, table := range slices.Sorted(maps.Keys(doc)) {
		errs = append(errs, c.overlayTable(table, doc[table], set)...)
	}
	for _, e := range errs {
		if fe, ok := e.(*FieldError); ok {
			fe.File, fe.Line = filename, lines.of(fe.Key)
		}
	}
	var verrs Errors
	if verr := c.Validate(); verr != nil && !errors.As(verr, &verrs) {
		verrs = Errors{verr}
	}
	for _, e := range verrs {
		if fe, ok := e.(*FieldError); ok {
			// A value the file did not set came from Default(); pointing at
			// some enclosing line would mislead, so say "(default)" instead.
			fe.File, fe.Defaulted = filename, !set[fe.Key]
			if set[fe.Key] {
				fe.Line = lines.of(fe.Key)
			}
		}
	}
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		errs.sortByLine()
		return nil, errs
	}
	return c, nil
}

// overlayTable assigns the keys of one top-level TOML entry, recording the
// keys it set.
func (c *Config) overlayTable(table string, v any, set map[string]bool) Errors {
	var errs Errors
	if !slices.Contains(c.tables(), table) {
		for _, key := range leafKeys(joinKey(table), v) {
			errs = append(errs, &FieldError{Key: key, Msg: unknownKeyMsg(key, c)})
		}
		return errs
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Errors{&FieldError{Key: table, Value: formatValue(v),
			Msg: fmt.Sprintf("expected the table [%s], got %s", table, typeName(v))}}
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		key := joinKey(table, name)
		f, ok := c.lookup(key)
		if !ok {
			for _, leaf := range leafKeys(key, m[name]) {
				errs = append(errs, &FieldError{Key: leaf, Msg: unknownKeyMsg(leaf, c)})
			}
			continue
		}
		if msg := assign(f.value, m[name]); msg != "" {
			errs = append(errs, &FieldError{Key: key, Value: formatValue(m[name]), Msg: msg})
			continue
		}
		set[key] = true
	}
	return errs
}

// leafKeys flattens a value under key into the dotted keys of its leaves,
// so that an unknown table reports each of its keys with its own line and
// suggestion.
func leafKeys(key string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return []string{key}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, leafKeys(key+"."+joinKey(k), m[k])...)
	}
	return out
}

// joinKey writes key parts as one dotted TOML key, quoting parts that are not
// bare keys, so that a quoted "a.b" is never confused with table a, key b.
func joinKey(parts ...string) string { return toml.Key(parts).String() }

// syntaxError turns a toml parse failure into a FieldError at the parser's
// position.
func syntaxError(filename string, err error) *FieldError {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &FieldError{File: filename, Line: pe.Position.Line, Col: pe.Position.Col,
			Msg: "TOML syntax error: " + pe.Message}
	}
	return &FieldError{File: filename, Msg: "TOML syntax error: " + err.Error()}
}

// unknownKeyMsg says that key is not in the schema and, when one is close
// enough to be a likely typo, which key was probably meant.
func unknownKeyMsg(key string, c *Config) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if s := suggest(key, c); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	if table, _, dotted := strings.Cut(key, "."); dotted && !slices.Contains(c.tables(), table) {
		msg += fmt.Sprintf(": there is no table [%s]; the tables are %s", table, strings.Join(c.tables(), ", "))
	}
	return msg
}

// suggest finds the known key nearest to key. Within a known table only that
// table's keys compete, so "crossbar.rows_per_rd" does not drift to another
// table; for an unknown table every key competes on its full dotted name,
// and a bare key that matches a known key's last component ("adc_bits" at
// the top level) maps to that key.
func suggest(key string, c *Config) string {
	known := c.Keys()
	table, rest, dotted := strings.Cut(key, ".")
	if dotted && slices.Contains(c.tables(), table) {
		return tomlkeys.Nearest(rest, known, func(k string) (string, bool) {
			t, name, _ := strings.Cut(k, ".")
			return name, t == table
		})
	}
	last := key[strings.LastIndex(key, ".")+1:]
	for _, k := range known {
		if k[strings.LastIndex(k, ".")+1:] == last {
			return k
		}
	}
	return tomlkeys.Nearest(key, append(known, c.tables()...), nil)
}

// lineIndex maps dotted keys and table names to the first line naming them.
type lineIndex map[string]int

// of returns the line of key, or of its nearest enclosing table or inline
// table when the key itself was not found on a line of its own.
func (li lineIndex) of(key string) int {
	for {
		if n, ok := li[key]; ok {
			return n
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
}

// keyLines finds the line of every key and table of the text.
func keyLines(data []byte) lineIndex { return tomlkeys.Lines(data, joinKey) }
