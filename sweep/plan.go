package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/version"
	"github.com/nmsim/nmsim/runner"
	"github.com/nmsim/nmsim/workloads/dataset"
	"github.com/nmsim/nmsim/workloads/model"
)

// MaxPoints bounds a sweep's expansion; every point holds its config in
// memory, and a sweep that large is better split into several files.
const MaxPoints = 1_000_000

// Plan is a sweep ready to run: its points expanded, validated and keyed,
// its models and data loaded.
type Plan struct {
	Spec *Spec
	// Points in expansion order: models, then the axes (the first axis
	// varying slowest, a zip group as one axis), then timesteps, then seeds.
	Points []Point
	// Excluded counts the arch combinations that a constraint left out.
	Excluded int
	models   []*model.Model
	// sets holds each model's data slice: the same set for models that
	// read it the same way (frame-coded models of event data each get
	// their own frames).
	sets []*dataset.Set
	// prov is each model's provenance, less the point's overrides.
	prov []runner.Provenance
}

// Point is one design point: an arch config, a model, a seed.
type Point struct {
	Index int    // position in expansion order
	Key   string // content hash of everything the result depends on
	// Values are the swept arch keys in axis order, then "model" (the path
	// as the sweep file gives it), "timesteps" and "seed".
	Values    []Value
	Config    *arch.Config
	Model     int // index into Spec.Models
	Timesteps int
	Seed      uint64
}

// Value is one named coordinate of a point.
type Value struct {
	Key string
	V   any // int64, float64, string, bool or uint64 (seed)
}

// Label names a point for people: "crossbar.adc_bits=3 … seed=1".
func (p *Point) Label() string { return label(p.Values) }

func label(vals []Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		s := tomlText(v.V)
		if str, ok := v.V.(string); ok {
			s = str
		}
		parts[i] = v.Key + "=" + s
	}
	return strings.Join(parts, " ")
}

// overrides are the point's swept arch keys as key=value, the form of
// --set: what it changes in the base arch file.
func (p *Point) overrides() []string {
	var out []string
	for _, v := range p.Values[:len(p.Values)-3] { // less model, timesteps, seed
		out = append(out, v.Key+"="+tomlText(v.V))
	}
	return out
}

// valueMap is the JSON form of a point's values.
func (p *Point) valueMap() map[string]any {
	m := make(map[string]any, len(p.Values))
	for _, v := range p.Values {
		m[v.Key] = v.V
	}
	return m
}

// NewPlan loads the base arch, the models and the data set (from dataDir)
// that spec names, expands every point and validates each point's config.
// A point whose config is invalid fails the whole plan, named with its
// values, before anything runs.
func NewPlan(spec *Spec, dataDir string) (*Plan, error) {
	base, err := arch.Load(spec.Arch)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: base arch:\n%w", spec.File, err)
	}
	archRef, err := runner.NewFileRef(spec.Arch)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", spec.File, err)
	}
	pl := &Plan{Spec: spec}
	modelSums := make([]string, len(spec.Models))
	dataSums := make([]string, len(spec.Models))
	loaded := map[string]int{} // how a set is read → the first model that read it
	for i, path := range spec.Models {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("sweep %s: %w", spec.File, err)
		}
		m, err := model.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("sweep %s: %s: %w", spec.File, path, err)
		}
		if _, err := runner.CheckDataset(m, spec.Dataset, false); err != nil {
			return nil, fmt.Errorf("sweep %s: %s: %w", spec.File, path, err)
		}
		// Event frames are binned for the model's frame length, clip
		// count and longest run, a file is checked against the model's
		// input; images are read the same by all.
		maxT := m.Timesteps
		if len(spec.Timesteps) > 0 {
			maxT = slices.Max(spec.Timesteps)
		}
		how := ""
		if m.Input.Coding == model.CodingFrames || strings.HasPrefix(spec.Dataset, runner.FilePrefix) {
			how = fmt.Sprint(m.Input, maxT)
		}
		if j, ok := loaded[how]; ok {
			pl.sets, dataSums[i] = append(pl.sets, pl.sets[j]), dataSums[j]
		} else {
			loaded[how] = i
			set, err := runner.LoadTestSet(spec.Dataset, dataDir, spec.Samples, maxT, m)
			if err != nil {
				return nil, fmt.Errorf("sweep %s: %s: %w (data directory %q)", spec.File, path, err, dataDir)
			}
			pl.sets, dataSums[i] = append(pl.sets, set), set.SHA256()
		}
		if err := runner.CheckData(pl.sets[i], m); err != nil {
			return nil, fmt.Errorf("sweep %s: %s: %w", spec.File, path, err)
		}
		sum := sha256.Sum256(data)
		modelSums[i] = hex.EncodeToString(sum[:])
		pl.models = append(pl.models, m)
		pl.prov = append(pl.prov, runner.Provenance{
			Nmsim: version.Version, Commit: version.Commit(), Arch: archRef,
			Model: runner.FileRef{Path: path, SHA256: modelSums[i]}, ModelDataset: m.Provenance["dataset"], DataSHA256: dataSums[i],
		})
	}
	combos, err := pl.combos(base)
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for mi, path := range spec.Models {
		steps := spec.Timesteps
		if len(steps) == 0 {
			steps = []int{pl.models[mi].Timesteps}
		}
		for _, c := range combos {
			for _, T := range steps {
				for _, seed := range spec.Seeds {
					p := Point{Index: len(pl.Points), Config: c.cfg, Model: mi, Timesteps: T, Seed: seed}
					p.Values = append(append(p.Values, c.values...),
						Value{"model", path}, Value{"timesteps", int64(T)}, Value{"seed", seed})
					p.Key = pointKey(keyInput{
						archTOML: c.toml, modelSHA256: modelSums[mi], dataset: spec.Dataset,
						samples: pl.sets[mi].Len(), dataSHA256: dataSums[mi], seed: seed, timesteps: T, golden: spec.Golden,
					})
					if j, dup := seen[p.Key]; dup {
						return nil, fmt.Errorf("sweep %s: points %s and %s are the same simulation (equal configs, model, data and seed)",
							spec.File, pl.Points[j].Label(), p.Label())
					}
					seen[p.Key] = p.Index
					pl.Points = append(pl.Points, p)
				}
			}
		}
	}
	return pl, nil
}

// combo is one combination of axis values applied to the base config.
type combo struct {
	values []Value
	cfg    *arch.Config
	toml   []byte
}

// combos expands the axes: the full product, with each zip group varying as
// one axis, without the combinations a constraint rules out. Every
// remaining config is validated; all bad ones are reported (up to a few).
func (pl *Plan) combos(base *arch.Config) ([]combo, error) {
	spec := pl.Spec
	// dims are the independent axes: a zip group is one dim, at the
	// position of its first member.
	var dims [][]Axis
	inDim := map[string]bool{}
	for _, a := range spec.Axes {
		if inDim[a.Key] {
			continue
		}
		dim := []Axis{a}
		for _, g := range spec.Zip {
			if g[0] == a.Key {
				dim = dim[:0]
				for _, k := range g {
					for _, b := range spec.Axes {
						if b.Key == k {
							dim = append(dim, b)
						}
					}
				}
			}
		}
		for _, b := range dim {
			inDim[b.Key] = true
		}
		dims = append(dims, dim)
	}
	total := 1
	for _, d := range dims {
		total *= len(d[0].Values)
		if total*len(spec.Models)*len(spec.Seeds)*max(1, len(spec.Timesteps)) > MaxPoints {
			return nil, fmt.Errorf("sweep %s: more than %d points; split the sweep or narrow its axes", spec.File, MaxPoints)
		}
	}
	var out []combo
	var bad []string
	nBad := 0
	idx := make([]int, len(dims))
	for n := 0; n < total; n++ {
		// idx counts in mixed radix, the last dim fastest.
		rem := n
		for d := len(dims) - 1; d >= 0; d-- {
			idx[d] = rem % len(dims[d][0].Values)
			rem /= len(dims[d][0].Values)
		}
		cfg := *base
		var vals []Value
		for d, dim := range dims {
			for _, a := range dim {
				v := a.Values[idx[d]]
				if err := cfg.Set(a.Key, tomlText(v)); err != nil {
					return nil, fmt.Errorf("sweep %s: %w", spec.File, err)
				}
				vals = append(vals, Value{a.Key, v})
			}
		}
		keep := true
		for _, c := range spec.Constraints {
			ok, err := c.Eval(&cfg)
			if err != nil {
				return nil, fmt.Errorf("sweep %s:%d: constraint %q at %s: %w", spec.File, c.line, c.Text, label(vals), err)
			}
			keep = keep && ok
		}
		if !keep {
			pl.Excluded++
			continue
		}
		if err := cfg.Validate(); err != nil {
			nBad++
			if len(bad) < 10 {
				bad = append(bad, fmt.Sprintf("  point %s:\n    %s", label(vals), strings.ReplaceAll(err.Error(), "\n", "\n    ")))
			}
			continue
		}
		var buf bytes.Buffer
		if err := cfg.Encode(&buf); err != nil {
			return nil, fmt.Errorf("sweep %s: %w", spec.File, err)
		}
		out = append(out, combo{values: vals, cfg: &cfg, toml: buf.Bytes()})
	}
	if nBad > 0 {
		more := ""
		if nBad > len(bad) {
			more = fmt.Sprintf("\n  … and %d more", nBad-len(bad))
		}
		return nil, fmt.Errorf("sweep %s: %d of %d points have an invalid arch config (fix the axes, or add a constraint to leave them out):\n%s%s",
			spec.File, nBad, total, strings.Join(bad, "\n"), more)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sweep %s: the constraints leave no point", spec.File)
	}
	return out, nil
}

// keyInput is everything a point's result depends on.
type keyInput struct {
	archTOML    []byte // the full config, encoded (every key, schema order)
	modelSHA256 string // of the model file's bytes
	dataset     string
	samples     int
	dataSHA256  string // of the samples' images and labels
	seed        uint64
	timesteps   int
	golden      bool
}

// pointKey is the hex SHA-256 (first 128 bits) of a canonical text of in
// and the nmsim version. The config is hashed as encoded TOML, not as the
// axis values, so the same design reached by different sweeps (or a changed
// base file) is recognised, and a changed default is not.
func pointKey(in keyInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "nmsim %s\nmodel sha256:%s\ndata %s %d sha256:%s\nseed %d\ntimesteps %d\ngolden %t\narch\n",
		version.Version, in.modelSHA256, in.dataset, in.samples, in.dataSHA256, in.seed, in.timesteps, in.golden)
	h.Write(in.archTOML)
	return hex.EncodeToString(h.Sum(nil)[:16])
}
