//go:build linux && !simpleserver_portable

package sock

import (
	"net"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReusePort(t *testing.T) {
	d := newDeadline(t)
	fd1, addr := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{ReusePort: true})
	port := addr.(*net.TCPAddr).Port
	fd2, addr2 := listen(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port), ListenOptions{ReusePort: true})
	wantAddr(t, "second listener address", addr2, addr)

	// The kernel spreads connections over the group by a hash of the
	// client's address and port; a handful of connections is not
	// guaranteed to hit both, so only check that each one arrives on
	// exactly one of the two listeners.
	for i := range 4 {
		c := dial(t, d, addr)
		var nfd int
		var sa Peer
		for {
			pfd := []unix.PollFd{{Fd: int32(fd1), Events: unix.POLLIN}, {Fd: int32(fd2), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, d.ms(t)); err != nil && err != unix.EINTR {
				t.Fatal(err)
			}
			var err error
			if nfd, sa, err = Accept(fd1); err == unix.EAGAIN {
				nfd, sa, err = Accept(fd2)
			}
			if err == nil {
				break
			}
			if err != unix.EAGAIN {
				t.Fatal(err)
			}
		}
		unix.Close(nfd)
		wantAddr(t, "connection "+strconv.Itoa(i), sa.Addr(), c.LocalAddr())
	}
}

func TestNoReusePort(t *testing.T) {
	checkNoFDLeak(t)
	fd1, addr, err := Listen("tcp4", "127.0.0.1:0", ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fd2, addr2, err := Listen("tcp4", addr.String(), ListenOptions{})
	if err == nil {
		unix.Close(fd2)
		t.Fatalf("second Listen on %v without SO_REUSEPORT succeeded", addr)
	}
	wantErrno(t, err, unix.EADDRINUSE)
	if fd2 != -1 || addr2 != nil {
		t.Errorf("failed Listen returned fd %d, addr %v; want -1, nil", fd2, addr2)
	}
	// One side asking is not enough either: every socket in the group
	// must set SO_REUSEPORT.
	if fd3, _, err := Listen("tcp4", addr.String(), ListenOptions{ReusePort: true}); err == nil {
		unix.Close(fd3)
		t.Fatalf("Listen with SO_REUSEPORT joined a listener without it")
	} else {
		wantErrno(t, err, unix.EADDRINUSE)
	}
	unix.Close(fd1)
}
