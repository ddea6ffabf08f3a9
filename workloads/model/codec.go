package model

// model.bin is a safetensors container (so numpy, PyTorch and the safetensors
// tools can read and write it) whose __metadata__ carries the graph and a
// checksum. docs/model-format.md is the normative description; the comments
// here say why the code is shaped the way it is. This file reads and writes
// whole files; safetensors.go is the container, graph.go the graph schema
// and the layers' tensors.

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/nmsim/nmsim/internal/atomicfile"
)

// Encode writes m as model.bin. The output is a deterministic function of
// m: the same model always gives the same bytes.
func Encode(w io.Writer, m *Model) error {
	b, err := encode(m)
	if err != nil {
		return fmt.Errorf("model: encode: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("model: encode: %w", err)
	}
	return nil
}

func encode(m *Model) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var tensors []*tensor
	for i := range m.Layers {
		tensors = append(tensors, layerTensors(&m.Layers[i])...)
	}
	graph, err := marshalJSON(toGraph(m))
	if err != nil {
		return nil, err
	}
	return writeContainer(string(graph), tensors)
}

// Decode parses and validates a model.bin held in memory. Empty
// Provenance, Threshold, Bias and Scale come back as nil, whatever the
// encoded model held.
func Decode(data []byte) (*Model, error) {
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

// Read reads a model.bin of at most MaxFileSize bytes from r.
func Read(r io.Reader) (*Model, error) {
	data, err := readCapped(r)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return Decode(data)
}

func readCapped(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	return data, nil
}

// Load reads and validates the model.bin at path.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	data, err := readCapped(f)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", path, err)
	}
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", path, err)
	}
	return m, nil
}

// Save writes m to path atomically (internal/atomicfile): a crash leaves
// either the old file or the new one, never a torn one.
func Save(path string, m *Model) error {
	b, err := encode(m)
	if err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// decode is Decode without the package prefix on errors.
func decode(data []byte) (*Model, error) {
	graph, tensors, body, err := readContainer(data)
	if err != nil {
		return nil, err
	}
	m, err := parseGraph(graph)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if err := l.readTensors(tensors, body); err != nil {
			return nil, fmt.Errorf("layer %q: %w", l.Name, err)
		}
	}
	if len(tensors) > 0 {
		names := make([]string, 0, len(tensors))
		for n := range tensors {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("tensors %q belong to no layer of the graph", names)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}
