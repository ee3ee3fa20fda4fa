package conformance

// The HTTP benchmark's servers against the contract simple-server -proto
// http serves (protocol/plaintext): GET (and HEAD) / and /plaintext answer
// "Hello, World!" as text/plain; charset=utf-8 with Date, Server and
// Content-Length: 13; POST /echo answers the request body; anything else
// 404; keep-alive, and pipelined requests answered in order. Requests are
// written as raw bytes and the answers parsed by http.ReadResponse, so
// what is checked is what each server puts on the wire.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	httpBuildOnce sync.Once
	httpBinDir    string
	httpBuildErr  error
)

// buildHTTP compiles the HTTP servers once for the whole test binary:
// the Go peers and simple-server itself, one binary each, named after its
// directory.
func buildHTTP(t *testing.T) string {
	t.Helper()
	httpBuildOnce.Do(func() {
		httpBinDir, httpBuildErr = os.MkdirTemp("", "bench-conformance-http")
		if httpBuildErr != nil {
			return
		}
		httpBuildErr = goCommand("build", "-o", httpBinDir+string(filepath.Separator),
			"../servers/nethttp", "../servers/fasthttp", "../servers/nbhttp", "../../cmd/simple-server")
	})
	if httpBuildErr != nil {
		t.Fatal(httpBuildErr)
	}
	return httpBinDir
}

// deviations are where a server departs from the contract, each checked
// as what the server does send.
type deviations struct {
	// noEcho: POST /echo is not served (nothing is asserted about it).
	noEcho bool
	// headBody: a HEAD response carries the GET's body after its headers
	// (13 bytes its Content-Length does not frame; HTTP forbids them).
	headBody bool
}

// httpServers are the Go HTTP servers: a binary of buildHTTP's, its
// arguments before -addr, whether it stops on SIGTERM (net/http's and
// fasthttp's commands leave SIGTERM to Go's default, which kills them),
// and its deviations.
var httpServers = []struct {
	name, bin string
	args      []string
	term      bool
	dev       deviations
}{
	{"nethttp", "nethttp", nil, false, deviations{}},
	{"fasthttp", "fasthttp", nil, false, deviations{}},
	// nbhttp v1.6.8 writes whatever the handler writes, HEAD or not (see
	// servers/nbhttp); the benchmark sends no HEAD.
	{"nbhttp", "nbhttp", nil, true, deviations{headBody: true}},
	{"simple-server-fast", "simple-server", []string{"-proto", "http", "-loops", "1", "-workers", "0"}, true, deviations{}},
	{"simple-server-nethttp", "simple-server", []string{"-proto", "http", "-loops", "1", "-workers", "8"}, true, deviations{}},
}

func TestHTTPContract(t *testing.T) {
	for _, s := range httpServers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			dir := buildHTTP(t)
			addr, _ := launch(t, s.name, s.term, func(addr string) *exec.Cmd {
				return exec.Command(filepath.Join(dir, s.bin), slices.Concat(s.args, []string{"-addr", addr})...)
			})
			checkHTTP(t, addr, s.dev)
		})
	}
	t.Run("nginx", func(t *testing.T) {
		t.Parallel()
		nginx, err := exec.LookPath("nginx")
		if err != nil {
			t.Fatalf("nginx, the HTTP benchmark's C reference, is not installed (apt-get install -y nginx-light): %v", err)
		}
		template, err := os.ReadFile("../servers/nginx/nginx.conf")
		if err != nil {
			t.Fatal(err)
		}
		prefix := t.TempDir()
		conf := filepath.Join(prefix, "nginx.conf")
		addr, _ := launch(t, "nginx", true, func(addr string) *exec.Cmd {
			// What the comment at the top of nginx.conf does with sed.
			text := strings.NewReplacer("__ADDR__", addr, "__PREFIX__", prefix).Replace(string(template))
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			return exec.Command(nginx, "-p", prefix, "-c", conf)
		})
		// nginx cannot send a request body back without extra modules, so
		// it is not in the POST /echo scenario: nothing is asserted about
		// /echo (it answers 404 there).
		checkHTTP(t, addr, deviations{noEcho: true})
	})
}

// exchange writes req on c in one write and reads the responses to
// methods, in order, each with its body, under a 10 s deadline.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, req string, methods ...string) ([]*http.Response, [][]byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var resps []*http.Response
	var bodies [][]byte
	for i, m := range methods {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("response %d of %d: %v", i+1, len(methods), err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response %d of %d: body: %v", i+1, len(methods), err)
		}
		resps, bodies = append(resps, resp), append(bodies, body)
	}
	return resps, bodies
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
}

// checkHello checks one plaintext response, what says which.
func checkHello(t *testing.T, what string, resp *http.Response, body []byte, head bool) {
	t.Helper()
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if resp.StatusCode != http.StatusOK {
		fail("status %q, want 200", resp.Status)
	}
	want := "Hello, World!"
	if head {
		want = ""
	}
	if string(body) != want {
		fail("body %q, want %q", body, want)
	}
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "text/plain; charset=utf-8" {
		fail("Content-Type %q, want one, text/plain; charset=utf-8", ct)
	}
	if cl := resp.Header.Values("Content-Length"); len(cl) != 1 || cl[0] != "13" || len(resp.TransferEncoding) != 0 {
		fail("Content-Length %q, Transfer-Encoding %q: want Content-Length: 13 alone", cl, resp.TransferEncoding)
	}
	if d := resp.Header.Values("Date"); len(d) != 1 {
		fail("Date %q, want one", d)
	} else if _, err := http.ParseTime(d[0]); err != nil {
		fail("Date %q: %v", d[0], err)
	}
	if s := resp.Header.Get("Server"); s == "" {
		fail("no Server header")
	}
	if resp.Close {
		fail("the server closes the connection (want keep-alive)")
	}
	if len(errs) > 0 {
		t.Errorf("%s: %s\nheader: %q", what, strings.Join(errs, "; "), resp.Header)
	}
}

// checkHTTP checks the contract on addr, but for dev.
func checkHTTP(t *testing.T, addr string, dev deviations) {
	for _, path := range []string{"/", "/plaintext"} {
		t.Run("GET "+path, func(t *testing.T) {
			c := dial(t, addr)
			resps, bodies := exchange(t, c, bufio.NewReader(c), get(path), "GET")
			checkHello(t, "GET "+path, resps[0], bodies[0], false)
		})
	}

	// One keep-alive connection, a request at a time: three GETs, then a
	// HEAD (headers only, and no body bytes after them: the GET after it
	// must parse), then a GET again.
	t.Run("keep-alive", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		for i, path := range []string{"/plaintext", "/", "/plaintext"} {
			resps, bodies := exchange(t, c, br, get(path), "GET")
			checkHello(t, fmt.Sprintf("request %d (GET %s)", i+1, path), resps[0], bodies[0], false)
		}
		resps, bodies := exchange(t, c, br, "HEAD /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HEAD")
		checkHello(t, "HEAD /plaintext", resps[0], bodies[0], true)
		if dev.headBody {
			got := make([]byte, len("Hello, World!"))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != "Hello, World!" {
				t.Fatalf("after the HEAD response's headers: %q (%v), want the body this server sends there, Hello, World!", got, err)
			}
		}
		resps, bodies = exchange(t, c, br, get("/plaintext"), "GET")
		checkHello(t, "GET /plaintext after HEAD", resps[0], bodies[0], false)
	})

	t.Run("pipelined", func(t *testing.T) {
		const n = 16
		c := dial(t, addr)
		methods := make([]string, n)
		for i := range methods {
			methods[i] = "GET"
		}
		resps, bodies := exchange(t, c, bufio.NewReader(c), strings.Repeat(get("/plaintext"), n), methods...)
		for i := range resps {
			checkHello(t, fmt.Sprintf("pipelined response %d of %d", i+1, n), resps[i], bodies[i], false)
		}
	})

	if !dev.noEcho {
		t.Run("POST /echo", func(t *testing.T) {
			data := make([]byte, 4096)
			for i := range data {
				data[i] = byte(i*131 + i>>8) // every byte value, in no simple order
			}
			c := dial(t, addr)
			req := fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s", len(data), data)
			resps, bodies := exchange(t, c, bufio.NewReader(c), req, "POST")
			if resps[0].StatusCode != http.StatusOK {
				t.Errorf("status %q, want 200", resps[0].Status)
			}
			if ct := resps[0].Header.Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("Content-Type %q, want application/octet-stream", ct)
			}
			if !bytes.Equal(bodies[0], data) {
				t.Errorf("echoed %d bytes, not the %d sent (first 32: %q)", len(bodies[0]), len(data), bodies[0][:min(32, len(bodies[0]))])
			}
		})
	}

	t.Run("GET /nope", func(t *testing.T) {
		c := dial(t, addr)
		resps, _ := exchange(t, c, bufio.NewReader(c), get("/nope"), "GET")
		if resps[0].StatusCode != http.StatusNotFound {
			t.Errorf("status %q, want 404", resps[0].Status)
		}
	})
}
