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
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

type httpServer struct {
	addr string
	cmd  *exec.Cmd
	log  <-chan string
}

// startHTTP starts simple-server -proto http with two loops and the
// given -workers, plus args.
func startHTTP(t *testing.T, bin, workers string, args ...string) *httpServer {
	t.Helper()
	addr, cmd, log := startServer(t, bin, append([]string{"-proto", "http", "-loops", "2", "-workers", workers}, args...)...)
	return &httpServer{addr: addr, cmd: cmd, log: log}
}

// stop sends SIGTERM and expects exit status 0 within 10 s, a log that
// says it stopped, and no error in the log. It returns the log.
func (s *httpServer) stop(t *testing.T) string {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return s.wait(t, 10*time.Second)
}

// wait waits for the server to exit after a signal: its log first (the
// pipe ends when the process does, and Wait would close it under the
// reader), then its status.
func (s *httpServer) wait(t *testing.T, within time.Duration) string {
	t.Helper()
	var text string
	select {
	case text = <-s.log:
	case <-time.After(within):
		t.Fatalf("server did not exit within %v of SIGTERM", within)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v\n%s", err, text)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("server closed its log but did not exit\n%s", text)
	}
	if !strings.Contains(text, "msg=stopped") {
		t.Fatalf("server log lacks the stop line:\n%s", text)
	}
	if strings.Contains(text, "level=ERROR") || strings.Contains(text, "level=WARN") {
		t.Fatalf("server log has errors:\n%s", text)
	}
	return text
}

// lookTool finds a client program that .ci/run installs.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (%v): this test needs Debian's %s; .ci/run installs it with apt-get install -y curl wrk", name, err, name)
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

func testCurl(t *testing.T, bin string) {
	curl := lookTool(t, "curl")
	dir := t.TempDir()
	mib := filepath.Join(dir, "1MiB")
	kib100 := filepath.Join(dir, "100KiB")
	big := make([]byte, 1<<20)
	rand.Read(big)
	if err := os.WriteFile(mib, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kib100, big[:100<<10], 0o644); err != nil {
		t.Fatal(err)
	}

	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers)
		base := "http://" + srv.addr

		t.Run("GET", func(t *testing.T) {
			for _, path := range []string{"/", "/plaintext"} {
				out, _ := runCurl(t, curl, nil, "-i", base+path)
				r, _ := curlResponse(t, out)
				if err := r.check("HTTP/1.1 200 OK", plainFields, nil, []byte(plainBody)); err != nil {
					t.Errorf("GET %s: %v\n%s", path, err, out)
				}
			}
		})

		t.Run("HEAD", func(t *testing.T) {
			for _, path := range []string{"/", "/plaintext"} {
				out, _ := runCurl(t, curl, nil, "-I", base+path)
				r, _ := curlResponse(t, out)
				if err := r.check("HTTP/1.1 200 OK", plainFields, nil, nil); err != nil {
					t.Errorf("HEAD %s: %v\n%q", path, err, out)
				}
			}
		})

		t.Run("404", func(t *testing.T) {
			out, _ := runCurl(t, curl, nil, "-i", base+"/nope")
			r, _ := curlResponse(t, out)
			if err := r.check("HTTP/1.1 404 Not Found", notFoundFields, nil, []byte(notFoundBody)); err != nil {
				t.Errorf("GET /nope: %v\n%s", err, out)
			}
		})

		// echo posts in with curl (args say how) and checks the
		// response, read back from the -D and -o files: in, byte for
		// byte. A request body sent chunked (requestTE) has no length
		// up front, so the net/http echo streams its reply chunked; the
		// Fast API holds the body whole and always sends a
		// Content-Length.
		echo := func(t *testing.T, name string, in []byte, stdin io.Reader, requestTE bool, args ...string) (interim bool, trace []string) {
			t.Helper()
			hdr, body := filepath.Join(dir, name+".hdr"), filepath.Join(dir, name+".body")
			_, stderr := runCurl(t, curl, stdin, append(args, "-v", "-D", hdr, "-o", body, base+"/echo")...)
			trace = traceLines(stderr)
			if requestTE && hasLine(trace, "> Transfer-Encoding: chunked") < 0 {
				t.Fatalf("curl did not send the body chunked:\n%s", stderr)
			}
			head, err := os.ReadFile(hdr)
			if err != nil {
				t.Fatal(err)
			}
			r, interim := curlResponse(t, head)
			if len(r.body) != 0 {
				t.Fatalf("-D dump has bytes after the head: %q", r.body)
			}
			want := echoFields(len(in))
			if requestTE && workers != "0" {
				delete(want, "Content-Length")
				want["Transfer-Encoding"] = "chunked"
			}
			if hasLine(trace, "> Expect: 100-continue") >= 0 && workers != "0" {
				// net/http's rule, which the net/http API keeps: a
				// response to an Expect: 100-continue request that
				// begins before the handler read the body to its end
				// closes the connection (the echo streams, so it
				// begins with the first 32 KiB).
				want["Connection"] = "close"
			}
			if err := r.check("HTTP/1.1 200 OK", want, nil, nil); err != nil {
				t.Errorf("%s: %v\n%s", name, err, head)
			}
			got, err := os.ReadFile(body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, in) {
				t.Errorf("%s: echoed %d bytes, sent %d; first difference at %d", name, len(got), len(in), firstDiff(got, in))
			}
			return interim, trace
		}

		// "Expect:" stops curl from sending Expect: 100-continue, which
		// it does for some bodies by size: that has a test of its own.
		t.Run("POST-content-length", func(t *testing.T) {
			echo(t, "cl", big, nil, false, "-H", "Expect:", "--data-binary", "@"+mib)
		})
		t.Run("POST-chunked", func(t *testing.T) {
			echo(t, "chunked", big, nil, true, "-H", "Expect:", "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+mib)
		})
		t.Run("POST-stdin", func(t *testing.T) {
			// -T - reads stdin (a pipe) as it comes and sends it chunked,
			// after an Expect: 100-continue.
			echo(t, "stdin", big, bytes.NewReader(big), true, "-T", "-", "-X", "POST")
		})

		t.Run("Expect-100-continue", func(t *testing.T) {
			interim, trace := echo(t, "expect", big[:100<<10], nil, false, "-H", "Expect: 100-continue", "--data-binary", "@"+kib100)
			text := strings.Join(trace, "\n")
			sent, cont, final := hasLine(trace, "> Expect: 100-continue"), hasLine(trace, "< HTTP/1.1 100 Continue"), hasLine(trace, "< HTTP/1.1 200 OK")
			switch {
			case sent < 0:
				t.Fatalf("curl did not send Expect: 100-continue:\n%s", text)
			case cont < 0 || !interim:
				t.Fatalf("no 100 Continue from the server:\n%s", text)
			case strings.Contains(text, "Done waiting for 100-continue"):
				t.Fatalf("curl gave up waiting for the 100 and sent the body anyway:\n%s", text)
			case !(sent < cont && cont < final):
				t.Fatalf("trace out of order (Expect at line %d, 100 at %d, 200 at %d):\n%s", sent, cont, final, text)
			}
		})

		t.Run("HTTP/1.0", func(t *testing.T) {
			out, stderr := runCurl(t, curl, nil, "--http1.0", "-v", "-i", base+"/")
			if hasLine(traceLines(stderr), "> GET / HTTP/1.0") < 0 {
				t.Fatalf("curl did not send HTTP/1.0:\n%s", stderr)
			}
			r, _ := curlResponse(t, out)
			// An HTTP/1.0 request without keep-alive ends its connection;
			// saying so with Connection: close is optional (RFC 9112 §9.3).
			if err := r.check("HTTP/1.1 200 OK", plainFields, closeField, []byte(plainBody)); err != nil {
				t.Errorf("GET / HTTP/1.0: %v\n%s", err, out)
			}
			// curl closes HTTP/1.0 connections itself; that the server
			// closes too takes a socket that would not.
			c := dialRaw(t, srv.addr)
			if err := c.send("GET /plaintext HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			r, err := c.response(false, time.Now().Add(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.check("HTTP/1.1 200 OK", plainFields, closeField, []byte(plainBody)); err != nil {
				t.Error(err)
			}
			if err := c.eof(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatalf("the server did not close the HTTP/1.0 connection: %v", err)
			}
		})

		t.Run("reuse", func(t *testing.T) {
			out, stderr := runCurl(t, curl, nil, "-v", base+"/", base+"/plaintext", base+"/nope", base+"/")
			if want := plainBody + plainBody + notFoundBody + plainBody; string(out) != want {
				t.Errorf("bodies %q, want %q", out, want)
			}
			text := string(stderr)
			if n := strings.Count(text, "* Connected to "); n != 1 {
				t.Errorf("curl connected %d times for 4 URLs, want once:\n%s", n, text)
			}
			if n := strings.Count(text, "* Re-using existing connection #0 "); n != 3 {
				t.Errorf("curl re-used the connection %d times, want 3:\n%s", n, text)
			}
		})

		srv.stop(t)
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// --- wrk ---

var (
	wrkRequests   = regexp.MustCompile(`(?m)^\s*(\d+) requests in [0-9.]+\w+, [0-9.]+\w+ read$`)
	wrkSockErrors = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)$`)
)

func testWrk(t *testing.T, bin string) {
	wrk := lookTool(t, "wrk")
	script, err := filepath.Abs(filepath.Join("testdata", "pipeline.lua"))
	if err != nil {
		t.Fatal(err)
	}
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers)
		url := "http://" + srv.addr + "/plaintext"
		for _, run := range []struct {
			name string
			args []string
		}{
			{"keep-alive", []string{"-t1", "-c50", "-d2s", "--latency", url}},
			{"pipeline-16", []string{"-t1", "-c50", "-d2s", "--latency", "-s", script, url, "--", "16"}},
		} {
			t.Run(run.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				out, err := exec.CommandContext(ctx, wrk, run.args...).CombinedOutput()
				if err != nil {
					t.Fatalf("wrk %q: %v\n%s", run.args, err, out)
				}
				text := string(out)
				m := wrkRequests.FindStringSubmatch(text)
				if m == nil {
					t.Fatalf("no request count in wrk's output:\n%s", text)
				}
				if n, _ := strconv.Atoi(m[1]); n <= 0 {
					t.Errorf("wrk completed %s requests:\n%s", m[1], text)
				}
				if !strings.Contains(text, "Latency Distribution") {
					t.Errorf("no latency distribution in wrk's output:\n%s", text)
				}
				if e := wrkSockErrors.FindStringSubmatch(text); e != nil && (e[1] != "0" || e[2] != "0" || e[3] != "0" || e[4] != "0") {
					t.Errorf("wrk saw socket errors:\n%s", text)
				} else if e == nil && strings.Contains(text, "Socket errors") {
					t.Errorf("unparsed socket errors line:\n%s", text)
				}
				if strings.Contains(text, "Non-2xx or 3xx responses") {
					t.Errorf("wrk got responses other than 2xx/3xx:\n%s", text)
				}
				t.Logf("wrk %s: %s requests", run.name, m[1])
			})
		}
		srv.stop(t)
	})
}

// --- Go's net/http client ---

func testNetHTTPClient(t *testing.T, bin string) {
	const (
		goroutines = 32
		perG       = 100
		maxConns   = 8
	)
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers)
		var (
			dials       atomic.Int32
			conns       tallies
			ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
		)
		defer cancel()
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &tallyConn{Conn: c, t: &conns}, nil
			},
			MaxConnsPerHost:       maxConns,
			MaxIdleConns:          maxConns,
			MaxIdleConnsPerHost:   maxConns,
			DisableCompression:    true,
			ResponseHeaderTimeout: 10 * time.Second,
		}
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}

		var mu sync.Mutex
		ports := map[string]int{} // local address -> requests on it
		rctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			ports[info.Conn.LocalAddr().String()]++
			mu.Unlock()
		}})

		var wg sync.WaitGroup
		var done atomic.Int32
		for g := range goroutines {
			wg.Go(func() {
				rng := mrand.New(mrand.NewPCG(uint64(g), 0x5eed))
				for i := range perG {
					if err := oneNetHTTP(rctx, client, "http://"+srv.addr, rng); err != nil {
						t.Errorf("goroutine %d, request %d: %v", g, i, err)
						return
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
		// The server must never close a keep-alive connection. The
		// Transport itself may drop one: when a response is read before
		// its writer goroutine reports the request written, it waits
		// 50 ms for it and then gives the connection up
		// (persistConn.wroteRequest), which a loaded machine does now
		// and then. Each such drop allows one more dial, no more.
		serverClosed, dropped := conns.serverClosed.Load(), conns.clientClosed.Load()
		conns.ending.Store(true)
		tr.CloseIdleConnections()
		if n := done.Load(); n != goroutines*perG {
			t.Fatalf("%d of %d requests done", n, goroutines*perG)
		}
		if serverClosed != 0 {
			t.Errorf("the server closed %d keep-alive connections", serverClosed)
		}
		if d := dials.Load(); d > maxConns+dropped || len(ports) > int(maxConns+dropped) {
			t.Errorf("%d connections dialled, %d used (%v); want at most %d, plus %d the client dropped", d, len(ports), ports, maxConns, dropped)
		}
		if dropped > goroutines*perG/100 {
			t.Errorf("the client dropped %d connections in %d requests", dropped, goroutines*perG)
		}
		t.Logf("%d requests over %d connections (%d dials, %d connections the client gave up)", goroutines*perG, len(ports), dials.Load(), dropped)
		srv.stop(t)
	})
}

// tallies counts who ended the connections of a Transport.
type tallies struct {
	ending       atomic.Bool  // the test is closing them
	serverClosed atomic.Int32 // read EOF (or a reset) before the client closed
	clientClosed atomic.Int32 // closed by the client with the server's side open
}

// tallyConn counts, in its tallies, how it ended.
type tallyConn struct {
	net.Conn
	t      *tallies
	closed atomic.Bool // by the client
	ended  atomic.Bool // counted
}

func (c *tallyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !c.closed.Load() && !c.t.ending.Load() && c.ended.CompareAndSwap(false, true) {
		c.t.serverClosed.Add(1)
	}
	return n, err
}

func (c *tallyConn) Close() error {
	c.closed.Store(true)
	if !c.t.ending.Load() && c.ended.CompareAndSwap(false, true) {
		c.t.clientClosed.Add(1)
	}
	return c.Conn.Close()
}

// oneNetHTTP sends GET /plaintext or POST /echo with a random body and
// checks the response exactly.
func oneNetHTTP(ctx context.Context, client *http.Client, base string, rng *mrand.Rand) error {
	var req *http.Request
	var want []byte
	var fields fieldSet
	if rng.IntN(2) == 0 {
		req, _ = http.NewRequestWithContext(ctx, "GET", base+"/plaintext", nil)
		want, fields = []byte(plainBody), plainFields
	} else {
		n := 0
		switch rng.IntN(4) {
		case 0: // empty
		case 1:
			n = 1 + rng.IntN(100)
		default:
			n = 1 + rng.IntN(64<<10)
		}
		want = make([]byte, n)
		for i := range want {
			want[i] = byte(rng.Uint32())
		}
		req, _ = http.NewRequestWithContext(ctx, "POST", base+"/echo", bytes.NewReader(want))
		fields = echoFields(n)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	r := rawResponse{status: resp.Proto + " " + resp.Status, body: body}
	for k, vs := range resp.Header {
		for _, v := range vs {
			r.fields = append(r.fields, field{k, v})
		}
	}
	if resp.TransferEncoding != nil || resp.ContentLength != int64(len(want)) {
		return fmt.Errorf("%s %s: Transfer-Encoding %q, Content-Length %d, want none and %d", req.Method, req.URL.Path, resp.TransferEncoding, resp.ContentLength, len(want))
	}
	if err := r.check("HTTP/1.1 200 OK", fields, nil, want); err != nil {
		return fmt.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return nil
}

// --- simple-client ---

func testSimpleClient(t *testing.T, bin, client string) {
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers)
		for _, run := range []struct {
			name string
			n    int64
			args []string
		}{
			{"get", 20000, []string{"-c", "50"}},
			{"get-pipeline-16", 20000, []string{"-c", "50", "-pipeline", "16"}},
			{"get-close", 5000, []string{"-c", "50", "-close"}},
			{"post-4KiB", 5000, []string{"-c", "20", "-size", "4096"}},
			{"post-4KiB-chunked-pipeline-4", 5000, []string{"-c", "20", "-size", "4096", "-chunked", "-pipeline", "4"}},
		} {
			t.Run(run.name, func(t *testing.T) {
				args := append([]string{"-addr", srv.addr, "-proto", "http", "-n", strconv.FormatInt(run.n, 10)}, run.args...)
				r := runClient(t, client, args...)
				if !r.OK || r.Requests != run.n || r.Sent != run.n || r.Mismatches != 0 || r.Errors.Total != 0 {
					t.Fatalf("simple-client %q: %+v", args, r)
				}
			})
		}
		srv.stop(t)
	})
}

// --- 10,000 idle keep-alive connections ---

func testIdle10k(t *testing.T, bin string) {
	const (
		conns  = 10000
		idle   = 2 * time.Second
		margin = 1500 * time.Millisecond
	)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < conns+1000 {
		t.Fatalf("the open-file limit is %d (hard %d): holding %d connections needs at least %d (ulimit -n)", lim.Cur, lim.Max, conns, conns+1000)
	}
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers, "-idle-timeout", idle.String())
		holdIdle(t, srv.addr, conns, idle, margin)

		// Still serving.
		c := dialRaw(t, srv.addr)
		if err := c.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r, err := c.response(false, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatalf("a new connection after the idle closes: %v", err)
		}
		if err := r.check("HTTP/1.1 200 OK", plainFields, nil, []byte(plainBody)); err != nil {
			t.Fatal(err)
		}
		srv.stop(t)
	})
}

// idleConn is one connection of holdIdle, its times since holdIdle began.
type idleConn struct {
	fd    int
	state int
	sent  time.Duration // request written
	got   time.Duration // response read
	eof   time.Duration // EOF read
	fin   time.Duration // the FIN arrived, by the kernel's clock
	buf   []byte
}

const (
	icConnecting = iota + 1
	icAwaiting   // request sent, response incomplete
	icIdle       // response read; silent
	icClosed     // EOF seen
)

// holdIdle opens n connections with raw non-blocking sockets and one
// epoll set (no goroutine per connection: the race detector allows 8128),
// at most 256 of them without their response at a time so the backlog
// never overflows; sends GET /plaintext on each and reads its response;
// then stays silent and expects each to be closed by the server (EOF, no
// byte more, no reset) idle after its request, within margin after its
// response.
func holdIdle(t *testing.T, addr string, n int, idle, margin time.Duration) {
	const window = 256
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	cs := make([]idleConn, n)
	defer func() {
		for i := range cs {
			if cs[i].state != 0 && cs[i].state != icClosed {
				unix.Close(cs[i].fd)
			}
		}
	}()
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
	base := time.Now()
	deadline := base.Add(60 * time.Second)
	opened, pending, responded, closed := 0, 0, 0, 0
	var lastGot time.Duration
	events := make([]unix.EpollEvent, 1024)
	var scratch [4096]byte
	for closed < n {
		for opened < n && pending < window {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatalf("socket %d: %v", opened, err)
			}
			c := &cs[opened]
			c.fd, c.state = fd, icConnecting
			if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
				t.Fatalf("connect %d: %v", opened, err)
			}
			ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(opened)}
			if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
				t.Fatal(err)
			}
			opened++
			pending++
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d opened, %d responded, %d closed of %d", time.Since(base), opened, responded, closed, n)
		}
		k, err := unix.EpollWait(ep, events, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events[:k] {
			i := int(ev.Fd)
			c := &cs[i]
			if c.state == icConnecting {
				if e, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
					t.Fatalf("connection %d: connect: %v %v", i, syscall.Errno(e), err)
				}
				c.sent = time.Since(base)
				if m, err := unix.Write(c.fd, req); err != nil || m != len(req) {
					t.Fatalf("connection %d: write: %d, %v", i, m, err)
				}
				c.state = icAwaiting
				mod := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
				if err := unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, c.fd, &mod); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for c.state != icClosed {
				m, err := unix.Read(c.fd, scratch[:])
				if err == unix.EAGAIN {
					break
				}
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					t.Fatalf("connection %d (state %d, %v after its request): read: %v", i, c.state, time.Since(base)-c.sent, err)
				}
				if m == 0 {
					if c.state != icIdle {
						t.Fatalf("connection %d closed %v after its request, before its whole response (%q)", i, time.Since(base)-c.sent, c.buf)
					}
					// When the FIN came, whatever the delay before we
					// looked: the kernel stamps each ACK it receives,
					// and the FIN was the last.
					c.eof = time.Since(base)
					ti, err := unix.GetsockoptTCPInfo(c.fd, unix.IPPROTO_TCP, unix.TCP_INFO)
					if err != nil {
						t.Fatalf("connection %d: TCP_INFO: %v", i, err)
					}
					c.fin = c.eof - time.Duration(ti.Last_ack_recv)*time.Millisecond
					unix.Close(c.fd)
					c.state = icClosed
					closed++
					break
				}
				if c.state == icIdle {
					t.Fatalf("connection %d: %d bytes after its response: %q", i, m, scratch[:m])
				}
				c.buf = append(c.buf, scratch[:m]...)
				r, used, err := parseResponse(c.buf, false)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				if used == 0 {
					continue
				}
				if err := r.check("HTTP/1.1 200 OK", plainFields, nil, []byte(plainBody)); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				if used != len(c.buf) {
					t.Fatalf("connection %d: %d bytes after its response: %q", i, len(c.buf)-used, c.buf[used:])
				}
				c.got, c.buf, c.state = time.Since(base), nil, icIdle
				lastGot = c.got
				pending--
				responded++
			}
		}
	}

	// The server's idle clock starts when it reads the request, on a
	// clock read once per loop turn (so up to a turn before the read).
	// The FIN's arrival is what the server did; when we read the EOF also
	// says how busy this process was.
	const turn = 100 * time.Millisecond
	minAfterSent, maxAfterGot, maxLag := time.Duration(1<<62), time.Duration(0), time.Duration(0)
	bad := 0
	for i := range cs {
		c := &cs[i]
		afterSent, afterGot := c.fin-c.sent, c.fin-c.got
		minAfterSent, maxAfterGot, maxLag = min(minAfterSent, afterSent), max(maxAfterGot, afterGot), max(maxLag, c.eof-c.fin)
		if afterSent < idle-turn || afterGot > idle+margin {
			if bad++; bad <= 5 {
				t.Errorf("connection %d: closed %v after its request and %v after its response (EOF read %v later), want %v to %v",
					i, afterSent, afterGot, c.eof-c.fin, idle, idle+margin)
			}
		}
	}
	if bad > 0 {
		// Closes after each response, and since the start (a stall
		// shows as a heap of them at one moment), in 250 ms steps.
		after, at := map[time.Duration]int{}, map[time.Duration]int{}
		for i := range cs {
			after[(cs[i].fin-cs[i].got).Truncate(250*time.Millisecond)]++
			at[cs[i].fin.Truncate(250*time.Millisecond)]++
		}
		t.Fatalf("%d of %d connections closed outside the idle window; closes by time after the response: %v; by time since the first connection: %v", bad, n, after, at)
	}
	t.Logf("%d connections: all responses by %v, closed %v to %v after their requests and responses (EOFs read up to %v after the FIN came)",
		n, lastGot, minAfterSent, maxAfterGot, maxLag)
}

// --- slow head and keep-alive past the read timeout ---

func testSlowHead(t *testing.T, bin string) {
	const readTimeout = 500 * time.Millisecond
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers, "-read-timeout", readTimeout.String(), "-idle-timeout", "5s")

		t.Run("head-never-ends", func(t *testing.T) {
			c := dialRaw(t, srv.addr)
			start := time.Now()
			if err := c.send("GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
				t.Fatal(err)
			}
			// The server closes without a word (as net/http does at
			// ReadHeaderTimeout).
			if err := c.eof(start.Add(5 * time.Second)); err != nil {
				t.Fatalf("after %v: %v", time.Since(start), err)
			}
			if d := time.Since(start); d < readTimeout || d > readTimeout+1500*time.Millisecond {
				t.Fatalf("closed %v after the partial head, want %v to %v", d, readTimeout, readTimeout+1500*time.Millisecond)
			}
		})

		t.Run("keep-alive-past-read-timeout", func(t *testing.T) {
			c := dialRaw(t, srv.addr)
			for i := range 2 {
				if err := c.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				r, err := c.response(false, time.Now().Add(5*time.Second))
				if err != nil {
					t.Fatalf("response %d: %v", i+1, err)
				}
				if err := r.check("HTTP/1.1 200 OK", plainFields, nil, []byte(plainBody)); err != nil {
					t.Fatalf("response %d: %v", i+1, err)
				}
				if i == 0 {
					// Silent for 1 s, past the read timeout and within
					// the idle timeout: the server says nothing and keeps
					// the connection.
					c.SetReadDeadline(time.Now().Add(time.Second))
					var b [1]byte
					if m, err := c.Read(b[:]); m != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("between requests: read %d bytes, %v; want nothing for 1 s", m, err)
					}
				}
			}
		})
		srv.stop(t)
	})
}

// --- SIGTERM under load ---

func testSIGTERMUnderLoad(t *testing.T, bin string) {
	const (
		clients = 16
		grace   = 5 * time.Second
		trigger = 1000 // responses before SIGTERM
	)
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers, "-shutdown-timeout", grace.String())
		var (
			ok, closeResp, cleanClose, refused atomic.Int64
			signalled                          atomic.Bool
			triggered                          = make(chan struct{})
		)
		deadline := time.Now().Add(20 * time.Second)
		var wg sync.WaitGroup
		defer func() {
			// On a failure, end the clients before the test does.
			signalled.Store(true)
			srv.cmd.Process.Kill()
			wg.Wait()
		}()
		for g := range clients {
			wg.Go(func() {
				rng := mrand.New(mrand.NewPCG(uint64(g), 0x7e57))
				depth := 1 + 3*(g%2) // half pipeline 4 requests
				if err := loadUntilRefused(srv.addr, rng, depth, deadline, &signalled, func() {
					if ok.Add(1) == trigger {
						close(triggered)
					}
				}, &closeResp, &cleanClose, &refused); err != nil {
					t.Errorf("client %d: %v", g, err)
				}
			})
		}
		select {
		case <-triggered:
		case <-time.After(15 * time.Second):
			t.Fatalf("only %d responses in 15 s", ok.Load())
		}
		signalled.Store(true)
		sent := time.Now()
		if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		log := srv.wait(t, grace+time.Second)
		exited := time.Since(sent)
		wg.Wait()
		if !strings.Contains(log, `msg="shutting down" signal=terminated`) {
			t.Errorf("the log does not say SIGTERM began the shutdown:\n%s", log)
		}
		t.Logf("exited %v after SIGTERM; %d correct responses; %d connections ended by a Connection: close response, %d by EOF or reset between responses; %d clients refused at the end",
			exited, ok.Load(), closeResp.Load(), cleanClose.Load(), refused.Load())
		if refused.Load() != clients {
			t.Errorf("%d of %d clients ended on a refused dial", refused.Load(), clients)
		}
	})
}

// loadUntilRefused sends requests (GET /plaintext, POST /echo with random
// bodies), depth at a time on one connection, and checks every response
// exactly, until a dial is refused once signalled is set. A connection
// may end (EOF or reset) only between responses and only after the
// signal; a response with Connection: close must be followed by EOF.
func loadUntilRefused(addr string, rng *mrand.Rand, depth int, deadline time.Time, signalled *atomic.Bool,
	gotOK func(), closeResp, cleanClose, refused *atomic.Int64) error {
	for {
		if time.Now().After(deadline) {
			return errors.New("still running at the deadline")
		}
		after := signalled.Load()
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			if after && errors.Is(err, syscall.ECONNREFUSED) {
				refused.Add(1)
				return nil
			}
			return fmt.Errorf("dial: %v", err)
		}
		err = loadConn(&rawConn{Conn: nc}, rng, depth, deadline, signalled, gotOK, closeResp, cleanClose)
		nc.Close()
		if err != nil {
			return err
		}
	}
}

// loadConn runs one connection of loadUntilRefused until it ends.
func loadConn(c *rawConn, rng *mrand.Rand, depth int, deadline time.Time, signalled *atomic.Bool, gotOK func(), closeResp, cleanClose *atomic.Int64) error {
	type expect struct {
		what   string
		fields fieldSet
		body   []byte
	}
	ended := func(err error, what string) error {
		// The connection ended. That is clean only after the signal,
		// and only between responses.
		clean := errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
		switch {
		case !clean:
			return fmt.Errorf("%s: %v", what, err)
		case !signalled.Load():
			return fmt.Errorf("%s: connection ended before SIGTERM: %v", what, err)
		case len(c.buf) > 0:
			return fmt.Errorf("%s: truncated response (%d bytes, then %v): %.200q", what, len(c.buf), err, c.buf)
		}
		cleanClose.Add(1)
		return nil
	}
	for {
		if time.Now().After(deadline) {
			return errors.New("still running at the deadline")
		}
		var reqs bytes.Buffer
		want := make([]expect, depth)
		for i := range want {
			if rng.IntN(2) == 0 {
				reqs.WriteString("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
				want[i] = expect{"GET /plaintext", plainFields, []byte(plainBody)}
				continue
			}
			body := make([]byte, rng.IntN(16<<10+1))
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
			reqs.Write(body)
			want[i] = expect{fmt.Sprintf("POST /echo (%d bytes)", len(body)), echoFields(len(body)), body}
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(reqs.Bytes()); err != nil && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("write: %v", err)
		}
		// Even when the write failed, what the server answered before
		// it closed must be whole.
		for _, w := range want {
			r, err := c.response(false, time.Now().Add(5*time.Second))
			if err != nil {
				return ended(err, w.what)
			}
			if err := r.check("HTTP/1.1 200 OK", w.fields, closeField, w.body); err != nil {
				return fmt.Errorf("%s: %v", w.what, err)
			}
			gotOK()
			if _, closing := r.get("Connection"); closing {
				if !signalled.Load() {
					return fmt.Errorf("%s: Connection: close before SIGTERM", w.what)
				}
				if err := c.eof(time.Now().Add(5 * time.Second)); err != nil && !errors.Is(err, syscall.ECONNRESET) {
					return fmt.Errorf("after Connection: close: %v", err)
				}
				closeResp.Add(1)
				return nil
			}
		}
	}
}
