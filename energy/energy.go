// Package energy is the component model of a tile and its network: per
// component an area, an energy per action and a leakage power, each from a
// published source at its own node and supply (sources.go), scaled to the
// chip's tech.node_nm and tech.vdd (tech.go). It prices the counters the
// components keep — crossbar.Counters, neuron.Counters, noc.Counters —
// without knowing how they were produced, and gives the chip's area and
// peak power. docs/energy-model.md documents every component.
package energy

import (
	"math"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/crossbar"
	"github.com/nmsim/nmsim/neuron"
	"github.com/nmsim/nmsim/noc"
)

// Component names, in report order.
const (
	Array        = "array"         // ReRAM cells
	RowDrivers   = "row_drivers"   // 1-bit DACs driving the rows
	SampleHold   = "sample_hold"   // one per column
	ADC          = "adc"           // SAR ADCs
	ShiftAdd     = "shift_add"     // shift-and-add units accumulating partial sums
	InputBuffer  = "input_buffer"  // SRAM of the spikes the crossbars read
	Bus          = "bus"           // input buffer to arrays (tile.bus_bits)
	NeuronUnits  = "neuron_units"  // adder and comparator per unit
	Membranes    = "membranes"     // SRAM of the membranes and their activity bits
	OutputBuffer = "output_buffer" // SRAM of the spikes fired
	NI           = "ni"            // network interface: packet FIFO and routing table
	Router       = "router"        // buffers, switch, allocators (a shared router's share)
	Links        = "links"         // router-to-router wires
	Leakage      = "leakage"       // static power of every powered tile over the run
)

// Components lists the component names in report order (leakage, which is
// not a component, excluded).
var Components = []string{Array, RowDrivers, SampleHold, ADC, ShiftAdd, InputBuffer, Bus,
	NeuronUnits, Membranes, OutputBuffer, NI, Router, Links}

// Item is one component's share of something: joules, mm² or watts.
type Item struct {
	Component string
	Value     float64
}

// Part is one component of a tile.
type Part struct {
	Name    string
	Count   float64 // instances per tile (a router shared by k tiles counts 1/k)
	AreaMM2 float64 // of all instances, per tile
	LeakW   float64 // leakage of all instances, per tile
	PeakW   float64 // dynamic power of all instances at their maximum rate, per tile
}

// Model is one design point's component model.
type Model struct {
	Tech    Tech
	clockHz float64
	tiles   int
	gating  bool
	parts   []Part // per tile, in Components order
	// energies per action at the chip's node, J
	cell, dac, sh, adc, shiftAdd, inRead, bus  float64
	unit, memUpdate, memSkip, spike            float64
	packet, niFlit, bufW, bufR, switchT, alloc float64
	link                                       float64
	tileSide                                   float64 // mm
}

// New builds the model of cfg (which must be valid). use sizes the buffers
// of a mapping (UsageOf); nil sizes them for a tile whose crossbars all
// hold one dense layer: one input bit per row, one neuron per column pair.
func New(cfg *arch.Config, use *Usage) *Model {
	t := TechOf(cfg)
	cb, tl, nu, nc := cfg.Crossbar, cfg.Tile, cfg.Neuron, cfg.NoC
	f := cfg.Chip.ClockMHz * 1e6
	m := &Model{Tech: t, clockHz: f, tiles: cfg.Chip.MeshWidth * cfg.Chip.MeshHeight, gating: tl.PowerGating}
	area := func(mm2 float64, src Tech) float64 { return mm2 * AreaScale(src.NodeNM, t.NodeNM) }
	joules := func(j float64, src Tech) float64 { return j * EnergyScale(src, t) }
	sram := func(width, capacity float64) float64 { return joules(sramJ(width, capacity), horowitzTech) }
	sramArea := func(bits float64) float64 { return area(bits*isaacSRAMBitAreaMM2, isaacTech) }
	add := func(bits int) (j, mm2 float64) {
		return joules(horowitzAdd32J*float64(bits)/32, horowitzTech), area(horowitzAdd32AreaMM2*float64(bits)/32, horowitzTech)
	}

	// Storage sizes, bits.
	xb := float64(tl.Crossbars)
	inBits, outBits, memBits := xb*float64(cb.Rows), xb*float64(cb.Cols/2), xb*float64(cb.Cols/2)*float64(nu.MembraneBits)
	if use != nil {
		inBits, outBits, memBits = float64(use.InputBits), float64(use.OutputBits), float64(use.MembraneBits)
	}
	kb := func(set, sized float64) float64 {
		if set > 0 {
			return set * 8192
		}
		return max(sized, 1)
	}
	inBits, outBits = kb(tl.InputBufferKB, inBits), kb(tl.OutputBufferKB, outBits)
	memBits = kb(nu.MembraneKB, memBits)
	neurons := memBits / float64(nu.MembraneBits)

	// The array: V_read² · G · t per driven cell, G the mean of an on and
	// an off cell (a ±1 weight is one of each; bit-slices likewise).
	dv := cfg.Device
	gOn := 1 / (dv.ROnKOhm * 1e3)
	tRead := math.Min(dv.ReadPulseNS, cfg.ReadNS()) * 1e-9
	m.cell = dv.ReadVoltage * dv.ReadVoltage * tRead * (gOn + gOn/dv.OnOffRatio) / 2
	fnm := t.NodeNM * 1e-6 // F in mm
	arrayArea := xb * float64(cb.Rows*cb.Cols) * dv.CellAreaF2 * fnm * fnm
	// A read takes the longer of the array's settling and the ADCs'
	// conversions of their columns.
	readS := float64(max(cb.ReadLatencyCycles, cb.ColsPerADC*cb.ADCLatencyCycles)) / f
	reads := xb / readS // array reads per second per tile at the maximum rate

	m.dac = joules(isaacDACJ, isaacTech)
	m.sh = joules(isaacSHJ, isaacTech)
	adcJ, adcMM2 := adcAt(cb.ADCBits)
	m.adc = joules(adcJ, isaacTech)
	adcs := xb * float64(cb.Cols/cb.ColsPerADC)
	m.shiftAdd = joules(isaacShiftAddJ, isaacTech)
	m.inRead = sram(float64(cb.RowsPerRead), inBits)

	// Neuron units: an adder for the input and a comparator (a subtractor)
	// of membrane_bits each; per update the membrane is read and written.
	// The store is banked, one bank per unit, so that the units work in
	// parallel.
	addJ, addMM2 := add(nu.MembraneBits)
	m.unit = 2 * addJ
	units := float64(nu.UnitsPerTile)
	m.memUpdate = 2 * sram(float64(nu.MembraneBits), memBits/units)
	// A skipped neuron costs one bit of a 64-bit read of its bank's
	// activity map.
	m.memSkip = sram(64, neurons/units) / 64
	m.spike = sram(64, outBits) / 64 // one bit of a 64-bit write
	updates := float64(nu.UnitsPerTile) * f / float64(nu.UpdateCycles)

	// Network interface: a FIFO of one packet's flits, written and read
	// per flit; a routing table of one header per tile, read per packet.
	maxFlits := float64((nc.HeaderBits + nc.MaxSpikesPerPacket*nc.SpikeBits + nc.FlitBits - 1) / nc.FlitBits)
	fifoBits := maxFlits * float64(nc.FlitBits)
	tableBits := float64(m.tiles * nc.HeaderBits)
	m.niFlit = 2 * sram(float64(nc.FlitBits), fifoBits)
	m.packet = sram(float64(nc.HeaderBits), tableBits)

	// Router: ISAAC's ORION 2.0 router per bit and port, its input buffers
	// from the SRAM model, two arbitrations (VC and switch allocation) of
	// an 8-bit add each; the switch traversal is the rest of ORION's
	// figure (crossbar, pipeline registers, clock).
	share := 1 / float64(tl.TilesPerRouter)
	ports := 4 + tl.TilesPerRouter
	vcBits := float64(nc.VCs * nc.VCDepth * nc.FlitBits)
	flit := float64(nc.FlitBits)
	hop := joules(isaacRouterBitJ, isaacTech) * flit
	m.bufW = sram(flit, vcBits)
	m.bufR = m.bufW
	m.alloc = 2 * joules(horowitzAdd8J, horowitzTech)
	m.switchT = max(hop-m.bufW-m.bufR-m.alloc, 0)
	// The router's switch, allocators and pipeline (ORION 2.0 as ISAAC
	// gives it, per port and flit bit) and its input buffers.
	switchArea := area(isaacRouterAreaMM2*float64(ports*nc.FlitBits)/(isaacRouterPorts*isaacRouterFlitBits), isaacTech)
	routerBits := float64(ports) * vcBits

	// Leakage, in the process tech.process: logic leaks its area × the
	// process's density, SRAM and buffers per bit. The ReRAM cells hold
	// their weights without power, and their access transistors (word
	// line off, bit and source lines at 0 V) see no voltage; links are
	// wires. ADCs, DACs and sample-and-holds are switched capacitors and
	// dynamic comparators without static bias current [Kull13], so they
	// leak as logic of their area.
	density := leakageDensity(cfg.Tech.Process) * LeakageScale(nangateTech, t) / AreaScale(nangateTech.NodeNM, t.NodeNM)
	bitW := sramBitLeakW(cfg.Tech.Process) * LeakageScale(cactiTech, t)
	logic := func(name string, count, mm2, peak float64) Part {
		return Part{Name: name, Count: count, AreaMM2: mm2, LeakW: mm2 * density, PeakW: peak}
	}
	store := func(name string, bits, peak float64) Part {
		return Part{Name: name, Count: 1, AreaMM2: sramArea(bits), LeakW: bits * bitW, PeakW: peak}
	}

	input := store(InputBuffer, inBits, reads*m.inRead)
	if tl.InputBufferCell == "edram" {
		input.AreaMM2, input.LeakW = area(inBits*isaacEDRAMBitAreaMM2, isaacTech), inBits*edramBitLeakW*LeakageScale(cactiTech, t)
	}

	busArea := area(float64(tl.BusBits)*isaacBusWireAreaMM2, isaacTech)
	parts := []Part{
		{Name: Array, Count: xb, AreaMM2: arrayArea, PeakW: reads * float64(cb.RowsPerRead*cb.Cols) * m.cell},
		logic(RowDrivers, xb*float64(cb.Rows), area(xb*float64(cb.Rows)*isaacDACAreaMM2, isaacTech), reads*float64(cb.RowsPerRead)*m.dac),
		logic(SampleHold, xb*float64(cb.Cols), area(xb*float64(cb.Cols)*isaacSHAreaMM2, isaacTech), reads*float64(cb.Cols)*m.sh),
		logic(ADC, adcs, area(adcs*adcMM2, isaacTech), adcs*f/float64(cb.ADCLatencyCycles)*m.adc),
		logic(ShiftAdd, float64(tl.ShiftAddUnits), area(float64(tl.ShiftAddUnits)*isaacShiftAddAreaMM2, isaacTech),
			float64(tl.ShiftAddUnits)*f*m.shiftAdd),
		input,
		logic(Bus, float64(tl.BusBits), busArea, 0), // its repeaters leak as logic
		logic(NeuronUnits, float64(nu.UnitsPerTile), float64(nu.UnitsPerTile)*2*addMM2, updates*m.unit),
		store(Membranes, memBits+neurons, updates*m.memUpdate),
		store(OutputBuffer, outBits, updates*m.spike),
		store(NI, fifoBits+tableBits, f*(m.niFlit+m.packet/maxFlits)),
		{Name: Router, Count: share, AreaMM2: share * (switchArea + sramArea(routerBits)),
			LeakW: share * (switchArea*density + routerBits*bitW),
			PeakW: share * float64(ports) * f * (m.bufW + m.bufR + m.switchT + m.alloc)},
		{Name: Links, Count: 4 * share},
	}
	tileArea := 0.0
	for _, p := range parts {
		tileArea += p.AreaMM2
	}
	// Wires: Park et al.'s energy per bit and mm over the tile (bus) and
	// the router pitch (links), which the tiles' area sets.
	bitMM := joules(parkLinkBitMMJ, parkTech)
	m.tileSide = math.Sqrt(tileArea)
	if tl.BusBits > 0 {
		m.bus = float64(cb.RowsPerRead) * bitMM * m.tileSide
	}
	m.link = flit * bitMM * math.Sqrt(tileArea*float64(tl.TilesPerRouter))
	for i := range parts {
		switch parts[i].Name {
		case Bus:
			parts[i].PeakW = float64(tl.BusBits) * f * bitMM * m.tileSide
		case Links:
			parts[i].PeakW = 4 * share * f * m.link
		}
	}
	m.parts = parts
	return m
}

// Parts lists the tile's components, in Components order.
func (m *Model) Parts() []Part { return m.parts }

// Dynamic is the switching energy of the components' counters, one item
// per component in Components order. Every counter is priced
// (TestEveryCounterIsPriced):
//
//	crossbar: reads → input buffer (a row group's spikes) and bus;
//	  rows driven → row drivers; cell reads → array; conversions → ADC
//	  and sample-and-hold; shift-adds → shift-and-add units
//	neuron: updates → neuron units and membranes (read, write);
//	  skipped → membranes (an activity bit); spikes → output buffer
//	noc: packets → NI routing table; flits → NI FIFO; buffer writes and
//	  reads, switch traversals, router visits (allocation) → router;
//	  link flits → links
func (m *Model) Dynamic(xb crossbar.Counters, nu neuron.Counters, nc noc.Counters) []Item {
	n := func(c int64) float64 { return float64(c) }
	return []Item{
		{Array, n(xb.CellReads) * m.cell},
		{RowDrivers, n(xb.RowsDriven) * m.dac},
		{SampleHold, n(xb.Conversions) * m.sh},
		{ADC, n(xb.Conversions) * m.adc},
		{ShiftAdd, n(xb.ShiftAdds) * m.shiftAdd},
		{InputBuffer, n(xb.Reads) * m.inRead},
		{Bus, n(xb.Reads) * m.bus},
		{NeuronUnits, n(nu.Updates) * m.unit},
		{Membranes, n(nu.Updates)*m.memUpdate + n(nu.Skipped)*m.memSkip},
		{OutputBuffer, n(nu.Spikes) * m.spike},
		{NI, n(nc.Packets)*m.packet + n(nc.Flits)*m.niFlit},
		{Router, n(nc.BufferWrites)*m.bufW + n(nc.BufferReads)*m.bufR + n(nc.SwitchFlits)*m.switchT + n(nc.RouterFlits)*m.alloc},
		{Links, n(nc.LinkFlits) * m.link},
	}
}

// Action is the energy one counted event costs one component.
type Action struct {
	Component string  `json:"component"`
	Counter   string  `json:"counter"` // the counter's JSON name: "crossbar.cell_reads"
	Joules    float64 `json:"j"`
}

// Actions lists the energy per action of every component, by the counter
// that prices it, in Components order; Dynamic charges exactly these
// (TestActionsAreWhatDynamicCharges).
func (m *Model) Actions() []Action {
	return []Action{
		{Array, "crossbar.cell_reads", m.cell},
		{RowDrivers, "crossbar.rows_driven", m.dac},
		{SampleHold, "crossbar.conversions", m.sh},
		{ADC, "crossbar.conversions", m.adc},
		{ShiftAdd, "crossbar.shift_adds", m.shiftAdd},
		{InputBuffer, "crossbar.reads", m.inRead},
		{Bus, "crossbar.reads", m.bus},
		{NeuronUnits, "neuron.updates", m.unit},
		{Membranes, "neuron.updates", m.memUpdate},
		{Membranes, "neuron.skipped", m.memSkip},
		{OutputBuffer, "neuron.spikes", m.spike},
		{NI, "noc.packets", m.packet},
		{NI, "noc.flits", m.niFlit},
		{Router, "noc.buffer_writes", m.bufW},
		{Router, "noc.buffer_reads", m.bufR},
		{Router, "noc.switch_flits", m.switchT},
		{Router, "noc.router_flits", m.alloc},
		{Links, "noc.link_flits", m.link},
	}
}

// PoweredTiles is the number of tiles that leak: the tiles used when
// unused ones are power-gated, else all.
func (m *Model) PoweredTiles(used int) int {
	if m.gating {
		return used
	}
	return m.tiles
}

// TileLeakageW is the leakage power of one powered tile.
func (m *Model) TileLeakageW() float64 {
	w := 0.0
	for _, p := range m.parts {
		w += p.LeakW
	}
	return w
}

// LeakageJ is the static energy over cycles of the tiles that leak (see
// PoweredTiles).
func (m *Model) LeakageJ(cycles int64, used int) float64 {
	return m.TileLeakageW() * float64(m.PoweredTiles(used)) * m.Seconds(cycles)
}

// Seconds converts cycles to time at the chip clock.
func (m *Model) Seconds(cycles int64) float64 { return float64(cycles) / m.clockHz }

// Breakdown is the full energy of a run: the dynamic items of the counters
// followed by leakage over cycles with used tiles in use.
func (m *Model) Breakdown(xb crossbar.Counters, nu neuron.Counters, nc noc.Counters, cycles int64, used int) []Item {
	return append(m.Dynamic(xb, nu, nc), Item{Leakage, m.LeakageJ(cycles, used)})
}

// TileAreaMM2 is the area of one tile (its share of a shared router
// included).
func (m *Model) TileAreaMM2() float64 {
	a := 0.0
	for _, p := range m.parts {
		a += p.AreaMM2
	}
	return a
}

// TilePeakW is the peak power of one tile: every component at its maximum
// rate, plus leakage.
func (m *Model) TilePeakW() float64 {
	w := m.TileLeakageW()
	for _, p := range m.parts {
		w += p.PeakW
	}
	return w
}

// Tiles is the number of tiles of the chip.
func (m *Model) Tiles() int { return m.tiles }

// Total sums items.
func Total(items []Item) float64 {
	t := 0.0
	for _, it := range items {
		t += it.Value
	}
	return t
}
