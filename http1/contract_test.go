package http1_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
)

// The plaintext contract, through Go's own client over keep-alive
// connections, for both APIs.
func TestContractGoClient(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		srv, addr := serve(t, a.make(), nil)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: testDeadline}
		defer client.CloseIdleConnections()
		base := "http://" + addr
		for _, path := range []string{"/", "/plaintext"} {
			for _, m := range []string{"GET", "HEAD"} {
				req, _ := http.NewRequest(m, base+path, nil)
				r, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				checkPlaintext(t, &resp{status: r.StatusCode, header: r.Header, body: b}, m == "HEAD")
			}
		}
		r, err := client.Get(base + "/nope")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 404 {
			t.Fatalf("GET /nope: %d, want 404", r.StatusCode)
		}
		for _, size := range []int{0, 1, 100, 4096, 100_000, 3 << 20} {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte('a' + i%26)
			}
			for _, chunked := range []bool{false, true} {
				var body io.Reader = bytes.NewReader(payload)
				if chunked {
					// An unknown length makes the client send chunks.
					body = io.MultiReader(body)
				}
				r, err := client.Post(base+"/echo", "application/octet-stream", body)
				if err != nil {
					t.Fatalf("POST %d bytes (chunked %v): %v", size, chunked, err)
				}
				got, err := io.ReadAll(r.Body)
				r.Body.Close()
				if err != nil || r.StatusCode != 200 || !bytes.Equal(got, payload) {
					t.Fatalf("POST %d bytes (chunked %v): status %d, err %v, body %s", size, chunked, r.StatusCode, err, bodyOf(got))
				}
			}
		}
		// Keep-alive: a handful of connections carried all of it.
		if n := srv.Stats().Accepted; n > 4 {
			t.Fatalf("%d connections accepted for sequential requests; keep-alive reuse failed", n)
		}
	})
}

// Many goroutines share a client's connection pool: every response is
// right and the pool reuses connections.
func TestGoClientConcurrent(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		srv, addr := serve(t, a.make(), nil)
		tr := &http.Transport{MaxIdleConnsPerHost: 8, MaxConnsPerHost: 8}
		client := &http.Client{Transport: tr, Timeout: testDeadline}
		defer tr.CloseIdleConnections()
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for g := range 32 {
			wg.Go(func() {
				for i := range 50 {
					msg := fmt.Sprintf("goroutine %d request %d", g, i)
					r, err := client.Post("http://"+addr+"/echo", "text/plain", strings.NewReader(msg))
					if err != nil {
						errs <- err
						return
					}
					b, err := io.ReadAll(r.Body)
					r.Body.Close()
					if err != nil || string(b) != msg {
						errs <- fmt.Errorf("got %q, %v; want %q", b, err, msg)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := srv.Stats().Accepted; n > 8 {
			t.Fatalf("%d connections for a pool of 8", n)
		}
	})
}

// Pipelined requests in one write, mixed methods, get their responses in
// order; the same bytes cut at every offset give the same responses.
func TestPipelining(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		_, addr := serve(t, a.make(), nil)
		raw := get("/plaintext") + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + post("/echo", "first body") +
			"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("second body, chunked", 5) +
			get("/missing") + get("/")
		methods := []string{"GET", "HEAD", "POST", "POST", "GET", "GET"}
		check := func(t *testing.T, rs []*resp) {
			t.Helper()
			checkPlaintext(t, rs[0], false)
			checkPlaintext(t, rs[1], true)
			if string(rs[2].body) != "first body" || string(rs[3].body) != "second body, chunked" {
				t.Fatalf("echo bodies %q, %q", rs[2].body, rs[3].body)
			}
			if rs[4].status != 404 {
				t.Fatalf("status %d, want 404", rs[4].status)
			}
			checkPlaintext(t, rs[5], false)
		}
		rs, _, _ := exchange(t, addr, raw, methods...)
		check(t, rs)
		for cut := 1; cut < len(raw); cut++ {
			c := dial(t, addr)
			io.WriteString(c, raw[:cut])
			io.WriteString(c, raw[cut:])
			br := bufio.NewReader(c)
			var got []*resp
			for i, m := range methods {
				r, err := readResponse(br, m)
				if err != nil {
					t.Fatalf("cut at %d: response %d: %v", cut, i+1, err)
				}
				got = append(got, r)
			}
			check(t, got)
			c.Close()
		}
	})
}

// Handlers on workers that block for random times still answer each
// connection's pipelined requests in order, while connections run in
// parallel.
func TestPipelinedHandlersInOrder(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // a blocking handler
		io.WriteString(w, r.URL.Path)
	})
	_, addr := serve(t, &http1.Protocol{Handler: h}, func(s *simpleserver.Server) { s.Workers = 8 })
	const conns, depth = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for id := range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, testDeadline)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testDeadline))
			var raw strings.Builder
			for i := range depth {
				raw.WriteString(get(fmt.Sprintf("/c%d/r%d", id, i)))
			}
			if _, err := io.WriteString(c, raw.String()); err != nil {
				errs <- err
				return
			}
			br := bufio.NewReader(c)
			for i := range depth {
				r, err := readResponse(br, "GET")
				want := fmt.Sprintf("/c%d/r%d", id, i)
				if err != nil || string(r.body) != want {
					errs <- fmt.Errorf("conn %d response %d: %v %q, want %q", id, i, err, bodyIfAny(r), want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func bodyIfAny(r *resp) []byte {
	if r == nil {
		return nil
	}
	return r.body
}
