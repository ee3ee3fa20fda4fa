package simpleserver_test

import (
	"context"
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
	expectRoundTrip(t, held, "still open at shutdown")
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	expectEOF(t, held)
	held.Close()
}
