package model

// model.bin is a safetensors container (so numpy, PyTorch and the safetensors
// tools can read and write it) whose __metadata__ carries the graph and a
// checksum. docs/model-format.md is the normative description; the comments
// here say why the code is shaped the way it is.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Format identification written into every model.bin.
const (
	FormatName = "nmsim-model"
	// FormatVersion is bumped whenever a reader of the previous version
	// would misread a new file; adding optional metadata keys does not
	// bump it, since readers ignore keys they do not know.
	FormatVersion = 1
)

// Size limits applied before anything is allocated from a length field.
const (
	// MaxHeaderLen caps the JSON header; real headers are a few KiB.
	MaxHeaderLen = 16 << 20
	// MaxFileSize caps what Read and Load accept.
	MaxFileSize = 1 << 30
)

// ErrChecksum reports that a model.bin's content does not match the checksum
// in its header: the file was corrupted or edited by hand.
var ErrChecksum = errors.New("checksum mismatch")

// Metadata keys of the safetensors "__metadata__" object.
const (
	metaKey          = "__metadata__"
	keyFormat        = "format"
	keyFormatVersion = "format_version"
	keyModel         = "model"
	keyChecksum      = "checksum"
	checksumPrefix   = "sha256:"
)

// Tensor dtypes used by model.bin, with their element sizes in bytes.
const (
	dtypeU8  = "U8"
	dtypeI8  = "I8"
	dtypeI64 = "I64"
	dtypeF64 = "F64"
)

var dtypeSize = map[string]int{dtypeU8: 1, dtypeI8: 1, dtypeI64: 8, dtypeF64: 8}

// graphJSON is the "model" metadata string: the network without its tensors.
// Its field names are the file format, independent of the Go field names.
type graphJSON struct {
	Name       string            `json:"name"`
	Input      inputJSON         `json:"input"`
	Layers     []layerJSON       `json:"layers"`
	Classes    int               `json:"classes"`
	Timesteps  int               `json:"timesteps"`
	Readout    Readout           `json:"readout,omitempty"`
	Provenance map[string]string `json:"provenance,omitempty"`
}

type inputJSON struct {
	Shape    []int  `json:"shape"`
	Coding   Coding `json:"coding"`
	Bits     int    `json:"bits"`
	Window   int    `json:"window,omitempty"`
	FrameUS  int    `json:"frame_us,omitempty"`
	MaxCount int    `json:"max_count,omitempty"`
}

type layerJSON struct {
	Name       string `json:"name"`
	Op         Op     `json:"op"`
	In         []int  `json:"in"`
	Out        []int  `json:"out"`
	Kernel     int    `json:"kernel,omitempty"`
	Stride     int    `json:"stride,omitempty"`
	Pad        int    `json:"pad,omitempty"`
	WeightBits int    `json:"weight_bits,omitempty"`
	Leak       int    `json:"leak,omitempty"`
	Spiking    bool   `json:"spiking"`
	Reset      Reset  `json:"reset,omitempty"`
	FireOnce   bool   `json:"fire_once,omitempty"`
}

// tensor is one entry of the safetensors tensor table plus, when encoding,
// its bytes.
type tensor struct {
	name       string
	dtype      string
	shape      []uint64
	begin, end uint64
	data       []byte
}

// tensorJSON is a tensor table entry as safetensors spells it.
type tensorJSON struct {
	Dtype       string    `json:"dtype"`
	Shape       []uint64  `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

func weightName(layer string) string    { return layer + ".weight" }
func thresholdName(layer string) string { return layer + ".threshold" }
func scaleName(layer string) string     { return layer + ".scale" }
func biasName(layer string) string      { return layer + ".bias" }

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
	// Lay out 8-byte dtypes first (then by name), as the safetensors
	// writers do: with the header padded to a multiple of 8, every I64 and
	// F64 tensor is then aligned in the file and can be mapped in place.
	sort.Slice(tensors, func(i, j int) bool {
		a, b := tensors[i], tensors[j]
		if sa, sb := dtypeSize[a.dtype], dtypeSize[b.dtype]; sa != sb {
			return sa > sb
		}
		return a.name < b.name
	})
	var body bytes.Buffer
	for _, t := range tensors {
		t.begin = uint64(body.Len())
		body.Write(t.data)
		t.end = uint64(body.Len())
	}
	graph, err := marshalJSON(toGraph(m))
	if err != nil {
		return nil, err
	}
	sum := checksum(body.Bytes(), string(graph), tensors)
	header := map[string]any{
		metaKey: map[string]string{
			keyFormat:        FormatName,
			keyFormatVersion: strconv.Itoa(FormatVersion),
			keyModel:         string(graph),
			keyChecksum:      sum,
		},
	}
	for _, t := range tensors {
		header[t.name] = tensorJSON{Dtype: t.dtype, Shape: t.shape, DataOffsets: [2]uint64{t.begin, t.end}}
	}
	// encoding/json sorts map keys, which makes the header deterministic.
	hdr, err := marshalJSON(header)
	if err != nil {
		return nil, err
	}
	if pad := len(hdr) % 8; pad != 0 {
		hdr = append(hdr, bytes.Repeat([]byte{' '}, 8-pad)...)
	}
	out := make([]byte, 8, 8+len(hdr)+body.Len())
	binary.LittleEndian.PutUint64(out, uint64(len(hdr)))
	out = append(out, hdr...)
	return append(out, body.Bytes()...), nil
}

// marshalJSON is json.Marshal without HTML escaping, so that provenance text
// such as "a<b" is stored as written.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func toGraph(m *Model) graphJSON {
	g := graphJSON{
		Name: m.Name,
		Input: inputJSON{Shape: shapeSlice(m.Input.Shape), Coding: m.Input.Coding, Bits: m.Input.Bits,
			Window: m.Input.Window, FrameUS: m.Input.FrameUS, MaxCount: m.Input.MaxCount},
		Classes:    m.Classes,
		Timesteps:  m.Timesteps,
		Readout:    m.Readout,
		Provenance: m.Provenance,
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		g.Layers = append(g.Layers, layerJSON{
			Name: l.Name, Op: l.Op, In: shapeSlice(l.In), Out: shapeSlice(l.Out),
			Kernel: l.Kernel, Stride: l.Stride, Pad: l.Pad, WeightBits: l.WeightBits,
			Leak: l.Leak, Spiking: l.Spiking, Reset: l.Reset, FireOnce: l.FireOnce,
		})
	}
	return g
}

func shapeSlice(s Shape) []int { return []int{s.C, s.H, s.W} }

// layerTensors returns the tensors of a validated layer.
func layerTensors(l *Layer) []*tensor {
	if !l.HasWeights() {
		return nil
	}
	outputs, fanIn := l.Outputs(), l.FanIn()
	var ts []*tensor
	if l.WeightBits == 1 {
		ts = append(ts, &tensor{
			name: weightName(l.Name), dtype: dtypeU8,
			shape: []uint64{uint64(outputs), uint64(packedLen(fanIn))},
			data:  packBinary(l.Weights, outputs, fanIn),
		})
	} else {
		data := make([]byte, len(l.Weights))
		for i, w := range l.Weights {
			data[i] = byte(w)
		}
		ts = append(ts, &tensor{
			name: weightName(l.Name), dtype: dtypeI8,
			shape: []uint64{uint64(outputs), uint64(fanIn)}, data: data,
		})
	}
	if len(l.Threshold) > 0 {
		ts = append(ts, int64Tensor(thresholdName(l.Name), l.Threshold))
	}
	if len(l.Bias) > 0 {
		ts = append(ts, int64Tensor(biasName(l.Name), l.Bias))
	}
	if len(l.Scale) > 0 {
		data := make([]byte, 8*len(l.Scale))
		for i, s := range l.Scale {
			binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(s))
		}
		ts = append(ts, &tensor{name: scaleName(l.Name), dtype: dtypeF64, shape: []uint64{uint64(len(l.Scale))}, data: data})
	}
	return ts
}

// int64Tensor is a one-dimensional I64 tensor holding v.
func int64Tensor(name string, v []int64) *tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return &tensor{name: name, dtype: dtypeI64, shape: []uint64{uint64(len(v))}, data: data}
}

// packedLen is the bytes per output row of a bit-packed binary weight tensor.
func packedLen(fanIn int) int { return (fanIn + 7) / 8 }

// packBinary packs ±1 weights one bit each (1 = +1), LSB first, each output
// row starting on a byte boundary with zero padding bits.
func packBinary(w []int8, outputs, fanIn int) []byte {
	row := packedLen(fanIn)
	out := make([]byte, outputs*row)
	for o := range outputs {
		for i := range fanIn {
			if w[o*fanIn+i] > 0 {
				out[o*row+i/8] |= 1 << (i % 8)
			}
		}
	}
	return out
}

// checksum is "sha256:" + hex(SHA-256(data ‖ model ‖ table)), where table
// renders every tensor table entry, sorted by name, as the line
// "name\tdtype\tdim,dim\tbegin\tend\n". Covering the data alone would miss
// a corrupted graph; covering the graph too would still miss an edited
// tensor entry (its shape or offsets). Hashing the decoded values rather
// than the raw header bytes lets any JSON writer (pretty-printed, other key
// order) produce a valid file, while a flipped header byte either breaks
// the JSON or changes one of the hashed values.
func checksum(data []byte, model string, tensors []*tensor) string {
	sorted := append([]*tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	h := sha256.New()
	h.Write(data)
	io.WriteString(h, model)
	for _, t := range sorted {
		dims := make([]string, len(t.shape))
		for i, d := range t.shape {
			dims[i] = strconv.FormatUint(d, 10)
		}
		fmt.Fprintf(h, "%s\t%s\t%s\t%d\t%d\n", t.name, t.dtype, strings.Join(dims, ","), t.begin, t.end)
	}
	return checksumPrefix + hex.EncodeToString(h.Sum(nil))
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

// Save writes m to path atomically: the bytes go to a temporary file in the
// same directory, which is synced and then renamed over path, so a crash
// leaves either the old file or the new one, never a torn one.
func Save(path string, m *Model) (err error) {
	b, err := encode(m)
	if err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("model: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("model: save %s: %w", path, err)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Sync the directory so the rename itself survives a crash.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// decode is Decode without the package prefix on errors.
func decode(data []byte) (*Model, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for a safetensors header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderLen {
		return nil, fmt.Errorf("header length %d exceeds the %d limit", n, MaxHeaderLen)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("header length %d runs past the end of the %d-byte file", n, len(data))
	}
	hdr, body := data[8:8+n], data[8+n:]
	meta, tensors, err := parseHeader(hdr, uint64(len(body)))
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := checkMeta(meta); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	graph := meta[keyModel]
	list := make([]*tensor, 0, len(tensors))
	for _, t := range tensors {
		list = append(list, t)
	}
	if got := checksum(body, graph, list); got != meta[keyChecksum] {
		return nil, fmt.Errorf("%w: header says %s, content hashes to %s (corrupted or edited file)", ErrChecksum, meta[keyChecksum], got)
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

// parseHeader parses the safetensors JSON header: metadata strings and a
// tensor table whose data ranges tile the data section exactly.
func parseHeader(hdr []byte, bodyLen uint64) (map[string]string, map[string]*tensor, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, errors.New("does not start with '{'")
	}
	var meta map[string]string
	tensors := map[string]*tensor{}
	end, err := parseObject(hdr, func(key string, val json.RawMessage) error {
		if key == metaKey {
			m, err := parseMeta(val)
			if err != nil {
				return fmt.Errorf("%s: %w", metaKey, err)
			}
			meta = m
			return nil
		}
		t, err := parseTensor(key, val)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", key, err)
		}
		tensors[key] = t
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// safetensors pads with spaces only; rejecting anything else means a
	// flipped padding byte is caught too.
	for i := end; i < len(hdr); i++ {
		if hdr[i] != ' ' {
			return nil, nil, fmt.Errorf("byte %d after the JSON object is %q, want space padding", i, hdr[i])
		}
	}
	if meta == nil {
		return nil, nil, fmt.Errorf("no %s", metaKey)
	}
	if err := checkLayout(tensors, bodyLen); err != nil {
		return nil, nil, err
	}
	return meta, tensors, nil
}

// parseObject calls fn for each member of the JSON object in data, rejecting
// duplicate keys (which encoding/json would silently resolve to the last
// one), and returns the offset just past the closing brace.
func parseObject(data []byte, fn func(key string, val json.RawMessage) error) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return 0, err
	}
	if tok != json.Delim('{') {
		return 0, fmt.Errorf("want a JSON object, got %v", tok)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, err
		}
		key, ok := tok.(string)
		if !ok {
			return 0, fmt.Errorf("want an object key, got %v", tok)
		}
		if seen[key] {
			return 0, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return 0, fmt.Errorf("key %q: %w", key, err)
		}
		if err := fn(key, val); err != nil {
			return 0, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return 0, err
	}
	return int(dec.InputOffset()), nil
}

func parseMeta(raw json.RawMessage) (map[string]string, error) {
	meta := map[string]string{}
	end, err := parseObject(raw, func(key string, val json.RawMessage) error {
		s, err := parseString(val)
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		meta[key] = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	if end != len(raw) {
		return nil, errors.New("trailing data")
	}
	return meta, nil
}

// parseString decodes a JSON string, refusing null and other types that
// json.Unmarshal would turn into "" or an error-free zero value.
func parseString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("value is not a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// parseTensor decodes one tensor table entry. Keys are matched exactly
// (encoding/json would match "Dtype" to "dtype").
func parseTensor(name string, raw json.RawMessage) (*tensor, error) {
	t := &tensor{name: name}
	var haveDtype, haveShape, haveOffsets bool
	_, err := parseObject(raw, func(key string, val json.RawMessage) error {
		switch key {
		case "dtype":
			s, err := parseString(val)
			if err != nil {
				return fmt.Errorf("dtype: %w", err)
			}
			if _, ok := dtypeSize[s]; !ok {
				return fmt.Errorf("dtype %q not used by %s (want U8, I8, I64 or F64)", s, FormatName)
			}
			t.dtype, haveDtype = s, true
		case "shape":
			if err := json.Unmarshal(val, &t.shape); err != nil || t.shape == nil {
				return fmt.Errorf("shape %s is not a list of non-negative integers", val)
			}
			haveShape = true
		case "data_offsets":
			var off []uint64
			if err := json.Unmarshal(val, &off); err != nil || len(off) != 2 {
				return fmt.Errorf("data_offsets %s is not [begin, end]", val)
			}
			t.begin, t.end, haveOffsets = off[0], off[1], true
		default:
			return fmt.Errorf("unknown key %q", key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !haveDtype || !haveShape || !haveOffsets {
		return nil, errors.New("want dtype, shape and data_offsets")
	}
	return t, nil
}

// checkLayout enforces the safetensors rule that tensor data ranges are
// consistent with dtype×shape and tile the data section with no gap and no
// overlap.
func checkLayout(tensors map[string]*tensor, bodyLen uint64) error {
	// Check in name order so that a file with several problems always
	// reports the same one.
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	list := make([]*tensor, 0, len(tensors))
	for _, name := range names {
		t := tensors[name]
		if t.begin > t.end || t.end > bodyLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d-byte data section", t.name, t.begin, t.end, bodyLen)
		}
		size := uint64(dtypeSize[t.dtype])
		for _, d := range t.shape {
			// Any product above bodyLen is already wrong, so cap it there
			// instead of letting it overflow.
			if d != 0 && size > bodyLen/d {
				return fmt.Errorf("tensor %q: shape %v is larger than the data section", t.name, t.shape)
			}
			size *= d
		}
		if size != t.end-t.begin {
			return fmt.Errorf("tensor %q: %s%v needs %d bytes, data_offsets give %d", t.name, t.dtype, t.shape, size, t.end-t.begin)
		}
		list = append(list, t)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].begin != list[j].begin {
			return list[i].begin < list[j].begin
		}
		if list[i].end != list[j].end {
			return list[i].end < list[j].end
		}
		return list[i].name < list[j].name
	})
	var next uint64
	for _, t := range list {
		if t.begin != next {
			return fmt.Errorf("tensor %q: data starts at %d, want %d (gap or overlap)", t.name, t.begin, next)
		}
		next = t.end
	}
	if next != bodyLen {
		return fmt.Errorf("tensors cover %d bytes of the %d-byte data section", next, bodyLen)
	}
	return nil
}

func checkMeta(meta map[string]string) error {
	if f := meta[keyFormat]; f != FormatName {
		return fmt.Errorf("%s is %q, want %q", keyFormat, f, FormatName)
	}
	v, ok := meta[keyFormatVersion]
	if !ok {
		return fmt.Errorf("no %s", keyFormatVersion)
	}
	if v != strconv.Itoa(FormatVersion) {
		if n, err := strconv.Atoi(v); err == nil && n > FormatVersion {
			return fmt.Errorf("%s %s is newer than this nmsim reads (%d); upgrade nmsim", keyFormatVersion, v, FormatVersion)
		}
		return fmt.Errorf("%s %q unsupported (this nmsim reads %d)", keyFormatVersion, v, FormatVersion)
	}
	if _, ok := meta[keyModel]; !ok {
		return fmt.Errorf("no %s", keyModel)
	}
	sum, ok := meta[keyChecksum]
	if !ok {
		return fmt.Errorf("no %s", keyChecksum)
	}
	digest, ok := strings.CutPrefix(sum, checksumPrefix)
	if !ok || len(digest) != 2*sha256.Size || strings.ToLower(digest) != digest {
		return fmt.Errorf("%s %q is not %s<64 lower-case hex digits>", keyChecksum, sum, checksumPrefix)
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return fmt.Errorf("%s %q: %w", keyChecksum, sum, err)
	}
	return nil
}

// parseGraph decodes the "model" metadata string strictly: unknown fields
// and trailing data are errors, so a typo in a hand-written file is caught.
func parseGraph(s string) (*Model, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var g graphJSON
	if err := dec.Decode(&g); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the graph object")
	}
	in, err := toShape(g.Input.Shape)
	if err != nil {
		return nil, fmt.Errorf("input shape: %w", err)
	}
	m := &Model{
		Name: g.Name,
		Input: Input{Shape: in, Coding: g.Input.Coding, Bits: g.Input.Bits, Window: g.Input.Window,
			FrameUS: g.Input.FrameUS, MaxCount: g.Input.MaxCount},
		Classes:   g.Classes,
		Timesteps: g.Timesteps,
		Readout:   g.Readout,
	}
	if len(g.Provenance) > 0 {
		m.Provenance = g.Provenance
	}
	m.Input.MaxCount = legacyMaxCount(m)
	m.Layers = make([]Layer, len(g.Layers))
	for i, lj := range g.Layers {
		l := &m.Layers[i]
		*l = Layer{
			Name: lj.Name, Op: lj.Op, Kernel: lj.Kernel, Stride: lj.Stride, Pad: lj.Pad,
			WeightBits: lj.WeightBits, Leak: lj.Leak, Spiking: lj.Spiking, Reset: lj.Reset,
			FireOnce: lj.FireOnce,
		}
		if l.In, err = toShape(lj.In); err != nil {
			return nil, fmt.Errorf("layer %d in: %w", i, err)
		}
		if l.Out, err = toShape(lj.Out); err != nil {
			return nil, fmt.Errorf("layer %d out: %w", i, err)
		}
	}
	return m, nil
}

// legacyMaxCount is m's input clip count, taken for files written before
// input.max_count existed from the provenance entry "max_count" that the
// surrogate trainer wrote for frame-coded models (ignored, as it was then,
// unless it is a count below the input's largest value).
func legacyMaxCount(m *Model) int {
	if m.Input.MaxCount != 0 || m.Input.Coding != CodingFrames {
		return m.Input.MaxCount
	}
	c, err := strconv.Atoi(m.Provenance["max_count"])
	if err != nil || c < 1 || c >= m.Input.Max() {
		return 0
	}
	return c
}

func toShape(dims []int) (Shape, error) {
	if len(dims) != 3 {
		return Shape{}, fmt.Errorf("%v is not [C, H, W]", dims)
	}
	return Shape{C: dims[0], H: dims[1], W: dims[2]}, nil
}

// readTensors fills the layer's weights, thresholds, biases and scales from the
// tensor table, removing each tensor it consumes so that leftovers can be
// reported. Sizes are checked against the graph before anything is
// allocated, and every allocation is bounded by the tensor's bytes.
func (l *Layer) readTensors(tensors map[string]*tensor, body []byte) error {
	if !l.HasWeights() {
		return nil
	}
	if err := checkShape(l.In); err != nil {
		return fmt.Errorf("in %v: %w", l.In, err)
	}
	if err := checkShape(l.Out); err != nil {
		return fmt.Errorf("out %v: %w", l.Out, err)
	}
	if l.WeightBits < 1 || l.WeightBits > 8 {
		return fmt.Errorf("weight bits %d, want 1..8", l.WeightBits)
	}
	outputs, fanIn, err := l.tensorSizes()
	if err != nil {
		return err
	}
	if l.WeightBits == 1 {
		data, err := take(tensors, body, weightName(l.Name), dtypeU8, outputs, packedLen(fanIn))
		if err != nil {
			return err
		}
		if l.Weights, err = unpackBinary(data, outputs, fanIn); err != nil {
			return fmt.Errorf("%s: %w", weightName(l.Name), err)
		}
	} else {
		data, err := take(tensors, body, weightName(l.Name), dtypeI8, outputs, fanIn)
		if err != nil {
			return err
		}
		l.Weights = make([]int8, len(data))
		for i, b := range data {
			l.Weights[i] = int8(b)
		}
	}
	if l.Spiking {
		if l.Threshold, err = takeInt64s(tensors, body, thresholdName(l.Name), outputs); err != nil {
			return err
		}
	}
	if _, ok := tensors[biasName(l.Name)]; ok {
		if l.Bias, err = takeInt64s(tensors, body, biasName(l.Name), outputs); err != nil {
			return err
		}
	}
	if _, ok := tensors[scaleName(l.Name)]; ok {
		data, err := take(tensors, body, scaleName(l.Name), dtypeF64, outputs)
		if err != nil {
			return err
		}
		l.Scale = make([]float64, outputs)
		for i := range l.Scale {
			l.Scale[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
	}
	return nil
}

// takeInt64s is take for a one-dimensional I64 tensor of n values.
func takeInt64s(tensors map[string]*tensor, body []byte, name string, n int) ([]int64, error) {
	data, err := take(tensors, body, name, dtypeI64, n)
	if err != nil {
		return nil, err
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return v, nil
}

// take removes the named tensor from the table after checking its dtype and
// shape, and returns its bytes (a sub-slice of body, already bounds-checked
// by checkLayout).
func take(tensors map[string]*tensor, body []byte, name, dtype string, shape ...int) ([]byte, error) {
	t, ok := tensors[name]
	if !ok {
		return nil, fmt.Errorf("tensor %q missing", name)
	}
	delete(tensors, name)
	want := make([]uint64, len(shape))
	for i, d := range shape {
		want[i] = uint64(d)
	}
	if t.dtype != dtype || !slices.Equal(t.shape, want) {
		return nil, fmt.Errorf("tensor %q is %s%v, want %s%v", name, t.dtype, t.shape, dtype, want)
	}
	return body[t.begin:t.end], nil
}

// unpackBinary is the inverse of packBinary; set padding bits are an error
// since no writer produces them.
func unpackBinary(data []byte, outputs, fanIn int) ([]int8, error) {
	row := packedLen(fanIn)
	w := make([]int8, outputs*fanIn)
	for o := range outputs {
		for i := range fanIn {
			w[o*fanIn+i] = -1
			if data[o*row+i/8]>>(i%8)&1 == 1 {
				w[o*fanIn+i] = 1
			}
		}
		if pad := fanIn % 8; pad != 0 && data[o*row+row-1]>>pad != 0 {
			return nil, fmt.Errorf("row %d has padding bits set", o)
		}
	}
	return w, nil
}
