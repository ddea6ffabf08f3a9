package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunShardsMergeToTheRun: a run split into three shards (given to
// merge out of order) merges to the JSON of the unsplit run, byte for
// byte: with golden checking, Monte-Carlo instances under variation,
// accuracy-at, a first-spike model under read noise, early exit, and a
// shard with nothing to run.
func TestRunShardsMergeToTheRun(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
	}{
		{"golden, a shard empty", []string{"../../models/mnist-convert.bin", "--samples", "2", "--golden"}},
		{"mc", []string{"../../models/mnist-convert.bin", "--samples", "7", "--mc", "3", "--golden", "--accuracy-at", "2,4",
			"--set", "device.variation_sigma=0.2"}},
		{"first spike, read noise", []string{"../../models/mnist-ttfs.bin", "--samples", "5", "--mc", "2", "--set", "device.read_noise_sigma=0.02"}},
		{"early exit", []string{"../../models/mnist-convert.bin", "--samples", "6", "--early-exit"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", presetPath}, c.args...)
			args = append(args, "--data", "../../data", "--timesteps", "6", "--workers", "2")
			whole := filepath.Join(dir, "whole.json")
			if _, _, err := runCLI(append(args, "--json", whole)...); err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, s := range []string{"3/3", "1/3", "2/3"} {
				p := filepath.Join(dir, "part-"+s[:1]+".json")
				if _, _, err := runCLI(append(args, "--shard", s, "--json", p, "--workers", "1")...); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, p)
			}
			merged := filepath.Join(dir, "merged.json")
			stdout, _, err := runCLI(append([]string{"merge", "--runs", "--json", merged}, parts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "from 3 parts") {
				t.Errorf("merge printed %q", stdout)
			}
			a, b := mustRead(t, whole), mustRead(t, merged)
			if !bytes.Equal(a, b) {
				t.Fatalf("merged JSON (%d bytes) differs from the unsharded run's (%d bytes)", len(b), len(a))
			}
			if r := readReport(t, merged); r.Golden != nil && r.Spikes.Total == 0 {
				t.Fatal("no spikes: the comparison is empty")
			}
		})
	}
}

// TestRunShardMistakes: a bad --shard is a usage error; merge refuses
// parts of different runs, a missing or repeated shard, a part claiming
// more instances than the parts hold, and an arch file changed since the
// run.
func TestRunShardMistakes(t *testing.T) {
	dir := fixture(t)
	arch := filepath.Join(dir, "arch.toml")
	mustWrite(t, arch, mustRead(t, presetPath))
	args := []string{"run", arch, filepath.Join(dir, "model.bin"), "--data", "../../data", "--samples", "3", "--timesteps", "2"}
	for shard, want := range map[string]string{
		"0/3": `--shard "0/3": want i/n with 1 ≤ i ≤ n`,
		"4/3": `--shard "4/3": want i/n with 1 ≤ i ≤ n`,
		"a/b": `--shard "a/b": want i/n with 1 ≤ i ≤ n`,
	} {
		if _, _, err := runCLI(append(args, "--shard", shard, "--json", filepath.Join(dir, "x.json"))...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--shard %s: got %v, want %q", shard, err, want)
		}
	}
	if _, _, err := runCLI(append(args, "--shard", "1/2")...); err == nil || !strings.Contains(err.Error(), "--shard 1/2 needs --json FILE") {
		t.Errorf("--shard without --json: got %v", err)
	}
	part := func(name string, extra ...string) string {
		p := filepath.Join(dir, name)
		if _, _, err := runCLI(append(append(args, extra...), "--json", p)...); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2 := part("p1.json", "--shard", "1/2"), part("p2.json", "--shard", "2/2")
	seed2 := part("seed2.json", "--shard", "2/2", "--seed", "2")
	other := part("other.json", "--shard", "2/3")
	whole := part("whole.json")
	for _, c := range []struct {
		parts []string
		want  string
	}{
		{[]string{p1}, "split 2 ways; shard 2/2 is missing"},
		{[]string{p1, p2, p2}, "shard 2/2 is given twice: " + p2 + " and " + p2},
		{[]string{p1, seed2}, "are parts of different runs: seed 1 against 2"},
		{[]string{p1, other}, "shard 1/2 and " + other + " shard 2/3"},
		{[]string{p1, whole}, whole + " is not a part file of 'nmsim run --shard'"},
	} {
		if _, _, err := runCLI(append([]string{"merge", "--runs"}, c.parts...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge %v: got %v, want %q", c.parts, err, c.want)
		}
	}
	// A part file edited to claim a billion instances is refused before
	// anything is sized by the claim.
	var huge []string
	for _, p := range []string{p1, p2} {
		h := p + ".huge.json"
		mustWrite(t, h, bytes.Replace(mustRead(t, p), []byte(`"mc": 1,`), []byte(`"mc": 1000000000,`), 1))
		huge = append(huge, h)
	}
	if _, _, err := runCLI(append([]string{"merge", "--runs"}, huge...)...); err == nil || !strings.Contains(err.Error(), "the parts hold 2 instance tallies for a run of 1000000000 instances") {
		t.Errorf("merge of parts claiming 10⁹ instances: got %v", err)
	}
	mustWrite(t, arch, append(mustRead(t, presetPath), "\n# changed\n"...))
	if _, _, err := runCLI("merge", "--runs", p1, p2); err == nil || !strings.Contains(err.Error(), arch+" has changed since the run") {
		t.Errorf("merge after the arch file changed: got %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
