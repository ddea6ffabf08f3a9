package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/nmsim/nmsim/internal/version"
)

// Provenance says how a report was made. With the report's own dataset,
// samples, timesteps and seed, a result file alone tells how to make it
// again. It holds no wall-clock values and only the paths as given, so it
// does not break byte-identical reports.
type Provenance struct {
	Nmsim string `json:"nmsim"` // nmsim's version
	// Commit is the git revision the binary was built from ("+dirty" for
	// uncommitted changes); absent when the build carries no VCS
	// information (go run, go test).
	Commit string  `json:"commit,omitempty"`
	Arch   FileRef `json:"arch"`
	// Set lists the --set overrides applied to the arch file, in order
	// (for a sweep point, its axis values).
	Set   []string `json:"set,omitempty"`
	Model FileRef  `json:"model"`
	// ModelDataset is the data set the model records it was trained on.
	ModelDataset string `json:"model_dataset,omitempty"`
	// DatasetMismatch is set when the model ran on another data set than
	// its own (allowed with --allow-dataset-mismatch): why that is suspect.
	DatasetMismatch string `json:"dataset_mismatch,omitempty"`
	// DataSHA256 is the hash of the samples run (shape, pixels, labels).
	DataSHA256 string `json:"data_sha256"`
}

// FileRef names a file by its path (as given) and the SHA-256 of its bytes.
type FileRef struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// NewProvenance describes a run of the model file on the arch file with
// the overrides sets; modelDataset is what the model was trained on.
func NewProvenance(archPath string, sets []string, modelPath, modelDataset string) (*Provenance, error) {
	p := &Provenance{Nmsim: version.Version, Commit: version.Commit(), Set: sets, ModelDataset: modelDataset}
	var err error
	if p.Arch, err = NewFileRef(archPath); err != nil {
		return nil, err
	}
	if p.Model, err = NewFileRef(modelPath); err != nil {
		return nil, err
	}
	return p, nil
}

// NewFileRef hashes the file at path.
func NewFileRef(path string) (FileRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileRef{}, fmt.Errorf("runner: provenance: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return FileRef{}, fmt.Errorf("runner: provenance: %s: %w", path, err)
	}
	return FileRef{Path: path, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
