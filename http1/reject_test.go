package http1_test

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
)

// rejections are requests the server must refuse, with the status it
// must send. Each comes after a good request on the same connection, so
// the test also checks that earlier pipelined requests are answered first
// and that nothing after the refusal is.
var rejections = []struct {
	name   string
	raw    string
	status int
	body   bool // a body framing error, found once a Handler runs
}{
	{"no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400, false},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false},
	{"bad Host", "GET / HTTP/1.1\r\nHost: a{b\r\n\r\n", 400, false},
	{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, false},
	{"tab before colon", "GET / HTTP/1.1\r\nHost: x\r\nFoo\t: bar\r\n\r\n", 400, false},
	{"space in name", "GET / HTTP/1.1\r\nHost: x\r\nFo o: bar\r\n\r\n", 400, false},
	{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: bar\r\n\r\n", 400, false},
	{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nFoo\r\n\r\n", 400, false},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nFoo: a\r\n b\r\n\r\n", 400, false},
	{"space before first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400, false},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nFoo: a\x00b\r\n\r\n", 400, false},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: x\r\nFoo: a\x7fb\r\n\r\n", 400, false},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nFoo: a\rb\r\n\r\n", 400, false},
	{"bad method", "GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"double space in request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"no version", "GET /\r\nHost: x\r\n\r\n", 400, false},
	{"lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, false},
	{"HTTP/0.9 style", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505, false},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, false},
	{"two Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, false},
	{"Content-Length not digits", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3a\r\n\r\nabc", 400, false},
	{"Content-Length with sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400, false},
	{"Content-Length empty", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400, false},
	{"Content-Length overflow", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, false},
	{"Transfer-Encoding gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, false},
	{"Transfer-Encoding chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501, false},
	{"Transfer-Encoding twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, false},
	{"Transfer-Encoding xchunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501, false},
	{"Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, true},
	{"empty chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400, true},
	{"chunk data without CRLF", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400, true},
	{"bare LF after chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400, true},
	{"chunk size overflow", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc\r\n0\r\n\r\n", 400, true},
	{"unknown expectation", "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\na", 417, false},
	{"target too long", "GET /" + strings.Repeat("a", http1.DefaultMaxTargetBytes) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, false},
	{"head too large", "GET / HTTP/1.1\r\nHost: x\r\nCookie: " + strings.Repeat("a", http1.DefaultMaxHeaderBytes) + "\r\n\r\n", 431, false},
	{"too many fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", http1.DefaultMaxHeaders) + "\r\n", 431, false},
	{"control byte in target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"bad escape in path", "GET /a%zzb HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"relative target", "GET a/b HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
}

// Every refusal: the good request before it is answered, then the status
// with "Connection: close", then the connection closes. Nothing after the
// bad request is answered (a request smuggled after it would be).
func TestRejections(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		_, addr := serve(t, a.make(), nil)
		for _, tc := range rejections {
			t.Run(tc.name, func(t *testing.T) {
				raw := get("/plaintext") + tc.raw + get("/plaintext")
				rs, c, br := exchange(t, addr, raw, "GET", "GET")
				checkPlaintext(t, rs[0], false)
				// A Handler already runs when its body turns out to be
				// malformed: the status is its own (here the echo's,
				// 400 unless it echoed something already), and the
				// server's part is to end the connection after it.
				lenient := tc.body && a.name == "handler" && rs[1].status == 200
				if rs[1].status != tc.status && !lenient {
					t.Fatalf("status %d, want %d (body %q)", rs[1].status, tc.status, rs[1].body)
				}
				if rs[1].header.Get("Connection") != "close" {
					t.Fatalf("refusal without Connection: close: %v", rs[1].header)
				}
				expectEOF(t, br)
				c.Close()
			})
		}
	})
}

// A body over MaxBodyBytes: a declared one gets 413 at once, before the
// body is sent; a chunked one that grows past the limit fails the
// handler's reads, and the connection closes after its response.
func TestBodyLimit(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		p := a.make()
		p.MaxBodyBytes = 1000
		_, addr := serve(t, p, nil)
		raw := "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"
		rs, _, br := exchange(t, addr, raw, "POST")
		if rs[0].status != 413 || rs[0].header.Get("Connection") != "close" {
			t.Fatalf("declared 1001 > 1000: status %d, header %v", rs[0].status, rs[0].header)
		}
		expectEOF(t, br)

		raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(strings.Repeat("z", 1500), 100)
		rs, _, br = exchange(t, addr, raw, "POST")
		switch a.name {
		case "fast":
			if rs[0].status != 413 {
				t.Fatalf("chunked 1500 > 1000: status %d", rs[0].status)
			}
		case "handler":
			// io.Copy in the echo handler stops at the error: whatever
			// the response says, it is the connection's last.
			if len(rs[0].body) > 1000 {
				t.Fatalf("the handler read %d bytes past the limit", len(rs[0].body))
			}
		}
		expectEOF(t, br)
	})
}

// A head that does not arrive whole within ReadTimeout (slowloris) closes
// the connection; one that does is served.
func TestSlowHeadClosed(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		srv, addr := serve(t, a.make(), func(s *simpleserver.Server) { s.ReadTimeout = 200 * time.Millisecond })
		c := dial(t, addr)
		start := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the empty line
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 0 {
			t.Fatalf("slow head: read %q, %v; want a silent close", b, err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Fatalf("closed after %v, before ReadTimeout", d)
		}
		if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.ReadTimeout > 0 }); st.Closed.ReadTimeout != 1 {
			t.Fatalf("Closed.ReadTimeout = %d, want 1", st.Closed.ReadTimeout)
		}
		// A keep-alive connection idle between requests is the idle
		// timeout's, not the read timeout's: it is served after a pause
		// longer than ReadTimeout.
		c = dial(t, addr)
		br := bufio.NewReader(c)
		io.WriteString(c, get("/"))
		if r, err := readResponse(br, "GET"); err != nil {
			t.Fatal(err)
		} else {
			checkPlaintext(t, r, false)
		}
		time.Sleep(300 * time.Millisecond) // longer than ReadTimeout, on purpose
		io.WriteString(c, get("/"))
		if r, err := readResponse(br, "GET"); err != nil {
			t.Fatalf("after an idle pause: %v", err)
		} else {
			checkPlaintext(t, r, false)
		}
	})
}
