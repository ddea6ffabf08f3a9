package hdf5

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/internal/datatest"
)

// nirDir finds the NIR files: nir/ in the full data sets (see its
// SOURCES.md).
func nirDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(datatest.Full(t, "nir"), "nir")
}

// nirFiles lists each real NIR file with its format version, its node types
// and its edge count, as h5py reads them.
var nirFiles = []struct {
	name, version string
	types         map[string]string
	edges         int
}{
	{"cnn_sinabs.nir", "0.2.0", map[string]string{
		"0": "Conv2d", "1": "IF", "2": "Conv2d", "3": "IF", "4": "SumPool2d", "5": "Conv2d", "6": "IF",
		"7": "SumPool2d", "8": "Flatten", "9": "Affine", "10": "IF", "11": "Affine", "12": "IF",
		"input": "Input", "output": "Output",
	}, 14},
	{"lif_norse.nir", "0.1.1", map[string]string{"0": "Affine", "1": "LIF", "input": "Input", "output": "Output"}, 3},
	{"lif_rockpool.nir", "0.2.0", map[string]string{
		"0_LinearTorch": "Linear", "1_LIFNeuronTorch": "LIF", "input": "Input", "output": "Output",
	}, 3},
	{"two_lif_neurons.nir", "0.2.0", map[string]string{
		"in": "Input", "lif1": "LIF", "lif2": "LIF", "linear1": "Linear", "linear2": "Linear", "out": "Output",
	}, 5},
	{"braille_noDelay_bias_zero.nir", "0.2.0", map[string]string{
		"fc1": "Affine", "fc2": "Affine", "input": "Input", "lif1.lif": "CubaLIF", "lif1.w_rec": "Affine",
		"lif2": "CubaLIF", "output": "Output",
	}, 7},
	{"braille_noDelay_noBias_subtract.nir", "0.2.0", map[string]string{
		"fc1": "Linear", "fc2": "Linear", "input": "Input", "lif1.lif": "CubaLIF", "lif1.w_rec": "Linear",
		"lif2": "CubaLIF", "output": "Output",
	}, 7},
}

// TestNIR reads every group, dataset and attribute of the six real NIR
// files and checks their graphs.
func TestNIR(t *testing.T) {
	dir := nirDir(t)
	for _, nf := range nirFiles {
		t.Run(nf.name, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, nf.name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if v := f.SuperblockVersion(); v != 0 {
				t.Errorf("superblock version %d, want 0", v)
			}
			readAll(t, f)
			root := f.Root()
			checkText(t, root, "version", nf.version)
			checkText(t, root, "node/type", "NIRGraph")
			nodes, err := root.Group("node/nodes")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for name := range nf.types {
				names = append(names, name)
			}
			slices.Sort(names)
			if got := nodes.Members(); !slices.Equal(got, names) {
				t.Errorf("nodes %v, want %v", got, names)
			}
			for _, name := range names {
				checkText(t, nodes, name+"/type", nf.types[name])
			}
			edges, err := root.Dataset("node/edges")
			if err != nil {
				t.Fatal(err)
			}
			if got := edges.Shape(); !slices.Equal(got, []int{nf.edges, 2}) {
				t.Errorf("edges shape %v, want [%d 2]", got, nf.edges)
			}
			e, err := edges.Strings()
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range e {
				if _, ok := nf.types[n]; !ok {
					t.Errorf("edge end %q is not a node", n)
				}
			}
		})
	}
}

// TestNIRValues checks values h5py reads from the real files.
func TestNIRValues(t *testing.T) {
	dir := nirDir(t)
	open := func(name string) *Group {
		f, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		g, err := f.Root().Group("node/nodes")
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	cnn := open("cnn_sinabs.nir")
	w, err := cnn.Dataset("0/weight")
	if err != nil {
		t.Fatal(err)
	}
	if w.Dtype().String() != "<f4" || !slices.Equal(w.Shape(), []int{16, 2, 5, 5}) {
		t.Errorf("conv weight %s %v, want <f4 [16 2 5 5]", w.Dtype(), w.Shape())
	}
	x, err := w.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	if x[0] != -0.2573421895503998 || x[len(x)-1] != 0.10971786081790924 || math.Abs(sum+10.744408309707069) > 1e-9 {
		t.Errorf("conv weight first %v last %v sum %v", x[0], x[len(x)-1], sum)
	}
	for path, want := range map[string][]int64{
		"0/stride": {2, 2}, "0/padding": {1, 1}, "0/dilation": {1, 1}, "0/groups": {1},
		"input/shape": {2, 34, 34}, "output/shape": {10}, "4/kernel_size": {2, 2},
		"8/start_dim": {0}, "8/end_dim": {-1}, "8/input_type": {8, 4, 4},
	} {
		checkInts(t, cnn, path, want)
	}
	for path, want := range map[string][]int{
		"2/weight": {16, 16, 3, 3}, "5/weight": {8, 16, 3, 3}, "9/weight": {256, 128}, "11/weight": {10, 256},
		"1/v_threshold": {16, 16, 16}, "12/r": {10},
	} {
		ds, err := cnn.Dataset(path)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ds.Shape(), want) {
			t.Errorf("%s shape %v, want %v", path, ds.Shape(), want)
		}
	}
	// The single LIF neurons (float32 in Norse and Rockpool, float64 in the
	// two-neuron file).
	f32 := func(v float64) float64 { return float64(float32(v)) }
	checkFloats(t, open("lif_norse.nir"), map[string][]float64{
		"1/tau": {f32(0.0025)}, "1/v_threshold": {f32(0.1)}, "1/r": {1}, "1/v_leak": {0}, "0/weight": {1}, "0/bias": {0},
	})
	checkFloats(t, open("lif_rockpool.nir"), map[string][]float64{
		"1_LIFNeuronTorch/tau": {f32(0.0025)}, "1_LIFNeuronTorch/r": {f32(24.019737)}, "0_LinearTorch/weight": {f32(0.04)},
	})
	checkFloats(t, open("two_lif_neurons.nir"), map[string][]float64{
		"lif1/v_leak": {1.2}, "lif2/v_threshold": {20}, "lif1/tau": {0.01}, "linear2/weight": {1},
	})
}

// readAll walks the file and reads every dataset and attribute.
func readAll(t *testing.T, f *File) {
	t.Helper()
	err := f.Walk(func(path string, obj Object) error {
		if _, err := obj.Attrs(); err != nil {
			return err
		}
		if ds, ok := obj.(*Dataset); ok {
			if _, err := ds.Read(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkText(t *testing.T, g *Group, path, want string) {
	t.Helper()
	ds, err := g.Dataset(path)
	if err != nil {
		t.Error(err)
		return
	}
	v, err := ds.Read()
	if err != nil {
		t.Error(err)
		return
	}
	if s, err := v.Text(); err != nil || s != want {
		t.Errorf("%s = %q, %v; want %q", ds.Path(), s, err, want)
	}
}

func checkInts(t *testing.T, g *Group, path string, want []int64) {
	t.Helper()
	ds, err := g.Dataset(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got, err := ds.Int64s(); err != nil || !slices.Equal(got, want) {
		t.Errorf("%s = %v, %v; want %v", ds.Path(), got, err, want)
	}
}

func checkFloats(t *testing.T, g *Group, want map[string][]float64) {
	t.Helper()
	for path, w := range want {
		ds, err := g.Dataset(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if got, err := ds.Float64s(); err != nil || !slices.Equal(got, w) {
			t.Errorf("%s = %v, %v; want %v", ds.Path(), got, err, w)
		}
	}
}
