package sweep

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The kill test re-runs this test binary as a sweep process; these
// variables tell it so and what to run.
const (
	envChildSpec = "NMSIM_SWEEP_TEST_SPEC"
	envChildData = "NMSIM_SWEEP_TEST_DATA"
	envChildOut  = "NMSIM_SWEEP_TEST_OUT"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envChildSpec); spec != "" {
		os.Exit(child(spec, os.Getenv(envChildData), os.Getenv(envChildOut)))
	}
	os.Exit(m.Run())
}

// child is the sweep process of the kill test: what `nmsim sweep` does.
func child(specPath, data, out string) int {
	spec, err := Load(specPath)
	if err == nil {
		var pl *Plan
		if pl, err = NewPlan(spec, data); err == nil {
			_, err = Run(context.Background(), pl, Options{Dir: out, Workers: 2})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestRunResumeAndWorkers(t *testing.T) {
	data := dataDir(t)
	tmp := t.TempDir()
	pl := planFor(t, sweep24(writeModel(t, tmp, 1), 12), data)
	one := filepath.Join(tmp, "one")
	sum := runAll(t, pl, one, 1, Shard{})
	if sum.Points != 24 || sum.Ran != 24 || sum.Resumed != 0 || sum.Unfit != 12 {
		t.Errorf("first run: %+v; want 24 points run, 12 of them unfit", sum)
	}
	// Every line parses back; unfit points say why and have no report.
	res, err := ReadResults(one)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if (r.Report == nil) == (r.Skipped == "") {
			t.Errorf("%v: report %v, skipped %q", r.Point, r.Report != nil, r.Skipped)
		}
		if r.Skipped != "" && !strings.Contains(r.Skipped, "needs") {
			t.Errorf("skip reason %q does not say what the model needs", r.Skipped)
		}
	}
	// A re-run does nothing.
	if sum := runAll(t, pl, one, 2, Shard{}); sum.Resumed != 24 || sum.Ran != 0 {
		t.Errorf("second run: %+v; want all 24 resumed", sum)
	}
	// Any worker count gives the same lines; with one worker they come in
	// point order, which is also merge's order.
	two := filepath.Join(tmp, "two")
	runAll(t, pl, two, 2, Shard{})
	equalLines(t, "workers 2 vs 1", sortedLines(t, two), sortedLines(t, one))
	// Three shards cover the sweep; merged, they equal the whole run.
	var shards []string
	for i := 1; i <= 3; i++ {
		d := filepath.Join(tmp, fmt.Sprintf("shard-%d", i))
		if sum := runAll(t, pl, d, 2, Shard{Index: i, Count: 3}); sum.Points != 8 {
			t.Errorf("shard %d/3 has %d points, want 8", i, sum.Points)
		}
		shards = append(shards, d)
	}
	merged := filepath.Join(tmp, "merged")
	if _, err := Merge(shards, merged); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(merged, ResultsFile))
	want, _ := os.ReadFile(filepath.Join(one, ResultsFile))
	if !bytes.Equal(got, want) {
		t.Errorf("merged shards differ from the one-worker run")
	}
}

// TestKillResume kills a real sweep process with SIGKILL at random moments
// and restarts it until it finishes: no finished point may be lost or run
// twice, and the results must equal an uninterrupted run's.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sweep processes")
	}
	data := dataDir(t)
	tmp := t.TempDir()
	specPath := filepath.Join(tmp, "sweep.toml")
	if err := os.WriteFile(specPath, []byte(sweep24(writeModel(t, tmp, 1), 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(out string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChildSpec+"="+specPath, envChildData+"="+data, envChildOut+"="+out)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	whole := filepath.Join(tmp, "whole")
	t0 := time.Now()
	if err := start(whole).Wait(); err != nil {
		t.Fatalf("uninterrupted sweep: %v", err)
	}
	full := time.Since(t0)

	killed := filepath.Join(tmp, "killed")
	rng := rand.New(rand.NewPCG(2026, 7))
	done, partial, kills := 0, 0, 0
	for ; partial < 5 && kills < 80; kills++ {
		if done == 24 {
			// Finished before enough kills landed mid-sweep (a loaded
			// machine shifts the timing): start over.
			if err := os.RemoveAll(killed); err != nil {
				t.Fatal(err)
			}
			done = 0
		}
		cmd := start(killed)
		// A moment within the time the remaining points should take, so
		// that kills keep landing mid-sweep as it nears the end.
		time.Sleep(time.Duration(rng.Int64N(int64(full)*int64(24-done)/24 + int64(full)/4)))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait() // killed, or finished before the signal
		n := len(completeKeys(t, killed))
		if n < done {
			t.Fatalf("after kill %d: %d points done, %d before: a finished point was lost", kills, n, done)
		}
		if n > 0 && n < 24 {
			partial++
		}
		done = n
	}
	if partial < 5 {
		t.Fatalf("only %d of %d kills landed mid-sweep (a whole sweep takes %v)", partial, kills, full)
	}
	if err := start(killed).Wait(); err != nil {
		t.Fatalf("final resume: %v", err)
	}
	equalLines(t, "killed and resumed vs uninterrupted", sortedLines(t, killed), sortedLines(t, whole))
	t.Logf("%d kills, %d of them mid-sweep; a whole sweep takes %v", kills, partial, full)
}

// completeKeys lists the keys of the complete lines of dir's results,
// failing on a duplicate.
func completeKeys(t *testing.T, dir string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	lines, _, err := splitLines("results", data)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, l := range lines {
		if keys[l.key] {
			t.Fatalf("point %s is on two lines", l.key)
		}
		keys[l.key] = true
	}
	return keys
}
