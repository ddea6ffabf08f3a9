package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMapJSON: nmsim map --json writes the netlist with the keys its help
// names, and every layer's homes hold all its neurons.
func TestMapJSON(t *testing.T) {
	dir := fixture(t)
	out := filepath.Join(dir, "map.json")
	stdout, _, err := runCLI("map", presetPath, filepath.Join(dir, "model.bin"), "--set", "tile.crossbars=2", "--json", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "partial-sum") || !strings.Contains(stdout, "scatter entries") {
		t.Errorf("the netlist table is missing:\n%s", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Layers []map[string]json.RawMessage `json:"layers"`
	}
	if err := json.Unmarshal(data, &sum); err != nil || len(sum.Layers) != 4 {
		t.Fatalf("%d layers, %v", len(sum.Layers), err)
	}
	crossing := 0
	for _, l := range sum.Layers {
		for _, k := range []string{"name", "op", "fan_in", "outputs", "positions", "weight_bits", "slices", "input_bits", "row_splits", "col_splits", "cells_used", "cells_total", "blocks", "homes", "partial_sums", "spike_flows", "spike_sets", "scatter_entries"} {
			if _, ok := l[k]; !ok {
				t.Errorf("layer lacks %q", k)
			}
		}
		var outputs, positions int
		var homes []struct{ Neurons int }
		var psums []any
		for k, v := range map[string]any{"outputs": &outputs, "positions": &positions, "homes": &homes, "partial_sums": &psums} {
			if err := json.Unmarshal(l[k], v); err != nil {
				t.Fatal(k, err)
			}
		}
		n := 0
		for _, h := range homes {
			n += h.Neurons
		}
		if n != outputs*positions {
			t.Errorf("homes hold %d neurons, want %d", n, outputs*positions)
		}
		crossing += len(psums)
	}
	if crossing == 0 {
		t.Error("no partial sums cross the network on 2-crossbar tiles")
	}
}
