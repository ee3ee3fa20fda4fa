package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
	"github.com/simple-server/simpleserver/protocol/plaintext"
)

// testDeadline bounds every blocking step of a test.
const testDeadline = 20 * time.Second

// api is one of the two ways to serve: a net/http Handler on workers, or
// a Fast handler on the loops.
type api struct {
	name string
	make func() *http1.Protocol
}

// apis serve the plaintext contract both ways; tests of behaviour both
// share run over each.
var apis = []api{
	{"handler", func() *http1.Protocol { return &http1.Protocol{Handler: plaintext.Mux(), ServerName: "test"} }},
	{"fast", func() *http1.Protocol { return &http1.Protocol{Fast: plaintext.Fast, ServerName: "test"} }},
}

// eachAPI runs f once per API, as a subtest.
func eachAPI(t *testing.T, f func(t *testing.T, a api)) {
	for _, a := range apis {
		t.Run(a.name, func(t *testing.T) { f(t, a) })
	}
}

// serve starts a server for p on a fresh 127.0.0.1 port, with two loops
// and, for a Handler, four workers; tweak adjusts the server first. It is
// closed when the test ends.
func serve(t testing.TB, p *http1.Protocol, tweak func(*simpleserver.Server)) (*simpleserver.Server, string) {
	t.Helper()
	srv := &simpleserver.Server{Stream: p, Loops: 2, Logger: quietLogger()}
	if p.Handler != nil {
		srv.Workers = 4
	}
	if tweak != nil {
		tweak(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// dial connects to addr with a deadline for everything the test does on
// the connection.
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

// resp is a response as read off the wire.
type resp struct {
	status  int
	header  http.Header
	body    []byte
	chunked bool
}

// readResponse reads one response to a request of method from br,
// strictly: a status line, fields, and a body framed by Content-Length or
// chunked (or, with neither, up to EOF).
func readResponse(br *bufio.Reader, method string) (*resp, error) {
	r, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	out := &resp{status: r.StatusCode, header: r.Header, body: b}
	for _, te := range r.TransferEncoding {
		out.chunked = out.chunked || te == "chunked"
	}
	if r.Close {
		out.header.Set("Connection", "close")
	}
	return out, nil
}

// exchange writes raw to a new connection and reads one response per
// method in methods, in order.
func exchange(t testing.TB, addr, raw string, methods ...string) ([]*resp, net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*resp
	for i, m := range methods {
		r, err := readResponse(br, m)
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		out = append(out, r)
	}
	return out, c, br
}

// expectEOF asserts that the server closed the connection with nothing
// more to say.
func expectEOF(t testing.TB, br *bufio.Reader) {
	t.Helper()
	b, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("reading to EOF: %v (got %q)", err, b)
	}
	if len(b) > 0 {
		t.Fatalf("after the last response the server sent %q", b)
	}
}

// get is a minimal request.
func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"
}

// post is a request with a Content-Length body.
func post(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
}

// chunked frames body as a chunked request body in pieces of size n.
func chunked(body string, n int) string {
	var b strings.Builder
	for len(body) > 0 {
		k := min(n, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", k, body[:k])
		body = body[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// checkPlaintext asserts r is the contract's "Hello, World!" response.
func checkPlaintext(t testing.TB, r *resp, head bool) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d, want 200", r.status)
	}
	want := plaintext.Body
	if head {
		want = ""
	}
	if string(r.body) != want {
		t.Fatalf("body %q, want %q", r.body, want)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cl := r.header.Get("Content-Length"); cl != "13" {
		t.Fatalf("Content-Length %q, want 13", cl)
	}
	if _, err := http.ParseTime(r.header.Get("Date")); err != nil {
		t.Fatalf("Date %q: %v", r.header.Get("Date"), err)
	}
	if s := r.header.Get("Server"); s != "test" {
		t.Fatalf("Server %q, want test", s)
	}
}

func bodyOf(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%q... (%d bytes)", b[:200], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// waitStats returns srv's Stats once ready says they are, or after
// testDeadline: the loop updates counters just after the socket event a
// client observes.
func waitStats(srv *simpleserver.Server, ready func(simpleserver.Stats) bool) simpleserver.Stats {
	end := time.Now().Add(testDeadline)
	for {
		st := srv.Stats()
		if ready(st) || time.Now().After(end) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}
