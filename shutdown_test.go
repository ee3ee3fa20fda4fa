package simpleserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// Shutdown while 100 connections have requests in flight (queued for
// slow workers, or still in the socket buffers): every request that
// reached the server gets its reply, then every connection is closed.
func TestShutdownAnswersEveryAcceptedRequest(t *testing.T) {
	const conns, perConn = 100, 50
	var handled atomic.Int64
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 4
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			handled.Add(1)
			time.Sleep(50 * time.Microsecond)
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	sent := make(chan struct{}, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for id := range conns {
		wg.Go(func() {
			c, err := send(addr, testDeadline, pipelined(id, perConn))
			sent <- struct{}{}
			if err != nil {
				errs[id] = err
				return
			}
			defer c.Close()
			errs[id] = readRepliesThenEOF(c, id, perConn)
		})
	}
	for range conns {
		<-sent
	}
	// Requests are written (in the server's socket buffers or queued for
	// the workers) and most are not handled yet.
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := handled.Load(); got != conns*perConn {
		t.Fatalf("handled %d requests, want %d", got, conns*perConn)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

// A Shutdown whose context ends first closes what remains and says so.
func TestShutdownDeadlineClosesTheRest(t *testing.T) {
	release := make(chan struct{})
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			<-release
		})
	})
	addr := start(t, srv)
	c := dial(t, addr)
	if _, err := c.Write(frame("stuck")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The handler is still blocked when the deadline passes: Shutdown
	// must give up on it rather than wait.
	err := srv.Shutdown(ctx)
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	expectEOF(t, c)
}

// Shutdown closes idle connections at once, waits for busy ones, and,
// when its context ends first, reports how many it cut off.
func TestShutdownClosesIdleFirstAndReportsCutOff(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 2
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			if string(msg) == "slow" {
				started <- struct{}{}
				<-release
			}
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	busy := dial(t, addr)
	if _, err := busy.Write(frame("slow")); err != nil {
		t.Fatal(err)
	}
	<-started
	var idle []net.Conn
	for i := range 10 {
		c := dial(t, addr)
		expectRoundTrip(t, c, fmt.Sprint("idle ", i))
		idle = append(idle, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	for _, c := range idle {
		expectEOF(t, c) // closed while the busy one is still working
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a handler still running", err)
	default:
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-deadline():
		t.Fatal("Shutdown did not return after its context ended")
	}
	close(release)
	if err == nil || !strings.Contains(err.Error(), "cut off 1 connections") || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("Shutdown = %v, want it to report 1 connection cut off", err)
	}
	expectEOF(t, busy)
}
