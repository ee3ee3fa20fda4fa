package simpleserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// TestMain fails the package if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// After Shutdown returns, no goroutine of the server survives: loops,
// workers, timers.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 4
		s.IdleTimeout = time.Minute
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			c.AfterFunc(time.Hour, func() {})
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	runClients(t, addr, 20, 50)
	held := dial(t, addr)
	if _, err := held.Write(frame("still open at shutdown")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, held, "still open at shutdown")
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	expectEOF(t, held)
	held.Close()
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
	var idle []interface{ Read([]byte) (int, error) }
	for i := range 10 {
		c := dial(t, addr)
		p := fmt.Sprint("idle ", i)
		if _, err := c.Write(frame(p)); err != nil {
			t.Fatal(err)
		}
		expectReply(t, c, p)
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

// Stats counts exactly what a known workload did.
func TestStatsCountExactly(t *testing.T) {
	const conns, per = 10, 30
	onClose, reasons := closeReasons()
	srv := helloServer(func(s *simpleserver.Server) { s.OnClose = onClose })
	addr := start(t, srv)
	runClients(t, addr, conns, per)
	for range conns {
		waitReason(t, reasons, nil)
	}
	var in, out uint64
	for id := range conns {
		for i := range per {
			p := len(fmt.Sprintf("conn %d request %d", id, i))
			in += uint64(4 + p)
			out += uint64(hello.ReplyLen(p))
		}
	}
	want := simpleserver.Stats{
		Accepted:    conns,
		Closed:      simpleserver.ClosedStats{Peer: conns},
		BytesIn:     in,
		BytesOut:    out,
		MessagesIn:  conns * per,
		MessagesOut: conns * per,
	}
	if got := srv.Stats(); got != want {
		t.Fatalf("Stats = %+v\nwant    %+v", got, want)
	}
}
