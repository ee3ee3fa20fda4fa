package simpleserver_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/simple-server/simpleserver"
)

// At debug level the server logs one line when a connection opens and one
// when it closes, with the peer's address and the close reason, and
// nothing per message.
func TestDebugLogPerConnection(t *testing.T) {
	var logs syncBuffer
	closed := make(chan error, 1)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s.OnClose = func(_ *simpleserver.Conn, err error) { closed <- err }
	})
	addr := start(t, srv)
	c := dial(t, addr)
	for i := range 10 {
		expectRoundTrip(t, c, requestPayload(0, i))
	}
	client := c.LocalAddr().String()
	c.Close()
	waitFor(t, closed, "OnClose")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines for one connection of 10 requests, want 2:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{
		`level=DEBUG msg="connection opened" remote=` + client + ` outbound=false`,
		`level=DEBUG msg="connection closed" remote=` + client + ` outbound=false reason=peer err=<nil>`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %q\nwant it to contain %q", i, lines[i], want)
		}
	}
}

// syncBuffer is a bytes.Buffer that several goroutines may write (a
// child's output copier, a server's loops) while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Behind a proxy both lines name the client of the PROXY header, not the
// proxy.
func TestDebugLogBehindProxy(t *testing.T) {
	var logs syncBuffer
	closed := make(chan error, 2)
	srv := whoServer(&simpleserver.ProxyProtocol{}, nil)
	srv.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv.OnClose = func(_ *simpleserver.Conn, err error) { closed <- err }
	addr := start(t, srv)
	c := dial(t, addr)
	c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\none\ntwo\n"))
	readLine(t, c)
	readLine(t, c)
	c.Close()
	waitFor(t, closed, "OnClose")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines for one proxied connection of 2 requests, want 2:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{
		`level=DEBUG msg="connection opened" remote=192.0.2.1:12345 outbound=false`,
		`level=DEBUG msg="connection closed" remote=192.0.2.1:12345 outbound=false reason=peer err=<nil>`,
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %q\nwant it to contain %q", i, lines[i], want)
		}
	}
}
