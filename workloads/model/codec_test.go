package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustEncode(t *testing.T, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// roundTrip encodes m, checks that decoding gives m back and that
// re-encoding gives the same bytes, and returns the encoding.
func roundTrip(t *testing.T, m *Model) []byte {
	t.Helper()
	b := mustEncode(t, m)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, m)
	}
	if again := mustEncode(t, got); !bytes.Equal(again, b) {
		t.Fatal("re-encoding the decoded model gives different bytes")
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := roundTrip(t, testModel())
	if again := mustEncode(t, testModel()); !bytes.Equal(again, b) {
		t.Fatal("encoding is not deterministic")
	}
}

// extendedModel is testModel using every optional feature: frame coding,
// biases, leaks, sum shifts and a spiking output layer read out by spike
// counts.
func extendedModel() *Model {
	m := testModel()
	m.Input.Coding = CodingFrames
	m.Input.Bits = 3
	m.Input.MaxCount = 5
	m.Readout = ReadoutSpikes
	m.Layers[0].Bias = []int64{-5, 0, 7, MaxBias}
	m.Layers[0].Leak = LeakOne
	m.Layers[3].Leak = 41
	m.Layers[2].SumShift = 8
	m.Layers[4].SumShift = MaxSumShift
	last := &m.Layers[len(m.Layers)-1]
	last.Spiking, last.Reset = true, ResetZero
	last.Threshold = make([]int64, last.Outputs())
	last.Bias = make([]int64, last.Outputs())
	for i := range last.Threshold {
		last.Threshold[i] = int64(100 + i)
		last.Bias[i] = int64(-i)
	}
	return m
}

func TestRoundTripExtensions(t *testing.T) {
	b := roundTrip(t, extendedModel())
	// The new graph fields and the bias tensor are written only when used,
	// so a model without them encodes exactly as before they existed.
	plain := string(mustEncode(t, testModel()))
	for _, key := range []string{"readout", "leak", ".bias", "frames", "max_count", "sum_shift"} {
		if strings.Contains(plain, key) {
			t.Errorf("a model without extensions mentions %q", key)
		}
		if !strings.Contains(string(b), key) {
			t.Errorf("the extended model does not mention %q", key)
		}
	}
}

// TestLegacyMaxCount: a frame-coded model written before input.max_count
// existed recorded its clip count in the provenance, and reads back with
// it as Input.MaxCount; values that runs ignored then are ignored still.
func TestLegacyMaxCount(t *testing.T) {
	for prov, want := range map[string]int{"5": 5, "1": 1, "7": 0, "0": 0, "-2": 0, "x": 0, "": 0} {
		m := extendedModel()
		m.Input.MaxCount = 0
		m.Provenance = map[string]string{"max_count": prov}
		got, err := Decode(mustEncode(t, m))
		if err != nil {
			t.Fatal(err)
		}
		if got.Input.MaxCount != want {
			t.Errorf("provenance max_count %q: input max count %d, want %d", prov, got.Input.MaxCount, want)
		}
	}
}

func TestLayout(t *testing.T) {
	b := mustEncode(t, testModel())
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var w tensorJSON
	if err := json.Unmarshal(hdr["conv2.weight"], &w); err != nil {
		t.Fatal(err)
	}
	// 6 outputs × ceil(36/8) bytes, bit-packed.
	if w.Dtype != "U8" || !reflect.DeepEqual(w.Shape, []uint64{6, 5}) {
		t.Errorf("conv2.weight is %s%v, want U8[6 5]", w.Dtype, w.Shape)
	}
	// First bit of the packed tensor is weight [0][0], LSB first.
	m := testModel()
	first := b[8+n+w.DataOffsets[0]]
	if want := m.Layers[2].Weights[0] > 0; (first&1 == 1) != want {
		t.Errorf("bit 0 of conv2.weight is %d, weight[0][0] is %d", first&1, m.Layers[2].Weights[0])
	}
	// I64 and F64 tensors come first, so they are 8-byte aligned in the file.
	var th tensorJSON
	if err := json.Unmarshal(hdr["fc1.threshold"], &th); err != nil {
		t.Fatal(err)
	}
	if (8+n+th.DataOffsets[0])%8 != 0 {
		t.Errorf("fc1.threshold at file offset %d is not 8-byte aligned", 8+n+th.DataOffsets[0])
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.bin")
	m := testModel()
	if err := Save(path, m); err != nil {
		t.Fatal(err)
	}
	// Saving over an existing file replaces it.
	if err := Save(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("Load(Save(m)) differs from m")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Save, want just model.bin", len(entries))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}

	bad := testModel()
	bad.Timesteps = 0
	if err := Save(filepath.Join(dir, "bad.bin"), bad); err == nil {
		t.Error("Save of an invalid model succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.bin")); !os.IsNotExist(err) {
		t.Error("Save of an invalid model left a file")
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	corrupt := filepath.Join(dir, "corrupt.bin")
	if err := os.WriteFile(corrupt, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(corrupt)
	if err == nil || !strings.Contains(err.Error(), corrupt) || !errors.Is(err, ErrChecksum) {
		t.Errorf("Load of a corrupted file: %v, want a checksum error naming the path", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.bin")); err == nil || !strings.Contains(err.Error(), "missing.bin") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestRead(t *testing.T) {
	b := mustEncode(t, testModel())
	m, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, testModel()) {
		t.Fatal("Read differs from the encoded model")
	}
}

// TestEveryByteFlip flips each byte of a whole file in several ways; every
// one must be reported, none may panic.
func TestEveryByteFlip(t *testing.T) {
	b := mustEncode(t, testModel())
	for i := range b {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= mask
			if _, err := Decode(c); err == nil {
				t.Fatalf("byte %d ^ %#x (%q -> %q) not detected", i, mask, b[i], c[i])
			}
		}
	}
}

func TestEveryTruncation(t *testing.T) {
	b := mustEncode(t, testModel())
	for n := range len(b) {
		if _, err := Decode(b[:n]); err == nil {
			t.Fatalf("truncation to %d of %d bytes not detected", n, len(b))
		}
	}
	if _, err := Decode(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("an appended byte was not detected")
	}
}

func TestDecodeErrors(t *testing.T) {
	good := mustEncode(t, testModel())
	withLen := func(n uint64) []byte {
		c := bytes.Clone(good)
		binary.LittleEndian.PutUint64(c, n)
		return c
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"huge header length", withLen(1 << 62), "exceeds the"},
		{"header past EOF", withLen(uint64(len(good))), "past the end"},
		{"zero header", withLen(0), "does not start with '{'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// rawTensor is a tensor as an independent writer would hold it.
type rawTensor struct {
	name, dtype string
	shape       []uint64
	data        []byte
}

// safetensorsFile writes a model.bin the way an independent safetensors
// writer might: pretty-printed JSON, tensors laid out in the order given, an
// extra metadata key. The checksum is computed here from the documented
// definition, not with the package's code. edit may alter the header after
// the checksum is computed.
func safetensorsFile(t *testing.T, graph string, tensors []rawTensor, edit func(hdr map[string]any, meta map[string]string)) []byte {
	t.Helper()
	hdr := map[string]any{}
	var data []byte
	lines := make([]string, 0, len(tensors))
	for _, e := range tensors {
		begin := len(data)
		data = append(data, e.data...)
		hdr[e.name] = map[string]any{"dtype": e.dtype, "shape": e.shape, "data_offsets": []int{begin, len(data)}}
		dims := strings.ReplaceAll(strings.Trim(fmt.Sprint(e.shape), "[]"), " ", ",")
		lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%d\t%d\n", e.name, e.dtype, dims, begin, len(data)))
	}
	slices.Sort(lines) // by name: names come first on each line and hold no tab
	sum := sha256.Sum256([]byte(string(data) + graph + strings.Join(lines, "")))
	meta := map[string]string{
		"format":         "nmsim-model",
		"format_version": "1",
		"model":          graph,
		"checksum":       "sha256:" + hex.EncodeToString(sum[:]),
		"torch_version":  "2.5.0",
	}
	if edit != nil {
		edit(hdr, meta)
	}
	hdr["__metadata__"] = meta
	js, err := json.MarshalIndent(hdr, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	return append(append(out, js...), data...)
}

// handWritten is m written by safetensorsFile, tensors in name order and the
// graph marshalled by json.Marshal (which escapes "<" and "&" unlike Encode).
func handWritten(t *testing.T, m *Model, edit func(hdr map[string]any, meta map[string]string)) []byte {
	t.Helper()
	var tensors []rawTensor
	for i := range m.Layers {
		for _, ts := range layerTensors(&m.Layers[i]) {
			tensors = append(tensors, rawTensor{ts.name, ts.dtype, ts.shape, ts.data})
		}
	}
	slices.SortFunc(tensors, func(a, b rawTensor) int { return strings.Compare(a.name, b.name) })
	graph, err := json.Marshal(toGraph(m))
	if err != nil {
		t.Fatal(err)
	}
	return safetensorsFile(t, string(graph), tensors, edit)
}

func TestHandWritten(t *testing.T) {
	m := testModel()
	got, err := Decode(handWritten(t, m, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatal("hand-written file decodes to a different model")
	}
}

func TestHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(hdr map[string]any, meta map[string]string)
		want string
	}{
		{"wrong format", func(_ map[string]any, meta map[string]string) { meta["format"] = "other" }, `format is "other"`},
		{"newer version", func(_ map[string]any, meta map[string]string) { meta["format_version"] = "2" }, "upgrade nmsim"},
		{"no checksum", func(_ map[string]any, meta map[string]string) { delete(meta, "checksum") }, "no checksum"},
		{"bad checksum", func(_ map[string]any, meta map[string]string) { meta["checksum"] = "md5:00" }, "lower-case hex"},
		{"edited graph", func(_ map[string]any, meta map[string]string) {
			meta["model"] = strings.Replace(meta["model"], `"timesteps":4`, `"timesteps":5`, 1)
		}, "checksum mismatch"},
		{"extra tensor", func(hdr map[string]any, _ map[string]string) {
			hdr["zz.weight"] = map[string]any{"dtype": "U8", "shape": []int{0}, "data_offsets": []int{0, 0}}
		}, "checksum mismatch"},
		{"wrong dtype", func(hdr map[string]any, _ map[string]string) {
			hdr["fc2.weight"].(map[string]any)["dtype"] = "U8"
		}, "checksum mismatch"},
		{"bad offsets", func(hdr map[string]any, _ map[string]string) {
			hdr["fc2.weight"].(map[string]any)["data_offsets"] = []int{0, 30}
		}, "gap or overlap"},
		{"unknown dtype", func(hdr map[string]any, _ map[string]string) {
			hdr["fc2.weight"].(map[string]any)["dtype"] = "BF16"
		}, `dtype "BF16"`},
		{"unknown tensor key", func(hdr map[string]any, _ map[string]string) {
			hdr["fc2.weight"].(map[string]any)["Dtype"] = "I8"
		}, `unknown key "Dtype"`},
		{"metadata not string", func(hdr map[string]any, _ map[string]string) {
			hdr["__metadata__x"] = nil
		}, "tensor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(handWritten(t, testModel(), tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// TestGraphErrors writes files whose checksum is right but whose graph or
// tensors are wrong, as a buggy exporter would.
func TestGraphErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(m *Model)
		want   string
	}{
		{"weights out of range", func(m *Model) { m.Layers[4].Weights[0] = 8 }, "4-bit weight [0][0] is 8"},
		{"missing threshold", func(m *Model) { m.Layers[3].Threshold = nil }, `tensor "fc1.threshold" missing`},
		{"threshold on output layer", func(m *Model) { m.Layers[4].Threshold = []int64{1, 2, 3} }, `["fc2.threshold"] belong to no layer`},
		{"wrong weight count", func(m *Model) { m.Layers[0].Weights = m.Layers[0].Weights[:35] }, `"conv1.weight" is I8[35], want I8[4 9]`},
		{"huge shape", func(m *Model) { m.Layers[3].Out.C = 1 << 30 }, "exceeds"},
		{"bad classes", func(m *Model) { m.Classes = 4 }, "classes 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel()
			tc.mutate(m)
			_, err := Decode(rawEncode(t, m))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// rawEncode writes m without validating it, with a correct checksum, as a
// buggy exporter would. Weights whose count does not match the layer's
// shape are stored as a flat I8 vector.
func rawEncode(t *testing.T, m *Model) []byte {
	t.Helper()
	var tensors []rawTensor
	for i := range m.Layers {
		l := &m.Layers[i]
		if !l.HasWeights() {
			continue
		}
		outputs, fanIn := l.Outputs(), l.FanIn()
		w := make([]byte, len(l.Weights))
		for j, v := range l.Weights {
			w[j] = byte(v)
		}
		switch {
		case len(l.Weights) != outputs*fanIn:
			tensors = append(tensors, rawTensor{l.Name + ".weight", "I8", []uint64{uint64(len(w))}, w})
		case l.WeightBits == 1:
			tensors = append(tensors, rawTensor{l.Name + ".weight", "U8", []uint64{uint64(outputs), uint64(packedLen(fanIn))}, packBinary(l.Weights, outputs, fanIn)})
		default:
			tensors = append(tensors, rawTensor{l.Name + ".weight", "I8", []uint64{uint64(outputs), uint64(fanIn)}, w})
		}
		if len(l.Threshold) > 0 {
			tb := make([]byte, 8*len(l.Threshold))
			for j, v := range l.Threshold {
				binary.LittleEndian.PutUint64(tb[8*j:], uint64(v))
			}
			tensors = append(tensors, rawTensor{l.Name + ".threshold", "I64", []uint64{uint64(len(l.Threshold))}, tb})
		}
	}
	graph, err := json.Marshal(toGraph(m))
	if err != nil {
		t.Fatal(err)
	}
	return safetensorsFile(t, string(graph), tensors, nil)
}

// TestUnknownLayerKey: the graph is decoded strictly, so a reader that does
// not know a layer key refuses the file, naming the key, rather than run
// different numbers. This is what keeps format_version at 1 when an
// optional field such as sum_shift is added: an nmsim from before it
// refuses a model that uses it (as this reader refuses the misspelt key).
func TestUnknownLayerKey(t *testing.T) {
	m := extendedModel()
	var tensors []rawTensor
	for i := range m.Layers {
		for _, ts := range layerTensors(&m.Layers[i]) {
			tensors = append(tensors, rawTensor{ts.name, ts.dtype, ts.shape, ts.data})
		}
	}
	graph, err := json.Marshal(toGraph(m))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(safetensorsFile(t, string(graph), tensors, nil)); err != nil {
		t.Fatal(err)
	}
	renamed := strings.Replace(string(graph), `"sum_shift":8`, `"sum_shift_new":8`, 1)
	if renamed == string(graph) {
		t.Fatal("the graph has no sum_shift of 8")
	}
	_, err = Decode(safetensorsFile(t, renamed, tensors, nil))
	if err == nil || !strings.Contains(err.Error(), `unknown field "sum_shift_new"`) {
		t.Fatalf("got %v, want the unknown key named", err)
	}
}
