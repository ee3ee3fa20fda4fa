//go:build linux && !simpleserver_portable

package sock

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Connect starts connecting a new stream socket to addr, a *net.TCPAddr
// with an IP (names are resolved by the caller, off the loop) or a
// *net.UnixAddr, and returns its descriptor, non-blocking and close-on-exec,
// without waiting: connect(2) on a non-blocking socket answers EINPROGRESS,
// and the outcome is known when the descriptor becomes writable (or reports
// EPOLLERR), from SocketError. A Unix socket usually connects at once; it
// is reported writable all the same, so the caller has one path for both.
//
// peer is addr packed as Accept packs a peer. Errors are *os.SyscallError
// ("socket", "connect"), so errors.Is(err, unix.ECONNREFUSED) works; a
// Unix socket whose listener's backlog is full fails with EAGAIN, as net
// reports it. On error no descriptor is left open.
func Connect(addr net.Addr) (fd int, peer Peer, err error) {
	var sa unix.Sockaddr
	family := unix.AF_UNIX
	switch a := addr.(type) {
	case *net.TCPAddr:
		family = unix.AF_INET6
		if a.IP.To4() != nil {
			family = unix.AF_INET
		}
		if sa, err = tcpSockaddr(family, a); err != nil {
			return -1, Peer{}, err
		}
		peer = peerOfSockaddr(sa)
	case *net.UnixAddr:
		if len(a.Name) > maxUnixName {
			return -1, Peer{}, &net.AddrError{Err: "unix socket address too long", Addr: a.Name}
		}
		sa, peer = &unix.SockaddrUnix{Name: a.Name}, Peer{family: unix.AF_UNIX}
	default:
		return -1, Peer{}, &net.AddrError{Err: "unsupported address type", Addr: addr.String()}
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, Peer{}, os.NewSyscallError("socket", err)
	}
	// EINTR: a signal interrupted the call, but the connect goes on in
	// the background and writability tells its outcome, as for
	// EINPROGRESS (net treats it the same way).
	switch err = unix.Connect(fd, sa); err {
	case unix.EINTR, unix.EALREADY:
		err = unix.EINPROGRESS
	}
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return -1, Peer{}, os.NewSyscallError("connect", err)
	}
	return fd, peer, nil
}

// peerOfSockaddr packs an AF_INET or AF_INET6 sockaddr.
func peerOfSockaddr(sa unix.Sockaddr) Peer {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		p := Peer{port: uint16(sa.Port), family: unix.AF_INET}
		copy(p.ip[:], sa.Addr[:])
		return p
	case *unix.SockaddrInet6:
		return Peer{ip: sa.Addr, zone: sa.ZoneId, port: uint16(sa.Port), family: unix.AF_INET6}
	}
	return Peer{}
}
