package simpleserver_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// testDeadline bounds every blocking step of a test.
const testDeadline = 20 * time.Second

// start serves srv on a fresh 127.0.0.1 port and returns the address. The
// server is closed when the test ends.
func start(t testing.TB, srv *simpleserver.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// helloServer is a hello server with the given tweaks applied.
func helloServer(tweak func(*simpleserver.Server)) *simpleserver.Server {
	srv := &simpleserver.Server{Codec: hello.Codec(0), Handler: hello.Handler, Loops: 2}
	if tweak != nil {
		tweak(srv)
	}
	return srv
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(payload string) []byte { return hello.AppendRequest(nil, []byte(payload)) }

func reply(payload string) string { return hello.Prefix + payload }

// readN reads exactly n bytes.
func readN(t testing.TB, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// expectReply reads one hello reply and checks it is exactly for payload.
func expectReply(t testing.TB, r io.Reader, payload string) {
	t.Helper()
	if got := string(readN(t, r, hello.ReplyLen(len(payload)))); got != reply(payload) {
		t.Fatalf("reply = %q, want %q", trunc(got), trunc(reply(payload)))
	}
}

// expectEOF checks the server closed the connection with nothing more to
// say.
func expectEOF(t testing.TB, r io.Reader) {
	t.Helper()
	var b [1]byte
	n, err := r.Read(b[:])
	if n != 0 || err != io.EOF {
		t.Fatalf("read = %d, %v; want 0, EOF", n, err)
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// pipelineClient sends n requests on one connection in one write and
// verifies the n replies in order. Payloads name the connection and the
// sequence number, so a reply for someone else's request can not pass.
func pipelineClient(addr string, id, n int) error {
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testDeadline))
	var req []byte
	for i := range n {
		req = hello.AppendRequest(req, fmt.Appendf(nil, "conn %d request %d", id, i))
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for i := range n {
		want := fmt.Appendf([]byte(hello.Prefix), "conn %d request %d", id, i)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil {
			return fmt.Errorf("conn %d reply %d: %w", id, i, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("conn %d reply %d = %q, want %q", id, i, got, want)
		}
	}
	return nil
}

// le32 is a hello header declaring n payload bytes.
func le32(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

// deadline returns a channel that fires when a test step took too long.
func deadline() <-chan time.Time { return time.After(testDeadline) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
