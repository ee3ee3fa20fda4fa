package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// -proto http end to end: against net/http, which implements the server
// contract independently of this client, and against a raw-TCP fake that
// misbehaves on request.

// httpServer is a net/http server with the contract of simple-server
// -proto http, counting what it handled.
type httpServer struct {
	addr    string
	handled atomic.Int64 // requests answered
	chunked atomic.Int64 // requests whose body came chunked
	closes  atomic.Int64 // requests with Connection: close
	open    atomic.Int64 // connections open
}

func startHTTP(t *testing.T) *httpServer {
	return serveHTTP(t, listenTCP(t))
}

func serveHTTP(t *testing.T, ln net.Listener) *httpServer {
	s := &httpServer{addr: ln.Addr().String()}
	if ln.Addr().Network() == "unix" {
		s.addr = "unix:" + s.addr
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close {
			s.closes.Add(1)
		}
		if slices.Contains(r.TransferEncoding, "chunked") {
			s.chunked.Add(1)
		}
		w.Header().Set("Server", "net/http-test")
		switch {
		case (r.Method == "GET" || r.Method == "HEAD") && (r.URL.Path == "/" || r.URL.Path == "/plaintext"):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Content-Length", "13")
			io.WriteString(w, "Hello, World!")
		case r.Method == "POST" && r.URL.Path == "/echo":
			// Read it all first: HTTP/1.x handlers must not write before.
			// net/http then sends small bodies with Content-Length and
			// larger ones chunked.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
		s.handled.Add(1)
	})
	srv := &http.Server{
		Handler:  h,
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.open.Add(-1)
			}
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return s
}

// httpCfg is an http run against addr: GET /plaintext, or with size > 0
// POST /echo of generated payloads.
func httpCfg(addr string, size int, chunked bool) Config {
	cfg := testCfg(addr)
	cfg.Proto, cfg.Payloads, cfg.Chunked = "http", nil, chunked
	// Generous: on a machine busy with other tests, loopback segments
	// are sometimes lost and resent after backed-off timeouts of seconds.
	cfg.Timeout = 20 * time.Second
	if size > 0 {
		cfg.Payloads = generatePayloads(splitLines(builtinText), size, generatedPayloads)
	}
	return cfg
}

// httpBytesSent is the exact number of request bytes of a complete -n
// run: each connection sends its share of N from its own first payload,
// the last with Connection: close if cfg.Close.
func httpBytesSent(t *testing.T, cfg Config) uint64 {
	t.Helper()
	w, err := cfg.newWire()
	if err != nil {
		t.Fatal(err)
	}
	var out uint64
	for i := range cfg.Conns {
		q := int(cfg.N / int64(cfg.Conns))
		if int64(i) < cfg.N%int64(cfg.Conns) {
			q++
		}
		for j := range q {
			k := (i + j) % len(w.frames)
			if cfg.Close && j == q-1 {
				out += uint64(len(w.http.closeFrames[k]))
			} else {
				out += uint64(len(w.frames[k]))
			}
		}
	}
	return out
}

// checkHTTPClean asserts a complete -n run with nothing wrong, and that
// the server handled exactly the requests the client counted.
func checkHTTPClean(t *testing.T, cfg Config, res Result, srv *httpServer) {
	t.Helper()
	if !res.OK || res.ExitCode() != 0 {
		t.Errorf("run not OK: %+v", res)
	}
	n := uint64(cfg.N)
	if res.Requests != n || res.Sent != n || uint64(srv.handled.Load()) != n {
		t.Errorf("requests %d, sent %d, server handled %d; want %d each", res.Requests, res.Sent, srv.handled.Load(), n)
	}
	if res.Mismatches != 0 || res.Errors != (Errors{}) {
		t.Errorf("mismatches %d, errors %+v, first %q %q; want none", res.Mismatches, res.Errors, res.FirstMismatch, res.FirstError)
	}
	if res.Connected != cfg.Conns {
		t.Errorf("connected %d, want %d", res.Connected, cfg.Conns)
	}
	if want := httpBytesSent(t, cfg); res.BytesSent != want {
		t.Errorf("bytes sent %d, want %d", res.BytesSent, want)
	}
	// At least a status line, a Date header and the body per response.
	minIn := n * uint64(len("HTTP/1.1 200 OK\r\n")+len(testDate)+2)
	for _, p := range cfg.Payloads {
		minIn += n * uint64(len(p)) / uint64(len(cfg.Payloads))
	}
	if res.BytesReceived < minIn {
		t.Errorf("bytes received %d, want at least %d", res.BytesReceived, minIn)
	}
	wantCloses := int64(0)
	if cfg.Close {
		wantCloses = int64(min(int64(cfg.Conns), cfg.N))
	}
	if got := srv.closes.Load(); got != wantCloses {
		t.Errorf("server saw %d requests with Connection: close, want %d", got, wantCloses)
	}
	wantChunked := int64(0)
	if cfg.Chunked {
		wantChunked = cfg.N
	}
	if got := srv.chunked.Load(); got != wantChunked {
		t.Errorf("server saw %d chunked requests, want %d", got, wantChunked)
	}
	if res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
		t.Errorf("implausible latency %+v", res.Latency)
	}
}

func TestHTTPExactN(t *testing.T) {
	modes := []struct {
		name    string
		size    int
		chunked bool
	}{
		{"get", 0, false},
		{"post-100", 100, false},
		{"post-5000", 5000, false}, // net/http answers chunked
		{"chunked-100", 100, true},
		{"chunked-5000", 5000, true},
	}
	loops := []struct {
		pipeline int
		split    bool
	}{{1, false}, {16, false}, {16, true}}
	for _, m := range modes {
		for _, l := range loops {
			for _, closeReq := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/pipeline=%d/split=%v/close=%v", m.name, l.pipeline, l.split, closeReq), func(t *testing.T) {
					srv := startHTTP(t)
					cfg := httpCfg(srv.addr, m.size, m.chunked)
					cfg.Pipeline, cfg.forceSplit, cfg.Close = l.pipeline, l.split, closeReq
					checkHTTPClean(t, cfg, runT(t, cfg), srv)
				})
			}
		}
	}
}

// Bodies far larger than the read buffer are compared as they stream
// through it, and take the two-goroutine loop.
func TestHTTPLargeBodies(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			srv := startHTTP(t)
			cfg := httpCfg(srv.addr, 200_000, chunked)
			cfg.Conns, cfg.N, cfg.Pipeline, cfg.Close = 2, 21, 4, true
			w, _ := cfg.newWire()
			if windowFits(cfg.Pipeline, w.maxFrame, w.maxReply) {
				t.Fatal("expected the split loop for 200 kB bodies")
			}
			checkHTTPClean(t, cfg, runT(t, cfg), srv)
		})
	}
}

// More connections than requests: the idle ones send nothing, not even a
// Connection: close.
func TestHTTPMoreConnsThanRequests(t *testing.T) {
	srv := startHTTP(t)
	cfg := httpCfg(srv.addr, 0, false)
	cfg.Conns, cfg.N, cfg.Pipeline, cfg.Close = 20, 7, 4, true
	checkHTTPClean(t, cfg, runT(t, cfg), srv)
}

// A -d run drains what is in flight; with -close each connection then
// sends one more request, with Connection: close, which counts.
func TestHTTPDuration(t *testing.T) {
	for _, closeReq := range []bool{false, true} {
		for _, split := range []bool{false, true} {
			t.Run(fmt.Sprintf("close=%v/split=%v", closeReq, split), func(t *testing.T) {
				srv := startHTTP(t)
				cfg := httpCfg(srv.addr, 64, false)
				cfg.N, cfg.Duration, cfg.Conns, cfg.Pipeline, cfg.Close, cfg.forceSplit = 0, 300*time.Millisecond, 4, 8, closeReq, split
				res := runT(t, cfg)
				if !res.OK || res.Requests == 0 || res.Requests != res.Sent || res.Sent != uint64(srv.handled.Load()) {
					t.Errorf("OK %v requests %d sent %d server %d, first error %q; want OK and all equal",
						res.OK, res.Requests, res.Sent, srv.handled.Load(), res.FirstError)
				}
				want := int64(0)
				if closeReq {
					want = int64(cfg.Conns)
				}
				if got := srv.closes.Load(); got != want {
					t.Errorf("server saw %d Connection: close, want %d", got, want)
				}
			})
		}
	}
}

func TestHTTPRate(t *testing.T) {
	for _, closeReq := range []bool{false, true} {
		t.Run(fmt.Sprintf("close=%v", closeReq), func(t *testing.T) {
			srv := startHTTP(t)
			cfg := httpCfg(srv.addr, 100, true)
			cfg.Conns, cfg.N, cfg.Pipeline, cfg.Rate, cfg.Close = 4, 201, 4, 1000, closeReq
			res := runT(t, cfg)
			checkHTTPClean(t, cfg, res, srv)
			if res.DurationSec < 0.195 || res.SendLag == nil {
				t.Errorf("run took %.3fs, send lag %v; the schedule needs 0.2s", res.DurationSec, res.SendLag)
			}
		})
	}
}

// -rate for a duration, ended by time: with -close the final requests go
// out after the scheduler may still be running.
func TestHTTPRateDurationClose(t *testing.T) {
	srv := startHTTP(t)
	cfg := httpCfg(srv.addr, 0, false)
	cfg.Conns, cfg.N, cfg.Duration, cfg.Pipeline, cfg.Rate, cfg.Close = 5, 0, 300*time.Millisecond, 4, 2000, true
	res := runT(t, cfg)
	if !res.OK || res.Requests != res.Sent || res.Sent != uint64(srv.handled.Load()) || srv.closes.Load() != 5 {
		t.Errorf("OK %v requests %d sent %d server %d closes %d, first error %q",
			res.OK, res.Requests, res.Sent, srv.handled.Load(), srv.closes.Load(), res.FirstError)
	}
}

// -hold over keep-alive: one request per connection, then every connection
// held open (and, with -close, closed by one more request at the end).
func TestHTTPHold(t *testing.T) {
	for _, closeReq := range []bool{false, true} {
		t.Run(fmt.Sprintf("close=%v", closeReq), func(t *testing.T) {
			srv := startHTTP(t)
			cfg := httpCfg(srv.addr, 0, false)
			cfg.Conns, cfg.N, cfg.Duration, cfg.Hold, cfg.Close = 20, 0, 300*time.Millisecond, true, closeReq
			var mu sync.Mutex
			var calls []int
			var openAtHold, handledAtHold int64
			cfg.OnHold = func(held int) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, held)
				openAtHold, handledAtHold = srv.open.Load(), srv.handled.Load()
			}
			res := runT(t, cfg)
			want := uint64(20)
			if closeReq {
				want = 40
			}
			if !res.OK || res.Held != 20 || res.Requests != want || res.Sent != want || uint64(srv.handled.Load()) != want {
				t.Errorf("OK %v held %d requests %d sent %d server %d, first error %q; want true, 20, %d each",
					res.OK, res.Held, res.Requests, res.Sent, srv.handled.Load(), res.FirstError, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != 1 || calls[0] != 20 || openAtHold != 20 || handledAtHold != 20 {
				t.Errorf("OnHold calls %v, server open %d and handled %d then; want [20], 20, 20", calls, openAtHold, handledAtHold)
			}
		})
	}
}

func TestHTTPUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "sc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	srv := serveHTTP(t, ln)
	cfg := httpCfg(srv.addr, 300, false)
	cfg.Pipeline, cfg.Close = 8, true
	checkHTTPClean(t, cfg, runT(t, cfg), srv)
}

func TestHTTPMain(t *testing.T) {
	srv := startHTTP(t)
	code, out, errOut := realMainT(t, "-proto", "http", "-addr", srv.addr, "-c", "4", "-pipeline", "8", "-n", "400", "-size", "300", "-chunked", "-close", "-json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if !res.OK || res.Proto != "http" || res.Requests != 400 || srv.handled.Load() != 400 || srv.chunked.Load() != 400 || srv.closes.Load() != 4 {
		t.Errorf("result %+v, server handled %d chunked %d closes %d", res, srv.handled.Load(), srv.chunked.Load(), srv.closes.Load())
	}
	if !strings.Contains(out, `"protocol": 0`) {
		t.Errorf("JSON errors lack the protocol count:\n%s", out)
	}
	code, out, errOut = realMainT(t, "-proto", "http", "-addr", srv.addr, "-c", "2", "-n", "10")
	if code != 0 || !strings.Contains(out, "proto        http") || !strings.Contains(out, "protocol 0\n") {
		t.Errorf("exit %d, stderr %q, summary:\n%s", code, errOut, out)
	}
}

func TestHTTPFlagErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.txt")
	if err := os.WriteFile(file, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-chunked"}, "-chunked is for -proto http"},
		{[]string{"-proto", "echo", "-chunked"}, "-chunked is for -proto http"},
		{[]string{"-proto", "http", "-chunked"}, "-chunked needs request bodies: give -size"},
		{[]string{"-proto", "http", "-file", file}, "-file has no effect with -proto http unless -size"},
		{[]string{"-proto", "http", "-size", "67108865"}, "exceeds the http limit"},
	}
	for _, tc := range cases {
		code, out, errOut := realMainT(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	cfg, _, err := parseFlags([]string{"-proto", "http", "-size", "10", "-file", file, "-chunked"}, &bytes.Buffer{})
	if err != nil || len(cfg.Payloads) != generatedPayloads || len(cfg.Payloads[0]) != 10 || !cfg.Chunked {
		t.Errorf("http -size 10 -file -chunked: %v, %d payloads", err, len(cfg.Payloads))
	}
	if cfg, _, err := parseFlags([]string{"-proto", "http"}, &bytes.Buffer{}); err != nil || cfg.Payloads != nil {
		t.Errorf("http: %v, payloads %d; want none (GET)", err, len(cfg.Payloads))
	}
}

// The fake: a raw-TCP HTTP/1.1 server written out by hand, which reads
// the client's requests strictly (so they are checked too) and answers
// them correctly except for one fault, in one response.

type fakeFault int

const (
	faultNone       fakeFault = iota
	faultBody                 // flip the last body byte
	faultStatus               // 500 instead of 200
	faultNoDate               // no Date header
	faultNoServer             // no Server header
	faultLength               // Content-Length and body one byte short
	faultTruncate             // half the body, then close
	faultSwap                 // this response after the next one
	faultClose                // Connection: close, then close
	faultGarbage              // a status line that is not HTTP
	faultAfterClose           // a stray byte after the response to Connection: close
)

type fakeHTTP struct {
	addr     string
	requests atomic.Int64
	badReq   atomic.Value // string: the first malformed request seen
}

// startFakeHTTP serves until the test ends; the at-th response (1-based,
// over the whole server) gets the fault.
func startFakeHTTP(t *testing.T, fault fakeFault, at int64) *fakeHTTP {
	f := &fakeHTTP{}
	srv := serve(t, listenTCP(t), func(_ *testServer, c net.Conn) {
		br, bw := bufio.NewReader(c), bufio.NewWriter(c)
		var held []byte // a swapped response, waiting for the next
		for {
			body, closing, err := readFakeRequest(br)
			if err != nil {
				if errors.Is(err, errMalformed) {
					f.badReq.CompareAndSwap(nil, err.Error())
				}
				return
			}
			k := f.requests.Add(1)
			status, hdr := "200 OK", "Date: "+time.Now().UTC().Format(http.TimeFormat)+"\r\nServer: fake\r\n"
			if closing {
				hdr += "Connection: close\r\n"
			}
			var thisFault fakeFault
			if k == at {
				thisFault = fault
			}
			switch thisFault {
			case faultBody:
				body = append([]byte{}, body...)
				body[len(body)-1] ^= 0x01
			case faultStatus:
				status = "500 Internal Server Error"
			case faultNoDate:
				hdr = "Server: fake\r\n"
			case faultNoServer:
				hdr = "Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n"
			case faultLength:
				body = body[:len(body)-1]
			case faultClose:
				hdr += "Connection: close\r\n"
			case faultGarbage:
				status = "OK"
			}
			resp := fmt.Appendf(nil, "HTTP/1.1 %s\r\n%sContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", status, hdr, len(body), body)
			if thisFault == faultGarbage {
				resp = fmt.Appendf(nil, "HTTP/1.1 OK\r\n\r\n")
			}
			switch {
			case thisFault == faultTruncate:
				bw.Write(resp[:len(resp)-len(body)/2])
				lingerClose(c, bw)
				return
			case thisFault == faultSwap:
				held = resp
				continue
			}
			bw.Write(resp)
			if held != nil {
				bw.Write(held)
				held = nil
			}
			if closing || thisFault == faultClose {
				if k == at && fault == faultAfterClose {
					bw.WriteString("X")
				}
				lingerClose(c, bw)
				return
			}
			if br.Buffered() == 0 {
				if err := bw.Flush(); err != nil {
					return
				}
			}
		}
	})
	f.addr = srv.addr()
	t.Cleanup(func() {
		if s, _ := f.badReq.Load().(string); s != "" {
			t.Errorf("fake server got a malformed request: %s", s)
		}
	})
	return f
}

// lingerClose flushes, closes the sending side and waits for the client
// to close, so that requests still unread cannot make the kernel reset the
// connection (which could discard responses the client has not read yet).
func lingerClose(c net.Conn, bw *bufio.Writer) {
	bw.Flush()
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
}

// errMalformed marks a request the fake could not accept.
var errMalformed = errors.New("malformed request")

// readFakeRequest reads one request the way the contract has it: GET
// /plaintext, or POST /echo with Content-Length or chunked, each with a
// Host header. It returns the body of the response due (the payload, or
// "Hello, World!") and whether the request asked to close.
func readFakeRequest(br *bufio.Reader) (body []byte, closing bool, err error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, false, err // the client went away (or the test ended)
	}
	method, rest, _ := strings.Cut(line, " ")
	path, proto, _ := strings.Cut(rest, " ")
	if proto != "HTTP/1.1\r\n" || !(method == "GET" && path == "/plaintext" || method == "POST" && path == "/echo") {
		return nil, false, fmt.Errorf("%w: request line %q", errMalformed, line)
	}
	length, chunked, host := -1, false, false
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return nil, false, err
		}
		if !strings.HasSuffix(h, "\r\n") {
			return nil, false, fmt.Errorf("%w: header line %q", errMalformed, h)
		}
		if h == "\r\n" {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSuffix(h, "\r\n"), ": ")
		if !ok {
			return nil, false, fmt.Errorf("%w: header line %q", errMalformed, h)
		}
		switch name {
		case "Host":
			host = value != ""
		case "Connection":
			closing = value == "close"
		case "Content-Length":
			if length, err = strconv.Atoi(value); err != nil {
				return nil, false, fmt.Errorf("%w: header line %q", errMalformed, h)
			}
		case "Transfer-Encoding":
			chunked = value == "chunked"
		default:
			return nil, false, fmt.Errorf("%w: unexpected header line %q", errMalformed, h)
		}
	}
	switch {
	case !host:
		return nil, false, fmt.Errorf("%w: request without Host", errMalformed)
	case method == "GET" && (length >= 0 || chunked):
		return nil, false, fmt.Errorf("%w: GET with a body", errMalformed)
	case method == "GET":
		return []byte(httpPlainBody), closing, nil
	case length >= 0 && chunked || length < 0 && !chunked:
		return nil, false, fmt.Errorf("%w: POST framing", errMalformed)
	case length >= 0:
		body = make([]byte, length)
		_, err = io.ReadFull(br, body)
		return body, closing, err
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, false, err
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(line, "\r\n"), 16, 32)
		if err != nil {
			return nil, false, fmt.Errorf("%w: chunk size line %q", errMalformed, line)
		}
		chunk := make([]byte, n+2)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, false, err
		}
		if string(chunk[n:]) != "\r\n" {
			return nil, false, fmt.Errorf("%w: chunk not ended by CRLF", errMalformed)
		}
		if n == 0 {
			return body, closing, nil
		}
		body = append(body, chunk[:n]...)
	}
}

// The fake itself is right when asked to be.
func TestHTTPFakeClean(t *testing.T) {
	for _, size := range []int{0, 100} {
		for _, chunked := range []bool{false, true} {
			if size == 0 && chunked {
				continue
			}
			f := startFakeHTTP(t, faultNone, 0)
			cfg := httpCfg(f.addr, size, chunked)
			cfg.Pipeline, cfg.Close = 8, true
			res := runT(t, cfg)
			if !res.OK || res.Requests != uint64(cfg.N) || f.requests.Load() != cfg.N {
				t.Errorf("size %d chunked %v: OK %v requests %d fake %d, first %q %q", size, chunked, res.OK, res.Requests, f.requests.Load(), res.FirstMismatch, res.FirstError)
			}
		}
	}
}

// Each fault is found, as the right kind, and fails the run (exit 1).
func TestHTTPFaults(t *testing.T) {
	const n, at = 20, 7
	cases := []struct {
		name     string
		fault    fakeFault
		args     []string // beyond -c 1 -n 20
		requests uint64   // replies read in full
		mismatch uint64
		errs     Errors
		first    string // in first_mismatch, or else in first_error
	}{
		{"body", faultBody, nil, n, 1, Errors{}, `reply 7 (payload 0): body byte 12 differs`},
		{"body-echo", faultBody, []string{"-size", "64", "-chunked", "-pipeline", "4"}, n, 1, Errors{}, "reply 7 (payload 6): body byte 63 differs"},
		{"status", faultStatus, nil, n, 1, Errors{}, `status 500, want 200 (status line "HTTP/1.1 500 Internal Server Error")`},
		{"no-date", faultNoDate, nil, n, 1, Errors{}, "reply 7 (payload 0): no Date header"},
		{"no-server", faultNoServer, nil, n, 1, Errors{}, "no Server header"},
		{"content-length", faultLength, nil, n, 1, Errors{}, "Content-Length 12, want 13"},
		{"swap", faultSwap, []string{"-size", "64", "-pipeline", "4"}, n, 2, Errors{}, "conn 0 reply 7 (payload 6): body byte "},
		{"truncate", faultTruncate, nil, at - 1, 0, Errors{EOF: 1, Total: 1}, "connection closed 123 bytes into reply 7"},
		{"truncate-pipelined", faultTruncate, []string{"-size", "64", "-pipeline", "16"}, at - 1, 0, Errors{EOF: 1, Total: 1}, "bytes into reply 7"},
		{"unasked-close", faultClose, nil, at, 0, Errors{Protocol: 1, Total: 1}, "reply 7 came with Connection: close, which the request did not ask for"},
		{"unasked-close-pipelined", faultClose, []string{"-pipeline", "8"}, at, 0, Errors{Protocol: 1, Total: 1}, "reply 7 came with Connection: close"},
		{"garbage", faultGarbage, nil, at - 1, 0, Errors{Protocol: 1, Total: 1}, `reply 7: protocol error: status line "HTTP/1.1 OK" is not HTTP/1.1 NNN reason`},
		{"after-close", faultAfterClose, []string{"-n", "7", "-close"}, at, 0, Errors{Read: 1, Total: 1}, `server sent 'X' after the response to Connection: close instead of closing`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeHTTP(t, tc.fault, at)
			args := append([]string{"-proto", "http", "-addr", f.addr, "-c", "1", "-n", strconv.Itoa(n), "-json", "-timeout", "10s"}, tc.args...)
			code, out, errOut := realMainT(t, args...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stderr %q)", code, errOut)
			}
			var res Result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if res.OK || res.Requests != tc.requests || res.Mismatches != tc.mismatch || res.Errors != tc.errs {
				t.Errorf("OK %v requests %d mismatches %d errors %+v; want false, %d, %d, %+v",
					res.OK, res.Requests, res.Mismatches, res.Errors, tc.requests, tc.mismatch, tc.errs)
			}
			got := res.FirstMismatch
			if tc.mismatch == 0 {
				got = res.FirstError
			}
			if !strings.Contains(got, tc.first) {
				t.Errorf("first mismatch %q, first error %q; want %q", res.FirstMismatch, res.FirstError, tc.first)
			}
		})
	}
}

// A server that never answers is a timeout, as for the other protocols.
func TestHTTPTimeout(t *testing.T) {
	srv := serve(t, listenTCP(t), func(_ *testServer, c net.Conn) { io.Copy(io.Discard, c) })
	cfg := httpCfg(srv.addr(), 0, false)
	cfg.Conns, cfg.N, cfg.Timeout = 2, 10, 200*time.Millisecond
	res := runT(t, cfg)
	if res.Errors.Timeout != 2 || res.Errors.Total != 2 || res.Requests != 0 {
		t.Errorf("errors %+v requests %d; want 2 timeouts and no replies", res.Errors, res.Requests)
	}
}

// cannedHTTP answers every GET as fast as it can with one fixed
// response, for measuring the client itself.
func cannedHTTP(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\nServer: canned\r\n\r\nHello, World!")
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				buf, out := make([]byte, 64<<10), []byte(nil)
				end := []byte("\r\n\r\n")
				tail := 0 // bytes of a request head's end carried over
				for {
					m, err := c.Read(buf[tail:])
					if err != nil {
						return
					}
					data := buf[:tail+m]
					k := bytes.Count(data, end)
					last := bytes.LastIndex(data, end)
					keep := data[max(len(data)-3, 0):]
					if last >= 0 && last+4 > len(data)-3 {
						keep = data[last+4:]
					}
					tail = copy(buf, keep)
					out = out[:0]
					for range k {
						out = append(out, resp...)
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			})
		}
	})
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// BenchmarkHTTPClient: the whole client (requests out, responses parsed
// and verified) against a canned server, per request. allocs/op is the
// run's setup spread over b.N requests: nothing per request.
func BenchmarkHTTPClient(b *testing.B) {
	for _, pipeline := range []int{1, 16} {
		b.Run(fmt.Sprintf("pipeline=%d", pipeline), func(b *testing.B) {
			addr := cannedHTTP(b)
			cfg := httpCfg(addr, 0, false)
			cfg.Conns, cfg.Pipeline, cfg.N = 4, pipeline, int64(max(b.N, 4))
			b.ReportAllocs()
			b.ResetTimer()
			res, err := run(b.Context(), cfg)
			b.StopTimer()
			if err != nil || !res.OK || res.Requests != uint64(cfg.N) {
				b.Fatalf("err %v result %+v", err, res)
			}
			b.ReportMetric(res.ClientCPU.RunSec*1e9/float64(res.Requests), "client-cpu-ns/req")
		})
	}
}
