//go:build linux && !simpleserver_portable

package sock

import (
	"errors"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTimeout bounds every test: all waits below (poll, dial, conn
// deadlines) use the time left until the test's deadline, so a broken
// socket fails the test instead of hanging it.
const testTimeout = 10 * time.Second

type deadline time.Time

func newDeadline(t *testing.T) deadline {
	t.Helper()
	return deadline(time.Now().Add(testTimeout))
}

// ms returns the milliseconds left, at least 1 so that poll never blocks
// forever (-1) or returns at once (0) by accident.
func (d deadline) ms(t *testing.T) int {
	t.Helper()
	left := time.Until(time.Time(d))
	if left <= 0 {
		t.Fatal("test deadline exceeded")
	}
	return max(int(left/time.Millisecond), 1)
}

// waitFD polls fd for events until they are reported or the deadline.
func waitFD(t *testing.T, d deadline, fd int, events int16) {
	t.Helper()
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(pfd, d.ms(t))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll(%d): %v", fd, err)
		}
		if n > 0 {
			return
		}
	}
}

// acceptOne waits for and accepts one connection on the listener lfd, and
// registers its closing.
func acceptOne(t *testing.T, d deadline, lfd int) (int, Peer) {
	t.Helper()
	for {
		nfd, sa, err := Accept(lfd)
		if err == nil {
			t.Cleanup(func() { unix.Close(nfd) })
			return nfd, sa
		}
		if err != unix.EAGAIN {
			t.Fatalf("Accept: %v", err)
		}
		waitFD(t, d, lfd, unix.POLLIN)
	}
}

func dial(t *testing.T, d deadline, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(addr.Network(), addr.String(), time.Until(time.Time(d)))
	if err != nil {
		t.Fatalf("dial %v: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Time(d)); err != nil {
		t.Fatal(err)
	}
	return c
}

func listen(t *testing.T, network, address string, opt ListenOptions) (int, net.Addr) {
	t.Helper()
	fd, addr, err := Listen(network, address, opt)
	if err != nil {
		t.Fatalf("Listen(%q, %q): %v", network, address, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, addr
}

func writeAll(t *testing.T, d deadline, fd int, b []byte) {
	t.Helper()
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EAGAIN || err == unix.EINTR {
			waitFD(t, d, fd, unix.POLLOUT)
			continue
		}
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		b = b[n:]
	}
}

func readFull(t *testing.T, d deadline, fd int, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got := 0
	for got < n {
		m, err := unix.Read(fd, buf[got:])
		if err == unix.EAGAIN || err == unix.EINTR {
			waitFD(t, d, fd, unix.POLLIN)
			continue
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if m == 0 {
			t.Fatalf("read: EOF after %d of %d bytes", got, n)
		}
		got += m
	}
	return buf
}

func getInt(t *testing.T, fd, level, opt int) int {
	t.Helper()
	v, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		t.Fatalf("getsockopt(%d, %d, %d): %v", fd, level, opt, err)
	}
	return v
}

func wantInt(t *testing.T, fd, level, opt int, name string, want int) {
	t.Helper()
	if got := getInt(t, fd, level, opt); got != want {
		t.Errorf("%s = %d, want %d", name, got, want)
	}
}

// wantNonblockCloexec checks the two flags every descriptor from this
// package must carry.
func wantNonblockCloexec(t *testing.T, fd int) {
	t.Helper()
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_NONBLOCK == 0 {
		t.Errorf("fd %d: O_NONBLOCK not set (flags %#x)", fd, fl)
	}
	fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fdfl&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d: FD_CLOEXEC not set (flags %#x)", fd, fdfl)
	}
}

func wantAddr(t *testing.T, what string, got, want net.Addr) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// checkNoFDLeak fails the test if, once the test and its other cleanups are
// done, more descriptors are open than when it was called. Call it first, so
// its cleanup runs last. It must not be used in parallel tests.
func checkNoFDLeak(t *testing.T) {
	t.Helper()
	// The runtime opens its netpoller's epoll and eventfd descriptors on
	// first use of the net package; make sure that has happened.
	if ln, err := net.Listen("tcp4", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	before := openFDs(t)
	t.Cleanup(func() {
		if after := openFDs(t); after != before {
			t.Errorf("descriptor leak: %d open before, %d after", before, after)
		}
	})
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func readSysctl(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("cannot read %s: %v", path, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}

// haveIPv6Loopback reports whether ::1 can be bound.
func haveIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func abstractName(t *testing.T) string {
	return "@simpleserver-sock-" + strconv.Itoa(os.Getpid()) + "-" + t.Name() + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func wantErrno(t *testing.T, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("error %v: want %v (%s)", err, want, unix.ErrnoName(want))
	}
}
