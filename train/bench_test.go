package train

import (
	"context"
	"fmt"
	"testing"

	"github.com/nmsim/nmsim/workloads/model"
)

// BenchmarkTrainStep is one minibatch of 64 samples (forward, backward,
// update) of each method on its shipped net, with 1 and 2 workers: the
// ratio of the two is what the second core buys. The surrogate step also
// includes its closing validation pass over the same 64 samples.
func BenchmarkTrainStep(b *testing.B) {
	in := model.Shape{C: 1, H: 28, W: 28}
	data := synthetic(in, 10, 64, 1)
	ctx := context.Background()
	methods := []struct {
		name, net string
		step      func(net Net, workers int) error
	}{
		{"convert", "conv", func(net Net, workers int) error {
			_, err := Train(ctx, net, data, Config{Epochs: 1, Batch: 64, LR: 1e-3, Workers: workers})
			return err
		}},
		{"ttfs", "784-600-10", func(net Net, workers int) error {
			cfg := DefaultTTFSConfig()
			cfg.Epochs, cfg.Workers = 1, workers
			_, err := TrainTTFS(ctx, net, data, cfg)
			return err
		}},
		{"surrogate", "32c3p1-ap2-64c3p1-ap2-128c3p1-gap-10", func(net Net, workers int) error {
			_, err := TrainSurrogate(ctx, net, data, data, SurrogateConfig{Timesteps: 1, Epochs: 1, Batch: 64, LR: 1e-3, Workers: workers, BinarizeTolerance: -1})
			return err
		}},
	}
	for _, m := range methods {
		net := mustNet(b, m.net, in)
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", m.name, workers), func(b *testing.B) {
				for range b.N {
					if err := m.step(net, workers); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
