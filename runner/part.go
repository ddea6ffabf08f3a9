package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/chip"
	"github.com/nmsim/nmsim/mapper"
	"github.com/nmsim/nmsim/workloads/model"
)

// PartFormat names the format of a part file; MergeParts reads no other.
const PartFormat = "nmsim run part 1"

// RunSpec is what makes a run the run it is: parts of one run have equal
// specs, and with the files its provenance names it is all a merge needs
// besides the parts' tallies.
type RunSpec struct {
	Model      string `json:"model"`
	Dataset    string `json:"dataset"`
	Samples    int    `json:"samples"`
	Timesteps  int    `json:"timesteps"`
	Seed       uint64 `json:"seed"`
	Instances  int    `json:"mc"`
	Golden     bool   `json:"golden"`
	AccuracyAt []int  `json:"accuracy_at,omitempty"`
	// FrameUS is --frame-us when given (0: the model's own).
	FrameUS int `json:"frame_us,omitempty"`
	// Exit is --early-exit's rule (zero: off).
	Exit       chip.EarlyExit `json:"exit,omitempty"`
	Provenance *Provenance    `json:"provenance"`
}

// Part is one machine's share of a run, as `nmsim run --shard i/n`
// writes it: the tallies of the instances it ran items of.
type Part struct {
	Format    string          `json:"format"` // PartFormat
	Shard     int             `json:"shard"`  // 1-based
	Shards    int             `json:"shards"`
	Run       RunSpec         `json:"run"`
	Instances []InstanceTally `json:"instances"`
}

// ReadPart reads the part file at path.
func ReadPart(path string) (*Part, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	var p Part
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(&p)
	if err == nil && p.Run.Provenance == nil {
		err = fmt.Errorf("no run provenance")
	}
	if err != nil || p.Format != PartFormat {
		what := fmt.Sprintf("format %q", p.Format)
		if err != nil {
			what = err.Error()
		}
		return nil, fmt.Errorf("runner: %s is not a part file of 'nmsim run --shard' (%s; want format %q)", path, what, PartFormat)
	}
	return &p, nil
}

// MergeParts checks that parts (read from the files names) are the n
// shards of one run, each once, and makes that run's report from them:
// byte for byte the report of the run made on one machine, because the
// tallies are integers and the report is made from their sums by the same
// code. load gives the arch (with the run's --set overrides) and the model
// that the run's provenance names, and the model's placement on the chip.
func MergeParts(parts []*Part, names []string, load func(*RunSpec) (*arch.Config, *model.Model, *mapper.Placement, error)) (*Result, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("runner: no parts to merge")
	}
	spec := &parts[0].Run
	n := parts[0].Shards
	from := make([]string, n) // the file of each shard
	for i, p := range parts {
		d, err := specDiff(spec, &p.Run)
		if err != nil {
			return nil, err
		}
		if d != "" {
			return nil, fmt.Errorf("runner: %s and %s are parts of different runs: %s", names[0], names[i], d)
		}
		if p.Shards != n || p.Shard < 1 || p.Shard > n {
			return nil, fmt.Errorf("runner: %s is shard %d/%d and %s shard %d/%d: a run split %d ways has shards 1/%d to %d/%d",
				names[0], parts[0].Shard, n, names[i], p.Shard, p.Shards, n, n, n, n)
		}
		if from[p.Shard-1] != "" {
			return nil, fmt.Errorf("runner: shard %d/%d is given twice: %s and %s", p.Shard, n, from[p.Shard-1], names[i])
		}
		from[p.Shard-1] = names[i]
	}
	var missing []string
	for k, f := range from {
		if f == "" {
			missing = append(missing, fmt.Sprintf("%d/%d", k+1, n))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("runner: the run of %s was split %d ways; shard %s is missing", names[0], n, strings.Join(missing, ", "))
	}
	if spec.Instances < 1 || spec.Samples < 1 {
		return nil, fmt.Errorf("runner: %s: a run of %d samples on %d instances", names[0], spec.Samples, spec.Instances)
	}
	tallies := 0
	for _, p := range parts {
		tallies += len(p.Instances)
	}
	if spec.Instances > tallies {
		// Every instance has samples, so some part holds its tally.
		return nil, fmt.Errorf("runner: the parts hold %d instance tallies for a run of %d instances", tallies, spec.Instances)
	}
	all := make([]InstanceTally, spec.Instances)
	for i := range all {
		all[i] = InstanceTally{Instance: i, Seed: InstanceSeed(spec.Seed, i), Tally: Tally{CorrectAt: make([]int, len(spec.AccuracyAt))}}
	}
	for i, p := range parts {
		for _, it := range p.Instances {
			if it.Instance < 0 || it.Instance >= spec.Instances || it.Seed != all[it.Instance].Seed {
				return nil, fmt.Errorf("runner: %s: instance %d with seed %d is not one of the run's %d (seeds from %d)", names[i], it.Instance, it.Seed, spec.Instances, spec.Seed)
			}
			all[it.Instance].Tally.Add(it.Tally)
		}
	}
	cfg, m, pl, err := load(spec)
	if err != nil {
		return nil, err
	}
	if m.Name != spec.Model {
		return nil, fmt.Errorf("runner: the model file %s holds %q, the parts ran %q", spec.Provenance.Model.Path, m.Name, spec.Model)
	}
	for _, it := range all {
		t := &it.Tally
		if t.Samples != spec.Samples || len(t.CorrectAt) != len(spec.AccuracyAt) || len(t.Layers) != len(pl.Layers) {
			return nil, fmt.Errorf("runner: the parts hold %d samples, %d accuracy-at counts and %d layers of instance %d; the run has %d, %d and %d",
				t.Samples, len(t.CorrectAt), len(t.Layers), it.Instance, spec.Samples, len(spec.AccuracyAt), len(pl.Layers))
		}
	}
	o := Options{Samples: spec.Samples, Timesteps: spec.Timesteps, Seed: spec.Seed, Golden: spec.Golden, AccuracyAt: spec.AccuracyAt, Exit: spec.Exit}
	r := summarise(cfg, m, pl, spec.Dataset, o, all)
	r.Provenance = spec.Provenance
	return r, nil
}

// specDiff names the first field in which runs a and b differ, "" if none.
func specDiff(a, b *RunSpec) (string, error) {
	var j [2]any
	for i, s := range []*RunSpec{a, b} {
		data, err := json.Marshal(s)
		if err == nil {
			err = json.Unmarshal(data, &j[i])
		}
		if err != nil {
			return "", fmt.Errorf("runner: run spec: %w", err)
		}
	}
	return firstDiff("", j[0], j[1]), nil
}

// firstDiff names the first key, in sorted order and depth first, at
// which JSON values a and b differ, with both values; "" if they are equal.
func firstDiff(path string, a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if d := firstDiff(strings.TrimPrefix(path+"."+k, "."), am[k], bm[k]); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(a, b) {
		return ""
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return fmt.Sprintf("%s %s against %s", path, ab, bb)
}
