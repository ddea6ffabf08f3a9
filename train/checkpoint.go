package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/nmsim/nmsim/internal/atomicfile"
	"github.com/nmsim/nmsim/workloads/dataset"
)

// Checkpoint is where a training run saves its state after every epoch and
// whether it continues from the state saved there. A resumed run ends with
// the same model, bit for bit, as one that was never interrupted.
type Checkpoint struct {
	// Dir is the checkpoint directory ("" for none). The state is the
	// file CheckpointFile in it, replaced atomically after each epoch.
	Dir string
	// Resume continues from the checkpoint in Dir, if there is one (a run
	// without one starts from scratch, so that a preemptible job can be
	// restarted with the same command). Without Resume a run refuses a
	// Dir that already holds a checkpoint rather than overwrite it.
	Resume bool
}

// CheckpointFile is the name of the checkpoint in Checkpoint.Dir.
const CheckpointFile = "checkpoint.gob"

// checkpointVersion changes whenever the file's layout or a trainer's
// state changes.
const checkpointVersion = 1

// checkpointState is the file's content: the loop's position and random
// stream, and the trainer's tensors (weights, optimiser moments, …) in an
// order the trainer fixes.
type checkpointState struct {
	Version int
	// Settings are everything the run's result depends on, as "name
	// value" pairs named after nmsim train's flags; Hash is their SHA-256.
	Settings []string
	Hash     string
	Epoch, T int
	Shuffle  []byte // the loop's PCG state
	Order    []int32
	F32      [][]float32
	F64      [][]float64
	// Meta is the trainer's other state as JSON (e.g. the layers the
	// accuracy-loss estimator binarized).
	Meta []byte
}

// checkpointer saves and restores a trainer's state for its loop.
type checkpointer struct {
	cfg      Checkpoint
	settings []string
	hash     string
	f32      [][]float32
	f64      [][]float64
	meta     any
}

// settingsOf lists the settings a run's result depends on: the method,
// the net, the data (name, size and a SHA-256 of its images and labels)
// and every field of cfg (a struct) with a `flag` tag, under that name.
// A tag `flag:"name,omitzero"` leaves the field out while it is zero, so
// that a setting added later does not change the hash of the checkpoints
// of runs that do not use it.
func settingsOf(method string, cfg any, net *Net, data *dataset.Set) []string {
	h := sha256.New()
	h.Write(data.Images)
	h.Write(data.Labels)
	s := []string{
		"method " + method,
		"net " + net.Spec,
		fmt.Sprintf("dataset %s, %d samples of %v, sha256 %s", data.Name, data.Len(), data.Shape, hex.EncodeToString(h.Sum(nil))[:16]),
	}
	v := reflect.ValueOf(cfg)
	for i := 0; i < v.NumField(); i++ {
		name, opt, _ := strings.Cut(v.Type().Field(i).Tag.Get("flag"), ",")
		if name != "" && (opt != "omitzero" || !v.Field(i).IsZero()) {
			s = append(s, fmt.Sprintf("%s %v", name, v.Field(i).Interface()))
		}
	}
	return s
}

func hashSettings(settings []string) string {
	sum := sha256.Sum256([]byte(strings.Join(settings, "\n")))
	return hex.EncodeToString(sum[:])
}

// path is the checkpoint file.
func (c *checkpointer) path() string { return filepath.Join(c.cfg.Dir, CheckpointFile) }

// attach arms the loop to save the trainer's state (the tensors f32 and
// f64, restored in place, and meta, a pointer to a JSON-able value) after
// every epoch, and restores it first when resuming. It must be called
// before run.
func (l *loop) attach(cfg Checkpoint, settings []string, f32 [][]float32, f64 [][]float64, meta any) error {
	if cfg.Dir == "" {
		return nil
	}
	c := &checkpointer{cfg: cfg, settings: settings, hash: hashSettings(settings), f32: f32, f64: f64, meta: meta}
	b, err := os.ReadFile(c.path())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return fmt.Errorf("%s: checkpoint: %w", l.name, err)
		}
		l.ckpt = c
		return nil
	case err != nil:
		return fmt.Errorf("%s: checkpoint: %w", l.name, err)
	case !cfg.Resume:
		return fmt.Errorf("%s: %s already holds a checkpoint; resume it or choose another directory", l.name, c.path())
	}
	if err := c.restore(l, b); err != nil {
		return fmt.Errorf("%s: resume from %s: %w", l.name, c.path(), err)
	}
	l.ckpt = c
	return nil
}

// restore loads the state in b into the loop and the trainer's tensors.
func (c *checkpointer) restore(l *loop, b []byte) error {
	var st checkpointState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return fmt.Errorf("not a checkpoint: %w", err)
	}
	if st.Version != checkpointVersion {
		return fmt.Errorf("checkpoint version %d, this nmsim writes %d", st.Version, checkpointVersion)
	}
	if st.Hash != hashSettings(st.Settings) {
		return errors.New("corrupt checkpoint: its settings do not match their hash")
	}
	if st.Hash != c.hash {
		return differ(st.Settings, c.settings)
	}
	switch {
	case st.Epoch < 0 || st.Epoch > l.epochs || st.T != st.Epoch*l.stepsPerEpoch:
		return fmt.Errorf("corrupt checkpoint: epoch %d, step %d", st.Epoch, st.T)
	case len(st.Order) != l.n:
		return fmt.Errorf("corrupt checkpoint: %d samples in the order, want %d", len(st.Order), l.n)
	case len(st.F32) != len(c.f32) || len(st.F64) != len(c.f64):
		return errors.New("corrupt checkpoint: wrong number of tensors")
	}
	for i, t := range st.F32 {
		if len(t) != len(c.f32[i]) {
			return fmt.Errorf("corrupt checkpoint: tensor %d has %d values, want %d", i, len(t), len(c.f32[i]))
		}
	}
	for i, t := range st.F64 {
		if len(t) != len(c.f64[i]) {
			return fmt.Errorf("corrupt checkpoint: tensor %d has %d values, want %d", len(c.f32)+i, len(t), len(c.f64[i]))
		}
	}
	seen := make([]bool, l.n)
	for _, i := range st.Order {
		if i < 0 || int(i) >= l.n || seen[i] {
			return errors.New("corrupt checkpoint: the sample order is not a permutation")
		}
		seen[i] = true
	}
	if err := l.src.UnmarshalBinary(st.Shuffle); err != nil {
		return fmt.Errorf("corrupt checkpoint: random stream: %w", err)
	}
	if c.meta != nil {
		if err := json.Unmarshal(st.Meta, c.meta); err != nil {
			return fmt.Errorf("corrupt checkpoint: %w", err)
		}
	}
	for i, t := range st.F32 {
		copy(c.f32[i], t)
	}
	for i, t := range st.F64 {
		copy(c.f64[i], t)
	}
	l.done, l.t = st.Epoch, st.T
	l.order = make([]int, l.n)
	for k, i := range st.Order {
		l.order[k] = int(i)
	}
	return nil
}

// differ names the first setting in which a checkpoint's (was) and the
// run's (now) differ.
func differ(was, now []string) error {
	for i := range min(len(was), len(now)) {
		if was[i] != now[i] {
			name, _, _ := strings.Cut(now[i], " ")
			return fmt.Errorf("the checkpoint was written with a different %s: %q there, %q now (resume with the same settings, or start afresh in another directory)",
				flagName(name), was[i], now[i])
		}
	}
	return errors.New("the checkpoint was written with different settings")
}

// flagName is how a setting is spelt on nmsim train's command line.
func flagName(setting string) string {
	switch setting {
	case "dataset":
		return "data set (--dataset, --train-samples)"
	default:
		return "--" + setting
	}
}

// save writes the state after epoch (the loop's step counter and random
// stream included) atomically.
func (c *checkpointer) save(l *loop, epoch int, order []int) error {
	st := checkpointState{Version: checkpointVersion, Settings: c.settings, Hash: c.hash,
		Epoch: epoch, T: l.t, F32: c.f32, F64: c.f64, Order: make([]int32, len(order))}
	for k, i := range order {
		st.Order[k] = int32(i)
	}
	var err error
	if st.Shuffle, err = l.src.MarshalBinary(); err != nil {
		return fmt.Errorf("%s: checkpoint: %w", l.name, err)
	}
	if c.meta != nil {
		if st.Meta, err = json.Marshal(c.meta); err != nil {
			return fmt.Errorf("%s: checkpoint: %w", l.name, err)
		}
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&st); err != nil {
		return fmt.Errorf("%s: checkpoint: %w", l.name, err)
	}
	if err := atomicfile.WriteFile(c.path(), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("%s: checkpoint after epoch %d: %w", l.name, epoch, err)
	}
	return nil
}

// adamTensors lists the moments of opt, m then v of each (a nil one
// saves and restores as empty).
func adamTensors(opt ...adam) [][]float32 {
	t := make([][]float32, 0, 2*len(opt))
	for _, o := range opt {
		t = append(t, o.m, o.v)
	}
	return t
}
