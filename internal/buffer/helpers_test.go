//go:build linux && !simpleserver_portable

// WriteTo against the kernel: writev on real socket pairs. The portable
// engine's Writev is exercised by the root package's suite, run with the
// simpleserver_portable tag.

package buffer

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTimeout bounds every loop in these tests that waits for progress.
const testTimeout = 20 * time.Second

// socketPair returns the two ends of a non-blocking AF_UNIX stream socket
// pair, closed when the test ends.
func socketPair(t testing.TB) (w, r int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("set non-blocking: %v", err)
		}
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds[0], fds[1]
}

// drain reads from fd until it would block, passing every read to fn, and
// returns the number of bytes read.
func drain(t testing.TB, fd int, buf []byte, fn func([]byte)) int {
	t.Helper()
	total := 0
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return total
		case err != nil:
			t.Fatalf("read: %v", err)
		case n == 0:
			t.Fatalf("read: unexpected EOF")
		}
		fn(buf[:n])
		total += n
	}
}

// verifier checks a byte stream against the expected one, piece by piece.
type verifier struct {
	t    testing.TB
	want func(off, n int) []byte // the expected bytes [off, off+n)
	size int                     // total expected length
	off  int
}

func newVerifier(t testing.TB, want []byte) *verifier {
	return &verifier{t: t, size: len(want), want: func(off, n int) []byte { return want[off : off+n] }}
}

func (v *verifier) check(p []byte) {
	v.t.Helper()
	if v.off+len(p) > v.size {
		v.t.Fatalf("received %d bytes, more than the %d expected", v.off+len(p), v.size)
	}
	if want := v.want(v.off, len(p)); !bytes.Equal(p, want) {
		i := 0
		for p[i] == want[i] {
			i++
		}
		v.t.Fatalf("byte %d of the stream is %#x, want %#x", v.off+i, p[i], want[i])
	}
	v.off += len(p)
}

func (v *verifier) done() {
	v.t.Helper()
	if v.off != v.size {
		v.t.Fatalf("received %d bytes, want %d", v.off, v.size)
	}
}

// flushStats describes how a queue was flushed.
type flushStats struct {
	calls, eagains int
}

// flush writes q to w until it is empty, draining r into v whenever the
// socket is full, and checks the invariants of every WriteTo: Len drops by
// exactly the bytes written, err is nil only when nothing is left and
// EAGAIN only when something is, and a call on a full socket writes
// nothing.
func flush(t testing.TB, q *Queue, w, r int, iov []unix.Iovec, v *verifier) flushStats {
	t.Helper()
	var st flushStats
	buf := make([]byte, 256<<10)
	deadline := time.Now().Add(testTimeout)
	for q.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not flushed before the deadline: %d bytes left", q.Len())
		}
		before := q.Len()
		n, err := q.WriteTo(w, iov)
		st.calls++
		if n < 0 || n > before {
			t.Fatalf("WriteTo wrote %d bytes with %d queued", n, before)
		}
		if got := q.Len(); got != before-n {
			t.Fatalf("Len after writing %d of %d bytes = %d, want %d", n, before, got, before-n)
		}
		switch err {
		case nil:
			if q.Len() != 0 {
				t.Fatalf("WriteTo returned nil with %d bytes still queued", q.Len())
			}
		case unix.EAGAIN:
			st.eagains++
			if q.Len() == 0 {
				t.Fatalf("WriteTo returned EAGAIN with nothing queued")
			}
		default:
			t.Fatalf("WriteTo: %v", err)
		}
		if m := drain(t, r, buf, v.check); m == 0 && n == 0 {
			t.Fatalf("no progress: WriteTo wrote nothing (%v) and the reader had nothing", err)
		}
	}
	drain(t, r, buf, v.check)
	return st
}
