package simpleserver_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// fdSet is what this process's descriptors refer to, as readlink of
// /proc/self/fd/N shows it ("socket:[inode]", a path,
// "anon_inode:[eventpoll]"), with how many descriptors refer to each.
// A leak check compares these rather than counts: a descriptor that an
// earlier test left closing (a connection's writer still flushing, within
// its bound) may close while a later test runs, and a count would then
// hide a leak or report one that is not there. A socket's inode is unique
// while it is open, so a new socket never passes for one in the set,
// even under a reused number.
type fdSet map[string]int

// openFDs returns the set of descriptors open now (ReadDir's own is in
// it, every time, under the same name).
func openFDs(t testing.TB) fdSet {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	set := make(fdSet, len(ents))
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			// ReadDir's descriptor, closed by now.
			continue
		}
		set[target]++
	}
	return set
}

// newFDs returns what is open now and was not in base, sorted.
func newFDs(t testing.TB, base fdSet) []string {
	t.Helper()
	var added []string
	for target, n := range openFDs(t) {
		for range n - base[target] {
			added = append(added, target)
		}
	}
	sort.Strings(added)
	return added
}

// waitNewFDs waits until exactly want descriptors are open that were not
// in base, and returns them: a client socket is closed when Close
// returns, but the server closes its side on its loop, a moment after
// the client saw the reply and after OnClose.
func waitNewFDs(t testing.TB, base fdSet, want int) []string {
	t.Helper()
	end := time.Now().Add(testDeadline)
	added := newFDs(t, base)
	for len(added) != want && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
		added = newFDs(t, base)
	}
	return added
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
