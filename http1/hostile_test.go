package http1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
)

// goodRequests are what the garbage is made of. No HEAD: a client reading
// the responses could not tell which one answers it.
var goodRequests = []string{
	get("/"), get("/plaintext"), post("/echo", "some body"),
	"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("chunked body", 4),
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
}

// mutate damages a request the way a hostile or broken client would:
// flipped, dropped, doubled or inserted bytes, CR and LF games, lengths
// that lie.
func mutate(r *rand.Rand, s string) string {
	b := []byte(s)
	for range 1 + r.IntN(3) {
		i := r.IntN(len(b))
		switch r.IntN(7) {
		case 0:
			b[i] ^= byte(1 << r.IntN(8))
		case 1:
			b = append(b[:i], b[i+1:]...)
		case 2:
			b = append(b[:i], append([]byte{b[i]}, b[i:]...)...)
		case 3:
			b = append(b[:i], append([]byte("\r"), b[i:]...)...)
		case 4:
			b = append(b[:i], append([]byte("\n"), b[i:]...)...)
		case 5:
			b = append(b[:i], append([]byte("Content-Length: 99\r\n"), b[i:]...)...)
		case 6:
			b = append(b[:i], append([]byte(" \t\x00"), b[i:]...)...)
		}
		if len(b) == 0 {
			b = []byte("x")
		}
	}
	return string(b)
}

// Random garbage: 300 connections mixing good requests with damaged ones
// and pure noise, 30 at a time, each ended by the client. Every byte the
// server sends parses as a sequence of well-formed responses, a refusal
// (4xx/5xx other than the handler's 404) is the connection's last, no
// handler panics, and a well-behaved client is served throughout.
func TestHostileGarbage(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		srv, addr := serve(t, a.make(), func(s *simpleserver.Server) { s.ReadTimeout = time.Second })
		r := rand.New(rand.NewPCG(1, 2))
		inputs := make([]string, 300)
		for i := range inputs {
			var b strings.Builder
			for range 1 + r.IntN(6) {
				g := goodRequests[r.IntN(len(goodRequests))]
				switch r.IntN(4) {
				case 0:
					b.WriteString(mutate(r, g))
				case 1:
					noise := make([]byte, r.IntN(200))
					for k := range noise {
						noise[k] = byte(r.Uint32())
					}
					b.Write(noise)
				default:
					b.WriteString(g)
				}
			}
			inputs[i] = b.String()
		}
		stop := make(chan struct{})
		good := make(chan error, 1)
		go func() { good <- wellBehaved(addr, stop) }()

		var wg sync.WaitGroup
		sem := make(chan struct{}, 30)
		errs := make(chan error, len(inputs))
		for i, in := range inputs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := garbageConn(addr, in); err != nil {
					errs <- fmt.Errorf("input %d %q: %w", i, trunc(in), err)
				}
			})
		}
		wg.Wait()
		close(stop)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if err := <-good; err != nil {
			t.Fatalf("the well-behaved client: %v", err)
		}
		if st := srv.Stats(); st.Closed.Panic != 0 {
			t.Fatalf("handlers panicked: %+v", st.Closed)
		}
	})
}

// garbageConn sends in, ends its side, and checks what comes back.
func garbageConn(addr, in string) error {
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testDeadline))
	go func() {
		io.WriteString(c, in)
		c.(*net.TCPConn).CloseWrite()
	}()
	br := bufio.NewReader(c)
	for {
		if _, err := br.Peek(1); err != nil {
			if errors.Is(err, io.EOF) || isReset(err) {
				return nil
			}
			return err
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			return fmt.Errorf("malformed response: %w", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 && resp.StatusCode != 404 && resp.StatusCode != 405 {
			if !resp.Close {
				return fmt.Errorf("refusal %d without Connection: close", resp.StatusCode)
			}
			if rest, _ := io.ReadAll(br); len(rest) > 0 {
				return fmt.Errorf("%d bytes after a refusal: %q", len(rest), trunc(string(rest)))
			}
			return nil
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// wellBehaved makes keep-alive requests until stop, each answered right.
func wellBehaved(addr string, stop <-chan struct{}) error {
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; ; i++ {
		select {
		case <-stop:
			if i == 0 {
				return errors.New("made no request")
			}
			return nil
		default:
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		body := fmt.Sprintf("request %d", i)
		if _, err := io.WriteString(c, post("/echo", body)); err != nil {
			return err
		}
		r, err := readResponse(br, "POST")
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if string(r.body) != body {
			return fmt.Errorf("request %d: %q", i, r.body)
		}
	}
}

// Slowloris on heads: 500 connections each begin a request and trickle a
// byte every 50 ms. All are closed at ReadTimeout (trickling does not push
// it back), none early, and a well-behaved client is served meanwhile.
func TestHostileSlowloris(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		const n, timeout = 500, 500 * time.Millisecond
		srv, addr := serve(t, a.make(), func(s *simpleserver.Server) { s.ReadTimeout = timeout })
		stop := make(chan struct{})
		good := make(chan error, 1)
		go func() { good <- wellBehaved(addr, stop) }()
		var wg sync.WaitGroup
		early := make(chan time.Duration, n)
		for range n {
			c := dial(t, addr)
			wg.Go(func() {
				start := time.Now()
				io.WriteString(c, "GET / HTTP/1.1\r\n")
				for {
					if _, err := io.WriteString(c, "X"); err != nil {
						break
					}
					c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						break // closed by the server
					}
				}
				if d := time.Since(start); d < timeout {
					early <- d
				}
			})
		}
		wg.Wait()
		close(stop)
		close(early)
		for d := range early {
			t.Errorf("a trickling head was closed after %v, before ReadTimeout", d)
		}
		if err := <-good; err != nil {
			t.Fatalf("the well-behaved client: %v", err)
		}
		if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.ReadTimeout >= n }); st.Closed.ReadTimeout != n {
			t.Fatalf("Closed.ReadTimeout = %d, want %d", st.Closed.ReadTimeout, n)
		}
	})
}

// A body that stops arriving: the handler waiting for it is released (its
// read fails) and the connection closed after ReadTimeout of silence, so
// that stalled uploads cannot hold the workers; with one worker, the next
// client is served afterwards.
func TestHostileBodyStall(t *testing.T) {
	readErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "next") })
	srv, addr := serve(t, &http1.Protocol{Handler: mux}, func(s *simpleserver.Server) {
		s.Workers, s.ReadTimeout = 1, 300*time.Millisecond
	})
	c := dial(t, addr)
	start := time.Now()
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nthe start and no more")
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the stalled body read to its end")
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("released after %v, before ReadTimeout", d)
		}
	case <-time.After(testDeadline):
		t.Fatal("the handler is still waiting for the stalled body")
	}
	rs, _, _ := exchange(t, addr, get("/"), "GET")
	if string(rs[0].body) != "next" {
		t.Fatalf("after the stall: %q", rs[0].body)
	}
	if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.ReadTimeout > 0 }); st.Closed.ReadTimeout != 1 {
		t.Fatalf("Closed.ReadTimeout = %d", st.Closed.ReadTimeout)
	}
}

// Clients that pipeline requests and never read the responses are paused
// at the high watermark: the output held for each stays bounded, and the
// others are served.
func TestHostileNeverReads(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		const high = 64 << 10
		srv, addr := serve(t, a.make(), func(s *simpleserver.Server) {
			s.WriteHighWater, s.WriteLowWater, s.MaxPendingBytes = high, 16<<10, 4<<20
			s.WriteBuffer = 32 << 10
		})
		const n = 20
		for range n {
			c := dial(t, addr)
			// A small receive buffer: the kernel holds little of what
			// the client never reads, so the server's queue reaches
			// the watermark after a few thousand responses, not after
			// filling an autotuned window of megabytes.
			if err := c.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
				t.Fatal(err)
			}
			go func() {
				req := []byte(strings.Repeat(get("/plaintext"), 100))
				for {
					if _, err := c.Write(req); err != nil {
						return
					}
				}
			}()
		}
		// Each is paused once its queued output passes the watermark.
		st := waitStats(srv, func(st simpleserver.Stats) bool { return st.BytesQueued >= n*high })
		if st.BytesQueued < n*high {
			t.Fatalf("the never-reading clients hold only %d bytes: not paused at the watermark yet", st.BytesQueued)
		}
		stop := make(chan struct{})
		good := make(chan error, 1)
		go func() { good <- wellBehaved(addr, stop) }()
		for range 50 { // sample while the good client is served
			if q := srv.Stats().BytesQueued; q > n*(high+256<<10) {
				t.Fatalf("%d bytes queued for %d clients: the watermark did not hold", q, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
		close(stop)
		if err := <-good; err != nil {
			t.Fatalf("the well-behaved client: %v", err)
		}
		if st := srv.Stats(); st.Closed.SlowConsumer != 0 {
			t.Fatalf("closed as slow consumers: %+v", st.Closed)
		}
	})
}
