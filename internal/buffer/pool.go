// Package buffer holds the byte buffers a connection needs only while it
// has something in flight: the tail of a partial inbound frame, and the
// outbound bytes the kernel has not taken yet. Both come from size-class
// pools and go back as soon as they drain, so an idle connection holds no
// buffer at all.
package buffer

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Size classes are powers of two from 512 B to 64 KiB. Larger requests are
// allocated exactly and left to the garbage collector: they are rare (big
// frames) and pooling them would pin a lot of memory for one burst.
const (
	minShift = 9
	maxShift = 16
	// MaxPooled is the largest buffer the pools keep.
	MaxPooled = 1 << maxShift
)

var pools [maxShift - minShift + 1]sync.Pool

// class returns the pool index for a buffer of capacity >= n, or -1.
func class(n int) int {
	if n > MaxPooled {
		return -1
	}
	if n <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a zero-length slice with capacity at least n.
func Get(n int) []byte {
	c := class(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if p, _ := pools[c].Get().(*byte); p != nil {
		return unsafe.Slice(p, 1<<(c+minShift))[:0]
	}
	return make([]byte, 0, 1<<(c+minShift))
}

// Put returns b to its pool. b must not be used afterwards. Slices whose
// capacity is not exactly a class size (grown by append, or never pooled)
// are dropped.
func Put(b []byte) {
	c := class(cap(b))
	if c < 0 || cap(b) != 1<<(c+minShift) {
		return
	}
	// Pool the pointer to the data, not a slice header: storing &b
	// would move a fresh header to the heap on every Put.
	pools[c].Put(unsafe.SliceData(b))
}

// Append is append(b, p...) for a pooled buffer: when b must grow, the new
// buffer comes from the pools (at least doubling, so a large message
// arriving in many pieces is copied O(1) times per byte) and b goes back to
// them.
func Append(b, p []byte) []byte {
	if len(b)+len(p) <= cap(b) {
		return append(b, p...)
	}
	nb := append(Get(max(2*cap(b), len(b)+len(p))), b...)
	Put(b)
	return append(nb, p...)
}
