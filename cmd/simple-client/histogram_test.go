package main

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestHistBucketsCoverValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v uint64) {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("value %d: bucket %d out of range", v, i)
		}
		lo, w := histBounds(i)
		if v < lo || v-lo >= w {
			t.Fatalf("value %d in bucket %d = [%d, %d+%d)", v, i, lo, lo, w)
		}
		// Relative width is the precision promise.
		if lo >= 2*histSub && float64(w)/float64(lo) > 1.0/histSub {
			t.Fatalf("bucket %d too wide: %d at %d", i, w, lo)
		}
	}
	for v := range uint64(4096) {
		check(v)
	}
	check(math.MaxUint64)
	for range 100000 {
		check(rng.Uint64() >> rng.IntN(64))
	}
}

func TestHistQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := newHistogram(), newHistogram()
	var vals []uint64
	for i := range 200000 {
		// Log-uniform from 1µs to 100ms, like real latencies.
		v := uint64(math.Exp(rng.Float64()*math.Log(1e5)) * 1e3)
		vals = append(vals, v)
		if i%2 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	all := newHistogram()
	all.merge(a)
	all.merge(b)
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	if all.total.Load() != uint64(len(vals)) || all.max.Load() != vals[len(vals)-1] || all.min.Load() != vals[0] {
		t.Fatalf("total %d min %d max %d", all.total.Load(), all.min.Load(), all.max.Load())
	}
	for _, q := range []float64{0.001, 0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := all.quantile(q)
		if rel := math.Abs(float64(got)-float64(exact)) / float64(exact); rel > 1.0/histSub {
			t.Errorf("q%.3f = %d, exact %d (off by %.2f%%)", q, got, exact, rel*100)
		}
	}
	if all.quantile(1) != vals[len(vals)-1] {
		t.Errorf("q1 is not the maximum")
	}
	if e := newHistogram(); e.quantile(0.5) != 0 || latencyOf(e) != (Latency{}) {
		t.Errorf("empty histogram reports values")
	}
}
