//go:build linux && !simpleserver_portable

package sock

import (
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ToAddr converts a kernel socket address to the net.Addr the standard
// library would report for the same socket:
//
//   - *unix.SockaddrInet4 → *net.TCPAddr with a 4-byte IP
//   - *unix.SockaddrInet6 → *net.TCPAddr with a 16-byte IP and the zone
//     (scope id) as an interface name, or as a decimal number when no
//     interface has that index any more
//   - *unix.SockaddrUnix  → *net.UnixAddr{Net: "unix"}
//
// On a dual-stack listener, IPv4 clients arrive as IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d, 16 bytes); they are left as they are, like
// net does. net.IP.Equal and String treat them as the IPv4 address.
//
// An unnamed AF_UNIX peer (every client that did not bind) is reported with
// the name "@", the same quirk as net.UnixConn.RemoteAddr, so addresses from
// this package compare equal to those from the net package.
//
// ToAddr returns nil for a nil or any other kind of Sockaddr.
func ToAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		if sa == nil {
			return nil
		}
		// Copy: slicing sa.Addr would keep the whole Sockaddr alive and
		// alias memory the caller might reuse.
		ip := make(net.IP, net.IPv4len)
		copy(ip, sa.Addr[:])
		return &net.TCPAddr{IP: ip, Port: sa.Port}
	case *unix.SockaddrInet6:
		if sa == nil {
			return nil
		}
		ip := make(net.IP, net.IPv6len)
		copy(ip, sa.Addr[:])
		return &net.TCPAddr{IP: ip, Port: sa.Port, Zone: zoneName(int(sa.ZoneId))}
	case *unix.SockaddrUnix:
		if sa == nil {
			return nil
		}
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// LocalAddr returns the address fd is bound to (getsockname). For a
// listener bound to port 0 this is where the kernel-chosen port is learned.
func LocalAddr(fd int) (net.Addr, error) {
	sa, err := getname(unix.SYS_GETSOCKNAME, fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	return ToAddr(sa), nil
}

// PeerAddr returns the address of fd's peer (getpeername). It fails with
// ENOTCONN once the peer is gone on some socket types, so servers that need
// the peer address later should keep the one returned by Accept.
func PeerAddr(fd int) (net.Addr, error) {
	sa, err := getname(unix.SYS_GETPEERNAME, fd)
	if err != nil {
		return nil, os.NewSyscallError("getpeername", err)
	}
	return ToAddr(sa), nil
}

// getname calls getsockname or getpeername.
//
// unix.Getsockname and unix.Getpeername are not used because their decoder
// issues an extra getsockopt(SO_PROTOCOL) for every AF_INET/AF_INET6 address
// (to tell L2TP/IP from TCP) and drops the address length, which is what
// distinguishes abstract AF_UNIX names. We only ever see stream sockets, so
// we decode the few families we need ourselves (decodeSockaddr).
func getname(trap uintptr, fd int) (unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return nil, e
	}
	return decodeSockaddr(&rsa, n)
}

// decodeSockaddr converts the first n bytes of rsa, as filled in by
// accept4/getsockname/getpeername, into a unix.Sockaddr. peerOf does the
// decoding; only an AF_UNIX name, which a Peer does not hold, is read here.
func decodeSockaddr(rsa *unix.RawSockaddrAny, n uint32) (unix.Sockaddr, error) {
	p, err := peerOf(rsa, n)
	if err != nil {
		return nil, err
	}
	if p.Unix() {
		return &unix.SockaddrUnix{Name: unixName((*unix.RawSockaddrUnix)(unsafe.Pointer(rsa)), n)}, nil
	}
	return p.sockaddr(), nil
}

// unixName renders an AF_UNIX address using the "@" convention of Go and
// x/sys/unix (unix.SockaddrUnix accepts the same form when binding):
//
//   - pathname socket: the path, up to its terminating NUL;
//   - abstract socket (sun_path[0] == 0): "@" followed by the rest of the
//     name. The kernel tells us the exact length, and abstract names are
//     binary blobs, so we keep all of it rather than stopping at a NUL;
//   - unnamed socket (length covers only sun_family): "@", which is what
//     net reports for the same socket.
func unixName(pp *unix.RawSockaddrUnix, n uint32) string {
	const pathOff = uint32(unsafe.Offsetof(pp.Path))
	if n <= pathOff {
		return "@"
	}
	l := int(n - pathOff)
	if l > len(pp.Path) {
		l = len(pp.Path)
	}
	path := unsafe.Slice((*byte)(unsafe.Pointer(&pp.Path[0])), l)
	if path[0] == 0 {
		return "@" + string(path[1:])
	}
	for i, c := range path {
		if c == 0 {
			return string(path[:i])
		}
	}
	return string(path)
}

// ntohs converts a port from network byte order as stored in a raw
// sockaddr. The field is declared uint16 but holds big-endian bytes, so read
// the bytes rather than depend on host byte order.
func ntohs(p uint16) int {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return int(b[0])<<8 | int(b[1])
}

// tcpSockaddr builds the sockaddr to bind for a TCP listener of the given
// family. A nil or unspecified IP means the wildcard address of that family;
// for AF_INET6 this must be ::, not ::ffff:0.0.0.0, which is what To16 would
// give for 0.0.0.0 and which would only accept IPv4.
func tcpSockaddr(family int, a *net.TCPAddr) (unix.Sockaddr, error) {
	switch family {
	case unix.AF_INET:
		sa := &unix.SockaddrInet4{Port: a.Port}
		if a.IP != nil && !a.IP.IsUnspecified() {
			ip4 := a.IP.To4()
			if ip4 == nil {
				return nil, &net.AddrError{Err: "non-IPv4 address", Addr: a.IP.String()}
			}
			copy(sa.Addr[:], ip4)
		}
		return sa, nil
	case unix.AF_INET6:
		sa := &unix.SockaddrInet6{Port: a.Port}
		if a.IP != nil && !a.IP.IsUnspecified() {
			ip6 := a.IP.To16()
			if ip6 == nil {
				return nil, &net.AddrError{Err: "non-IPv6 address", Addr: a.IP.String()}
			}
			copy(sa.Addr[:], ip6)
		}
		id, err := zoneIndex(a.Zone)
		if err != nil {
			return nil, err
		}
		sa.ZoneId = uint32(id)
		return sa, nil
	}
	return nil, unix.EAFNOSUPPORT
}
