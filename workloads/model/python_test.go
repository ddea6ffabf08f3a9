package model

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pythonDemo is the model that the Python example in docs/model-format.md
// writes.
func pythonDemo() *Model {
	return &Model{
		Name:  "py-demo",
		Input: Input{Shape: Shape{C: 1, H: 2, W: 2}, Coding: CodingConstant, Bits: 8},
		Layers: []Layer{
			{
				Name: "fc1", Op: OpDense, In: Shape{1, 2, 2}, Out: Shape{3, 1, 1}, WeightBits: 1,
				Weights: []int8{1, -1, 1, 1, -1, -1, 1, -1, 1, 1, 1, -1},
				Spiking: true, Reset: ResetSubtract, Threshold: []int64{300, 280, 310},
			},
			{
				Name: "fc2", Op: OpDense, In: Shape{3, 1, 1}, Out: Shape{2, 1, 1}, WeightBits: 8,
				Weights: []int8{12, -7, 3, -127, 0, 5},
			},
		},
		Classes:    2,
		Timesteps:  8,
		Provenance: map[string]string{"method": "hand-written in Python"},
	}
}

// TestPythonGolden decodes the file that the documented Python example
// wrote (kept in testdata so the check runs without Python).
func TestPythonGolden(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "python-demo.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, pythonDemo()) {
		t.Fatalf("got %+v", m)
	}
}

// TestPythonExample runs the Python block of docs/model-format.md, so the
// documentation cannot drift from the decoder.
func TestPythonExample(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "model-format.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```python\n")
	script, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no ```python block in docs/model-format.md")
	}
	dir := t.TempDir()
	cmd := exec.Command(python, "-")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, pythonDemo()) {
		t.Fatalf("got %+v", m)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "python-demo.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Error("the documented script's output differs from testdata/python-demo.bin; regenerate it")
	}
}
