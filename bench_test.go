package simpleserver_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/simple-server/simpleserver"
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
	const idleConns = 2000
	srv := helloServer(func(s *simpleserver.Server) { s.Loops = 1 })
	port := start(b, srv)
	tcp, err := net.ResolveTCPAddr("tcp", port)
	if err != nil {
		b.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: tcp.Port, Addr: [4]byte{127, 0, 0, 1}}
	req := hello.AppendRequest(nil, bytes.Repeat([]byte("x"), 64))
	want := append([]byte(hello.Prefix), bytes.Repeat([]byte("x"), 64)...)
	got := make([]byte, len(want))
	fds := make([]int, 0, idleConns)
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		fds = fds[:0]
	}
	defer closeAll()
	var perConn float64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range idleConns {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
			// Blocking calls on a loopback socket; the server answers
			// at once.
			if err := unix.Connect(fd, sa); err != nil {
				b.Fatal(err)
			}
			if _, err := unix.Write(fd, req); err != nil {
				b.Fatal(err)
			}
			for n := 0; n < len(got); {
				m, err := unix.Read(fd, got[n:])
				if err != nil || m == 0 {
					b.Fatalf("reply: read %d bytes, %v", n, err)
				}
				n += m
			}
			if !bytes.Equal(got, want) {
				b.Fatalf("reply %q", got)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / idleConns
		b.StopTimer()
		closeAll()
		waitStats(srv, func(s simpleserver.Stats) bool { return s.Open == 0 })
		b.StartTimer()
	}
	b.ReportMetric(perConn/float64(b.N), "heap-B/conn")
}
