//go:build linux && !simpleserver_portable

package sock

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Peer is an accepted connection's peer address, packed the way accept4
// reported it into 24 bytes with no pointers: a server can keep one in
// every connection without an allocation, and build the net.Addr only
// when someone asks for it (Addr).
//
// An AF_UNIX peer's name can be 108 bytes and does not fit; Peer records
// only the family, and the name, when wanted, comes from PeerAddr while
// the socket is open. Unix-socket peers are almost always unnamed, and a
// TCP server should not pay for them.
type Peer struct {
	ip     [16]byte // AF_INET uses the first 4
	zone   uint32   // AF_INET6 scope id
	port   uint16
	family uint16 // 0 when unknown
}

// peerOf packs the first n bytes of rsa, as accept4, getsockname or
// getpeername filled them in.
func peerOf(rsa *unix.RawSockaddrAny, n uint32) (Peer, error) {
	if n > unix.SizeofSockaddrAny {
		// The kernel reports the full length even when it truncated the
		// copy; RawSockaddrAny is large enough for every family we handle,
		// so this means some other family.
		return Peer{}, unix.EAFNOSUPPORT
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		pp := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := Peer{port: uint16(ntohs(pp.Port)), family: unix.AF_INET}
		copy(p.ip[:], pp.Addr[:])
		return p, nil
	case unix.AF_INET6:
		pp := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return Peer{ip: pp.Addr, zone: pp.Scope_id, port: uint16(ntohs(pp.Port)), family: unix.AF_INET6}, nil
	case unix.AF_UNIX:
		return Peer{family: unix.AF_UNIX}, nil
	}
	return Peer{}, unix.EAFNOSUPPORT
}

// TCP reports whether the peer is an AF_INET or AF_INET6 address.
func (p Peer) TCP() bool { return p.family == unix.AF_INET || p.family == unix.AF_INET6 }

// Unix reports whether the peer is an AF_UNIX socket, whose name Peer
// does not hold.
func (p Peer) Unix() bool { return p.family == unix.AF_UNIX }

// Addr returns the *net.TCPAddr ToAddr would for the same address, or nil
// for an AF_UNIX or unknown peer.
func (p Peer) Addr() net.Addr {
	if !p.TCP() {
		return nil
	}
	return ToAddr(p.sockaddr())
}

// sockaddr is p as a unix.Sockaddr, or nil unless p is AF_INET or
// AF_INET6.
func (p Peer) sockaddr() unix.Sockaddr {
	switch p.family {
	case unix.AF_INET:
		sa := &unix.SockaddrInet4{Port: int(p.port)}
		copy(sa.Addr[:], p.ip[:4])
		return sa
	case unix.AF_INET6:
		return &unix.SockaddrInet6{Port: int(p.port), ZoneId: p.zone, Addr: p.ip}
	}
	return nil
}
