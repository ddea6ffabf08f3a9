package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoCRunJSON runs one short synthetic load and checks the keys the
// JSON promises and that every injected packet arrived.
func TestNoCRunJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "noc.json")
	stdout, _, err := runCLI("noc", "--size", "4x4", "--rate", "0.2", "--packet-flits", "2", "--warmup", "100", "--measure", "500", "--json", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "accepted throughput") || !strings.Contains(stdout, "4×4 mesh") {
		t.Fatalf("output:\n%s", stdout)
	}
	r := nocReadJSON(t, out)
	for _, key := range []string{"accepted_flits_per_node_cycle", "avg_packet_latency_cycles", "zero_load_latency_cycles", "packets_injected", "packets_delivered", "network"} {
		if _, ok := r[key]; !ok {
			t.Errorf("JSON lacks %s", key)
		}
	}
	if r["packets_injected"] != r["packets_delivered"] || r["packets_injected"].(float64) == 0 {
		t.Errorf("injected %v, delivered %v", r["packets_injected"], r["packets_delivered"])
	}
}

// TestNoCSweep sweeps a small mesh coarsely: the table, the saturation
// point, the plot files in a new --out directory and the JSON keys.
func TestNoCSweep(t *testing.T) {
	dir := t.TempDir()
	out, plots := filepath.Join(dir, "sweep.json"), filepath.Join(dir, "plots", "8x8")
	stdout, _, err := runCLI("noc", presetPath, "--pattern", "transpose", "--sweep", "--step", "0.1", "--refine", "2",
		"--warmup", "100", "--measure", "500", "--out", plots, "--json", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "saturation (mean latency = 3× zero-load) at") {
		t.Fatalf("output:\n%s", stdout)
	}
	for _, name := range []string{"latency.png", "latency.svg"} {
		if st, err := os.Stat(filepath.Join(plots, name)); err != nil || st.Size() == 0 {
			t.Fatalf("plot %s: %v", name, err)
		}
	}
	r := nocReadJSON(t, out)
	sat, ok := r["saturation_flits_per_node_cycle"].(float64)
	if !ok || sat <= 0 || sat > 1 {
		t.Fatalf("saturation %v", r["saturation_flits_per_node_cycle"])
	}
	if tab, ok := r["table"].([]any); !ok || len(tab) < 3 {
		t.Fatalf("table %v", r["table"])
	}
}

func TestNoCErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "8by8"}, "want WxH"},
		{[]string{"--size", "4x2", "--pattern", "transpose"}, "square"},
		{[]string{"--pattern", "tornado"}, "unknown traffic pattern"},
		{[]string{"--rate", "2"}, "must be in (0, 1]"},
		{[]string{"--topology", "torus", "--vcs", "1"}, "noc.vcs = 1: must be at least 2 on a torus"},
		{[]string{"--set", "noc.vc_dept=2"}, "noc.vc_depth"},
	} {
		_, _, err := runCLI(append([]string{"noc", "--measure", "10"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	_, help, err := runCLI("noc", "--help")
	if err == nil || !strings.Contains(help, "--sweep") || !strings.Contains(help, "Examples:") {
		t.Errorf("noc --help: %v\n%s", err, help)
	}
}

func nocReadJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
