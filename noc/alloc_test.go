package noc

import (
	"math/bits"
	"slices"
	"testing"

	"github.com/nmsim/nmsim/arch"
	"github.com/nmsim/nmsim/sim"
)

// allocRouter is the centre router (1,1) of a 3×3 mesh with 2 VCs × 4
// flits, and its input VCs.
func allocRouter(t *testing.T) (*Net, int, []inVC) {
	t.Helper()
	n := NewNet(netConfig(3, 3, "mesh", func(c *arch.NoC) { c.VCs, c.VCDepth = 2, 4 }))
	const r = 4
	return n, r, n.in[r*vcSlots : (r+1)*vcSlots]
}

// allocate runs VC allocation of router r among its input VCs ready in
// cycle t, which files the switch requests, then switch allocation, and
// returns whether a head won its VCs and the switch grants.
func allocate(n *Net, r int, ready uint64, t sim.Cycle) (moved bool, grants uint64) {
	var sw swReqs
	moved = n.allocVCs(r, &n.rt[r], n.in[r*vcSlots:(r+1)*vcSlots], ready, &sw, t)
	return moved, n.allocSwitch(&n.rt[r], &sw)
}

// holding is the input VCs of router r that hold flits.
func holding(n *Net, r int) uint64 {
	var m uint64
	for i, q := range n.in[r*vcSlots : (r+1)*vcSlots] {
		m |= b2u(q.n > 0) << i
	}
	return m
}

// unpackGrants splits allocSwitch's grants into the input ports granted
// and, per input port, the output ports it won and the VC that won them.
func unpackGrants(g uint64) (granted uint8, grant, vc [numPorts]uint8) {
	for ip := range numPorts {
		if b := uint8(g >> (8 * ip)); b != 0 {
			granted |= 1 << ip
			grant[ip], vc[ip] = b&(1<<numPorts-1), b>>5
		}
	}
	return granted, grant, vc
}

// TestSwitchAllocatorRoundRobin holds a head in VC 0 of every input port
// of a router, all of them holding output VC 0 of port x+: every cycle
// exactly one input wins x+, and the winners take turns, each input
// winning as often as the others.
func TestSwitchAllocatorRoundRobin(t *testing.T) {
	n, r, ins := allocRouter(t)
	var ready uint64
	for ip := range numPorts {
		q := &ins[ip*maxVCs]
		q.outMask, q.vaMask, q.outVC[portXPlus] = 1<<portXPlus, 1<<portXPlus, 0
		ready |= 1 << (ip * maxVCs)
	}
	wins := make([]int, numPorts)
	last := -1
	const rounds = 40
	for range rounds * numPorts {
		_, g := allocate(n, r, ready, 0)
		granted, grant, wantVC := unpackGrants(g)
		if bits.OnesCount8(granted) != 1 {
			t.Fatalf("granted inputs %05b: want exactly one for one contended output", granted)
		}
		ip := bits.TrailingZeros8(granted)
		if grant[ip] != 1<<portXPlus || wantVC[ip] != 0 {
			t.Fatalf("input %d won ports %05b on VC %d, want x+ on VC 0", ip, grant[ip], wantVC[ip])
		}
		if ip == last {
			t.Fatalf("input %d won twice in a row against 4 other requesters", ip)
		}
		last = ip
		wins[ip]++
	}
	for ip, w := range wins {
		if w != rounds {
			t.Errorf("input %s won %d of %d rounds, want %d (round-robin)", portNames[ip], w, rounds*numPorts, rounds)
		}
	}
}

// TestSwitchAllocatorNoDoubleGrantAndCredits gives every input port two
// ready VCs towards different outputs and checks, cycle after cycle, that
// no output is granted twice, no input sends more than one flit, and no
// flit is granted an output VC without a credit.
func TestSwitchAllocatorNoDoubleGrantAndCredits(t *testing.T) {
	n, r, ins := allocRouter(t)
	rt := &n.rt[r]
	var ready uint64
	for ip := range numPorts {
		for vc := range 2 {
			out := (ip + vc + 1) % numPorts // two different outputs per input
			q := &ins[ip*maxVCs+vc]
			q.outMask, q.vaMask, q.outVC[out] = 1<<out, 1<<out, uint8(vc)
			ready |= 1 << (ip*maxVCs + vc)
		}
	}
	// Output VC 1 of port y+ has no credit: the VC holding it must never
	// win, whatever the pointers say.
	rt.credit[portYPlus*maxVCs+1] = 0
	won := map[[2]int]int{}
	for range 200 {
		_, g := allocate(n, r, ready, 0)
		granted, grant, wantVC := unpackGrants(g)
		var outs uint8
		for m := granted; m != 0; m &= m - 1 {
			ip := bits.TrailingZeros8(m)
			if bits.OnesCount8(grant[ip]) != 1 {
				t.Fatalf("input %d won ports %05b: a unicast flit crosses to one port", ip, grant[ip])
			}
			if outs&grant[ip] != 0 {
				t.Fatalf("output %05b granted twice in a cycle", grant[ip])
			}
			outs |= grant[ip]
			q := &ins[ip*maxVCs+int(wantVC[ip])]
			if grant[ip] != q.vaMask {
				t.Fatalf("input %d VC %d won ports %05b, it requested %05b", ip, wantVC[ip], grant[ip], q.vaMask)
			}
			p := bits.TrailingZeros8(grant[ip])
			if rt.credit[p*maxVCs+int(q.outVC[p])] <= 0 {
				t.Fatalf("input %d VC %d won output %s VC %d without a credit", ip, wantVC[ip], portNames[p], q.outVC[p])
			}
			won[[2]int{ip, int(wantVC[ip])}]++
		}
		if granted == 0 {
			t.Fatal("nothing granted with every output requested")
		}
	}
	for ip := range numPorts {
		for vc := range 2 {
			out := (ip + vc + 1) % numPorts
			if out == portYPlus && vc == 1 {
				if won[[2]int{ip, vc}] != 0 {
					t.Errorf("input %d VC %d won %d times without a credit", ip, vc, won[[2]int{ip, vc}])
				}
			} else if won[[2]int{ip, vc}] == 0 {
				t.Errorf("input %d VC %d, with a credit, never won in 200 cycles", ip, vc)
			}
		}
	}
}

// TestVCAllocatorRoundRobin puts a unicast head for the same output port
// into one VC of every input port. Each cycle the free output VCs of that
// port go to different heads (a head asks for one VC, the first free one
// at or after its own pointer, so two heads may ask for the same one and
// leave the other unused); freed again, they go round the requesters in
// turn, so every head wins as often as the others, within one.
func TestVCAllocatorRoundRobin(t *testing.T) {
	n, r, ins := allocRouter(t)
	rt := &n.rt[r]
	for ip := range numPorts {
		n.push(r, ip, ip%2, flit{dst: 5, head: true, tail: true}, 0) // (2,1): output x+
	}
	wins := make([]int, numPorts)
	const rounds = 50
	for range rounds {
		if moved, _ := allocate(n, r, holding(n, r), 1); !moved {
			t.Fatal("no head won a VC: every head is ready and two VCs are free")
		}
		var got uint8
		for ip := range numPorts {
			q := &ins[ip*maxVCs+ip%2]
			if q.vaMask == 0 {
				continue
			}
			if q.vaMask != 1<<portXPlus {
				t.Fatalf("input %d holds VCs on ports %05b, want x+", ip, q.vaMask)
			}
			vc := q.outVC[portXPlus]
			if got&(1<<vc) != 0 {
				t.Fatalf("output VC %d of x+ granted twice", vc)
			}
			got |= 1 << vc
			wins[ip]++
			q.vaMask, q.held = 0, 0 // the packet leaves: its VC is free again
		}
		if got == 0 || rt.ovBusy[portXPlus] != got {
			t.Fatalf("granted output VCs %02b, busy %02b: want the same, not none", got, rt.ovBusy[portXPlus])
		}
		rt.ovBusy[portXPlus] = 0
	}
	if lo, hi := slices.Min(wins), slices.Max(wins); hi-lo > 1 || lo < rounds/numPorts {
		t.Errorf("VC grants per input %v in %d rounds: want equal within one, each at least %d", wins, rounds, rounds/numPorts)
	}
}

// TestVCAllocatorSkipsBusyVCs: a head waits while every VC of its class on
// its output is held, and takes the one that is freed.
func TestVCAllocatorSkipsBusyVCs(t *testing.T) {
	n, r, ins := allocRouter(t)
	rt := &n.rt[r]
	n.push(r, portXMinus, 0, flit{dst: 5, head: true, tail: true}, 0)
	rt.ovBusy[portXPlus] = 0b11
	if moved, _ := allocate(n, r, holding(n, r), 1); moved || ins[portXMinus*maxVCs].vaMask != 0 {
		t.Fatal("a head won an output VC that another packet holds")
	}
	rt.ovBusy[portXPlus] = 0b01
	if moved, _ := allocate(n, r, holding(n, r), 2); !moved || ins[portXMinus*maxVCs].outVC[portXPlus] != 1 {
		t.Fatalf("head got VC %d, want the free VC 1", ins[portXMinus*maxVCs].outVC[portXPlus])
	}
}

// push writes f, sent in cycle t, into VC vc of input port ip of router
// r, as an NI or a neighbour's traversal would.
func (n *Net) push(r, ip, vc int, f flit, t sim.Cycle) {
	i := ip*maxVCs + vc
	if q := &n.in[r*vcSlots+i]; n.put(q, &f) {
		n.front(r, i, q, f.arrive)
	}
	if n.bufObs != nil {
		n.buffered(r, t)
	}
}
