// Package bitvec holds the packed bit vectors that carry spikes and weights
// through nmsim: 64 bits per machine word, bit i in word i/64 at position
// i%64, so that XNOR–popcount works on whole words.
package bitvec

import "math/bits"

// Vec is a packed bit vector. Its length in bits is kept by the owner.
type Vec []uint64

// Words is the number of 64-bit words that hold n bits.
func Words(n int) int { return (n + 63) >> 6 }

// New returns a zeroed vector for n bits.
func New(n int) Vec { return make(Vec, Words(n)) }

// Set sets bit i.
func (v Vec) Set(i int) { v[i>>6] |= 1 << (uint(i) & 63) }

// Get reports bit i.
func (v Vec) Get(i int) bool { return v[i>>6]>>(uint(i)&63)&1 != 0 }

// Clear zeroes every word.
func (v Vec) Clear() { clear(v) }

// Count is the number of set bits.
func (v Vec) Count() int {
	n := 0
	for _, w := range v {
		n += bits.OnesCount64(w)
	}
	return n
}

// AndCount is popcount(v AND w) over the words of v; w must be at least as
// long. It is the XNOR crossbar's column read.
func AndCount(v, w Vec) int {
	n := 0
	w = w[:len(v)]
	for i, x := range v {
		n += bits.OnesCount64(x & w[i])
	}
	return n
}

// Diff is the number of bit positions where v and w differ; they must have
// the same length.
func Diff(v, w Vec) int {
	n := 0
	w = w[:len(v)]
	for i, x := range v {
		n += bits.OnesCount64(x ^ w[i])
	}
	return n
}

// Equal reports whether v and w hold the same bits.
func Equal(v, w Vec) bool {
	if len(v) != len(w) {
		return false
	}
	for i, x := range v {
		if x != w[i] {
			return false
		}
	}
	return true
}
