// Package idleheap measures the live heap a server holds per idle
// connection, for the benchmarks of the packages that serve (bench/run.sh
// measures RSS; this is the Go heap alone, exactly).
package idleheap

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// Measure opens conns connections to srv at addr, sends req on each and
// reads until complete says the response is whole, and leaves them all
// open and silent; it returns the growth of the live heap per connection,
// averaged over b.N rounds. The clients are raw descriptors, so the only
// Go objects they add are the server's. Each round closes its connections
// and waits until the server has too.
func Measure(b *testing.B, srv *simpleserver.Server, addr string, conns int, req []byte, complete func(got []byte) bool) float64 {
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if !rawSupported {
		b.Skip("idleheap: raw client sockets need a Unix system call interface")
	}
	got := make([]byte, 64<<10)
	fds := make([]rawConn, 0, conns)
	closeAll := func() {
		for _, fd := range fds {
			fd.close()
		}
		fds = fds[:0]
	}
	defer closeAll()
	var perConn float64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range conns {
			// Blocking calls on a loopback socket; the server answers
			// at once.
			fd, err := dialRaw(tcp.Port)
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
			if _, err := fd.write(req); err != nil {
				b.Fatal(err)
			}
			for n := 0; !complete(got[:n]); {
				m, err := fd.read(got[n:])
				if err != nil || m == 0 {
					b.Fatalf("response: read %q, %v", got[:n], err)
				}
				n += m
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(conns)
		b.StopTimer()
		closeAll()
		for end := time.Now().Add(20 * time.Second); srv.Stats().Open > 0 && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
	}
	return perConn / float64(b.N)
}
