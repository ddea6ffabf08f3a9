package runner

import (
	"strings"
	"testing"

	"github.com/nmsim/nmsim/workloads/model"
)

func TestCheckDataset(t *testing.T) {
	m := &model.Model{Name: "f", Provenance: map[string]string{"dataset": "fashion-mnist"}}
	if w, err := CheckDataset(m, "fashion-mnist", false); w != "" || err != nil {
		t.Errorf("own data set: %q, %v", w, err)
	}
	if _, err := CheckDataset(m, "mnist", false); err == nil || !strings.Contains(err.Error(), "trained on fashion-mnist, not mnist") {
		t.Errorf("another data set: %v, want a refusal", err)
	}
	if w, err := CheckDataset(m, "mnist", true); err != nil || !strings.Contains(w, "trained on fashion-mnist, not mnist") {
		t.Errorf("another data set, allowed: %q, %v, want a warning", w, err)
	}
	if w, err := CheckDataset(&model.Model{}, "mnist", false); w != "" || err != nil {
		t.Errorf("a model that records no data set: %q, %v", w, err)
	}
	if got := DatasetFor(m, ""); got != "fashion-mnist" {
		t.Errorf("default data set %q, want the model's own", got)
	}
}

// TestLoadTestSetSamples: asking for more samples than the split holds is
// an error that says what there is and where to get more; fewer slices.
func TestLoadTestSetSamples(t *testing.T) {
	m := &model.Model{Input: model.Input{Shape: model.Shape{C: 1, H: 28, W: 28}, Coding: model.CodingConstant, Bits: 8}}
	// ../data holds the committed 1000-image MNIST slice.
	_, err := LoadTestSet("mnist", "../data", 10000, 8, m)
	if err == nil || !strings.Contains(err.Error(), "10000 samples asked for, but the mnist test split has only 1000") || !strings.Contains(err.Error(), "data/README.md") {
		t.Fatalf("got %v, want the shortfall named", err)
	}
	set, err := LoadTestSet("mnist", "../data", 10, 8, m)
	if err != nil || set.Len() != 10 {
		t.Fatalf("10 samples: %v", err)
	}
}
