package main

// End-to-end tests of simple-server -proto http against real clients:
// curl, wrk, Go's net/http client, simple-client, and raw sockets for
// what the clients cannot show (idle and read timeouts, 10,000 held
// connections, responses cut by a shutdown). Every test runs against both
// APIs the binary serves with: the Fast handler on the loops (-workers 0)
// and net/http handlers on workers (-workers 4).
//
// curl and wrk are installed by .ci/run; a missing one fails its test.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// httpModes are the two ways simple-server -proto http serves.
var httpModes = []struct{ name, workers string }{
	{"fast", "0"},    // the Fast API, on the event loops
	{"nethttp", "4"}, // net/http handlers (plaintext.Mux) on 4 workers
}

// eachMode runs f as one subtest per mode.
func eachMode(t *testing.T, f func(t *testing.T, workers string)) {
	t.Helper()
	for _, m := range httpModes {
		t.Run(m.name, func(t *testing.T) { f(t, m.workers) })
	}
}

func TestHTTPEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs them against curl, wrk and 10,000 connections")
	}
	server, client := buildBinaries(t)
	t.Run("curl", func(t *testing.T) { testCurl(t, server) })
	t.Run("wrk", func(t *testing.T) { testWrk(t, server) })
	t.Run("nethttp-client", func(t *testing.T) { testNetHTTPClient(t, server) })
	t.Run("simple-client", func(t *testing.T) { testSimpleClient(t, server, client) })
	t.Run("idle-10k", func(t *testing.T) { testIdle10k(t, server) })
	t.Run("slow-head", func(t *testing.T) { testSlowHead(t, server) })
	t.Run("sigterm-under-load", func(t *testing.T) { testSIGTERMUnderLoad(t, server) })
}

// --- the server ---

// startHTTP starts simple-server -proto http with two loops and the
// given -workers, plus args.
func startHTTP(t *testing.T, bin, workers string, args ...string) *serverProcess {
	t.Helper()
	return startServer(t, bin, append([]string{"-proto", "http", "-loops", "2", "-workers", workers}, args...)...)
}

// lookTool finds a program that .ci/run installs, from Debian's package
// pkg; without it the test fails, never skips.
func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (%v): this test needs Debian's %s; .ci/run installs it with apt-get install -y %s", name, err, pkg, pkg)
	}
	return path
}

// --- responses as bytes ---

type field struct{ name, value string }

// rawResponse is a response as it came off the wire.
type rawResponse struct {
	status string // the status line, e.g. "HTTP/1.1 200 OK"
	fields []field
	body   []byte
}

func (r rawResponse) get(name string) (string, bool) {
	for _, f := range r.fields {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// parseHead parses a response head without its final CRLF CRLF.
func parseHead(head string) (rawResponse, error) {
	lines := strings.Split(head, "\r\n")
	r := rawResponse{status: lines[0]}
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return r, fmt.Errorf("bare CR or LF in head line %q", l)
		}
	}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.TrimSpace(name) != name {
			return r, fmt.Errorf("malformed field line %q", l)
		}
		r.fields = append(r.fields, field{name, strings.Trim(value, " \t")})
	}
	return r, nil
}

// parseResponse parses the response at the front of b, its body framed
// by Content-Length (none for a response to HEAD). n is 0 while b holds
// less than a whole response.
func parseResponse(b []byte, head bool) (r rawResponse, n int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > 64<<10 {
			return r, 0, fmt.Errorf("no end of head in %d bytes", len(b))
		}
		return r, 0, nil
	}
	if r, err = parseHead(string(b[:end])); err != nil {
		return r, 0, err
	}
	n = end + 4
	if head {
		return r, n, nil
	}
	if te, ok := r.get("Transfer-Encoding"); ok {
		return r, 0, fmt.Errorf("unexpected Transfer-Encoding %q", te)
	}
	cl, ok := r.get("Content-Length")
	if !ok {
		return r, 0, fmt.Errorf("no Content-Length in %q", b[:end])
	}
	size, err := strconv.Atoi(cl)
	if err != nil || size < 0 {
		return r, 0, fmt.Errorf("bad Content-Length %q", cl)
	}
	if len(b)-n < size {
		return r, 0, nil
	}
	r.body = bytes.Clone(b[n : n+size])
	return r, n + size, nil
}

// anyDate, as a wanted field value, asks for an HTTP date within a
// minute of now.
const anyDate = "<an HTTP date>"

// fieldSet maps canonical field names to their exact wanted values.
type fieldSet map[string]string

var (
	plainFields = fieldSet{
		"Content-Type":   "text/plain; charset=utf-8",
		"Content-Length": "13",
		"Date":           anyDate,
		"Server":         "simple-server",
	}
	notFoundFields = fieldSet{
		"Content-Type":           "text/plain; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         "19",
		"Date":                   anyDate,
		"Server":                 "simple-server",
	}
	// closeField may appear on a response that ends its connection.
	closeField = fieldSet{"Connection": "close"}
)

const (
	plainBody    = "Hello, World!"
	notFoundBody = "404 page not found\n"
)

// echoFields are the fields of the response to POST /echo with an n-byte
// body framed by Content-Length.
func echoFields(n int) fieldSet {
	return fieldSet{
		"Content-Type":   "application/octet-stream",
		"Content-Length": strconv.Itoa(n),
		"Date":           anyDate,
		"Server":         "simple-server",
	}
}

// check compares r with the wanted status line, fields (each exactly once,
// no others but those in optional) and body.
func (r rawResponse) check(status string, want, optional fieldSet, body []byte) error {
	if r.status != status {
		return fmt.Errorf("status line %q, want %q", r.status, status)
	}
	seen := map[string]bool{}
	for _, f := range r.fields {
		k := textproto.CanonicalMIMEHeaderKey(f.name)
		if seen[k] {
			return fmt.Errorf("field %s repeated in %q", k, r.fields)
		}
		seen[k] = true
		v, ok := want[k]
		if !ok {
			v, ok = optional[k]
		}
		switch {
		case !ok:
			return fmt.Errorf("unexpected field %s: %q", f.name, f.value)
		case v == anyDate:
			d, err := http.ParseTime(f.value)
			if err != nil {
				return fmt.Errorf("Date %q: %v", f.value, err)
			}
			if time.Since(d).Abs() > time.Minute {
				return fmt.Errorf("Date %q is not now (%v)", f.value, time.Now().UTC())
			}
		case f.value != v:
			return fmt.Errorf("%s: %q, want %q", k, f.value, v)
		}
	}
	for k := range want {
		if !seen[k] {
			return fmt.Errorf("no %s field in %q", k, r.fields)
		}
	}
	if !bytes.Equal(r.body, body) {
		return fmt.Errorf("body (%d bytes) %.80q, want (%d bytes) %.80q", len(r.body), r.body, len(body), body)
	}
	return nil
}

// rawConn reads responses off a TCP connection, keeping what follows.
type rawConn struct {
	net.Conn
	buf []byte
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c}
}

// send writes s, within 5 s.
func (c *rawConn) send(s string) error {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(c, s)
	return err
}

// response reads one response, by deadline.
func (c *rawConn) response(head bool, deadline time.Time) (rawResponse, error) {
	c.SetReadDeadline(deadline)
	var tmp [32 << 10]byte
	for {
		r, n, err := parseResponse(c.buf, head)
		if err != nil {
			return r, err
		}
		if n > 0 {
			c.buf = c.buf[n:]
			return r, nil
		}
		m, err := c.Read(tmp[:])
		c.buf = append(c.buf, tmp[:m]...)
		if err != nil {
			return r, err
		}
	}
}

// eof expects the server to close the connection, by deadline, with
// nothing more sent.
func (c *rawConn) eof(deadline time.Time) error {
	c.SetReadDeadline(deadline)
	rest, err := io.ReadAll(c)
	rest = append(c.buf, rest...)
	if len(rest) > 0 {
		return fmt.Errorf("%d unexpected bytes before EOF: %.80q", len(rest), rest)
	}
	return err
}

// --- curl ---

// runCurl runs curl with args (after -q -sS --noproxy '*' --max-time 20)
// and returns its stdout and stderr.
func runCurl(t *testing.T, curl string, stdin io.Reader, args ...string) (stdout, stderr []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, append([]string{"-q", "-sS", "--noproxy", "*", "--max-time", "20"}, args...)...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %q: %v\nstderr:\n%s", args, err, errb.Bytes())
	}
	return out.Bytes(), errb.Bytes()
}

// curlResponse parses the output of curl -i (or -I, or a -D dump
// followed by nothing): the final response, after any 1xx; interim
// reports whether a 100 Continue came first.
func curlResponse(t *testing.T, out []byte) (r rawResponse, interim bool) {
	t.Helper()
	for {
		end := bytes.Index(out, []byte("\r\n\r\n"))
		if end < 0 {
			t.Fatalf("no response head in curl output %.200q", out)
		}
		var err error
		if r, err = parseHead(string(out[:end])); err != nil {
			t.Fatalf("curl output %.200q: %v", out, err)
		}
		out = out[end+4:]
		if !strings.HasPrefix(r.status, "HTTP/1.1 1") {
			break
		}
		if r.status != "HTTP/1.1 100 Continue" || len(r.fields) != 0 {
			t.Fatalf("interim response %q %q, want a bare HTTP/1.1 100 Continue", r.status, r.fields)
		}
		interim = true
	}
	r.body = out
	return r, interim
}

// traceLines returns curl -v's stderr lines, without their CR.
func traceLines(stderr []byte) []string {
	lines := strings.Split(string(stderr), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

func hasLine(lines []string, want string) int {
	for i, l := range lines {
		if l == want {
			return i
		}
	}
	return -1
}
