package arch

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem with a configuration: where it is and what is
// wrong. Parse fills File and Line; Validate and Set leave them empty.
type FieldError struct {
	File string // file name as given to Parse; "" when not from a file
	Line int    // 1-based line; 0 when unknown or when the key is not in the file
	Col  int    // 1-based column, only for TOML syntax errors
	Key  string // dotted key, "" for syntax errors
	// Value is the offending value as TOML text; "" when the problem is
	// about the key itself (unknown key, syntax error).
	Value string
	// Defaulted marks a value that the file did not set, so the reader
	// knows the bad value came from Default(), not from a line of the file.
	Defaulted bool
	Msg       string // what is wrong and what is allowed
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Col > 0 {
				b.WriteString(":" + strconv.Itoa(e.Col))
			}
		}
		b.WriteString(": ")
	}
	if e.Value != "" {
		b.WriteString(e.Key + " = " + e.Value)
		if e.Defaulted {
			b.WriteString(" (default)")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found at once. Parse, Load and Validate return a
// non-empty Errors (as a value, so errors.As(err, &errs) with
// `var errs arch.Errors` extracts it) or nil.
type Errors []error

// Error joins the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error { return es }

// orNil returns nil for an empty list so that callers can compare with nil;
// a nil Errors stored in an error interface would be non-nil.
func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// sortByLine orders problems as a reader meets them in the file; problems
// without a line (keys the file did not set) come last, by key.
func (es Errors) sortByLine() {
	slices.SortStableFunc(es, func(a, b error) int {
		fa, _ := a.(*FieldError)
		fb, _ := b.(*FieldError)
		if fa == nil || fb == nil {
			return 0
		}
		la, lb := fa.Line, fb.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(fa.Col, fb.Col), cmp.Compare(fa.Key, fb.Key))
	})
}
