package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunEarlyExit runs the shipped converted MNIST model with and without
// --early-exit: the early exit decides sooner, in fewer cycles, with the
// chip still spike-exact to the reference SNN over the steps it ran, and
// fills decision.mean_timesteps with its rule. It refuses first-spike
// models and a zero --exit-steps.
func TestRunEarlyExit(t *testing.T) {
	dir := t.TempDir()
	model := "../../models/mnist-convert.bin"
	type report struct {
		Cycles struct {
			PerInference float64 `json:"per_inference"`
		} `json:"cycles"`
		Golden   struct{ Mismatches int64 } `json:"golden"`
		Decision *struct {
			MeanTimesteps float64 `json:"mean_timesteps"`
			ExitMargin    float64 `json:"exit_margin"`
			ExitSteps     int     `json:"exit_steps"`
		} `json:"decision"`
	}
	var reps [2]report
	for i, extra := range [][]string{nil, {"--early-exit"}} {
		out := filepath.Join(dir, "r.json")
		args := append([]string{"run", presetPath, model, "--samples", "10", "--golden", "--workers", "2", "--json", out}, extra...)
		stdout, _, err := runCLI(args...)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &reps[i]); err != nil {
			t.Fatal(err)
		}
		if i == 1 && !strings.Contains(stdout, "early exit: a lead of") {
			t.Errorf("the table does not show the early exit:\n%s", stdout)
		}
	}
	full, exit := reps[0], reps[1]
	if full.Decision != nil {
		t.Error("a run without --early-exit reports a decision")
	}
	switch d := exit.Decision; {
	case d == nil:
		t.Fatal("no decision in the JSON")
	case d.MeanTimesteps <= 0 || d.MeanTimesteps >= 16 || d.ExitSteps != defaultExit.Steps || d.ExitMargin != defaultExit.Margin:
		t.Errorf("decision %+v: want a mean below the 16 timesteps and the default rule %+v", *d, defaultExit)
	}
	if exit.Cycles.PerInference >= full.Cycles.PerInference || exit.Golden.Mismatches != 0 {
		t.Errorf("early exit: %.0f cycles per inference (full run %.0f), %d golden mismatches", exit.Cycles.PerInference, full.Cycles.PerInference, exit.Golden.Mismatches)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"run", presetPath, "../../models/mnist-ttfs.bin", "--samples", "1", "--early-exit"}, "--early-exit is for rate-coded models"},
		{[]string{"run", presetPath, model, "--samples", "1", "--early-exit", "--exit-steps", "0"}, "--exit-steps"},
	} {
		if _, _, err := runCLI(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}
