package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// A log-linear latency histogram, in the manner of HdrHistogram: each power
// of two is split into histSub equal buckets, so any recorded value is known
// to within 1/histSub (under 0.8%) of itself, over the whole uint64 range,
// in a fixed 58 KiB table. Written here rather than imported to keep the
// module free of a dependency for forty lines.
//
// Counters are atomic so that several connections can share one histogram
// (the run keeps a few shards, not one per connection, so that 20,000
// connections do not cost 20,000 tables) and so the progress reporter may
// read it while connections record.

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	// Values below 2*histSub get one bucket each; every larger power of two
	// (shift 1..56 for 64-bit values) gets histSub buckets.
	histBuckets = (64-histSubBits-1)*histSub + 2*histSub
)

type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	min    atomic.Uint64 // math.MaxUint64 while empty
	max    atomic.Uint64
}

func newHistogram() *histogram {
	h := &histogram{}
	h.min.Store(math.MaxUint64)
	return h
}

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	l := bits.Len64(v)
	if l <= histSubBits+1 {
		return int(v)
	}
	shift := l - histSubBits - 1
	return shift*histSub + int(v>>shift)
}

// histBounds returns the smallest value in bucket i and the bucket's width.
func histBounds(i int) (lo, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	shift := i/histSub - 1
	m := uint64(i - shift*histSub)
	return m << shift, 1 << shift
}

func (h *histogram) record(v uint64) {
	h.counts[histIndex(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	// Load first: the CAS loops run only when an extreme actually moves,
	// which after warm-up is rare.
	for old := h.max.Load(); v > old && !h.max.CompareAndSwap(old, v); old = h.max.Load() {
	}
	for old := h.min.Load(); v < old && !h.min.CompareAndSwap(old, v); old = h.min.Load() {
	}
}

// merge adds o's counts into h. Callers merge after recording has stopped.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n != 0 {
			h.counts[i].Add(n)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	if v := o.max.Load(); v > h.max.Load() {
		h.max.Store(v)
	}
	if v := o.min.Load(); v < h.min.Load() {
		h.min.Store(v)
	}
}

// quantile returns the value at or below which a fraction q of the recorded
// values lie: the middle of the bucket holding the ceil(q*total)-th value,
// clamped to the exact minimum and maximum. It returns 0 when empty.
func (h *histogram) quantile(q float64) uint64 {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	if rank >= total {
		return h.max.Load()
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= rank {
			lo, w := histBounds(i)
			v := lo + (w-1)/2
			return min(max(v, h.min.Load()), h.max.Load())
		}
	}
	return h.max.Load()
}

func (h *histogram) mean() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}
