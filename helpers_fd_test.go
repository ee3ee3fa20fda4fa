package simpleserver_test

import (
	"os"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// countFDs returns how many descriptors this process has open (ReadDir's
// own included, every time).
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// waitFDs waits for the descriptor count to come back to want, and
// returns the count: a client socket is closed when Close returns, but
// the server closes its side on its loop, a moment after the client saw
// the reply and after OnClose.
func waitFDs(t testing.TB, want int) int {
	t.Helper()
	end := time.Now().Add(testDeadline)
	n := countFDs(t)
	for n != want && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
		n = countFDs(t)
	}
	return n
}

// warmUp makes one round trip to a throwaway server, so that anything the
// runtime or the server opens lazily on first use is open before a test
// takes its descriptor baseline.
func warmUp(t testing.TB) {
	t.Helper()
	srv := helloServer(func(s *simpleserver.Server) { s.Logger = discardLogger() })
	c := dial(t, start(t, srv))
	expectRoundTrip(t, c, "warm up")
	c.Close()
	srv.Close()
}
