//go:build linux && !simpleserver_portable

package sock

import (
	"net"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestToAddr(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	const unusedIndex = 1<<31 - 1
	tests := []struct {
		name string
		sa   unix.Sockaddr
		want net.Addr
	}{
		{"nil", nil, nil},
		{"nil inet4", (*unix.SockaddrInet4)(nil), nil},
		{"nil inet6", (*unix.SockaddrInet6)(nil), nil},
		{"nil unix", (*unix.SockaddrUnix)(nil), nil},
		{"other family", &unix.SockaddrLinklayer{}, nil},
		{"inet4", &unix.SockaddrInet4{Port: 8080, Addr: [4]byte{192, 0, 2, 1}},
			&net.TCPAddr{IP: net.IP{192, 0, 2, 1}, Port: 8080}},
		{"inet6", &unix.SockaddrInet6{Port: 443, Addr: [16]byte{0: 0x20, 1: 0x01, 2: 0x0d, 3: 0xb8, 15: 1}},
			&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443}},
		{"inet6 mapped", &unix.SockaddrInet6{Port: 1, Addr: [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}},
			&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 1}},
		{"inet6 zone", &unix.SockaddrInet6{Port: 1, ZoneId: uint32(lo.Index), Addr: [16]byte{0: 0xfe, 1: 0x80, 15: 1}},
			&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "lo"}},
		{"inet6 unknown zone", &unix.SockaddrInet6{Port: 1, ZoneId: unusedIndex, Addr: [16]byte{0: 0xfe, 1: 0x80, 15: 1}},
			&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: strconv.Itoa(unusedIndex)}},
		{"unix", &unix.SockaddrUnix{Name: "/run/s.sock"}, &net.UnixAddr{Name: "/run/s.sock", Net: "unix"}},
		{"unix abstract", &unix.SockaddrUnix{Name: "@x"}, &net.UnixAddr{Name: "@x", Net: "unix"}},
	}
	for _, tt := range tests {
		got := ToAddr(tt.sa)
		if tt.want == nil {
			if got != nil {
				t.Errorf("%s: ToAddr = %#v, want nil", tt.name, got)
			}
			continue
		}
		wantAddr(t, tt.name, got, tt.want)
	}

	// The result must not alias the Sockaddr.
	sa := &unix.SockaddrInet4{Addr: [4]byte{10, 0, 0, 1}}
	a := ToAddr(sa).(*net.TCPAddr)
	sa.Addr[0] = 11
	if a.IP[0] != 10 {
		t.Errorf("ToAddr result aliases the Sockaddr")
	}
}

// TestDecodeSockaddr covers the raw decoding, in particular the AF_UNIX
// name forms that depend on the length the kernel reports.
func TestDecodeSockaddr(t *testing.T) {
	raw := func(path string) (*unix.RawSockaddrAny, uint32) {
		var rsa unix.RawSockaddrAny
		pp := (*unix.RawSockaddrUnix)(unsafe.Pointer(&rsa))
		pp.Family = unix.AF_UNIX
		for i := range len(path) {
			pp.Path[i] = int8(path[i])
		}
		return &rsa, uint32(unsafe.Offsetof(pp.Path)) + uint32(len(path))
	}
	for _, tt := range []struct {
		name, path, want string
	}{
		{"unnamed", "", "@"},
		{"pathname with NUL", "/tmp/s\x00", "/tmp/s"},
		{"pathname without NUL", "/tmp/s", "/tmp/s"},
		{"abstract", "\x00name", "@name"},
		{"abstract with NUL inside", "\x00a\x00b", "@a\x00b"},
	} {
		rsa, n := raw(tt.path)
		sa, err := decodeSockaddr(rsa, n)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := sa.(*unix.SockaddrUnix).Name; got != tt.want {
			t.Errorf("%s: name %q, want %q", tt.name, got, tt.want)
		}
	}

	var rsa unix.RawSockaddrAny
	p4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
	p4.Family = unix.AF_INET
	p4.Addr = [4]byte{127, 0, 0, 1}
	*(*[2]byte)(unsafe.Pointer(&p4.Port)) = [2]byte{0x1f, 0x90} // 8080, network order
	sa, err := decodeSockaddr(&rsa, unix.SizeofSockaddrInet4)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *sa.(*unix.SockaddrInet4), (unix.SockaddrInet4{Port: 8080, Addr: [4]byte{127, 0, 0, 1}}); got.Port != want.Port || got.Addr != want.Addr {
		t.Errorf("inet4: got port %d addr %v, want %d %v", got.Port, got.Addr, want.Port, want.Addr)
	}

	rsa = unix.RawSockaddrAny{}
	rsa.Addr.Family = unix.AF_PACKET
	if _, err := decodeSockaddr(&rsa, 20); err != unix.EAFNOSUPPORT {
		t.Errorf("AF_PACKET: err %v, want EAFNOSUPPORT", err)
	}
}

func TestTCPSockaddr(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	sa, err := tcpSockaddr(unix.AF_INET6, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "lo"})
	if err != nil {
		t.Fatal(err)
	}
	if s := sa.(*unix.SockaddrInet6); s.ZoneId != uint32(lo.Index) || s.Port != 80 || s.Addr[0] != 0xfe {
		t.Errorf("zone lo: got %+v, want ZoneId %d", s, lo.Index)
	}
	sa, err = tcpSockaddr(unix.AF_INET6, &net.TCPAddr{IP: net.ParseIP("fe80::1"), Zone: "7"})
	if err != nil || sa.(*unix.SockaddrInet6).ZoneId != 7 {
		t.Errorf("numeric zone: %+v, %v", sa, err)
	}
	// The IPv4 wildcard on a dual-stack socket is ::, not ::ffff:0.0.0.0.
	sa, err = tcpSockaddr(unix.AF_INET6, &net.TCPAddr{IP: net.IPv4zero, Port: 1})
	if err != nil || sa.(*unix.SockaddrInet6).Addr != [16]byte{} {
		t.Errorf("IPv4 wildcard as AF_INET6: %+v, %v", sa, err)
	}
	if _, err := tcpSockaddr(unix.AF_INET, &net.TCPAddr{IP: net.IPv6loopback}); err == nil {
		t.Errorf("IPv6 address as AF_INET: no error")
	}
}
