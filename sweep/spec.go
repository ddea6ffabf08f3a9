// Package sweep runs design-space-exploration sweeps: a sweep.toml names a
// base arch file, models, a data set slice, seeds and axes over arch keys;
// the sweep expands into design points, runs each on the simulated chip and
// appends one JSON line per point to DIR/results.jsonl, keyed by a content
// hash so that a re-run skips what is done. Points can be split into
// deterministic shards (for job arrays) and the shard outputs merged back.
package sweep

import (
	"cmp"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/tomlkeys"
	"github.com/nmsim/nmsim/workloads/model"
)

// Spec is a parsed sweep.toml, before it is expanded into points. Paths are
// as written in the file; they are relative to the working directory.
type Spec struct {
	File    string   // the file it came from; labels errors
	Arch    string   // base arch.toml
	Models  []string // model.bin files
	Dataset string   // data set name, e.g. "mnist"
	Samples int      // the first N test samples
	Seeds   []uint64
	// Timesteps lists the timesteps to sweep; empty means each model's own
	// default.
	Timesteps   []int
	Golden      bool // also run the reference SNN and count spike mismatches
	Axes        []Axis
	Zip         [][]string // groups of axis keys that vary together
	Constraints []Constraint
}

// Axis is one swept arch key and its values in order.
type Axis struct {
	Key    string // dotted arch key, e.g. "crossbar.adc_bits"
	Values []any  // int64, float64, string or bool, as TOML decodes them
}

// Constraint is a boolean expression over arch keys; points for which it is
// false are left out of the sweep.
type Constraint struct {
	Text string
	expr ast.Expr
	line int
}

// maxRangeValues bounds what one range may expand to, so that a typo in a
// step cannot exhaust memory.
const maxRangeValues = 100000

// topKeys are the keys a sweep.toml may have at the top level.
var topKeys = []string{"arch", "models", "dataset", "samples", "seeds", "timesteps", "golden", "axes", "zip", "constraints"}

// Load reads and parses a sweep file; see Parse.
func Load(path string) (*Spec, error) {
	data, err := tomlkeys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes a sweep.toml strictly: unknown keys (with a suggestion),
// wrong types, unknown arch keys under [axes], values an arch key cannot
// take, bad ranges, zip groups and constraints are all reported at once, as
// an arch.Errors of *arch.FieldError with file and line.
func Parse(data []byte, filename string) (*Spec, error) {
	if line, err := tomlkeys.CheckLimits(data); err != nil {
		return nil, arch.Errors{&arch.FieldError{File: filename, Line: line, Msg: err.Error()}}
	}
	var doc map[string]any
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, arch.Errors{&arch.FieldError{File: filename, Line: pe.Position.Line, Col: pe.Position.Col, Msg: "TOML syntax error: " + pe.Message}}
		}
		return nil, arch.Errors{&arch.FieldError{File: filename, Msg: "TOML syntax error: " + err.Error()}}
	}
	p := &specParser{file: filename, text: strings.Split(string(data), "\n"), lines: tomlkeys.Lines(data, func(parts ...string) string { return strings.Join(parts, ".") }), spec: &Spec{File: filename}}
	p.order = map[string]int{}
	for i, k := range md.Keys() {
		p.order[strings.Join(k, ".")] = i
	}
	p.top(doc)
	if len(p.errs) > 0 {
		// Problems without a line (missing keys) go last, as in arch.
		lineOf := func(e error) int {
			if n := e.(*arch.FieldError).Line; n > 0 {
				return n
			}
			return math.MaxInt
		}
		slices.SortStableFunc(p.errs, func(a, b error) int { return cmp.Compare(lineOf(a), lineOf(b)) })
		return nil, p.errs
	}
	return p.spec, nil
}

type specParser struct {
	file  string
	text  []string       // the file's lines
	lines map[string]int // dotted key → first line naming it
	order map[string]int // dotted key → position in the document
	spec  *Spec
	errs  arch.Errors
}

// fail records a problem with key; with a value, the message reads
// "key = value: …", without one "key: …".
func (p *specParser) fail(key string, value any, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e := &arch.FieldError{File: p.file, Line: p.line(key), Key: key, Msg: msg}
	if value != nil {
		e.Value = tomlText(value)
	} else {
		e.Msg = key + ": " + msg
	}
	p.errs = append(p.errs, e)
}

// unknown records an unknown key; msg names it.
func (p *specParser) unknown(key, msg string) {
	p.errs = append(p.errs, &arch.FieldError{File: p.file, Line: p.line(key), Key: key, Msg: msg})
}

// line finds key's line, or its nearest enclosing table's.
func (p *specParser) line(key string) int {
	for {
		if n, ok := p.lines[key]; ok {
			return n
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
}

func (p *specParser) top(doc map[string]any) {
	s := p.spec
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !slices.Contains(topKeys, k) {
			msg := fmt.Sprintf("unknown key %q", k)
			if near := tomlkeys.Nearest(k, topKeys, nil); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			} else {
				msg += "; the keys are " + strings.Join(topKeys, ", ") + " (arch keys to sweep go under [axes])"
			}
			p.unknown(k, msg)
		}
	}
	for _, k := range []string{"arch", "models", "dataset", "samples", "seeds"} {
		if _, ok := doc[k]; !ok {
			p.errs = append(p.errs, &arch.FieldError{File: p.file, Key: k, Msg: fmt.Sprintf("missing key %q: %s", k, required[k])})
		}
	}
	if v, ok := doc["arch"]; ok {
		s.Arch = p.str("arch", v)
	}
	if v, ok := doc["models"]; ok {
		s.Models = p.strs("models", v)
		unique(p, "models", s.Models)
	}
	if v, ok := doc["dataset"]; ok {
		s.Dataset = p.str("dataset", v)
	}
	if v, ok := doc["samples"]; ok {
		s.Samples = int(p.positive("samples", v, math.MaxInt32))
	}
	if v, ok := doc["seeds"]; ok {
		for _, x := range p.list("seeds", v) {
			n, ok := x.(int64)
			if !ok || n < 0 {
				p.fail("seeds", x, "a seed must be a non-negative integer")
				continue
			}
			s.Seeds = append(s.Seeds, uint64(n))
		}
		unique(p, "seeds", s.Seeds)
	}
	if v, ok := doc["timesteps"]; ok {
		for _, x := range p.list("timesteps", v) {
			s.Timesteps = append(s.Timesteps, int(p.positive("timesteps", x, model.MaxTimesteps)))
		}
		unique(p, "timesteps", s.Timesteps)
	}
	if v, ok := doc["golden"]; ok {
		b, ok := v.(bool)
		if !ok {
			p.fail("golden", v, "expected true or false")
		}
		s.Golden = b
	}
	if v, ok := doc["axes"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			p.fail("axes", v, "expected the table [axes] of arch keys, e.g. \"crossbar.adc_bits\" = [3, 4, 6]")
		} else {
			p.axes("", m)
			slices.SortStableFunc(s.Axes, func(a, b Axis) int { return p.order["axes."+a.Key] - p.order["axes."+b.Key] })
		}
	}
	if v, ok := doc["zip"]; ok {
		p.zip(v)
	}
	if v, ok := doc["constraints"]; ok {
		for _, text := range p.strs("constraints", v) {
			p.constraint(text)
		}
	}
}

// required says what each mandatory key is for.
var required = map[string]string{
	"arch":    `the base arch file, e.g. arch = "configs/rram-xnor.toml"`,
	"models":  `the model files, e.g. models = ["models/mnist-convert.bin"]`,
	"dataset": `the data set, e.g. dataset = "mnist"`,
	"samples": `the number of test samples per point, e.g. samples = 100`,
	"seeds":   `the seeds, e.g. seeds = [1]`,
}

func (p *specParser) str(key string, v any) string {
	s, ok := v.(string)
	if !ok || s == "" {
		p.fail(key, v, "expected a non-empty string")
	}
	return s
}

func (p *specParser) list(key string, v any) []any {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		p.fail(key, v, "expected a non-empty list, e.g. %s = [%s]", key, tomlText(v))
		return nil
	}
	return l
}

func (p *specParser) strs(key string, v any) []string {
	var out []string
	for _, x := range p.list(key, v) {
		out = append(out, p.str(key, x))
	}
	return out
}

func (p *specParser) positive(key string, v any, hi int64) int64 {
	n, ok := v.(int64)
	if !ok || n < 1 || n > hi {
		p.fail(key, v, "expected an integer in 1..%d", hi)
	}
	return n
}

// unique reports values listed twice: they would be the same points.
func unique[T comparable](p *specParser, key string, vals []T) {
	for i, v := range vals {
		if slices.Index(vals, v) < i {
			p.fail(key, nil, "%s is listed twice", tomlText(any(v)))
		}
	}
}

// axes flattens [axes]: "crossbar.adc_bits" = …, crossbar.adc_bits = … and
// [axes.crossbar] adc_bits = … all name the same arch key. A table at a
// path that is an arch key is a range; elsewhere it is a level of nesting.
func (p *specParser) axes(prefix string, m map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := prefix + k
		v := m[k]
		if prefix == "" && slices.Contains(topKeys, k) {
			// A top-level key written after the [axes] header belongs to
			// [axes] in TOML: the usual slip, so say how to fix it.
			p.fail("axes."+key, nil, "%q is a top-level key, but TOML reads every key after the [axes] header as part of [axes]: move it above [axes]", k)
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			if _, err := arch.Default().Get(key); err != nil {
				p.axes(key+".", sub)
				continue
			}
		}
		if slices.ContainsFunc(p.spec.Axes, func(a Axis) bool { return a.Key == key }) {
			p.fail("axes."+key, nil, "given twice")
			continue
		}
		p.axis(key, v)
	}
}

func (p *specParser) axis(key string, v any) {
	label := "axes." + key
	var vals []any
	switch v := v.(type) {
	case []any:
		if len(v) == 0 {
			p.fail(label, nil, "needs at least one value")
			return
		}
		vals = v
	case map[string]any:
		vals = p.rangeValues(label, v)
	default:
		p.fail(label, v, `expected a list of values, e.g. [3, 4, 6], or a range {from = 2, to = 8, step = 2} or {from = 64, to = 512, times = 2}`)
		return
	}
	ok := true
	for i, x := range vals {
		if _, isTable := x.(map[string]any); isTable || isList(x) {
			p.fail(label, x, "an axis value must be a number, string or boolean")
			ok = false
			continue
		}
		if slices.IndexFunc(vals[:i], func(y any) bool { return y == x }) >= 0 {
			p.fail(label, x, "value listed twice")
			ok = false
			continue
		}
		// Set checks that the key exists (suggesting the nearest one) and
		// that the value has the key's type; ranges are checked per point.
		if err := arch.Default().Set(key, tomlText(x)); err != nil {
			var fe *arch.FieldError
			if errors.As(err, &fe) && fe.Value == "" {
				p.unknown(label, fe.Msg) // once, not per value
				return
			}
			msg := err.Error()
			if errors.As(err, &fe) {
				msg = fe.Msg
			}
			p.fail(label, x, "%s", msg)
			ok = false
		}
	}
	if ok {
		p.spec.Axes = append(p.spec.Axes, Axis{Key: key, Values: vals})
	}
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

// rangeValues expands {from, to, step} (arithmetic, inclusive) or {from, to,
// times} (geometric). All-integer bounds give integers.
func (p *specParser) rangeValues(label string, m map[string]any) []any {
	known := []string{"from", "to", "step", "times"}
	bad := false
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, k) {
			msg := fmt.Sprintf("unknown range key %q", k)
			if near := tomlkeys.Nearest(k, known, nil); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			p.unknown(label+"."+k, msg+"; a range is {from, to, step} or {from, to, times}")
			bad = true
		}
	}
	num := func(k string) (float64, bool, bool) {
		switch x := m[k].(type) {
		case int64:
			return float64(x), true, true
		case float64:
			return x, false, true
		case nil:
			return 0, true, false
		default:
			p.fail(label+"."+k, x, "expected a number")
			bad = true
			return 0, false, false
		}
	}
	from, fromInt, hasFrom := num("from")
	to, toInt, hasTo := num("to")
	step, stepInt, hasStep := num("step")
	times, _, hasTimes := num("times")
	switch {
	case bad:
		return nil
	case !hasFrom || !hasTo || hasStep == hasTimes:
		p.fail(label, nil, "a range needs from, to and exactly one of step (arithmetic) or times (geometric)")
		return nil
	case from > to:
		p.fail(label, nil, "range from = %s is above to = %s", fmtNum(from), fmtNum(to))
		return nil
	case hasStep && step <= 0, hasTimes && times <= 1:
		p.fail(label, nil, "a range must grow: step > 0 or times > 1")
		return nil
	}
	ints := fromInt && toInt && (hasStep && stepInt || hasTimes && times == math.Trunc(times))
	var out []any
	for i := 0; ; i++ {
		// Computing each value from the start, not by accumulation, keeps
		// 0.1-steps free of drift; the tolerance admits the end point.
		x := from + float64(i)*step
		if hasTimes {
			x = from * math.Pow(times, float64(i))
		}
		if x > to*(1+1e-12)+1e-12 {
			break
		}
		if len(out) == maxRangeValues {
			p.fail(label, nil, "range has more than %d values", maxRangeValues)
			return nil
		}
		if ints {
			out = append(out, int64(math.Round(x)))
		} else {
			out = append(out, x)
		}
	}
	return out
}

func (p *specParser) zip(v any) {
	seen := map[string]bool{}
	for _, g := range p.list("zip", v) {
		group, ok := g.([]any)
		if !ok || len(group) < 2 {
			p.fail("zip", g, `each zip group is a list of two or more axis keys, e.g. zip = [["chip.mesh_width", "chip.mesh_height"]]`)
			continue
		}
		var keys []string
		n := -1
		for _, k := range group {
			key, ok := k.(string)
			if !ok {
				p.fail("zip", k, "expected an axis key as a string")
				continue
			}
			i := slices.IndexFunc(p.spec.Axes, func(a Axis) bool { return a.Key == key })
			switch {
			case i < 0:
				p.fail("zip", nil, "%q is not an axis of [axes]", key)
				continue
			case seen[key]:
				p.fail("zip", nil, "axis %q is in more than one zip group", key)
				continue
			case n >= 0 && len(p.spec.Axes[i].Values) != n:
				p.fail("zip", nil, "zipped axes need equal lengths: %q has %d values, %q has %d", keys[0], n, key, len(p.spec.Axes[i].Values))
			}
			seen[key] = true
			n = len(p.spec.Axes[i].Values)
			keys = append(keys, key)
		}
		p.spec.Zip = append(p.spec.Zip, keys)
	}
}

func (p *specParser) constraint(text string) {
	c := Constraint{Text: text, line: p.lineOf("constraints", text)}
	fail := func(format string, args ...any) {
		p.errs = append(p.errs, &arch.FieldError{File: p.file, Line: c.line, Key: "constraints",
			Msg: fmt.Sprintf("constraint %q: ", text) + fmt.Sprintf(format, args...)})
	}
	expr, err := parser.ParseExpr(text)
	if err != nil {
		fail("not an expression: %v", err)
		return
	}
	c.expr = expr
	// Evaluating on the default config finds unknown keys and type errors
	// now rather than halfway through the expansion.
	if _, err := c.Eval(arch.Default()); err != nil {
		fail("%v", err)
		return
	}
	p.spec.Constraints = append(p.spec.Constraints, c)
}

// lineOf finds the first line at or after key's that holds text, for the
// items of a multi-line array.
func (p *specParser) lineOf(key, text string) int {
	start := p.line(key)
	for i := max(start-1, 0); i < len(p.text); i++ {
		if strings.Contains(p.text[i], text) {
			return i + 1
		}
	}
	return start
}

// tomlText writes a decoded TOML value back as TOML text.
func tomlText(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return fmtNum(v)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = tomlText(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(v)) {
			parts = append(parts, k+" = "+tomlText(v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(v)
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
