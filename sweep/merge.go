package sweep

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nmsim/nmsim/internal/atomicfile"
)

// MergeSummary is what Merge found.
type MergeSummary struct {
	Points int // in the sweep, each found exactly once
	Stale  int // lines of points not in the sweep (from an earlier sweep file), left out
}

// maxListed bounds how many missing or duplicated points an error names.
const maxListed = 20

// Merge combines the results of sweep directories (typically one per
// shard) into out: it checks that every directory belongs to the same
// sweep, that every point of the sweep is in exactly one of them, and
// writes out/results.jsonl, its lines copied byte for byte in point order,
// with a manifest for the whole sweep. Lines of points that are not in the
// sweep are left out and counted. On a missing or duplicated point nothing
// is written and the error names the points.
func Merge(dirs []string, out string) (*MergeSummary, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("merge: no directories")
	}
	var man *Manifest
	shards := map[string]string{} // shard → dir
	for _, dir := range dirs {
		m, err := ReadManifest(dir)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		if man == nil {
			man = m
		} else if !sameSweep(man, m) {
			return nil, fmt.Errorf("merge: %s and %s hold different sweeps (their manifests list different points or nmsim versions)", dirs[0], dir)
		}
		if prev, ok := shards[m.Shard]; ok {
			return nil, fmt.Errorf("merge: %s and %s both hold shard %s", prev, dir, m.Shard)
		}
		shards[m.Shard] = dir
	}
	index := make(map[string]int, len(man.Points))
	for i, p := range man.Points {
		index[p.Key] = i
	}
	found := make([][]string, len(man.Points)) // per point: where
	lines := make([][]byte, len(man.Points))
	sum := &MergeSummary{Points: len(man.Points)}
	for _, dir := range dirs {
		path := filepath.Join(dir, ResultsFile)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		ls, tail, err := splitLines(path, data)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		if len(tail) > 0 {
			return nil, fmt.Errorf("merge: %s ends in a partial line: that sweep was killed while writing; run it again to finish the shard", path)
		}
		for _, l := range ls {
			i, ok := index[l.key]
			if !ok {
				sum.Stale++
				continue
			}
			found[i] = append(found[i], path+":"+strconv.Itoa(l.line))
			lines[i] = l.data
		}
	}
	var missing, dups []string
	for i, where := range found {
		p := man.Points[i]
		switch {
		case len(where) == 0:
			missing = append(missing, "  "+man.Label(p.Point)+expectedIn(i, shards))
		case len(where) > 1:
			dups = append(dups, "  "+man.Label(p.Point)+": "+strings.Join(where, ", "))
		}
	}
	if len(missing)+len(dups) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "merge: %d of %d points missing, %d duplicated; nothing written", len(missing), len(man.Points), len(dups))
		list(&b, "missing", missing)
		list(&b, "duplicated", dups)
		return nil, fmt.Errorf("%s", b.String())
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	whole := *man
	whole.Shard = Shard{}.String()
	if err := writeManifest(out, &whole); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(filepath.Join(out, ResultsFile), buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	return sum, nil
}

func list(b *strings.Builder, what string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s:\n%s", what, strings.Join(items[:min(len(items), maxListed)], "\n"))
	if len(items) > maxListed {
		fmt.Fprintf(b, "\n  … and %d more", len(items)-maxListed)
	}
}

// expectedIn says which shard should have held point i, when the merged
// directories are shards of one count.
func expectedIn(i int, shards map[string]string) string {
	for s := range shards {
		sh, err := ParseShard(s)
		if err != nil {
			continue
		}
		want := Shard{Index: i%sh.Count + 1, Count: sh.Count}
		if dir, ok := shards[want.String()]; ok {
			return fmt.Sprintf(" (shard %s, unfinished in %s)", want, dir)
		}
		return fmt.Sprintf(" (shard %s, not among the directories)", want)
	}
	return ""
}

func sameSweep(a, b *Manifest) bool {
	return a.Version == b.Version && slices.EqualFunc(a.Points, b.Points, func(x, y ManifestPoint) bool { return x.Key == y.Key })
}
