package noc

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/nmsim/nmsim/sim"
)

// maxStuckLines bounds the deadlock report; the first few blocked VCs
// usually show the cycle.
const maxStuckLines = 12

// deadlock records that the network stopped at cycle t with flits inside,
// naming the input VCs whose front flits are blocked and what each waits
// for, and drops every pending wake-up so that the engine drains instead
// of hanging.
func (n *Net) deadlock(t sim.Cycle) {
	var b strings.Builder
	fmt.Fprintf(&b, "noc: deadlock at cycle %d: %d flits in routers and %d packets waiting to be injected made no progress since cycle %d",
		t, n.inFlight, n.queued, n.lastProgress)
	lines := 0
	for r := range n.g.nodes() {
		for i := range vcSlots {
			q := &n.in[r*vcSlots+i]
			if q.n == 0 {
				continue
			}
			if lines++; lines > maxStuckLines {
				continue
			}
			f := n.buf[int(q.off)+int(q.head)]
			pk := &n.pkts[f.pkt]
			dst := "multicast"
			if pk.dst >= 0 {
				dst = n.g.name(pk.dst)
			}
			fmt.Fprintf(&b, "\n  router %s input %s VC %d: %d flits; front flit of packet %s→%s %s",
				n.g.name(r), portNames[i/maxVCs], i%maxVCs, q.n, n.g.name(pk.src), dst, n.waitsFor(r, q, f, t))
		}
	}
	if lines > maxStuckLines {
		fmt.Fprintf(&b, "\n  ... and %d more blocked VCs", lines-maxStuckLines)
	}
	n.err = fmt.Errorf("%s", b.String())
	n.wh.clear()
	n.dropCredits()
	n.next.clear()
	n.nextN = n.nextN[:0]
}

// waitsFor says what the front flit f of input VC q at router r needs at
// cycle t.
func (n *Net) waitsFor(r int, q *inVC, f flit, t sim.Cycle) string {
	if q.ready > t {
		return fmt.Sprintf("is not ready before cycle %d", q.ready)
	}
	if q.outMask == 0 {
		return "waits for route computation"
	}
	var waits []string
	for m := q.outMask &^ q.sent; m != 0; m &= m - 1 {
		p := bits.TrailingZeros8(m)
		if q.vaMask&(1<<p) == 0 {
			if p == portLocal && f.dst < 0 {
				continue // a multicast ejects without a VC
			}
			what := "a free VC"
			if f.dst < 0 {
				what = fmt.Sprintf("a free VC with room for %d flits", n.pkts[f.pkt].flits)
			}
			waits = append(waits, fmt.Sprintf("%s among %s on output %s", what, vcList(n.classMask(r, p, f.pkt)), portNames[p]))
			continue
		}
		vc := int(q.outVC[p])
		if n.rt[r].credit[p*maxVCs+vc] <= 0 {
			waits = append(waits, fmt.Sprintf("a credit for VC %d on output %s", vc, portNames[p]))
		} else {
			waits = append(waits, fmt.Sprintf("the switch to output %s", portNames[p]))
		}
	}
	return "waits for " + strings.Join(waits, " and ")
}

// vcList names the VCs in mask m: "{0,1}".
func vcList(m uint8) string {
	var vcs []string
	for ; m != 0; m &= m - 1 {
		vcs = append(vcs, fmt.Sprint(bits.TrailingZeros8(m)))
	}
	return "{" + strings.Join(vcs, ",") + "}"
}
