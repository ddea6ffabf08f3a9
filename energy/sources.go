package energy

import "math"

// The published figures the component model is built from, each at the
// node and supply it was reported at. docs/energy-model.md gives the same
// list with the derivations.
var (
	// ISAAC: A. Shafiee et al., "ISAAC: A convolutional neural network
	// accelerator with in-situ analog arithmetic in crossbars", ISCA 2016,
	// Table 1; 32 nm, projected (CACTI 6.5, ORION 2.0 and published
	// circuits). The paper gives no supply; we take 32 nm's nominal one.
	isaacTech = Tech{NodeNM: 32, Vdd: 0.9}
	// M. Horowitz, "Computing's energy problem (and what we can do about
	// it)", ISSCC 2014; 45 nm, 0.9 V.
	horowitzTech = Tech{NodeNM: 45, Vdd: 0.9}
	// Nangate 45 nm Open Cell Library, typical corner (1.1 V, 25 °C).
	nangateTech = Tech{NodeNM: 45, Vdd: 1.1}
	// CACTI 6.5 (HP Labs), technology.cc, its 32 nm device tables (ITRS
	// 2007 through MASTAR); SRAM leakage taken at 0.9 V, 32 nm's nominal
	// supply here.
	cactiTech = Tech{NodeNM: 32, Vdd: 0.9}
	// S. Park et al., "40.4fJ/bit/mm low-swing on-chip signaling ... within a
	// mesh NoC in 45nm SOI CMOS", DATE 2013; 45 nm SOI,
	// measured. The supply is not restated here; we take 45 nm's nominal.
	parkTech = Tech{NodeNM: 45, Vdd: 1.0}
)

const (
	// ISAAC's crossbars read once per 100 ns cycle; every DAC drives and
	// every sample-and-hold samples once per read.
	isaacReadHz = 1e7
	// 1-bit DACs: 4 mW and 0.00017 mm² for the 8 × 128 of an IMA.
	isaacDACJ       = 4e-3 / 1024 / isaacReadHz // 0.39 pJ per row drive
	isaacDACAreaMM2 = 0.00017 / 1024
	// Sample-and-hold: 10 µW and 0.00004 mm² for the 8 × 128 of an IMA.
	isaacSHJ       = 10e-6 / 1024 / isaacReadHz // 0.98 fJ per sample
	isaacSHAreaMM2 = 0.00004 / 1024
	// Shift-and-add: 0.2 mW for the 4 units of an IMA, which take the
	// 8 ADCs' 1.2 GS/s each: 0.2 mW / 9.6 G/s = 0.021 pJ per operation, as
	// Accelergy's hwcomponents-library (isaac.py) derives it; 60 µm² each
	// (0.00024 mm² for 4).
	isaacShiftAddJ       = 0.2e-3 / 9.6e9
	isaacShiftAddAreaMM2 = 0.00006
	// Router: 42 mW and 0.151 mm² for 8 ports of 32-bit flits (ORION 2.0),
	// shared by 4 tiles. Every port moving a flit every cycle at 1.2 GHz
	// (the ADC clock; the paper states no router clock) gives 42 mW /
	// (8 × 32 bits × 1.2 GHz) = 0.137 pJ per bit per router.
	isaacRouterW        = 42e-3
	isaacRouterAreaMM2  = 0.151
	isaacRouterPorts    = 8
	isaacRouterFlitBits = 32
	isaacRouterHz       = 1.2e9
	isaacRouterBitJ     = isaacRouterW / (isaacRouterPorts * isaacRouterFlitBits * isaacRouterHz)
	// eDRAM-to-IMA bus: 384 wires in 0.090 mm².
	isaacBusWireAreaMM2 = 0.090 / 384
	// SRAM area per bit: ISAAC's 2 KB input register, 0.0021 mm² (CACTI
	// 6.5, periphery included).
	isaacSRAMBitAreaMM2 = 0.0021 / (2 * 8192)
	// eDRAM area per bit: ISAAC's 64 KB eDRAM buffer, 0.083 mm².
	isaacEDRAMBitAreaMM2 = 0.083 / (64 * 8192)

	// Horowitz (ISSCC 2014): 32-bit integer add 0.1 pJ in 137 µm²; 8-bit
	// add 0.03 pJ; a 64-bit read of an 8 KB SRAM 10 pJ.
	horowitzAdd32J       = 0.1e-12
	horowitzAdd32AreaMM2 = 137e-6
	horowitzAdd8J        = 0.03e-12
	horowitzSRAMJ        = 10e-12
	horowitzSRAMWidth    = 64
	horowitzSRAMDepth    = 8 * 8192 / 64

	// Nangate 45 nm Open Cell Library, typical corner: INV_X1 leaks
	// 14.35 nW (cell_leakage_power) in 0.532 µm², 27 mW/mm², the densest
	// leaker of a library of high-performance transistors: the logic
	// leakage density of process "hp"; the other processes scale it by
	// their off-current (leakageDensity).
	nangateLeakWPerMM2 = 14.353e-9 / 0.532e-6

	// Park et al. (DATE 2013): 40.4 fJ per bit per mm of link.
	parkLinkBitMMJ = 40.4e-15
)

// Accelergy's ISAAC ADC (hwcomponents-library isaac.py): the 8-bit
// 1.2 GS/s SAR ADC of Kull et al. (ISSCC 2013, 32 nm) as ISAAC uses it,
// 1.67 pJ per conversion in 1200 µm², scaled to 4..10 bits with the
// capacitive-DAC model of M. Saberi et al., "Analysis of power consumption
// and linearity in capacitive digital-to-analog converters used in
// successive approximation ADCs", IEEE TCAS-I 2011. Index: bits − 4.
var (
	adcPJ   = []float64{0.79, 0.99, 1.20, 1.42, 1.666666667, 1.969078145, 2.379022742}
	adcUM2  = []float64{361.04, 476.91, 626.91, 845.18, 1200, 1827.911647, 3002.008032}
	adcBits = [2]int{4, 10}
)

// adcAt returns the energy (J) and area (mm²) of one conversion at bits, at
// ISAAC's node: the Saberi-scaled table, extended beyond 4..10 bits by the
// ratio of its last (or first) two rows per bit.
func adcAt(bits int) (joules, mm2 float64) {
	at := func(tab []float64) float64 {
		lo, hi := adcBits[0], adcBits[1]
		switch {
		case bits < lo:
			return tab[0] * math.Pow(tab[1]/tab[0], float64(bits-lo))
		case bits > hi:
			n := len(tab)
			return tab[n-1] * math.Pow(tab[n-1]/tab[n-2], float64(bits-hi))
		}
		return tab[bits-lo]
	}
	return at(adcPJ) * 1e-12, at(adcUM2) * 1e-6
}

// sramJ is the energy (J, at Horowitz's node) of one access of width bits
// to an SRAM of capacity bits: Horowitz's 8 KB figure scaled linearly in
// width and by depth^0.78 in depth, the CACTI-derived law of Accelergy's
// scaling (hwcomponents scaling.py, "depth: (v1/v0)**(1.56/2)").
func sramJ(width, capacity float64) float64 {
	depth := max(capacity/width, 1)
	return horowitzSRAMJ * width / horowitzSRAMWidth * math.Pow(depth/horowitzSRAMDepth, 0.78)
}

// offCurrent is the subthreshold off-current (A per µm of gate width) of an
// NMOS device of each process at 32 nm and 300 K: CACTI 6.5 technology.cc,
// tech == 32, I_off_n[0|1|2][0] for HP, LSTP and LOP (ITRS 2007 projections
// through MASTAR); CACTI takes the PMOS off-current equal.
var offCurrent = map[string]float64{"hp": 1.52e-7, "lstp": 2.06e-11, "lop": 5.94e-8}

// A 6T SRAM cell in CACTI 6.5 (technology.cc, 32 nm): access transistors
// 1.31 F, pull-up PMOS 1.23 F, pull-down NMOS 2.08 F wide. Holding a bit
// with its bit lines precharged, one of each is off and leaks: 4.62 F of
// gate width per bit.
const sramOffWidthF = 1.31 + 1.23 + 2.08

// leakageDensity is the leakage of logic (W per mm², at Nangate's node and
// supply) in a process: Nangate's INV_X1 density for "hp", scaled by the
// process's off-current against HP's.
func leakageDensity(process string) float64 {
	return nangateLeakWPerMM2 * offCurrent[process] / offCurrent["hp"]
}

// sramBitLeakW is the leakage of one SRAM bit (W, at CACTI's node and
// supply) in a process: off-current × 4.62 F of gate width × supply.
func sramBitLeakW(process string) float64 {
	return offCurrent[process] * sramOffWidthF * cactiTech.NodeNM * 1e-3 * cactiTech.Vdd
}

// An eDRAM cell (CACTI 6.5 technology.cc, 32 nm, ram_cell_tech_type ==
// lp_dram, the logic-process DRAM of embedded memories): its access
// transistor leaks curr_I_off_dram_cell_worst_case_length_temp = 18.9 pA
// at curr_vdd_dram_cell = 1.0 V, whatever the logic's process: 18.9 pW per
// bit, the worst case of length and temperature. Its refresh is not
// modelled.
const edramBitLeakW = 18.9e-12 * 1.0
