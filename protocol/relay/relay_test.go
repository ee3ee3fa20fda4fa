package relay_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/relay"
)

const testDeadline = 20 * time.Second

// startRelay serves a relay to upstreams on a fresh port; tweak adjusts
// the server first.
func startRelay(t *testing.T, tweak func(*simpleserver.Server, *relay.Relay), upstreams ...string) (*simpleserver.Server, string) {
	t.Helper()
	srv := &simpleserver.Server{Loops: 2, Logger: slog.New(slog.DiscardHandler)}
	r := &relay.Relay{Upstreams: upstreams, ConnectTimeout: time.Second}
	if tweak != nil {
		tweak(srv, r)
	}
	if err := r.Configure(srv); err != nil {
		t.Fatal(err)
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

// upstream accepts connections and runs serve on each, in a goroutine.
func upstream(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(testDeadline))
			go func() {
				defer c.Close()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

// refusing is an address where nothing listens.
func refusing(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testDeadline))
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func echo(c *net.TCPConn) { io.Copy(c, c) }

// Bytes pass both ways unchanged, and a client's EOF reaches the upstream
// as an EOF after the last byte, while the reply still flows back.
func TestClientHalfClose(t *testing.T) {
	got := make(chan []byte, 1)
	up := upstream(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c) // until the relayed EOF
		got <- b
		c.Write([]byte("reply after your EOF: "))
		c.Write(b)
	})
	_, addr := startRelay(t, nil, up)
	c := dial(t, addr)
	msg := bytes.Repeat([]byte("0123456789"), 50000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("reply after your EOF: "), msg...); !bytes.Equal(b, want) {
		t.Errorf("client read %d bytes, want %d", len(b), len(want))
	}
	if b := <-got; !bytes.Equal(b, msg) {
		t.Errorf("upstream read %d bytes, want %d", len(b), len(msg))
	}
}

// An upstream's EOF reaches the client, which can still send.
func TestUpstreamHalfClose(t *testing.T) {
	got := make(chan []byte, 1)
	up := upstream(t, func(c *net.TCPConn) {
		c.Write([]byte("banner, then EOF"))
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		got <- b
	})
	_, addr := startRelay(t, nil, up)
	c := dial(t, addr)
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "banner, then EOF" {
		t.Fatalf("client read %q, %v", b, err)
	}
	c.Write([]byte("still talking"))
	c.CloseWrite()
	if b := <-got; string(b) != "still talking" {
		t.Errorf("upstream read %q", b)
	}
}

// An upstream that resets mid-stream closes the client.
func TestUpstreamKilledMidStream(t *testing.T) {
	up := upstream(t, func(c *net.TCPConn) {
		buf := make([]byte, 5)
		io.ReadFull(c, buf)
		c.Write([]byte("partial"))
		io.ReadFull(c, buf[:1]) // the client has it
		c.SetLinger(0)          // close sends a reset
	})
	srv, addr := startRelay(t, nil, up)
	c := dial(t, addr)
	c.Write([]byte("hello"))
	b := make([]byte, 7)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "partial" {
		t.Fatalf("client read %q, %v", b, err)
	}
	c.Write([]byte("k"))
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after the upstream's reset the client read %q, %v; want the connection closed", b, err)
	}
	waitOpen(t, srv, 0)
}

// A refusing upstream is skipped for the next, with nothing lost; with
// none left the client is closed.
func TestRefusingUpstreamIsRetried(t *testing.T) {
	up := upstream(t, echo)
	dead := refusing(t)
	srv, addr := startRelay(t, nil, dead, up)
	for i := range 4 {
		c := dial(t, addr)
		want := []byte("request through a relay with a dead upstream")
		c.Write(want)
		b := make([]byte, len(want))
		if _, err := io.ReadFull(c, b); err != nil || !bytes.Equal(b, want) {
			t.Fatalf("connection %d: read %q, %v", i, b, err)
		}
		c.Close()
	}
	waitOpen(t, srv, 0)
	st := srv.Stats()
	if st.Closed.Dial < 1 || st.Closed.Dial > 2 {
		// The dead upstream is tried once, then backs off (a second
		// try only if a loop raced the first failure).
		t.Errorf("Closed.Dial = %d, want the dead upstream tried once or twice", st.Closed.Dial)
	}

	_, addr = startRelay(t, nil, refusing(t), refusing(t))
	c := dial(t, addr)
	c.Write([]byte("nobody home"))
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("with every upstream refusing: read %q, %v; want a prompt close", b, err)
	}
}

// A client that never reads while its upstream floods holds the relay's
// memory to the watermark: the upstream is not read, so it blocks; once
// the client reads, every byte arrives.
func TestFloodIntoNonReadingClientIsBounded(t *testing.T) {
	const high, low = 256 << 10, 64 << 10
	sent := make(chan int64, 1)
	stop := make(chan struct{})
	blocked := make(chan struct{}) // the upstream's writes stopped going through
	up := upstream(t, func(c *net.TCPConn) {
		chunk := bytes.Repeat([]byte("f"), 64<<10)
		var n int64
		wasBlocked := false
		c.SetWriteDeadline(time.Now().Add(testDeadline))
		for {
			select {
			case <-stop:
				c.CloseWrite()
				sent <- n
				io.Copy(io.Discard, c)
				return
			default:
			}
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			k, err := c.Write(chunk)
			n += int64(k)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				if !wasBlocked {
					close(blocked)
					wasBlocked = true
				}
			case err != nil:
				sent <- -1
				return
			}
		}
	})
	srv, addr := startRelay(t, func(s *simpleserver.Server, _ *relay.Relay) {
		s.WriteHighWater, s.WriteLowWater = high, low
		s.ReadBuffer, s.WriteBuffer = 64<<10, 64<<10
	}, up)
	c := dial(t, addr)
	c.SetReadBuffer(64 << 10)
	c.Write([]byte("go"))
	select {
	case <-blocked:
	case <-time.After(testDeadline):
		t.Fatal("the upstream's writes never blocked")
	}
	peak := srv.Stats().BytesQueued
	close(stop)
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatal(err)
	}
	total := <-sent
	if total <= 0 || n != total {
		t.Fatalf("client read %d bytes, upstream sent %d", n, total)
	}
	// The partner's watermark is applied when it is flushed, at the end
	// of the loop's turn: one turn's reads (a budget of 8 reads of the
	// loop's 64 KiB buffer) may land past the mark.
	if limit := int64(high + 8*64<<10); peak > limit || peak < low {
		t.Errorf("relay queued %d bytes once the upstream blocked; want between the low watermark %d and %d", peak, low, limit)
	}
	if total > 64<<20 {
		t.Errorf("the upstream wrote %d bytes into a client that read none: not held back", total)
	}
	t.Logf("upstream wrote %d bytes while the client read none; relay queue peak %d", total, peak)
}

// waitOpen waits until srv has n connections open.
func waitOpen(t *testing.T, srv *simpleserver.Server, n int64) {
	t.Helper()
	for end := time.Now().Add(testDeadline); srv.Stats().Open != n; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("Open = %d, want %d", srv.Stats().Open, n)
		}
	}
}
