package energy

import (
	"math"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/neuron"
	"github.com/nmsim/nmsim/noc"
)

func TestEnergyIsCountersTimesConstants(t *testing.T) {
	cfg := arch.Default()
	cfg.Energy = arch.Energy{CellReadFJ: 10, RowDriverPJ: 1, ADCPJ: 2, ADCRefBits: 8, ShiftAddPJ: 0.5, NeuronUpdatePJ: 3, PacketPJ: 4, RouterFlitPJ: 5, LinkFlitPJ: 6, TileLeakageMW: 2}
	cfg.Crossbar.ADCBits = 6 // a quarter of the 8-bit energy
	cfg.Chip.ClockMHz = 100
	cfg.Chip.MeshWidth, cfg.Chip.MeshHeight = 2, 2
	m := New(cfg)
	xb := crossbar.Counters{CellReads: 1000, RowsDriven: 10, Conversions: 8, ShiftAdds: 8}
	nu := neuron.Counters{Updates: 7}
	nc := noc.Counters{Packets: 2, RouterFlits: 5, SwitchFlits: 6, LinkFlits: 4}
	want := map[string]float64{
		CrossbarCells: 1000 * 10e-15, RowDrivers: 10e-12, ADC: 8 * 0.5e-12, ShiftAdd: 8 * 0.5e-12,
		Neurons: 21e-12, NIPackets: 8e-12, Routers: 30e-12, Links: 24e-12,
		Leakage: 2e-3 * 4 * 1000 / 100e6, // 4 tiles × 2 mW × 10 µs
	}
	items := m.Breakdown(xb, nu, nc, 1000)
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d", len(items), len(want))
	}
	for _, it := range items {
		if math.Abs(it.Joules-want[it.Component]) > 1e-9*want[it.Component] {
			t.Errorf("%s = %g J, want %g", it.Component, it.Joules, want[it.Component])
		}
	}
	sum := 0.0
	for _, v := range want {
		sum += v
	}
	if got := Total(items); math.Abs(got-sum) > 1e-9*sum {
		t.Errorf("total %g, want %g", got, sum)
	}
	if s := m.Seconds(250); s != 2.5e-6 {
		t.Errorf("250 cycles at 100 MHz = %g s", s)
	}
}
