package model

// The safetensors container of model.bin: header, tensor table, layout
// rules, format metadata and checksum. It knows nothing of layers.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// writeContainer lays out a safetensors file holding the tensors, with the
// graph and the checksum in its __metadata__.
func writeContainer(graph string, tensors []*tensor) ([]byte, error) {
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
	sum := checksum(body.Bytes(), graph, tensors)
	header := map[string]any{
		metaKey: map[string]string{
			keyFormat:        FormatName,
			keyFormatVersion: strconv.Itoa(FormatVersion),
			keyModel:         graph,
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

// int64Tensor is a one-dimensional I64 tensor holding v.
func int64Tensor(name string, v []int64) *tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return &tensor{name: name, dtype: dtypeI64, shape: []uint64{uint64(len(v))}, data: data}
}

// readContainer checks a safetensors file (header length, header, layout,
// format metadata and checksum) and returns its graph string, its tensor
// table and its data section.
func readContainer(data []byte) (graph string, tensors map[string]*tensor, body []byte, err error) {
	if len(data) < 8 {
		return "", nil, nil, fmt.Errorf("file is %d bytes, too short for a safetensors header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderLen {
		return "", nil, nil, fmt.Errorf("header length %d exceeds the %d limit", n, MaxHeaderLen)
	}
	if n > uint64(len(data)-8) {
		return "", nil, nil, fmt.Errorf("header length %d runs past the end of the %d-byte file", n, len(data))
	}
	hdr, body := data[8:8+n], data[8+n:]
	meta, tensors, err := parseHeader(hdr, uint64(len(body)))
	if err != nil {
		return "", nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := checkMeta(meta); err != nil {
		return "", nil, nil, fmt.Errorf("header: %w", err)
	}
	graph = meta[keyModel]
	list := make([]*tensor, 0, len(tensors))
	for _, t := range tensors {
		list = append(list, t)
	}
	if got := checksum(body, graph, list); got != meta[keyChecksum] {
		return "", nil, nil, fmt.Errorf("%w: header says %s, content hashes to %s (corrupted or edited file)", ErrChecksum, meta[keyChecksum], got)
	}
	return graph, tensors, body, nil
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
