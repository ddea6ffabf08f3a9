package tomlkeys

import (
	"fmt"
	"io"
	"os"
)

// Limits on the TOML files nmsim reads (arch and sweep files), checked by a
// cheap scan before the toml decoder sees the text: the decoder's time and
// memory grow steeply with nesting (inline tables 4,000 deep took 13.6 s
// and 740 MB), and no arch or sweep file needs more than a few kilobytes
// or three levels ([axes] = {noc = {routing = [...]}}).
const (
	// MaxFileSize bounds a file's size in bytes.
	MaxFileSize = 1 << 20
	// MaxDepth bounds how deeply arrays and tables ([ and {) nest.
	MaxDepth = 32
)

// ReadFile reads path, but no more than MaxFileSize+1 bytes: enough for
// CheckLimits to refuse a larger file without reading all of it.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// CheckLimits scans a TOML document for its size and the deepest nesting
// of arrays and tables outside strings and comments, and returns an error
// (with the line where the limit is passed, 0 for the size) if either is
// above its limit. It reads each byte once and allocates nothing.
func CheckLimits(data []byte) (line int, err error) {
	if len(data) > MaxFileSize {
		return 0, fmt.Errorf("larger than %d bytes (%d KiB): not an nmsim TOML file", MaxFileSize, MaxFileSize>>10)
	}
	line, depth := 1, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			var nl int
			i, nl = skipString(data, i)
			line += nl
		case '[', '{':
			depth++
			if depth > MaxDepth {
				return line, fmt.Errorf("arrays and tables nested more than %d deep (nmsim files need 3 at most)", MaxDepth)
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return 0, nil
}

// skipString skips the string opening at data[i] (basic, literal, or either
// of them multi-line) and returns the index of its last byte and the
// newlines inside it. An unterminated string runs to the end of the line
// (or, multi-line, of the data); the decoder reports it.
func skipString(data []byte, i int) (end, newlines int) {
	q := data[i]
	multi := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	if multi {
		i += 2
	}
	for i++; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\\' && q == '"':
			if i+1 < len(data) && data[i+1] == '\n' {
				newlines++
			}
			i++
		case c == '\n':
			if !multi {
				return i - 1, newlines
			}
			newlines++
		case c == q && !multi:
			return i, newlines
		case c == q && i+2 < len(data) && data[i+1] == q && data[i+2] == q:
			// A multi-line string may end with up to two more quotes.
			i += 2
			for i+1 < len(data) && data[i+1] == q {
				i++
			}
			return i, newlines
		}
	}
	return len(data) - 1, newlines
}
