package noc

import "fmt"

// Router ports. An input port is named after the neighbour a flit comes
// from, an output port after the neighbour it goes to, so a flit that
// leaves on xPlus enters the next router on xMinus.
const (
	portLocal  = iota // the tile's network interface
	portXPlus         // towards x+1
	portXMinus        // towards x−1
	portYPlus         // towards y+1
	portYMinus        // towards y−1
	numPorts
)

var portNames = [numPorts]string{"local", "x+", "x-", "y+", "y-"}

// opposite is the port a flit enters by when it left by p (a table: a
// switch costs a mispredicted branch per flit-hop).
func opposite(p int) int { return int(oppositePort[p]) }

var oppositePort = [numPorts]uint8{portLocal, portXMinus, portXPlus, portYMinus, portYPlus}

// topo is a W×H mesh or torus with dimension-order routing.
type topo struct {
	w, h  int
	torus bool
	yx    bool // route y first
}

func (g topo) nodes() int { return g.w * g.h }

func (g topo) xy(n int) (int, int) { return n % g.w, n / g.w }

func (g topo) name(n int) string {
	x, y := g.xy(n)
	return fmt.Sprintf("(%d,%d)", x, y)
}

// neighbour is the router beyond output port p of router n, or -1 at the
// edge of a mesh.
func (g topo) neighbour(n, p int) int {
	x, y := g.xy(n)
	switch p {
	case portXPlus:
		x++
	case portXMinus:
		x--
	case portYPlus:
		y++
	case portYMinus:
		y--
	default:
		return -1
	}
	if g.torus {
		x, y = (x+g.w)%g.w, (y+g.h)%g.h
	} else if x < 0 || x >= g.w || y < 0 || y >= g.h {
		return -1
	}
	return y*g.w + x
}

// step is the signed number of unit moves from a to b along a line or ring
// of n positions: minimal on a ring, a tie (half way round) going +.
func step(a, b, n int, torus bool) int {
	d := b - a
	if !torus {
		return d
	}
	d = ((d % n) + n) % n
	if d > n/2 {
		d -= n
	}
	return d
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// hops is the number of links on the dimension-order path from src to dst.
func (g topo) hops(src, dst int) int {
	sx, sy := g.xy(src)
	dx, dy := g.xy(dst)
	return abs(step(sx, dx, g.w, g.torus)) + abs(step(sy, dy, g.h, g.torus))
}

// pairHops is the sum of hops(s, d) over every ordered pair of routers,
// itself included: a dimension at a time, each pair of coordinates in one
// dimension counted once per pair in the other, so it costs O(W² + H²),
// not O(W²H²) (a 64×64 mesh has 16.8 million pairs). Sums of integers,
// so the mean it gives is the same float64 as a pair-by-pair sum.
func (g topo) pairHops() int64 {
	line := func(k int) int64 {
		var sum int64
		for a := range k {
			for b := range k {
				sum += int64(abs(step(a, b, k, g.torus)))
			}
		}
		return sum
	}
	return int64(g.h*g.h)*line(g.w) + int64(g.w*g.w)*line(g.h)
}

// route is the output port that dimension-order routing takes at router n
// towards dst.
func (g topo) route(n, dst int) int {
	x, y := g.xy(n)
	dx, dy := g.xy(dst)
	return dimensionOrderPort(step(x, dx, g.w, g.torus), step(y, dy, g.h, g.torus), g.yx)
}

// dimensionOrderPort is the output port for the remaining signed steps
// sx, sy: x first (XY routing) unless yx, then the other dimension, and
// the local port when both are zero.
func dimensionOrderPort(sx, sy int, yx bool) int {
	yFirst := sx == 0
	if yx {
		yFirst = sy != 0
	}
	switch {
	case yFirst && sy > 0:
		return portYPlus
	case yFirst && sy < 0:
		return portYMinus
	case sx > 0:
		return portXPlus
	case sx < 0:
		return portXMinus
	}
	return portLocal
}

// onPath reports whether router n lies on the dimension-order path from
// src to dst. Dimension-order paths from one source form a tree (the path
// to any router on a path is a prefix of it), which is what lets a
// multicast packet fork without ever meeting itself.
func (g topo) onPath(src, dst, n int) bool {
	sx, sy := g.xy(src)
	dx, dy := g.xy(dst)
	x, y := g.xy(n)
	if g.yx {
		// Along column sx from sy to dy, then along row dy from sx to dx.
		return x == sx && g.within(sy, dy, y, g.h) || y == dy && g.within(sx, dx, x, g.w)
	}
	return y == sy && g.within(sx, dx, x, g.w) || x == dx && g.within(sy, dy, y, g.h)
}

// within reports whether c lies on the dimension-order segment from a to b
// (inclusive) along a line or ring of n positions.
func (g topo) within(a, b, c, n int) bool {
	s := step(a, b, n, g.torus)
	if !g.torus {
		return min(a, b) <= c && c <= max(a, b)
	}
	dir := 1
	if s < 0 {
		dir = -1
	}
	// How far c lies from a in the direction the segment takes.
	off := (((c-a)*dir)%n + n) % n
	return off <= abs(s)
}

// vcClass is the dateline class of the link that output port p of router
// n leads to, for a packet from src: 1 once the packet has taken (or is
// taking) the wrap-around link of that dimension, else 0. On a torus the
// classes use disjoint VCs, which breaks the cyclic channel dependence of
// each ring (Dally & Seitz 1987); dimension-order routing starts each
// dimension at the source's coordinate, so the class follows from the
// source and the next router alone.
func (g topo) vcClass(src, n, p int) int {
	if !g.torus || p == portLocal {
		return 0
	}
	sx, sy := g.xy(src)
	nx, ny := g.xy(g.neighbour(n, p))
	switch p {
	case portXPlus:
		return b2i(nx < sx)
	case portXMinus:
		return b2i(nx > sx)
	case portYPlus:
		return b2i(ny < sy)
	default:
		return b2i(ny > sy)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// walk calls visit for every router on the dimension-order path from src
// to dst with the output port the path leaves it by (portLocal at dst).
func (g topo) walk(src, dst int, visit func(n, p int)) {
	n := src
	for {
		p := g.route(n, dst)
		visit(n, p)
		if p == portLocal {
			return
		}
		n = g.neighbour(n, p)
	}
}

// tree is the union of the dimension-order paths from one source to a set
// of destinations: the routers and links a tree multicast occupies.
type tree struct {
	mark  []uint32 // per link (4·router + direction) and per router: the stamp of the last tree that used it
	stamp uint32
}

// size returns the routers, links and crossbar traversals (links plus
// ejections) of the multicast tree from src to dsts; link, if not nil, is
// called once per link of the tree.
func (t *tree) size(g topo, src int, dsts []int, link func(l int)) (routers, links, switches int) {
	n := g.nodes()
	if len(t.mark) < 5*n {
		t.mark = make([]uint32, 5*n)
	}
	t.stamp++
	if t.stamp == 0 {
		clear(t.mark)
		t.stamp = 1
	}
	for _, d := range dsts {
		g.walk(src, d, func(r, p int) {
			if t.mark[4*n+r] != t.stamp {
				t.mark[4*n+r] = t.stamp
				routers++
			}
			if p == portLocal {
				switches++
				return
			}
			if l := 4*r + p - 1; t.mark[l] != t.stamp {
				t.mark[l] = t.stamp
				links++
				switches++
				if link != nil {
					link(l)
				}
			}
		})
	}
	return routers, links, switches
}
