package main

// Timeouts and shutdown of simple-server -proto http, seen from raw sockets.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

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
