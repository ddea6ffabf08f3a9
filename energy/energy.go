// Package energy turns operation counters into joules: energy = Σ counter ×
// per-event energy + leakage power × tiles × time. The per-event constants
// and their sources live in arch.toml (see configs/rram-xnor.toml and
// docs/arch.md); this package only applies them.
package energy

import (
	"math"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/neuron"
	"github.com/nmsim/nmsim/noc"
)

// Item is one component's energy.
type Item struct {
	Component string
	Joules    float64
}

// Component names, in report order.
const (
	CrossbarCells = "crossbar_cells"
	RowDrivers    = "row_drivers"
	ADC           = "adc"
	ShiftAdd      = "shift_add"
	Neurons       = "neurons"
	NIPackets     = "ni_packets"
	Routers       = "routers"
	Links         = "links"
	Leakage       = "leakage"
)

// Model applies one design point's constants.
type Model struct {
	e       arch.Energy
	adcJ    float64 // per conversion at the configured ADC resolution
	clockHz float64
	tiles   int
}

// New builds the energy model of cfg. The ADC energy per conversion scales
// as 2^(adc_bits − adc_ref_bits): a constant Walden figure of merit, the
// usual first-order law for SAR ADCs.
func New(cfg *arch.Config) *Model {
	e := cfg.Energy
	return &Model{
		e:       e,
		adcJ:    e.ADCPJ * 1e-12 * math.Exp2(float64(cfg.Crossbar.ADCBits-e.ADCRefBits)),
		clockHz: cfg.Chip.ClockMHz * 1e6,
		tiles:   cfg.Chip.MeshWidth * cfg.Chip.MeshHeight,
	}
}

// Dynamic is the switching energy of the components' counters, one item
// per component in report order (leakage excluded). The extra flit copies
// that a tree multicast forks inside routers (switch traversals beyond one
// per router visit) cost a router traversal each.
func (m *Model) Dynamic(xb crossbar.Counters, nu neuron.Counters, nc noc.Counters) []Item {
	return []Item{
		{CrossbarCells, float64(xb.CellReads) * m.e.CellReadFJ * 1e-15},
		{RowDrivers, float64(xb.RowsDriven) * m.e.RowDriverPJ * 1e-12},
		{ADC, float64(xb.Conversions) * m.adcJ},
		{ShiftAdd, float64(xb.ShiftAdds) * m.e.ShiftAddPJ * 1e-12},
		{Neurons, float64(nu.Updates) * m.e.NeuronUpdatePJ * 1e-12},
		{NIPackets, float64(nc.Packets) * m.e.PacketPJ * 1e-12},
		{Routers, float64(nc.SwitchFlits) * m.e.RouterFlitPJ * 1e-12},
		{Links, float64(nc.LinkFlits) * m.e.LinkFlitPJ * 1e-12},
	}
}

// LeakageJ is the static energy of every tile of the chip over cycles
// (unused tiles are not power-gated).
func (m *Model) LeakageJ(cycles int64) float64 {
	return m.e.TileLeakageMW * 1e-3 * float64(m.tiles) * float64(cycles) / m.clockHz
}

// Seconds converts cycles to time at the chip clock.
func (m *Model) Seconds(cycles int64) float64 { return float64(cycles) / m.clockHz }

// Breakdown is the full energy of a run: the dynamic items of c followed by
// leakage over cycles.
func (m *Model) Breakdown(xb crossbar.Counters, nu neuron.Counters, nc noc.Counters, cycles int64) []Item {
	return append(m.Dynamic(xb, nu, nc), Item{Leakage, m.LeakageJ(cycles)})
}

// Total sums items.
func Total(items []Item) float64 {
	t := 0.0
	for _, it := range items {
		t += it.Joules
	}
	return t
}
