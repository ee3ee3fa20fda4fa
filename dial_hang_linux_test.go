//go:build linux

package simpleserver_test

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// Connects that hang need a listener whose backlog the test can size,
// which only Linux's raw calls give here.

// fullBacklog returns the address of a listener whose accept queue is
// full, so that the kernel drops further SYNs and a connect hangs.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// A backlog of 0 holds one connection; fill it until a connect hangs.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		if i == 16 {
			t.Fatal("the accept queue never filled")
		}
	}
	return addr
}

// Dialer.Timeout and a context's deadline and cancellation end a connect
// that hangs, with the context's error.
func TestDialTimeoutAndCancel(t *testing.T) {
	addr := fullBacklog(t)
	cl := client(t)

	k := newCollector(0)
	d := k.dialer()
	d.Timeout = 100 * time.Millisecond
	_, err := cl.Dial(context.Background(), "tcp", addr, d)
	var op *net.OpError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &op) || !op.Timeout() {
		t.Errorf("Dial with Timeout = %v, want a timeout *net.OpError wrapping context.DeadlineExceeded", err)
	}
	waitFor(t, k.closed, "OnClose after the timeout")

	ctx, cancel := context.WithCancel(context.Background())
	k = newCollector(0)
	c, err := cl.DialAsync(ctx, "tcp", addr, k.dialer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("never sent")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := waitFor(t, k.closed, "OnClose after cancel"); !errors.Is(err, context.Canceled) {
		t.Errorf("OnClose after cancel: %v, want context.Canceled", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, simpleserver.ErrConnClosed) {
		t.Errorf("Write after the dial failed: %v, want ErrConnClosed", err)
	}
	st := waitStats(cl, func(st simpleserver.Stats) bool { return st.Open == 0 })
	if st.Closed.Dial != 2 || st.BytesOut != 0 {
		t.Errorf("stats: Closed.Dial %d BytesOut %d, want 2 and 0", st.Closed.Dial, st.BytesOut)
	}
}

// Close ends dials under way.
func TestDialCloseEndsPendingDials(t *testing.T) {
	addr := fullBacklog(t)
	cl := &simpleserver.Server{Loops: 1, Logger: discardLogger()}
	if err := cl.StartClient(); err != nil {
		t.Fatal(err)
	}
	k := newCollector(0)
	if _, err := cl.DialAsync(context.Background(), "tcp", addr, k.dialer()); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	if err := waitFor(t, k.closed, "OnClose"); !errors.Is(err, simpleserver.ErrServerClosed) {
		t.Errorf("OnClose: %v, want ErrServerClosed", err)
	}
}
