package chip

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/internal/datatest"
	"github.com/nmsim/nmsim/internal/testmodel"
	"github.com/nmsim/nmsim/workloads/model"
)

// vggModel is the large case of docs/performance.md, a VGG-style binary
// network made by a documented generator: a 3×32×32 8-bit input; blocks
// of a 3×3 convolution (stride 1, pad 1) and a 2×2 sum pool with 64, 128,
// 256 and 512 channels, the last pool global (4×4); a dense output layer
// of 10 integrating neurons. Every weight is ±1 with probability ½ each,
// drawn from rng in layer order; a conv layer's thresholds are
// ⌈√fan-in · scale⌉, the σ of its sum for unit inputs times scale (the
// first layer's scale counts its 8-bit input as 255 · ¼ on average).
func vggModel(rng *rand.Rand) *model.Model {
	var layers []model.Layer
	in := model.Shape{C: 3, H: 32, W: 32}
	cur := in
	for i, ch := range []int{64, 128, 256, 512} {
		out := model.Shape{C: ch, H: cur.H, W: cur.W}
		conv := model.Layer{Name: fmt.Sprintf("conv%d", i+1), Op: model.OpConv, In: cur, Out: out, Kernel: 3, Stride: 1, Pad: 1,
			WeightBits: 1, Spiking: true, Reset: model.ResetSubtract}
		k := 2
		if i == 3 {
			k = out.H
		}
		pooled := model.Shape{C: ch, H: out.H / k, W: out.W / k}
		pool := model.Layer{Name: fmt.Sprintf("pool%d", i+1), Op: model.OpSumPool, In: out, Out: pooled, Kernel: k}
		layers = append(layers, conv, pool)
		cur = pooled
	}
	layers = append(layers, model.Layer{Name: "fc", Op: model.OpDense, In: cur, Out: model.Shape{C: 10, H: 1, W: 1}, WeightBits: 1})
	for i := range layers {
		l := &layers[i]
		if !l.HasWeights() {
			continue
		}
		testmodel.Weights(rng, l)
		if !l.Spiking {
			continue
		}
		scale := 1.0
		if i == 0 {
			scale = 255.0 / 4
		}
		l.Threshold = make([]int64, l.Outputs())
		for j := range l.Threshold {
			l.Threshold[j] = int64(math.Ceil(math.Sqrt(float64(l.FanIn())) * scale))
		}
	}
	m := &model.Model{
		Name: "vgg-random", Input: model.Input{Shape: in, Coding: model.CodingConstant, Bits: 8},
		Layers: layers, Classes: 10, Timesteps: 8, Provenance: map[string]string{"method": "random"},
	}
	if err := m.Validate(); err != nil {
		panic(err)
	}
	return m
}

// resize32 turns a 28×28 grey image into the 3×32×32 input of vggModel:
// nearest-neighbour scaling, the grey level in all three channels.
func resize32(img []uint8) []uint8 {
	x := make([]uint8, 3*32*32)
	for y := 0; y < 32; y++ {
		for xx := 0; xx < 32; xx++ {
			v := img[(y*28/32)*28+xx*28/32]
			for c := 0; c < 3; c++ {
				x[(c*32+y)*32+xx] = v
			}
		}
	}
	return x
}

// peakRSS is the process's peak resident set (VmHWM) in MB, 0 where
// /proc is absent.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkVGG runs MNIST test images, resized to 3×32×32, through
// vggModel for 8 timesteps on a 16×16 and a 32×32 mesh of the default
// tile, with the cycle-level NoC; it reports the tiles used, the spikes
// per inference and the process's peak RSS (the benchmark binary's, so
// an upper bound on a run's). Run it alone: -bench VGG -benchtime 3x.
func BenchmarkVGG(b *testing.B) {
	m := vggModel(rand.New(rand.NewPCG(2026, 15)))
	data := datatest.Set(b, "mnist", "test", 8)
	for _, side := range []int{16, 32} {
		b.Run(fmt.Sprintf("mesh=%dx%d", side, side), func(b *testing.B) {
			cfg := arch.Default()
			cfg.Chip.MeshWidth, cfg.Chip.MeshHeight = side, side
			c, err := New(cfg, m, 1)
			if err != nil {
				b.Fatal(err)
			}
			w := c.NewWorker()
			var spikes int64
			i := 0
			for b.Loop() {
				res := w.Infer(resize32(data.Image(i%data.Len())), uint64(i), m.Timesteps, model.Hooks{})
				i++
				for _, l := range res.Layers {
					spikes += l.Neuron.Spikes
				}
			}
			b.ReportMetric(float64(c.Placement().TilesUsed), "tiles")
			b.ReportMetric(float64(spikes)/float64(i), "spikes/inference")
			b.ReportMetric(peakRSS(), "peakRSS-MB")
		})
	}
}
