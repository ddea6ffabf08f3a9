package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/expected"
)

// sweepData finds the MNIST test split for the sweep commands: the full
// set, else the slice committed in the repository.
func sweepData(t *testing.T) string {
	t.Helper()
	return datatest.Dir(t, "mnist", "test")
}

// writeSweep writes a 4-point sweep over the fixture's model.
func writeSweep(t *testing.T, dir, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "sweep.toml")
	mustWrite(t, path, []byte(fmt.Sprintf(`arch = %q
models = [%q]
dataset = "mnist"
samples = 6
seeds = [1]
timesteps = [2]
%s
[axes]
"crossbar.adc_bits" = [4, 6]
"crossbar.rows" = [64, 128]
`, presetPath, filepath.Join(dir, "model.bin"), extra)))
	return path
}

// runEnv runs the CLI with an environment of its own.
func runEnv(env map[string]string, args ...string) (stdout string, err error) {
	var o, e bytes.Buffer
	err = run(context.Background(), args, &Env{Stdout: &o, Stderr: &e, Getenv: func(k string) string { return env[k] }})
	return o.String(), err
}

func sortedFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// TestSweepMergeReport goes through the commands as a user would: a
// sweep, its resumption, the same sweep as Slurm and Kubernetes shards,
// their merge, and the report.
func TestSweepMergeReport(t *testing.T) {
	data := sweepData(t)
	dir := fixture(t)
	spec := writeSweep(t, dir, "")
	whole := filepath.Join(dir, "whole")
	contains := func(out string, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	out, err := runEnv(nil, "sweep", spec, "--data", data, "--out", whole, "--workers", "2")
	contains(out, err, "4 points", "0 points done before, 4 run now", filepath.Join(whole, "results.jsonl"))
	out, err = runEnv(nil, "sweep", spec, "--data", data, "--out", whole, "--dry-run")
	contains(out, err, "4 points\n")
	out, err = runEnv(nil, "sweep", spec, "--data", data, "--out", whole)
	contains(out, err, "4 points done before, 0 run now")

	// Shards from a Slurm array (--array=1-2) and a Kubernetes Indexed Job.
	slurm := func(id string) map[string]string {
		return map[string]string{"SLURM_ARRAY_TASK_ID": id, "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "1"}
	}
	out, err = runEnv(slurm("1"), "sweep", spec, "--data", data, "--out", filepath.Join(dir, "s1"))
	contains(out, err, "shard 1/2 (from SLURM_ARRAY_TASK_ID): 2 points")
	out, err = runEnv(map[string]string{"JOB_COMPLETION_INDEX": "1"}, "sweep", spec, "--data", data, "--out", filepath.Join(dir, "s2"), "--shards", "2")
	contains(out, err, "shard 2/2 (from JOB_COMPLETION_INDEX): 2 points")
	merged := filepath.Join(dir, "merged")
	out, err = runEnv(nil, "merge", "--out", merged, filepath.Join(dir, "s1"), filepath.Join(dir, "s2"))
	contains(out, err, "merged 4 points from 2 directories")
	if sortedFile(t, filepath.Join(merged, "results.jsonl")) != sortedFile(t, filepath.Join(whole, "results.jsonl")) {
		t.Error("merged shards differ from the whole sweep")
	}

	out, err = runEnv(nil, "report", merged, "--format", "csv")
	contains(out, err, "adc_bits,rows,accuracy (%),energy/inference (J)")
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("CSV has %d lines, want a header and 4 points:\n%s", n, out)
	}
	rep := filepath.Join(dir, "report")
	out, err = runEnv(nil, "report", merged, "-o", rep, "--plots", "svg")
	contains(out, err, "4 of 4 points ran; wrote", "table.tex", "pareto-energy-accuracy.svg", "accuracy-vs-adc_bits-by-rows.svg")
}

// TestSweepErrorMessages holds the errors of the sweep, merge and report
// commands to expected-output files in testdata/errors (go test -update rewrites
// them).
func TestSweepErrorMessages(t *testing.T) {
	data := sweepData(t)
	dir := fixture(t)
	spec := writeSweep(t, dir, "")
	mustWrite(t, filepath.Join(dir, "typo.toml"), []byte("arch = \"a.toml\"\nmodel = [\"m.bin\"]\ndataset = \"mnist\"\nsamples = 10\nseeds = [1]\n[axes]\ncrossbar.adc_bit = [4]\n"))
	badPoint := filepath.Join(dir, "bad", "sweep.toml")
	if err := os.MkdirAll(filepath.Dir(badPoint), 0o755); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, badPoint, bytes.Replace(text, []byte(`"crossbar.rows" = [64, 128]`), []byte(`"crossbar.rows" = [16, 128]`), 1))
	s1 := filepath.Join(dir, "s1")
	if _, err := runEnv(nil, "sweep", spec, "--data", data, "--out", s1, "--shard", "1/3"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"sweep-typo", nil, []string{"sweep", filepath.Join(dir, "typo.toml")}},
		{"sweep-bad-point", nil, []string{"sweep", badPoint, "--data", data}},
		{"sweep-bad-shard", nil, []string{"sweep", spec, "--shard", "4/3"}},
		{"sweep-k8s-no-count", map[string]string{"JOB_COMPLETION_INDEX": "2"}, []string{"sweep", spec}},
		{"merge-missing-shards", nil, []string{"merge", "--out", filepath.Join(dir, "m"), s1}},
		{"report-not-a-sweep", nil, []string{"report", dir}},
		{"report-bad-metric", nil, []string{"report", s1, "--pareto", "energy,watts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runEnv(tc.env, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.ReplaceAll(strings.ReplaceAll(err.Error(), dir, "$TMP"), data, "$DATA") + "\n"
			expected.Check(t, filepath.Join("testdata", "errors", tc.name+".expected"), got)
		})
	}
}
