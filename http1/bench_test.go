package http1_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/internal/idleheap"
)

// wrkRequest is the request wrk sends by default.
const wrkRequest = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

// BenchmarkLoopback measures GET /plaintext and its response over a
// loopback socket, the server on one loop, pipelined p deep, through each
// API. Its allocs/op is the steady-state allocation count of the server
// (the client allocates nothing per request): 0 for Fast.
func BenchmarkLoopback(b *testing.B) {
	for _, a := range apis {
		for _, p := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/pipeline=%d", a.name, p), func(b *testing.B) {
				_, addr := serve(b, a.make(), func(s *simpleserver.Server) { s.Loops = 1 })
				benchRequests(b, addr, wrkRequest, p)
			})
		}
	}
}

// benchRequests sends req depth times per round trip and reads the
// responses, whose length it learns from the first (a Date field is
// always the same length).
func benchRequests(b *testing.B, addr, req string, depth int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	batch := []byte(strings.Repeat(req, depth))
	first := make([]byte, 4096)
	c.Write([]byte(req))
	n := 0
	for !bytes.HasSuffix(first[:n], []byte("Hello, World!")) {
		m, err := c.Read(first[n:])
		if err != nil {
			b.Fatalf("first response %q, %v", first[:n], err)
		}
		n += m
	}
	got := make([]byte, n*depth)
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
	if !bytes.HasSuffix(got, []byte("Hello, World!")) {
		b.Fatalf("response %q", got[len(got)-n:])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		roundTrip()
	}
}

// BenchmarkIdleKeepAliveHeap measures the live heap an idle keep-alive
// connection costs the server after one request, for each API. Clients
// are raw descriptors, so the only Go objects they add are the server's.
func BenchmarkIdleKeepAliveHeap(b *testing.B) {
	for _, a := range apis {
		b.Run(a.name, func(b *testing.B) {
			srv, addr := serve(b, a.make(), func(s *simpleserver.Server) { s.Loops = 1 })
			perConn := idleheap.Measure(b, srv, addr, 2000, []byte(wrkRequest), func(got []byte) bool {
				return bytes.HasSuffix(got, []byte("Hello, World!"))
			})
			b.ReportMetric(perConn, "heap-B/conn")
		})
	}
}
