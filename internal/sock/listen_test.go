//go:build linux && !simpleserver_portable

package sock

import (
	"bytes"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenAcceptExchange listens on every supported kind of address,
// connects with the net package, accepts with Accept and checks that both
// sides agree on the addresses and can exchange bytes.
func TestListenAcceptExchange(t *testing.T) {
	tests := []struct {
		name    string
		network string
		address func(t *testing.T) string
		want    func(t *testing.T, addr net.Addr) // checks the bound address
	}{
		{
			name: "tcp4", network: "tcp4",
			address: func(*testing.T) string { return "127.0.0.1:0" },
			want: func(t *testing.T, addr net.Addr) {
				a, ok := addr.(*net.TCPAddr)
				if !ok || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || len(a.IP) != 4 || a.Port == 0 || a.Zone != "" {
					t.Fatalf("bound address %#v, want 127.0.0.1 (4 bytes) with a nonzero port", addr)
				}
			},
		},
		{
			name: "tcp6", network: "tcp6",
			address: func(t *testing.T) string {
				if !haveIPv6Loopback() {
					t.Skip("::1 is not available")
				}
				return "[::1]:0"
			},
			want: func(t *testing.T, addr net.Addr) {
				a, ok := addr.(*net.TCPAddr)
				if !ok || !a.IP.Equal(net.IPv6loopback) || len(a.IP) != 16 || a.Port == 0 || a.Zone != "" {
					t.Fatalf("bound address %#v, want ::1 with a nonzero port", addr)
				}
			},
		},
		{
			name: "unix path", network: "unix",
			address: func(t *testing.T) string { return filepath.Join(t.TempDir(), "s.sock") },
		},
		{
			name: "unix abstract", network: "unix",
			address: abstractName,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDeadline(t)
			address := tt.address(t)
			lfd, addr := listen(t, tt.network, address, ListenOptions{})
			if tt.want != nil {
				tt.want(t, addr)
			} else {
				wantAddr(t, "bound address", addr, &net.UnixAddr{Name: address, Net: "unix"})
			}
			la, err := LocalAddr(lfd)
			if err != nil {
				t.Fatal(err)
			}
			wantAddr(t, "LocalAddr(listener)", la, addr)
			wantNonblockCloexec(t, lfd)

			// Nothing is pending yet: Accept must say so with a bare EAGAIN.
			if nfd, sa, err := Accept(lfd); err != unix.EAGAIN || nfd != -1 || sa != (Peer{}) {
				t.Fatalf("Accept on an empty queue = %d, %+v, %v; want -1, a zero Peer, EAGAIN", nfd, sa, err)
			}

			c := dial(t, d, addr)
			nfd, sa := acceptOne(t, d, lfd)
			wantNonblockCloexec(t, nfd)

			if tt.network == "unix" {
				// Peer leaves AF_UNIX names to PeerAddr.
				if !sa.Unix() || sa.TCP() || sa.Addr() != nil {
					t.Errorf("unix peer %+v: Unix %v, TCP %v, Addr %v", sa, sa.Unix(), sa.TCP(), sa.Addr())
				}
			} else {
				wantAddr(t, "Peer.Addr", sa.Addr(), c.LocalAddr())
			}
			peer, err := PeerAddr(nfd)
			if err != nil {
				t.Fatal(err)
			}
			wantAddr(t, "PeerAddr(accepted)", peer, c.LocalAddr())
			local, err := LocalAddr(nfd)
			if err != nil {
				t.Fatal(err)
			}
			wantAddr(t, "LocalAddr(accepted)", local, c.RemoteAddr())

			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if got := readFull(t, d, nfd, 4); !bytes.Equal(got, []byte("ping")) {
				t.Fatalf("server read %q, want %q", got, "ping")
			}
			writeAll(t, d, nfd, []byte("pong!"))
			buf := make([]byte, 5)
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, []byte("pong!")) {
				t.Fatalf("client read %q, want %q", buf, "pong!")
			}

			// Closing the server side is seen by the client as EOF.
			if err := unix.Close(nfd); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(buf); n != 0 || err == nil {
				t.Fatalf("client read after server close = %d, %v; want EOF", n, err)
			}
		})
	}
}

// TestListenDualStack checks that "tcp" with an unspecified host is one
// [::] socket with IPV6_V6ONLY=0 that accepts both IPv4 and IPv6 clients,
// as net.Listen does, and that "tcp6" is IPv6-only.
func TestListenDualStack(t *testing.T) {
	if !haveIPv6Loopback() {
		t.Skip("::1 is not available")
	}
	d := newDeadline(t)
	for _, address := range []string{":0", "0.0.0.0:0", "[::]:0", ""} {
		lfd, addr := listen(t, "tcp", address, ListenOptions{})
		a := addr.(*net.TCPAddr)
		if !a.IP.Equal(net.IPv6unspecified) || len(a.IP) != 16 || a.Port == 0 {
			t.Fatalf("Listen(tcp, %q) bound %#v, want [::] with a nonzero port", address, addr)
		}
		wantInt(t, lfd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, "IPV6_V6ONLY", 0)
	}

	lfd, addr := listen(t, "tcp", ":0", ListenOptions{})
	port := addr.(*net.TCPAddr).Port

	c4 := dial(t, d, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1).To4(), Port: port})
	_, sa := acceptOne(t, d, lfd)
	got := sa.Addr().(*net.TCPAddr)
	want := c4.LocalAddr().(*net.TCPAddr)
	// IPv4 clients of a dual-stack socket are IPv4-mapped IPv6 addresses.
	if sa.family != unix.AF_INET6 || len(got.IP) != 16 || !got.IP.Equal(want.IP) || got.Port != want.Port {
		t.Errorf("IPv4 client on dual-stack listener: got %#v (family %d), want %v as ::ffff:127.0.0.1", got, sa.family, want)
	}

	c6 := dial(t, d, &net.TCPAddr{IP: net.IPv6loopback, Port: port})
	_, sa = acceptOne(t, d, lfd)
	wantAddr(t, "IPv6 client", sa.Addr(), c6.LocalAddr())

	v6fd, _ := listen(t, "tcp6", ":0", ListenOptions{})
	wantInt(t, v6fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, "IPV6_V6ONLY", 1)
}

// TestListenUnixAutobind checks that an empty unix address makes the
// kernel choose an abstract name: "@" and five hex digits.
func TestListenUnixAutobind(t *testing.T) {
	_, addr := listen(t, "unix", "", ListenOptions{})
	a := addr.(*net.UnixAddr)
	if len(a.Name) != 6 || a.Name[0] != '@' || a.Net != "unix" {
		t.Fatalf("autobind address %#v, want @ and 5 hex digits", a)
	}
}
