package simpleserver_test

// Hostile numbers of connections: a flood above MaxConns, and churn of
// short connections. The promise under test is in hostile_clients_test.go.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/simple-server/simpleserver"
)

// TestHostileConnFloodAboveMaxConns: with MaxConns 100 and 100 held
// connections, 2,000 more connection attempts (40 at a time) are each
// accepted and closed at once without a reply, counted in
// Stats().Closed.Limit; the held connections are served throughout; and
// once all is closed the process has exactly the descriptors it had
// before.
func TestHostileConnFloodAboveMaxConns(t *testing.T) {
	const maxConns, attempts, parallel = 100, 2000, 40
	srv, closes := recordingServer(func(s *simpleserver.Server) { s.MaxConns = maxConns })
	addr := start(t, srv)
	baseline := openFDs(t)
	held := make([]net.Conn, maxConns)
	for i := range held {
		held[i] = dial(t, addr)
		expectRoundTrip(t, held[i], fmt.Sprintf("held %d", i))
	}

	stopHeld := roundTripsMeanwhile(held, "held %d during the flood")
	var resets atomic.Int64
	errs := make(chan error, attempts)
	inParallel(parallel, attempts, func(int) bool {
		c, err := connect(addr, testDeadline)
		if err != nil {
			errs <- fmt.Errorf("dial: %w", err)
			return true
		}
		c.Write(frame("over the limit")) // may fail: the server may have closed already
		n, err := c.Read(make([]byte, 64))
		c.Close()
		switch {
		case n != 0:
			errs <- fmt.Errorf("a connection over MaxConns got %d reply bytes", n)
		case !closedByServer(err):
			errs <- fmt.Errorf("a connection over MaxConns: read %v; want the server's close", err)
		case errors.Is(err, syscall.ECONNRESET):
			resets.Add(1)
		}
		return true
	})
	heldTrips, err := stopHeld()
	if err != nil {
		t.Fatalf("a held connection during the flood: %v", err)
	}
	close(errs)
	nerr := 0
	for err := range errs {
		if nerr++; nerr <= 5 {
			t.Error(err)
		}
	}
	// The acceptor closes a refused socket before it counts it: wait
	// for the count to catch up with what the clients saw.
	st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.Limit >= attempts })
	t.Logf("%d attempts over MaxConns %d: %d refused (%d seen as resets, the rest as EOF); %d round trips on held connections meanwhile",
		attempts, maxConns, st.Closed.Limit, resets.Load(), heldTrips)
	if st.Closed.Limit != attempts || st.Accepted != maxConns+attempts || st.Open != maxConns {
		t.Errorf("stats = %+v; want %d limit closes, %d accepted, %d open", st, attempts, maxConns+attempts, maxConns)
	}
	if heldTrips == 0 {
		t.Error("no held connection was served during the flood")
	}
	for i, c := range held {
		expectRoundTrip(t, c, fmt.Sprintf("held %d after", i))
		c.Close()
	}
	closes.wait(t, maxConns)
	if n, _ := closes.errors(); n != 0 {
		t.Errorf("%d held connections closed with an error", n)
	}
	if leaked := waitNewFDs(t, baseline, 0); len(leaked) != 0 {
		t.Errorf("descriptors left open after the flood: %v", leaked)
	}
}

// TestHostileConnectCloseCycles: 50,000 connect, request, reply, close
// cycles (16 clients at a time) leave exactly the descriptors and the
// goroutines there were before, and each is counted once, as an orderly
// close.
func TestHostileConnectCloseCycles(t *testing.T) {
	const cycles, parallel = 50000, 16
	warmUp(t)
	srv, closes := recordingServer(nil)
	addr := start(t, srv)
	baseline := openFDs(t)
	began := time.Now()
	errs := make(chan error, parallel)
	inParallel(parallel, cycles, func(i int) bool {
		if err := cycle(addr, fmt.Sprintf("cycle %05d", i)); err != nil {
			errs <- fmt.Errorf("cycle %d: %w", i, err)
			return false
		}
		return true
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	closes.wait(t, cycles)
	t.Logf("%d connect/close cycles in %v", cycles, time.Since(began).Round(time.Millisecond))
	if k, err := closes.errors(); k != 0 {
		t.Errorf("%d connections closed with an error, e.g. %v; want all orderly", k, err)
	}
	const payloadLen = len("cycle 00000")
	want := servedStats(cycles, cycles, uint64(cycles*payloadLen), simpleserver.ClosedStats{Peer: cycles})
	if st := srv.Stats(); st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	if leaked := waitNewFDs(t, baseline, 0); len(leaked) != 0 {
		t.Errorf("descriptors left open after %d cycles: %v", cycles, leaked)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}

// cycle connects, makes one request, checks the reply and closes, all
// within replyWait.
func cycle(addr, payload string) error {
	c, err := connect(addr, replyWait)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, payload)
}
