package simpleserver_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/internal/idleheap"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// BenchmarkHelloLoopback measures one hello request and reply over a
// loopback socket, the server on one loop, with pipelining depth p. Its
// allocs/op is the steady-state allocation count of the loop path (the
// client side allocates nothing per request).
func BenchmarkHelloLoopback(b *testing.B) {
	for _, p := range []int{1, 16} {
		for _, workers := range []int{0, 2} {
			b.Run(fmt.Sprintf("pipeline=%d/workers=%d", p, workers), func(b *testing.B) {
				benchHello(b, p, workers)
			})
		}
	}
}

func benchHello(b *testing.B, depth, workers int) {
	srv := helloServer(func(s *simpleserver.Server) { s.Loops, s.Workers = 1, workers })
	addr := start(b, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	payload := bytes.Repeat([]byte("x"), 64)
	var batch []byte
	for range depth {
		batch = hello.AppendRequest(batch, payload)
	}
	want := bytes.Repeat(append([]byte(hello.Prefix), payload...), depth)
	got := make([]byte, len(want))
	roundTrip := func() {
		if _, err := c.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 { // warm the pools and buffers
		roundTrip()
	}
	if !bytes.Equal(got, want) {
		b.Fatalf("reply %q", got[:min(len(got), 100)])
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(batch) / depth))
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		roundTrip()
	}
}

// BenchmarkIdleConnHeap measures the live heap one idle connection costs
// the server (bench/run.sh scenario (e) measures RSS): idleConns clients
// each get one reply and then stay connected. The clients are raw
// descriptors, so the only Go objects they add are the server's. Reported
// as heap-B/conn; the time per op is not the point.
func BenchmarkIdleConnHeap(b *testing.B) {
	srv := helloServer(func(s *simpleserver.Server) { s.Loops = 1 })
	addr := start(b, srv)
	payload := bytes.Repeat([]byte("x"), 64)
	want := append([]byte(hello.Prefix), payload...)
	perConn := idleheap.Measure(b, srv, addr, 2000, hello.AppendRequest(nil, payload), func(got []byte) bool {
		if len(got) >= len(want) && !bytes.Equal(got, want) {
			b.Fatalf("reply %q", got)
		}
		return len(got) >= len(want)
	})
	b.ReportMetric(perConn, "heap-B/conn")
}
