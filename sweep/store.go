package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/nmsim/nmsim/runner"
)

// Names of the files in a sweep directory.
const (
	ResultsFile  = "results.jsonl"
	ManifestFile = "manifest.json"
)

// Result is one line of results.jsonl: a finished point.
type Result struct {
	Key   string         `json:"key"`
	Point map[string]any `json:"point"`
	// Provenance is how the point was made: nmsim, the base arch file
	// and the point's overrides of it, the model file, the data.
	Provenance *runner.Provenance `json:"provenance,omitempty"`
	// Skipped says why the point did not run: the model could not be
	// mapped onto its chip. Such a point is done; it has no report.
	Skipped string `json:"skipped,omitempty"`
	// WallS is the point's wall-clock time in seconds, recorded only when
	// asked for, since it would make results differ between runs.
	WallS  float64        `json:"wall_s,omitempty"`
	Report *runner.Result `json:"report,omitempty"`
}

// store appends results to DIR/results.jsonl. Each result is one write(2)
// of a whole line on a file opened with O_APPEND, followed by fsync, so a
// line is on disk before the point counts as done, and a crash can at worst
// leave one partial last line, which openStore cuts off. A lock on the file
// keeps a second sweep process out of the same directory.
type store struct {
	mu   sync.Mutex
	f    *os.File
	done map[string]bool
}

// openStore opens (creating) dir's results file, drops a torn last line
// (returning its length) and reads the keys already done.
func openStore(dir string) (s *store, torn int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("sweep: %w", err)
	}
	path := filepath.Join(dir, ResultsFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("sweep: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := lockFile(f); err != nil {
		return nil, 0, fmt.Errorf("sweep: %s is in use by another sweep (%v); give each shard its own --out directory", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("sweep: read %s: %w", path, err)
	}
	lines, tail, err := splitLines(path, data)
	if err != nil {
		return nil, 0, err
	}
	if len(tail) > 0 {
		// A write interrupted by SIGKILL or a crash; the point it held was
		// not counted as done and runs again.
		if err := f.Truncate(int64(len(data) - len(tail))); err != nil {
			return nil, 0, fmt.Errorf("sweep: cut the torn last line of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, 0, fmt.Errorf("sweep: %s: %w", path, err)
		}
	}
	s = &store{f: f, done: make(map[string]bool, len(lines))}
	for _, l := range lines {
		if s.done[l.key] {
			return nil, 0, fmt.Errorf("sweep: %s:%d: point %s is already on an earlier line (was the file edited or concatenated? combine sweep directories with nmsim merge)", path, l.line, l.key)
		}
		s.done[l.key] = true
	}
	return s, len(tail), nil
}

// append writes r as one line and syncs it.
func (s *store) append(r *Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sweep: encode result %s: %w", r.Key, err)
	}
	data = append(data, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(data); err != nil {
		return fmt.Errorf("sweep: append to %s: %w", s.f.Name(), err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sweep: sync %s: %w", s.f.Name(), err)
	}
	s.done[r.Key] = true
	return nil
}

func (s *store) close() error { return s.f.Close() }

// rawLine is one complete line of a results file.
type rawLine struct {
	key  string
	data []byte // without the newline
	line int    // 1-based
}

// splitLines splits a results file into its complete lines, each checked to
// be a JSON object with a key, and the bytes after the last newline (a line
// torn by a crash).
func splitLines(path string, data []byte) (lines []rawLine, tail []byte, err error) {
	end := bytes.LastIndexByte(data, '\n') + 1
	tail = data[end:]
	body := data[:end]
	for n := 1; len(body) > 0; n++ {
		i := bytes.IndexByte(body, '\n')
		l := body[:i]
		body = body[i+1:]
		var head struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(l, &head); err != nil || head.Key == "" {
			if err == nil {
				err = errors.New("no key")
			}
			return nil, nil, fmt.Errorf("sweep: %s:%d: not a result line (%v); this file was not written by nmsim sweep, or was edited", path, n, err)
		}
		lines = append(lines, rawLine{key: head.Key, data: l, line: n})
	}
	return lines, tail, nil
}

// ReadResults reads a sweep directory's results in file order. A torn last
// line (a sweep that was killed) is ignored; the sweep cuts it when it
// resumes.
func ReadResults(dir string) ([]Result, error) {
	path := filepath.Join(dir, ResultsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	lines, _, err := splitLines(path, data)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(lines))
	for i, l := range lines {
		d := json.NewDecoder(bytes.NewReader(l.data))
		// Numbers stay json.Number so that 64-bit seeds survive.
		d.UseNumber()
		if err := d.Decode(&out[i]); err != nil {
			return nil, fmt.Errorf("sweep: %s:%d: %w", path, l.line, err)
		}
	}
	return out, nil
}
