//go:build linux && !simpleserver_portable

// WriteTo against the kernel: writev on real socket pairs. The portable
// engine's Writev is exercised by the root package's suite, run with the
// simpleserver_portable tag.

package buffer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func newIovec() []unix.Iovec { return make([]unix.Iovec, MaxIovecs) }

// chunkShape returns the capacities and lengths of q's unsent chunks.
func chunkShape(q *Queue) (caps, lens []int) {
	for _, c := range q.chunks[q.first:] {
		caps = append(caps, cap(c))
		lens = append(lens, len(c))
	}
	return caps, lens
}

func repeat(v, n int) []int { return slices.Repeat([]int{v}, n) }

func reversed(s []int) []int {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

func TestQueueAppendChunkLayout(t *testing.T) {
	tests := []struct {
		name     string
		appends  []int
		wantCaps []int
		wantLens []int
	}{
		{"empty", nil, nil, nil},
		{"zero", []int{0, 0}, nil, nil},
		{"one", []int{1}, []int{512}, []int{1}},
		{"first chunk exactly", []int{512}, []int{512}, []int{512}},
		{"first chunk filled by pieces", []int{1, 510, 1}, []int{512}, []int{512}},
		{"one past the first chunk", []int{512, 1}, []int{512, 1024}, []int{512, 1}},
		{"straddling", []int{1, 1023}, []int{512, 1024}, []int{512, 512}},
		{"big first append", []int{513}, []int{1024}, []int{513}},
		{"geometric growth", []int{512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536, 1},
			[]int{512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536, 65536},
			[]int{512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 65536, 1}},
		{"one past MaxPooled", []int{65537}, []int{65536, 65536}, []int{65536, 1}},
		{"200 KiB", []int{200 << 10}, repeat(65536, 4), []int{65536, 65536, 65536, 8192}},
		{"small then 200 KiB", []int{1, 200 << 10},
			[]int{512, 65536, 65536, 65536, 65536},
			[]int{512, 65536, 65536, 65536, 200<<10 - 511 - 3*65536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Queue
			total := 0
			for i, n := range tt.appends {
				q.Append(randomBytes(uint64(i), n))
				total += n
				if q.Len() != total {
					t.Fatalf("Len after appending %v = %d, want %d", tt.appends[:i+1], q.Len(), total)
				}
			}
			caps, lens := chunkShape(&q)
			if !slices.Equal(caps, tt.wantCaps) || !slices.Equal(lens, tt.wantLens) {
				t.Fatalf("chunks: caps %v lens %v, want caps %v lens %v", caps, lens, tt.wantCaps, tt.wantLens)
			}
			q.Reset()
		})
	}
}

// appendSizes covers 0, 1, the class edges and a big append.
var appendSizes = []int{0, 1, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 200 << 10, 0, 1, 7}

func TestQueueWriteToSocketPair(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		{"nothing", nil},
		{"empty appends", []int{0, 0, 0}},
		{"one byte", []int{1}},
		{"one chunk exactly", []int{512}},
		{"one chunk plus one", []int{512, 1}},
		{"200 KiB", []int{200 << 10}},
		{"all sizes", appendSizes},
		{"all sizes reversed", reversed(appendSizes)},
		{"many small", repeat(3, 2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := socketPair(t)
			var q Queue
			var want []byte
			for i, n := range tt.sizes {
				p := randomBytes(uint64(i), n)
				q.Append(p)
				want = append(want, p...)
			}
			if q.Len() != len(want) {
				t.Fatalf("Len = %d, want %d", q.Len(), len(want))
			}
			v := newVerifier(t, want)
			flush(t, &q, w, r, newIovec(), v)
			v.done()
			// An empty queue writes nothing and reports no error.
			if n, err := q.WriteTo(w, newIovec()); n != 0 || err != nil {
				t.Fatalf("WriteTo on an empty queue = %d, %v; want 0, nil", n, err)
			}
			if len(q.chunks) != 0 || q.first != 0 || q.head != 0 {
				t.Fatalf("drained queue keeps state: %d chunks, first %d, head %d", len(q.chunks), q.first, q.head)
			}
		})
	}
}

// Interleaving appends with writes: bytes appended after a partial write
// still come out after the ones before it.
func TestQueueInterleavedAppendWrite(t *testing.T) {
	w, r := socketPair(t)
	setSndbuf(t, w, 8192)
	var q Queue
	var want []byte
	v := newVerifier(t, nil)
	v.want = func(off, n int) []byte { return want[off : off+n] }
	iov := newIovec()
	buf := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 500 {
		n := []int{0, 1, 100, 511, 512, 513, 3000, 70000}[rng.IntN(8)]
		p := randomBytes(uint64(i), n)
		q.Append(p)
		want = append(want, p...)
		v.size = len(want)
		before := q.Len()
		m, err := q.WriteTo(w, iov)
		if q.Len() != before-m {
			t.Fatalf("Len = %d after writing %d of %d", q.Len(), m, before)
		}
		if err != nil && err != unix.EAGAIN {
			t.Fatalf("WriteTo: %v", err)
		}
		if i%3 == 0 { // let the queue build up two times in three
			drain(t, r, buf, v.check)
		}
	}
	flush(t, &q, w, r, iov, v)
	v.done()
}

func setSndbuf(t testing.TB, fd, n int) {
	t.Helper()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, n); err != nil {
		t.Fatalf("SO_SNDBUF: %v", err)
	}
}

func TestQueuePartialWrites(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
	}{
		// One chunk: the write(2) path.
		{"single chunk", []int{60000}},
		// Many chunks: the writev(2) path, with the first chunk cut.
		{"many chunks", []int{1, 1 << 20}},
		{"all sizes", appendSizes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := socketPair(t)
			setSndbuf(t, w, 4096) // the kernel doubles it, and has a floor
			var q Queue
			var want []byte
			for i, n := range tt.sizes {
				p := randomBytes(uint64(i)+100, n)
				q.Append(p)
				want = append(want, p...)
			}
			iov := newIovec()

			// The first write fills the socket: some bytes go, the rest
			// stay queued, and WriteTo says so with EAGAIN.
			n, err := q.WriteTo(w, iov)
			if err != unix.EAGAIN {
				t.Fatalf("first WriteTo of %d bytes into a small socket buffer = %d, %v; want EAGAIN", len(want), n, err)
			}
			if n <= 0 || n >= len(want) {
				t.Fatalf("first WriteTo wrote %d of %d bytes, want a partial write", n, len(want))
			}
			if q.Len() != len(want)-n {
				t.Fatalf("Len = %d after writing %d of %d", q.Len(), n, len(want))
			}
			// With the socket still full, another WriteTo writes nothing
			// and changes nothing.
			if n2, err := q.WriteTo(w, iov); n2 != 0 || err != unix.EAGAIN {
				t.Fatalf("WriteTo on a full socket = %d, %v; want 0, EAGAIN", n2, err)
			}
			if q.Len() != len(want)-n {
				t.Fatalf("Len = %d after a write of nothing, want %d", q.Len(), len(want)-n)
			}

			v := newVerifier(t, want)
			st := flush(t, &q, w, r, iov, v)
			v.done()
			if st.eagains == 0 {
				t.Fatalf("flushing %d more bytes through a small buffer never hit EAGAIN", len(want)-n)
			}
		})
	}
}

// pattern is a byte stream with period 251 (a prime, so chunk-sized shifts
// show), sliceable at any offset for up to patternMax bytes.
const patternMax = 256 << 10

var pattern = func() []byte {
	b := make([]byte, 251+patternMax)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func patternAt(off, n int) []byte { return pattern[off%251 : off%251+n] }

func TestQueueMoreThanMaxIovecsChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 70 MiB through a socket")
	}
	// Every chunk holds 64 KiB, so this many bytes make MaxIovecs+76
	// chunks.
	const nChunks = MaxIovecs + 76
	const total = nChunks * MaxPooled
	tests := []struct {
		name string
		iov  int
	}{
		{"iov of MaxIovecs", MaxIovecs},
		// A longer scratch array must not make one writev pass more than
		// IOV_MAX iovecs (the kernel would fail it with EINVAL).
		{"iov of 2*MaxIovecs", 2 * MaxIovecs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := socketPair(t)
			var q Queue
			for off := 0; off < total; off += MaxPooled {
				q.Append(patternAt(off, MaxPooled))
			}
			if got := len(q.chunks) - q.first; got != nChunks {
				t.Fatalf("%d chunks queued, want %d", got, nChunks)
			}
			v := &verifier{t: t, size: total, want: patternAt}
			flush(t, &q, w, r, make([]unix.Iovec, tt.iov), v)
			v.done()
		})
	}
}

// A scratch array shorter than the chunk list still gets every byte out,
// in order.
func TestQueueShortIovec(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			w, r := socketPair(t)
			var q Queue
			var want []byte
			for i, size := range []int{512, 1024, 2048, 4096, 8192, 100} {
				p := randomBytes(uint64(i), size)
				q.Append(p)
				want = append(want, p...)
			}
			v := newVerifier(t, want)
			flush(t, &q, w, r, make([]unix.Iovec, n), v)
			v.done()
		})
	}
}

// WriteTo's contract: "err is unix.EAGAIN when the socket buffer is full
// with bytes still queued". The event loop registers sockets edge-triggered
// and, on EAGAIN, waits for EPOLLOUT; a spurious EAGAIN with room left in
// the socket can leave it waiting for an edge that never comes.
func TestQueueEAGAINMeansSocketFull(t *testing.T) {
	for _, n := range []int{0, 3} {
		t.Run(fmt.Sprintf("iov %d", n), func(t *testing.T) {
			w, _ := socketPair(t) // default buffer: far more room than queued
			var q Queue
			for _, size := range []int{512, 1024, 2048, 4096, 8192} {
				q.Append(make([]byte, size))
			}
			var (
				m   int
				err error
			)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("WriteTo with a %d-entry iov and %d chunks panics (%v): writev takes &iov[0] "+
							"of an empty slice; the doc says a short iov only costs an allocation", n, len(q.chunks), p)
					}
				}()
				m, err = q.WriteTo(w, make([]unix.Iovec, n))
			}()
			if err == unix.EAGAIN {
				if _, werr := unix.Write(w, []byte{0}); werr == nil {
					t.Fatalf("WriteTo with a %d-entry iov wrote %d bytes (%d left) and returned EAGAIN "+
						"though the socket still takes data: the `q.n > 0 => EAGAIN` rule also fires when the "+
						"write was cut short by len(iov) or MaxIovecs, not by the socket", n, m, q.Len())
				}
			}
		})
	}
}

func TestQueueReset(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		write bool // write part of it first, so first/head are not zero
	}{
		{"empty", nil, false},
		{"one chunk", []int{100}, false},
		{"many chunks", appendSizes, false},
		{"partly written", []int{1, 1 << 20}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := socketPair(t)
			setSndbuf(t, w, 4096)
			var q Queue
			for i, n := range tt.sizes {
				q.Append(randomBytes(uint64(i), n))
			}
			if tt.write {
				if n, err := q.WriteTo(w, newIovec()); err != unix.EAGAIN || n == 0 {
					t.Fatalf("WriteTo = %d, %v; want a partial write", n, err)
				}
				if q.head == 0 && q.first == 0 {
					t.Fatalf("partial write left first = head = 0")
				}
				// Drop what was written: only what Reset keeps matters.
				drain(t, r, make([]byte, 64<<10), func([]byte) {})
			}
			q.Reset()
			if q.Len() != 0 {
				t.Fatalf("Len after Reset = %d, want 0", q.Len())
			}
			if q.chunks != nil || q.first != 0 || q.head != 0 || q.n != 0 {
				t.Fatalf("Reset left state: %d chunks, first %d, head %d, n %d", len(q.chunks), q.first, q.head, q.n)
			}
			if n, err := q.WriteTo(w, newIovec()); n != 0 || err != nil {
				t.Fatalf("WriteTo after Reset = %d, %v; want 0, nil", n, err)
			}
			// The queue is usable again and sends only what comes next.
			want := randomBytes(99, 3000)
			q.Append(want)
			v := newVerifier(t, want)
			flush(t, &q, w, r, newIovec(), v)
			v.done()
		})
	}
}

func TestQueueSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	tests := []struct {
		name    string
		appends []int // per iteration
	}{
		{"write", []int{100}},          // one chunk: write(2)
		{"writev", []int{400, 400}},    // two chunks: writev(2)
		{"several", []int{1, 511, 10}}, // fills the first chunk exactly
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := socketPair(t)
			var q Queue
			iov := newIovec()
			msg := randomBytes(1, 1024)
			buf := make([]byte, 4096)
			total := 0
			for _, n := range tt.appends {
				total += n
			}
			var failure error
			step := func() {
				for _, n := range tt.appends {
					q.Append(msg[:n])
				}
				n, err := q.WriteTo(w, iov)
				if (n != total || err != nil) && failure == nil {
					failure = fmt.Errorf("WriteTo = %d, %v; want %d, nil", n, err, total)
				}
				if m, err := unix.Read(r, buf); (m != total || err != nil) && failure == nil {
					failure = fmt.Errorf("read = %d, %v; want %d", m, err, total)
				}
			}
			for range 100 {
				step()
			}
			allocs := testing.AllocsPerRun(1000, step)
			if failure != nil {
				t.Fatal(failure)
			}
			if allocs != 0 {
				t.Fatalf("steady-state Append+WriteTo allocates %v times per iteration, want 0: "+
					"each drained chunk goes back through buffer.Put, which heap-allocates the *[]byte "+
					"it stores (see TestPutGetAllocs)", allocs)
			}
		})
	}
}

func BenchmarkQueueAppendWrite(b *testing.B) {
	for _, size := range []int{64, 1000, 16 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			w, r := socketPair(b)
			var q Queue
			iov := newIovec()
			msg := make([]byte, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				q.Append(msg)
				if n, err := q.WriteTo(w, iov); n != size || err != nil {
					b.Fatalf("WriteTo = %d, %v", n, err)
				}
				for got := 0; got < size; {
					m, err := unix.Read(r, buf[got:])
					if err != nil {
						b.Fatalf("read: %v", err)
					}
					got += m
				}
			}
		})
	}
}
