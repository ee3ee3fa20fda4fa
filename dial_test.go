package simpleserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// collector gathers what a dialed connection receives and how it ends.
type collector struct {
	mu     sync.Mutex
	got    bytes.Buffer
	want   int           // bytes to wait for
	full   chan struct{} // closed when want bytes arrived
	opened chan struct{}
	closed chan error // receives OnClose's error, once
}

func newCollector(want int) *collector {
	return &collector{want: want, full: make(chan struct{}), opened: make(chan struct{}), closed: make(chan error, 1)}
}

func (k *collector) dialer() *simpleserver.Dialer {
	return &simpleserver.Dialer{
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.got.Write(msg)
			if k.got.Len() == k.want {
				close(k.full)
			}
		}),
		OnOpen:  func(*simpleserver.Conn) { close(k.opened) },
		OnClose: func(_ *simpleserver.Conn, err error) { k.closed <- err },
	}
}

func (k *collector) bytes() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.got.String()
}

// client starts a Server with no listener, closed when the test ends.
func client(t *testing.T) *simpleserver.Server {
	t.Helper()
	cl := &simpleserver.Server{Loops: 2, Logger: discardLogger()}
	if err := cl.StartClient(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-deadline():
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// Writes made while the connect is under way are sent once it is
// established, in order, and the replies reach the Dialer's Handler.
func TestDialAsyncQueuesWritesUntilConnected(t *testing.T) {
	addr := start(t, helloServer(nil))
	cl := client(t)
	var want bytes.Buffer
	for i := range 20 {
		want.WriteString(reply(requestPayload(0, i)))
	}
	k := newCollector(want.Len())
	c, err := cl.DialAsync(context.Background(), "tcp", addr, k.dialer())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := c.Write(frame(requestPayload(0, i))); err != nil {
			t.Fatalf("write %d before the connect completed: %v", i, err)
		}
	}
	waitFor(t, k.opened, "OnOpen")
	<-k.full
	if got := k.bytes(); got != want.String() {
		t.Fatalf("replies:\n got %q\nwant %q", trunc(got), trunc(want.String()))
	}
	if got := c.RemoteAddr().String(); got != addr {
		t.Errorf("RemoteAddr = %s, want %s", got, addr)
	}
	st := cl.Stats()
	if st.Outbound != 1 || st.Open != 1 || st.Dialed != 1 || st.Accepted != 0 {
		t.Errorf("client stats: Outbound %d Open %d Dialed %d Accepted %d, want 1 1 1 0", st.Outbound, st.Open, st.Dialed, st.Accepted)
	}
	c.Close()
	if err := waitFor(t, k.closed, "OnClose"); err != nil {
		t.Errorf("OnClose after Close: %v, want nil", err)
	}
	st = waitStats(cl, func(st simpleserver.Stats) bool { return st.Open == 0 })
	if st.Outbound != 0 || st.Closed.Handler != 1 {
		t.Errorf("after Close: Outbound %d, Closed.Handler %d; want 0 and 1", st.Outbound, st.Closed.Handler)
	}
}

// A refused connect is the kernel's ECONNREFUSED, as a *net.OpError, from
// Dial and (the same error, once) in OnClose.
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl := client(t)
	k := newCollector(0)
	c, err := cl.Dial(context.Background(), "tcp", addr, k.dialer())
	var op *net.OpError
	if c != nil || !errors.As(err, &op) || op.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial = %v, %v; want nil and a dial *net.OpError wrapping ECONNREFUSED", c, err)
	}
	if op.Addr == nil || op.Addr.String() != addr {
		t.Errorf("OpError.Addr = %v, want %s", op.Addr, addr)
	}
	if got := waitFor(t, k.closed, "OnClose"); got != err {
		t.Errorf("OnClose got %v, want Dial's error %v", got, err)
	}
	select {
	case <-k.opened:
		t.Error("OnOpen was called for a refused dial")
	default:
	}
	st := waitStats(cl, func(st simpleserver.Stats) bool { return st.Open == 0 })
	if st.Closed.Dial != 1 || st.Outbound != 0 || st.Dialed != 1 {
		t.Errorf("stats: Closed.Dial %d Outbound %d Dialed %d, want 1 0 1", st.Closed.Dial, st.Outbound, st.Dialed)
	}
}

// A host name is resolved off the loop and each of its addresses tried in
// turn: "localhost" may give ::1 first, where nothing listens.
func TestDialResolvesEveryAddress(t *testing.T) {
	addr := start(t, helloServer(nil))
	_, port, _ := net.SplitHostPort(addr)
	cl := client(t)
	k := newCollector(len(reply("by name")))
	c, err := cl.Dial(context.Background(), "tcp", net.JoinHostPort("localhost", port), k.dialer())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().String(); got != addr {
		t.Errorf("RemoteAddr = %s, want %s", got, addr)
	}
	c.Write(frame("by name"))
	waitFor(t, k.full, "the reply")
	if got := k.bytes(); got != reply("by name") {
		t.Errorf("reply %q", got)
	}

	_, err = cl.Dial(context.Background(), "tcp", "no-such-host.invalid:80", newCollector(0).dialer())
	var dns *net.DNSError
	if !errors.As(err, &dns) {
		t.Errorf("Dial of an unknown name = %v, want a *net.DNSError inside", err)
	}
	if _, err := cl.Dial(context.Background(), "tcp4", "[::1]:80", newCollector(0).dialer()); err == nil {
		t.Error("tcp4 dial of an IPv6 address succeeded")
	}
}

// Unix sockets dial like TCP.
func TestDialUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	srv := helloServer(func(s *simpleserver.Server) { s.Network, s.Addr = "unix", path })
	if err := srv.Start(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cl := client(t)
	k := newCollector(len(reply("over unix")))
	c, err := cl.Dial(context.Background(), "unix", path, k.dialer())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(frame("over unix"))
	waitFor(t, k.full, "the reply")
	if got := c.RemoteAddr().String(); got != path {
		t.Errorf("RemoteAddr = %q, want %q", got, path)
	}
	if _, err := cl.Dial(context.Background(), "unix", path+".missing", newCollector(0).dialer()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dial of a missing socket: %v, want ENOENT", err)
	}
}

// Shutdown sends what outbound connections queued before it closes them,
// and a stopped server dials no more.
func TestDialShutdownDrains(t *testing.T) {
	got := make(chan []byte, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testDeadline))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	cl := client(t)
	k := newCollector(0)
	c, err := cl.DialAsync(context.Background(), "tcp", ln.Addr().String(), k.dialer())
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("drain me "), 100000)
	c.Write(payload)
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := cl.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if b := waitFor(t, got, "the peer's EOF"); !bytes.Equal(b, payload) {
		t.Errorf("peer got %d bytes, want the %d queued", len(b), len(payload))
	}
	if err := waitFor(t, k.closed, "OnClose"); !errors.Is(err, simpleserver.ErrServerClosed) {
		t.Errorf("OnClose: %v, want ErrServerClosed", err)
	}
	if _, err := cl.DialAsync(context.Background(), "tcp", ln.Addr().String(), k.dialer()); !errors.Is(err, simpleserver.ErrServerClosed) {
		t.Errorf("DialAsync after Shutdown: %v, want ErrServerClosed", err)
	}
}

// With OnEOF a peer's half-close leaves the connection open for writing;
// CloseWrite then ends our side after what is queued, and the connection
// closes in order.
func TestHalfClose(t *testing.T) {
	closed := make(chan error, 1)
	srv := &simpleserver.Server{
		Loops: 1, Logger: discardLogger(),
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) { c.Write(msg) }),
		OnEOF: func(c *simpleserver.Conn) {
			c.Write([]byte(" and after your EOF"))
			if err := c.CloseWrite(); err != nil {
				t.Errorf("CloseWrite: %v", err)
			}
			if _, err := c.Write([]byte("late")); !errors.Is(err, simpleserver.ErrConnClosed) {
				t.Errorf("Write after CloseWrite: %v, want ErrConnClosed", err)
			}
		},
		OnClose: func(_ *simpleserver.Conn, err error) { closed <- err },
	}
	addr := start(t, srv)
	c := dial(t, addr)
	c.Write([]byte("before EOF"))
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "before EOF and after your EOF" {
		t.Fatalf("read %q, %v", b, err)
	}
	if err := waitFor(t, closed, "OnClose"); err != nil {
		t.Errorf("OnClose: %v, want nil", err)
	}

	// CloseWrite first: the peer reads its EOF, and can still send.
	srv2 := &simpleserver.Server{
		Loops: 1, Logger: discardLogger(),
		OnOpen: func(c *simpleserver.Conn) { c.Write([]byte("hello, then EOF")); c.CloseWrite() },
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			if _, err := c.Write(msg); !errors.Is(err, simpleserver.ErrConnClosed) {
				t.Errorf("Write after CloseWrite: %v", err)
			}
		}),
		OnClose: func(_ *simpleserver.Conn, err error) { closed <- err },
	}
	addr = start(t, srv2)
	c = dial(t, addr)
	b, err = io.ReadAll(c)
	if err != nil || string(b) != "hello, then EOF" {
		t.Fatalf("read %q, %v", b, err)
	}
	if _, err := c.Write([]byte("still sending")); err != nil {
		t.Fatal(err)
	}
	st := waitStats(srv2, func(st simpleserver.Stats) bool { return st.BytesIn == uint64(len("still sending")) })
	if st.Open != 1 {
		t.Errorf("Open = %d before the peer's EOF, want 1", st.Open)
	}
	c.(*net.TCPConn).CloseWrite()
	if err := waitFor(t, closed, "OnClose"); err != nil {
		t.Errorf("OnClose: %v, want nil", err)
	}
}

// WriteDirect writes at once while the socket takes it, then queues the
// rest behind what it could not write: a peer that reads late still gets
// every byte, in order, and a Write in between keeps its place.
func TestWriteDirectKeepsOrder(t *testing.T) {
	var want bytes.Buffer
	for i := range 64 {
		want.Write(bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10))
		if i == 10 {
			want.WriteString("|queued by Write|")
		}
	}
	wrote := make(chan struct{})
	srv := &simpleserver.Server{
		Loops: 1, Logger: discardLogger(), WriteBuffer: 64 << 10,
		Handler: simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			b := want.Bytes()
			for i := range 64 {
				c.WriteDirect(b[:64<<10])
				b = b[64<<10:]
				if i == 10 {
					c.Write(b[:len("|queued by Write|")])
					b = b[len("|queued by Write|"):]
				}
			}
			close(wrote)
		}),
	}
	addr := start(t, srv)
	c := dial(t, addr)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	c.Write([]byte("go"))
	waitFor(t, wrote, "the handler's writes")
	if st := srv.Stats(); st.BytesOut >= uint64(want.Len()) {
		t.Fatalf("the socket took all %d bytes at once: nothing was left to queue", st.BytesOut)
	}
	got := readN(t, c, want.Len())
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("got %d bytes out of order or corrupted (%s)", len(got), firstDiff(got, want.Bytes()))
	}
}

// A peer that speaks first and closes at once: its bytes and its EOF may
// arrive with the handshake's completion (on the portable engine they
// come in one event), and neither may be lost.
func TestDialPeerSpeaksAndClosesAtOnce(t *testing.T) {
	srv := &simpleserver.Server{
		Loops: 1, Logger: discardLogger(), DeferAccept: -1,
		Handler: simpleserver.HandlerFunc(func(*simpleserver.Conn, []byte) {}),
		OnOpen:  func(c *simpleserver.Conn) { c.Write([]byte("greeting")); c.Close() },
	}
	addr := start(t, srv)
	cl := client(t)
	for i := range 50 {
		k := newCollector(len("greeting"))
		if _, err := cl.Dial(context.Background(), "tcp", addr, k.dialer()); err != nil {
			t.Fatal(err)
		}
		if err := waitFor(t, k.closed, "OnClose after the peer's EOF"); err != nil {
			t.Fatalf("dial %d: OnClose %v, want nil (the peer's orderly close)", i, err)
		}
		if got := k.bytes(); got != "greeting" {
			t.Fatalf("dial %d: got %q before the EOF, want %q", i, got, "greeting")
		}
	}
}
