package main

import (
	"path/filepath"
	"strings"

	"github.com/nmsim/nmsim/internal/version"
	"github.com/nmsim/nmsim/workloads/model"
)

// stampModel names m name, or when that is empty after the file it is
// written to (conv-small.bin holds model "conv-small"), and records in its
// provenance the nmsim that made it: "nmsim" (the version) and, when the
// binary knows it, "nmsim_commit".
func stampModel(m *model.Model, out, name string) {
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
	}
	m.Name = name
	if m.Provenance == nil {
		m.Provenance = map[string]string{}
	}
	m.Provenance["nmsim"] = version.Version
	if c := version.Commit(); c != "" {
		m.Provenance["nmsim_commit"] = c
	}
}
