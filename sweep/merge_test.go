package sweep

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies a sweep directory's two files.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ResultsFile, ManifestFile} {
		data, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func editResults(t *testing.T, dir string, edit func([]byte) []byte) {
	t.Helper()
	path := filepath.Join(dir, ResultsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, edit(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMergeErrors(t *testing.T) {
	data := dataDir(t)
	tmp := t.TempDir()
	m := writeModel(t, tmp, 1)
	pl := planFor(t, sweep24(m, 4), data)
	var s [4]string // s[1..3]: the shards
	for i := 1; i <= 3; i++ {
		s[i] = filepath.Join(tmp, fmt.Sprintf("s%d", i))
		runAll(t, pl, s[i], 2, Shard{Index: i, Count: 3})
	}
	lastLine := func(b []byte) int { return strings.LastIndex(strings.TrimSuffix(string(b), "\n"), "\n") + 1 }

	unfinished := filepath.Join(tmp, "unfinished")
	copyDir(t, s[2], unfinished)
	editResults(t, unfinished, func(b []byte) []byte { return b[:lastLine(b)] })

	dup := filepath.Join(tmp, "dup")
	copyDir(t, s[3], dup)
	first, _ := os.ReadFile(filepath.Join(s[1], ResultsFile))
	editResults(t, dup, func(b []byte) []byte { return append(b, first[:strings.IndexByte(string(first), '\n')+1]...) })

	torn := filepath.Join(tmp, "torn")
	copyDir(t, s[3], torn)
	editResults(t, torn, func(b []byte) []byte { return append(b, `{"key":"`...) })

	stale := filepath.Join(tmp, "stale")
	copyDir(t, s[1], stale)
	editResults(t, stale, func(b []byte) []byte { return append(b, `{"key":"0123","point":{}}`+"\n"...) })

	other := filepath.Join(tmp, "other")
	runAll(t, planFor(t, strings.Replace(sweep24(m, 4), "seeds = [1, 2]", "seeds = [1, 3]", 1), data), other, 2, Shard{Index: 1, Count: 3})

	cases := []struct {
		name string
		dirs []string
		want []string
	}{
		{"missing shard", []string{s[1], s[3]}, []string{
			"merge: 8 of 24 points missing, 0 duplicated; nothing written\nmissing:\n  crossbar.adc_bits=4 crossbar.rows=64 crossbar.rows_per_read=32 chip.mesh_width=1 chip.mesh_height=1 model=" + m + " timesteps=3 seed=2 (shard 2/3, not among the directories)",
		}},
		{"unfinished shard", []string{s[1], unfinished, s[3]}, []string{
			"1 of 24 points missing", "(shard 2/3, unfinished in " + unfinished + ")",
		}},
		{"duplicate", []string{s[1], s[2], dup}, []string{
			"0 of 24 points missing, 1 duplicated", "duplicated:\n  crossbar.adc_bits=4", ": " + filepath.Join(s[1], ResultsFile) + ":1, " + filepath.Join(dup, ResultsFile) + ":9",
		}},
		{"torn", []string{s[1], s[2], torn}, []string{torn + "/results.jsonl ends in a partial line"}},
		{"other sweep", []string{s[2], other}, []string{"hold different sweeps"}},
		{"same shard twice", []string{s[1], stale, s[2], s[3]}, []string{"both hold shard 1/3"}},
		{"not a sweep", []string{s[1], tmp}, []string{"is " + tmp + " a sweep directory?"}},
	}
	for _, c := range cases {
		out := filepath.Join(tmp, "out-"+strings.ReplaceAll(c.name, " ", "-"))
		_, err := Merge(c.dirs, out)
		if err == nil {
			t.Errorf("%s: merged", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", c.name, w, err)
			}
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%s: wrote %s despite the error", c.name, out)
		}
	}

	sum, err := Merge([]string{stale, s[2], s[3]}, filepath.Join(tmp, "ok"))
	if err != nil || sum.Points != 24 || sum.Stale != 1 {
		t.Errorf("merge with a stale line: %+v, %v", sum, err)
	}
	man, err := ReadManifest(filepath.Join(tmp, "ok"))
	if err != nil || man.Shard != "all" || len(man.Points) != 24 {
		t.Errorf("merged manifest: %+v, %v", man, err)
	}
}
