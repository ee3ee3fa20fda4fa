//go:build linux && !simpleserver_portable

package sock

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenErrors checks that every kind of failure is reported as a
// *net.OpError naming the operation, network and address, with the errno
// reachable through errors.Is, and that no descriptor is left behind.
func TestListenErrors(t *testing.T) {
	checkNoFDLeak(t)
	dir := t.TempDir()

	_, inUseAddr := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{})
	abstract := abstractName(t)
	listen(t, "unix", abstract, ListenOptions{})
	stale := filepath.Join(dir, "stale.sock")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, network, address string
		errno                  unix.Errno // 0: not a system call error
		want                   string     // exact error text
	}{
		{"unknown network", "udp", "127.0.0.1:0", 0,
			"listen udp 127.0.0.1:0: unknown network udp"},
		{"empty network", "", ":0", 0,
			"listen :0: unknown network "},
		{"missing port", "tcp4", "127.0.0.1", 0,
			"listen tcp4 127.0.0.1: address 127.0.0.1: missing port in address"},
		{"bad port", "tcp", "127.0.0.1:99999", 0,
			"listen tcp 127.0.0.1:99999: address 99999: invalid port"},
		{"IPv6 address for tcp4", "tcp4", "[::1]:0", 0,
			"listen tcp4 [::1]:0: address ::1: no suitable address found"},
		{"unknown zone", "tcp6", "[fe80::1%no-such-if0]:0", 0,
			"listen tcp6 [fe80::1%no-such-if0]:0: address no-such-if0: unknown IPv6 zone"},
		{"port in use", "tcp4", inUseAddr.String(), unix.EADDRINUSE,
			"listen tcp4 " + inUseAddr.String() + ": bind: address already in use"},
		{"address not local", "tcp4", "203.0.113.1:0", unix.EADDRNOTAVAIL,
			"listen tcp4 203.0.113.1:0: bind: cannot assign requested address"},
		{"unix path in use", "unix", stale, unix.EADDRINUSE,
			"listen unix " + stale + ": bind: address already in use"},
		{"unix abstract in use", "unix", abstract, unix.EADDRINUSE,
			"listen unix " + abstract + ": bind: address already in use"},
		{"unix no such directory", "unix", filepath.Join(dir, "missing", "s.sock"), unix.ENOENT,
			"listen unix " + filepath.Join(dir, "missing", "s.sock") + ": bind: no such file or directory"},
		{"unix path too long", "unix", "/" + strings.Repeat("x", 107), 0,
			"listen unix /" + strings.Repeat("x", 107) + ": address /" + strings.Repeat("x", 107) + ": unix socket address too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.errno == unix.EADDRNOTAVAIL && readSysctl(t, "/proc/sys/net/ipv4/ip_nonlocal_bind") != 0 {
				t.Skip("net.ipv4.ip_nonlocal_bind is set")
			}
			fd, addr, err := Listen(tt.network, tt.address, ListenOptions{})
			if err == nil {
				unix.Close(fd)
				t.Fatalf("Listen(%q, %q) succeeded, bound %v", tt.network, tt.address, addr)
			}
			if fd != -1 || addr != nil {
				t.Errorf("failed Listen returned fd %d, addr %v; want -1, nil", fd, addr)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "listen" || oe.Net != tt.network {
				t.Errorf("error %#v is not a *net.OpError for listen %s", err, tt.network)
			}
			if err.Error() != tt.want {
				t.Errorf("error text\n got %q\nwant %q", err, tt.want)
			}
			if tt.errno != 0 {
				wantErrno(t, err, tt.errno)
			}
		})
	}
	// A failed bind must not have removed or replaced the file that was
	// in the way.
	if fi, err := os.Stat(stale); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("stale file after failed Listen: %v, %v", fi, err)
	}
}

func TestAcceptErrors(t *testing.T) {
	checkNoFDLeak(t)
	// A socket that is not listening: a real error, not EAGAIN.
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	nfd, sa, err := Accept(s)
	if nfd != -1 || sa != (Peer{}) {
		t.Errorf("Accept on a non-listener = %d, %v", nfd, sa)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "accept4" || !errors.Is(err, unix.EINVAL) {
		t.Errorf("Accept on a non-listener: %v, want accept4: EINVAL", err)
	}
	// Not a descriptor at all.
	if _, _, err := Accept(-1); !errors.Is(err, unix.EBADF) {
		t.Errorf("Accept on a bad descriptor: %v, want EBADF", err)
	}
}

func TestAddrErrors(t *testing.T) {
	if _, err := LocalAddr(-1); !errors.Is(err, unix.EBADF) || !strings.HasPrefix(err.Error(), "getsockname: ") {
		t.Errorf("LocalAddr(-1) error %v, want getsockname: EBADF", err)
	}
	lfd, _ := listen(t, "tcp4", "127.0.0.1:0", ListenOptions{})
	if _, err := PeerAddr(lfd); !errors.Is(err, unix.ENOTCONN) || !strings.HasPrefix(err.Error(), "getpeername: ") {
		t.Errorf("PeerAddr(listener) error %v, want getpeername: ENOTCONN", err)
	}
}
