//go:build linux && !simpleserver_portable

package sock

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadWriteWritev(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fds[0], fds[1]
	defer unix.Close(a)
	defer unix.Close(b)
	buf := make([]byte, 64)

	// Nothing to read: the bare errno, as Accept reports it.
	if n, err := Read(b, buf); n != 0 || err != unix.EAGAIN {
		t.Fatalf("Read of an empty socket = %d, %v; want 0, EAGAIN", n, err)
	}
	if n, err := Write(a, []byte("one ")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	x, y := []byte("two "), []byte("three")
	iov := make([]unix.Iovec, 2)
	iov[0].Base, iov[1].Base = &x[0], &y[0]
	iov[0].SetLen(len(x))
	iov[1].SetLen(len(y))
	if n, err := Writev(a, iov, 9); n != 9 || err != nil {
		t.Fatalf("Writev = %d, %v", n, err)
	}
	n, err := Read(b, buf)
	if err != nil || !bytes.Equal(buf[:n], []byte("one two three")) {
		t.Fatalf("Read = %q, %v; want %q", buf[:n], err, "one two three")
	}
	// Zero-length calls are legal and touch no memory.
	if n, err := Write(a, nil); n != 0 || err != nil {
		t.Fatalf("Write(nil) = %d, %v", n, err)
	}
	if n, err := Writev(a, nil, 0); n != 0 || err != nil {
		t.Fatalf("Writev(nil) = %d, %v", n, err)
	}
	// Above RawMax the ordinary system call path moves the bytes: what the
	// socket took arrives intact.
	big := make([]byte, 4*RawMax)
	for i := range big {
		big[i] = byte(i * 7)
	}
	n, err = Write(a, big)
	if err != nil || n <= 0 {
		t.Fatalf("Write of %d bytes = %d, %v", len(big), n, err)
	}
	got := make([]byte, 0, n)
	for len(got) < n {
		chunk := make([]byte, 2*RawMax) // above RawMax: the ordinary path too
		m, err := Read(b, chunk)
		if err != nil {
			t.Fatalf("Read after %d of %d bytes: %v", len(got), n, err)
		}
		got = append(got, chunk[:m]...)
	}
	if !bytes.Equal(got, big[:n]) {
		t.Fatalf("the %d bytes read differ from those written", n)
	}
	// The peer is gone: EOF, then a write error, not a signal.
	unix.Close(a)
	if n, err := Read(b, buf); n != 0 || err != nil {
		t.Fatalf("Read after the peer closed = %d, %v; want 0, nil (EOF)", n, err)
	}
	if _, err := Write(b, []byte("x")); err != unix.EPIPE {
		t.Fatalf("Write to a closed peer: %v, want EPIPE", err)
	}
	if _, err := Read(-1, buf); err != unix.EBADF {
		t.Fatalf("Read(-1): %v, want EBADF", err)
	}
}
