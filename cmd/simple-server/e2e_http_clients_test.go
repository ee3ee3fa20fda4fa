package main

// curl, wrk, Go's net/http client and simple-client against simple-server -proto http.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func testCurl(t *testing.T, bin string) {
	curl := lookTool(t, "curl", "curl")
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
	wrk := lookTool(t, "wrk", "wrk")
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
