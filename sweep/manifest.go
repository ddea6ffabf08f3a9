package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nmsim/nmsim/internal/atomicfile"
	"github.com/nmsim/nmsim/internal/version"
)

// Manifest lists every point of a sweep, in order, whichever shard a
// directory holds, so that merge can tell a missing point from one that was
// never part of the sweep, and reports can order points and columns. It
// holds no time stamps: shards of one sweep write identical manifests apart
// from Shard.
type Manifest struct {
	Version string          `json:"nmsim_version"`
	Sweep   string          `json:"sweep"` // the sweep file, as given
	Dataset string          `json:"dataset"`
	Samples int             `json:"samples"`
	Shard   string          `json:"shard"` // "2/3", or "all"
	Axes    []string        `json:"axes"`  // swept arch keys, in axis order
	Zip     [][]string      `json:"zip,omitempty"`
	Points  []ManifestPoint `json:"points"`
}

// ManifestPoint is one point of a manifest.
type ManifestPoint struct {
	Key   string         `json:"key"`
	Point map[string]any `json:"point"`
}

// Manifest describes the plan as run by shard.
func (pl *Plan) Manifest(shard Shard) *Manifest {
	m := &Manifest{Version: version.Version, Sweep: pl.Spec.File, Dataset: pl.Spec.Dataset, Samples: pl.sets[0].Len(), Shard: shard.String()}
	for _, a := range pl.Spec.Axes {
		m.Axes = append(m.Axes, a.Key)
	}
	m.Zip = pl.Spec.Zip
	for i := range pl.Points {
		p := &pl.Points[i]
		m.Points = append(m.Points, ManifestPoint{Key: p.Key, Point: p.valueMap()})
	}
	return m
}

func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: encode manifest: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o644)
}

// ReadManifest reads DIR/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w (is %s a sweep directory?)", err, dir)
	}
	defer f.Close()
	d := json.NewDecoder(f)
	d.UseNumber()
	var m Manifest
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", path, err)
	}
	return &m, nil
}

// Label names a manifest point for people, axes first.
func (m *Manifest) Label(p map[string]any) string {
	var parts []string
	for _, k := range append(append([]string(nil), m.Axes...), "model", "timesteps", "seed") {
		if v, ok := p[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}
