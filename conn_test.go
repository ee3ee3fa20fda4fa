package simpleserver_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// 50 goroutines write records of different sizes to one connection at
// once; each record must arrive whole, and each goroutine's records in
// the order it wrote them.
func TestConcurrentWritesNeverInterleave(t *testing.T) {
	const writers, perWriter = 50, 200
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		// The writers produce ~100 MB faster than the test reads it; the
		// cap on queued output is not what this test is about.
		s.MaxPendingBytes = -1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, _ []byte) {
			for w := range writers {
				go func() {
					for i := range perWriter {
						// Record: writer, sequence, length, then length
						// bytes of the writer's letter. Sizes cross the
						// outbound chunk sizes.
						size := (w*131 + i*977) % 20000
						rec := binary.LittleEndian.AppendUint32(nil, uint32(w))
						rec = binary.LittleEndian.AppendUint32(rec, uint32(i))
						rec = binary.LittleEndian.AppendUint32(rec, uint32(size))
						rec = append(rec, bytes.Repeat([]byte{byte('A' + w%26)}, size)...)
						if _, err := c.Write(rec); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
					}
				}()
			}
		})
	}))
	c := dial(t, addr)
	if _, err := c.Write(frame("go")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	next := make([]int, writers)
	for range writers * perWriter {
		hdr := readN(t, br, 12)
		w := int(binary.LittleEndian.Uint32(hdr))
		i := int(binary.LittleEndian.Uint32(hdr[4:]))
		size := int(binary.LittleEndian.Uint32(hdr[8:]))
		if w >= writers || i != next[w] || size != (w*131+i*977)%20000 {
			t.Fatalf("record header writer=%d seq=%d size=%d; want seq %d", w, i, size, next[w])
		}
		body := readN(t, br, size)
		if !bytes.Equal(body, bytes.Repeat([]byte{byte('A' + w%26)}, size)) {
			t.Fatalf("record %d of writer %d is not whole", i, w)
		}
		next[w]++
	}
}

// WriteNotify's callback fires exactly once per write: with nil once the
// bytes are written, and with the close reason for writes the connection
// could not deliver.
func TestWriteNotifyFiresOncePerWrite(t *testing.T) {
	const writes = 1000
	var fired, failed atomic.Int64
	closed := make(chan struct{})
	calls := make(map[int]int) // write index -> callback count, on the loop
	var mu sync.Mutex
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			for i := range writes {
				_, err := c.WriteNotify(func(_ *simpleserver.Conn, err error) {
					mu.Lock()
					calls[i]++
					mu.Unlock()
					if err != nil {
						failed.Add(1)
					} else {
						fired.Add(1)
					}
				}, []byte(hello.Prefix), msg)
				if err != nil {
					t.Errorf("WriteNotify: %v", err)
				}
			}
		})
		s.OnClose = func(*simpleserver.Conn, error) { close(closed) }
	}))
	c := dial(t, addr)
	if _, err := c.Write(frame("x")); err != nil {
		t.Fatal(err)
	}
	for range writes {
		expectReply(t, c, "x")
	}
	// Every reply was read, so every write completed; the callbacks ran
	// before the loop could answer anything else. Close and wait for the
	// server to see it, after which no callback may fire again.
	c.Close()
	<-closed
	mu.Lock()
	defer mu.Unlock()
	if fired.Load() != writes || failed.Load() != 0 || len(calls) != writes {
		t.Fatalf("callbacks: %d ok, %d failed, %d distinct; want %d ok", fired.Load(), failed.Load(), len(calls), writes)
	}
	for i, n := range calls {
		if n != 1 {
			t.Fatalf("write %d: callback fired %d times", i, n)
		}
	}
}

// A peer that resets the connection while output is stuck in the queue:
// every pending callback fires once, with an error.
func TestWriteNotifyReportsUndeliveredWrites(t *testing.T) {
	const writes = 64
	big := bytes.Repeat([]byte("y"), 256<<10) // 16 MiB in all: more than loopback buffers
	var ok, failed atomic.Int64
	queued := make(chan struct{})
	closed := make(chan struct{})
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, _ []byte) {
			for range writes {
				c.WriteNotify(func(_ *simpleserver.Conn, err error) {
					if err != nil {
						failed.Add(1)
					} else {
						ok.Add(1)
					}
				}, big)
			}
			close(queued)
		})
		s.OnClose = func(*simpleserver.Conn, error) { close(closed) }
	}))
	c := dial(t, addr)
	if _, err := c.Write(frame("flood me")); err != nil {
		t.Fatal(err)
	}
	<-queued
	c.(*net.TCPConn).SetLinger(0) // close sends RST
	c.Close()
	select {
	case <-closed:
	case <-deadline():
		t.Fatal("server did not notice the reset")
	}
	if ok.Load()+failed.Load() != writes || failed.Load() == 0 {
		t.Fatalf("callbacks: %d ok + %d failed, want %d in all with some failed", ok.Load(), failed.Load(), writes)
	}
}

func TestPanickingHandlerClosesOnlyItsConnection(t *testing.T) {
	for _, workers := range []int{0, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			srv, closes := recordingServer(func(s *simpleserver.Server) {
				s.Workers = workers
				s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
					if string(msg) == "panic" {
						panic("handler bug")
					}
					hello.Serve(c, msg)
				})
			})
			addr := start(t, srv)
			good, bad := dial(t, addr), dial(t, addr)
			if _, err := bad.Write(append(frame("fine"), frame("panic")...)); err != nil {
				t.Fatal(err)
			}
			expectReply(t, bad, "fine")
			expectEOF(t, bad)
			closes.nextIs(t, simpleserver.ErrHandlerPanic)
			for i := range 10 {
				expectRoundTrip(t, good, fmt.Sprint("still here ", i))
			}
		})
	}
}

// After the connection closed, every method reports ErrConnClosed and none
// panics.
func TestConnMethodsAfterClose(t *testing.T) {
	conns := make(chan *simpleserver.Conn, 1)
	closed := make(chan struct{})
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		s.OnOpen = func(c *simpleserver.Conn) { conns <- c }
		s.OnClose = func(*simpleserver.Conn, error) { close(closed) }
	}))
	client := dial(t, addr)
	if _, err := client.Write(frame("hi")); err != nil {
		t.Fatal(err)
	}
	sc := <-conns
	expectReply(t, client, "hi")
	if sc.RemoteAddr().String() != client.LocalAddr().String() {
		t.Fatalf("RemoteAddr = %v, want %v", sc.RemoteAddr(), client.LocalAddr())
	}
	if sc.LocalAddr().String() != client.RemoteAddr().String() {
		t.Fatalf("LocalAddr = %v, want %v", sc.LocalAddr(), client.RemoteAddr())
	}
	sc.SetValue("session")
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	expectEOF(t, client)
	<-closed
	if _, err := sc.Write([]byte("late")); !errors.Is(err, simpleserver.ErrConnClosed) {
		t.Fatalf("Write after close = %v", err)
	}
	if _, err := sc.WriteNotify(func(*simpleserver.Conn, error) { t.Error("callback of a refused write") }, []byte("late")); !errors.Is(err, simpleserver.ErrConnClosed) {
		t.Fatalf("WriteNotify after close = %v", err)
	}
	if err := sc.Close(); !errors.Is(err, simpleserver.ErrConnClosed) {
		t.Fatalf("second Close = %v", err)
	}
	if sc.Value() != "session" || sc.Buffered() != 0 {
		t.Fatalf("Value = %v, Buffered = %d", sc.Value(), sc.Buffered())
	}
	if _, err := io.ReadAll(client); err != nil {
		t.Fatal(err)
	}
}
