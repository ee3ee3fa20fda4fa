package simpleserver_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/codec"
)

// whoServer answers each line with what the server knows of the
// connection: RemoteAddr, and the PROXY header's proxy and destination.
func whoServer(p *simpleserver.ProxyProtocol, opened chan<- string) *simpleserver.Server {
	return &simpleserver.Server{
		Loops: 1, Logger: discardLogger(), ProxyProtocol: p, Codec: codec.Line{},
		OnOpen: func(c *simpleserver.Conn) {
			if opened != nil {
				opened <- c.RemoteAddr().String()
			}
		},
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, line []byte) {
			pi := c.Proxy()
			dst := "-"
			if pi.Destination != nil {
				dst = pi.Destination.String()
			}
			c.Write([]byte(string(line) + " remote=" + c.RemoteAddr().String() + " proxy=" + pi.Proxy.String() +
				" dst=" + dst + " local=" + map[bool]string{true: "yes", false: "no"}[pi.Local] + " authority=" + pi.Authority + "\n"))
		}),
	}
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := c.Read(one); err != nil {
			t.Fatalf("read after %q: %v", b, err)
		}
		if one[0] == '\n' {
			return string(b)
		}
		b = append(b, one[0])
	}
}

// The header's client becomes RemoteAddr, however the header is cut into
// segments; the proxy's address stays known; LOCAL keeps the real peer.
func TestProxyProtocolHeader(t *testing.T) {
	opened := make(chan string, 8)
	addr := start(t, whoServer(&simpleserver.ProxyProtocol{}, opened))

	c := dial(t, addr)
	proxy := c.LocalAddr().String()
	hdr := "PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n"
	for i := range len(hdr) {
		c.Write([]byte{hdr[i]}) // one segment per byte, with no delay
	}
	c.Write([]byte("hello\n"))
	if got := waitFor(t, opened, "OnOpen"); got != "192.0.2.1:12345" {
		t.Errorf("OnOpen saw RemoteAddr %s, want the header's client", got)
	}
	want := "hello remote=192.0.2.1:12345 proxy=" + proxy + " dst=198.51.100.7:443 local=no authority="
	if got := readLine(t, c); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	// Version 2 LOCAL: a health check of the proxy's own.
	c = dial(t, addr)
	local := append([]byte("\r\n\r\n\x00\r\nQUIT\n"), 0x20, 0x00, 0, 0)
	c.Write(append(local, "check\n"...))
	waitFor(t, opened, "OnOpen")
	want = "check remote=" + c.LocalAddr().String() + " proxy=" + c.LocalAddr().String() + " dst=- local=yes authority="
	if got := readLine(t, c); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// A connection without a valid header, or too slow with it, is closed
// with its own reason; the others are served meanwhile.
func TestProxyProtocolRefusals(t *testing.T) {
	closed := make(chan error, 8)
	srv := whoServer(&simpleserver.ProxyProtocol{Timeout: 200 * time.Millisecond}, nil)
	srv.OnClose = func(_ *simpleserver.Conn, err error) { closed <- err }
	addr := start(t, srv)

	good := dial(t, addr)
	good.Write([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"))
	for _, tc := range []struct{ name, send string }{
		{"no header", "hello\n"},
		{"malformed header", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\nhello\n"},
		{"too slow", "PROXY TCP4 1.2.3.4"},
	} {
		c := dial(t, addr)
		c.Write([]byte(tc.send))
		b, _ := io.ReadAll(c)
		if len(b) != 0 {
			t.Errorf("%s: the server answered %q", tc.name, b)
		}
		if err := waitFor(t, closed, "OnClose"); !errors.Is(err, simpleserver.ErrProxyHeader) {
			t.Errorf("%s: close reason %v, want ErrProxyHeader", tc.name, err)
		}
	}
	good.Write([]byte("still served\n"))
	if got := readLine(t, good); !strings.HasPrefix(got, "still served remote=[2001:db8::1]:1 ") {
		t.Errorf("the good connection got %q", got)
	}
	if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.Proxy == 3 }); st.Closed.Proxy != 3 || st.Open != 1 {
		t.Errorf("Closed.Proxy %d, Open %d; want 3 and 1", st.Closed.Proxy, st.Open)
	}
}

// Only trusted networks may send headers.
func TestProxyProtocolTrusted(t *testing.T) {
	srv := whoServer(&simpleserver.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, nil)
	addr := start(t, srv)
	c := dial(t, addr)
	c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\nhello\n"))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Errorf("an untrusted peer was answered %q", b)
	}
	if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.Proxy == 1 }); st.Closed.Proxy != 1 {
		t.Errorf("Closed.Proxy = %d, want 1", st.Closed.Proxy)
	}
}
