package buffer

import (
	"fmt"
	"testing"
	"unsafe"
)

func TestClass(t *testing.T) {
	tests := []struct {
		n, want int
	}{
		{0, 0}, {1, 0}, {511, 0}, {512, 0},
		{513, 1}, {1024, 1},
		{1025, 2}, {2048, 2},
		{4096, 3}, {8192, 4}, {16384, 5}, {32768, 6},
		{32769, 7}, {65535, 7}, {65536, 7},
		{65537, -1}, {1 << 20, -1},
	}
	for _, tt := range tests {
		if got := class(tt.n); got != tt.want {
			t.Errorf("class(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

func TestGetCapacity(t *testing.T) {
	tests := []struct {
		n       int
		wantCap int // exact: the class size, or n itself above MaxPooled
	}{
		{0, 512},
		{1, 512},
		{511, 512},
		{512, 512},
		{513, 1024},
		{1023, 1024},
		{1024, 1024},
		{1025, 2048},
		{4097, 8192},
		{32769, 65536},
		{65535, 65536},
		{65536, 65536},
		{65537, 65537},
		{1 << 20, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			// Twice: the first may allocate, the second may come from the
			// pool after a Put; both must have the same shape.
			for range 2 {
				b := Get(tt.n)
				if len(b) != 0 {
					t.Fatalf("Get(%d) has len %d, want 0", tt.n, len(b))
				}
				if cap(b) < tt.n {
					t.Fatalf("Get(%d) has cap %d < n", tt.n, cap(b))
				}
				if cap(b) != tt.wantCap {
					t.Fatalf("Get(%d) has cap %d, want %d", tt.n, cap(b), tt.wantCap)
				}
				// The whole capacity is usable.
				b = b[:cap(b)]
				b[0], b[len(b)-1] = 1, 2
				Put(b)
			}
		})
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	for shift := minShift; shift <= maxShift; shift++ {
		size := 1 << shift
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			// A buffer handed back with content comes out empty and with
			// its class capacity.
			b := Get(size)
			b = append(b, "some bytes"...)
			Put(b)
			got := Get(size)
			if len(got) != 0 || cap(got) != size {
				t.Fatalf("Get(%d) after Put = len %d cap %d, want len 0 cap %d", size, len(got), cap(got), size)
			}
			Put(got)

			if raceEnabled {
				return // sync.Pool drops items at random under -race
			}
			// Without GC in between, a Put then Get on the same goroutine
			// returns the same buffer (sync.Pool's per-P private slot).
			// Allow a few retries for a preemption moving the goroutine.
			for range 100 {
				b := Get(size)
				p := unsafe.SliceData(b[:1])
				Put(b)
				if unsafe.SliceData(Get(size)[:1]) == p {
					return
				}
			}
			t.Fatalf("Get(%d) never returned the buffer just Put", size)
		})
	}
}

func TestPutDropsForeignCapacities(t *testing.T) {
	// None of these may enter a pool: a Get of their class must never
	// return a capacity below the class size (or one not a class size).
	foreign := [][]byte{
		make([]byte, 0, 1000),            // class 1 range, not 1024
		make([]byte, 100),                // below the smallest class
		make([]byte, 0, 1<<17),           // above MaxPooled
		make([]byte, 0, 65537),           // just above MaxPooled
		Get(1024)[:0:600],                // a class buffer with its cap cut
		append(make([]byte, 512), 1)[1:], // grown by append
		nil,
	}
	for _, b := range foreign {
		Put(b)
	}
	for range 100 {
		for shift := minShift; shift <= maxShift; shift++ {
			size := 1 << shift
			for _, n := range []int{size/2 + 1, size} {
				if n < 1<<minShift {
					n = 1
				}
				b := Get(n)
				if cap(b) != size {
					t.Fatalf("Get(%d) = cap %d, want %d", n, cap(b), size)
				}
				Put(b)
			}
		}
	}
}

func TestPutGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, size := range []int{512, 4096, 65536} {
		Put(Get(size)) // warm up
		allocs := testing.AllocsPerRun(1000, func() { Put(Get(size)) })
		if allocs != 0 {
			t.Fatalf("Put(Get(%d)) allocates %v times per call, want 0: Put stores &b, "+
				"the address of its own parameter, in the sync.Pool, so b escapes and every "+
				"Put heap-allocates a 24-byte slice header (go build -gcflags=-m: "+
				"\"pool.go:51:10: moved to heap: b\")", size, allocs)
		}
	}
}

func BenchmarkGetPut(b *testing.B) {
	for _, size := range []int{512, 65536} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Put(Get(size))
			}
		})
	}
}
