package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simple-server/simpleserver/protocol/hello"
)

// Tiny servers for the tests: a goroutine per connection, the protocols
// written out by hand (not with the client's helpers) so that the client is
// checked against an independent reading of the wire format, and knobs to
// misbehave in the ways the client must notice.

// serverDeadline bounds every test connection, so a client bug shows up as
// a failure rather than a hung test.
const serverDeadline = 20 * time.Second

type testServer struct {
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	requests atomic.Int64 // hello requests with a payload, over all connections
	closes   atomic.Int64 // hello zero-length close requests
	accepted atomic.Int64
	open     atomic.Int64 // connections accepted and not yet closed
}

type helloOpts struct {
	corruptAt  int64 // flip a byte in this (1-based, server-wide) reply; 0: never
	closeAfter int   // close each connection after this many replies; 0: never
	silent     bool  // read requests, never reply
	stallAt    int64 // before answering this (1-based, server-wide) request, sleep for stall
	stall      time.Duration
}

func listenTCP(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve accepts on ln until the test ends, handling each connection with h.
func serve(t *testing.T, ln net.Listener, h func(s *testServer, c net.Conn)) *testServer {
	s := &testServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.open.Add(1)
			c.SetDeadline(time.Now().Add(serverDeadline))
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				defer s.open.Add(-1)
				defer c.Close()
				h(s, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *testServer) addr() string {
	if s.ln.Addr().Network() == "unix" {
		return "unix:" + s.ln.Addr().String()
	}
	return s.ln.Addr().String()
}

func startHello(t *testing.T, opts helloOpts) *testServer {
	return serveHello(t, listenTCP(t), opts)
}

func serveHello(t *testing.T, ln net.Listener, opts helloOpts) *testServer {
	return serve(t, ln, func(s *testServer, c net.Conn) {
		br := bufio.NewReader(c)
		bw := bufio.NewWriter(c)
		var hdr [4]byte
		for replies := 0; ; {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return
			}
			n := binary.LittleEndian.Uint32(hdr[:])
			if n == 0 {
				s.closes.Add(1)
				bw.Flush()
				return
			}
			payload := make([]byte, n)
			if _, err := io.ReadFull(br, payload); err != nil {
				return
			}
			k := s.requests.Add(1)
			if opts.silent {
				continue
			}
			if k == opts.stallAt {
				time.Sleep(opts.stall)
			}
			reply := append([]byte("Hi there, you just said: "), payload...)
			if k == opts.corruptAt {
				reply[len(reply)-1] ^= 0x01
			}
			if _, err := bw.Write(reply); err != nil {
				return
			}
			replies++
			if opts.closeAfter > 0 && replies == opts.closeAfter {
				bw.Flush()
				return
			}
			// Flush once the pipelined requests already here are answered,
			// like a real server batching its replies.
			if br.Buffered() == 0 {
				if err := bw.Flush(); err != nil {
					return
				}
			}
		}
	})
}

func startEcho(t *testing.T) *testServer {
	return serve(t, listenTCP(t), func(s *testServer, c net.Conn) {
		io.Copy(c, c) // until the client half-closes or goes away
	})
}

// Keep the hand-written prefix honest.
var _ = [1]int{}[len("Hi there, you just said: ")-len(hello.Prefix)]
