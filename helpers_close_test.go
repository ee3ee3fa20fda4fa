package simpleserver_test

import (
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// closeLog is an OnClose that records every close: its reason, in the
// order the closes came and by the peer's address (the client's
// LocalAddr), and when the first came.
type closeLog struct {
	mu      sync.Mutex
	reasons []error
	byAddr  map[string]error
	first   time.Time
	taken   int           // reasons handed out by next
	changed chan struct{} // signalled after every close
}

func newCloseLog() *closeLog {
	return &closeLog{byAddr: make(map[string]error), changed: make(chan struct{}, 1)}
}

// recordingServer is a hello server with the given tweaks applied that
// logs nothing and records its closes.
func recordingServer(tweak func(*simpleserver.Server)) (*simpleserver.Server, *closeLog) {
	closes := newCloseLog()
	srv := helloServer(func(s *simpleserver.Server) {
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
		if tweak != nil {
			tweak(s)
		}
	})
	return srv, closes
}

func (l *closeLog) onClose(c *simpleserver.Conn, err error) {
	l.mu.Lock()
	if len(l.reasons) == 0 {
		l.first = time.Now()
	}
	l.reasons = append(l.reasons, err)
	if a := c.RemoteAddr(); a != nil {
		l.byAddr[a.String()] = err
	}
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// count returns how many connections have closed.
func (l *closeLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reasons)
}

// matching returns how many connections closed with a reason that ok
// accepts, and the last such reason.
func (l *closeLog) matching(ok func(error) bool) (n int, last error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.reasons {
		if ok(err) {
			n, last = n+1, err
		}
	}
	return n, last
}

// errors returns how many connections closed with a non-nil reason, and
// the last of those reasons.
func (l *closeLog) errors() (int, error) {
	return l.matching(func(err error) bool { return err != nil })
}

// resets returns how many connections closed with ECONNRESET.
func (l *closeLog) resets() int {
	n, _ := l.matching(func(err error) bool { return errors.Is(err, syscall.ECONNRESET) })
	return n
}

// reason returns the close reason of the connection whose client side
// is at addr, and whether it closed.
func (l *closeLog) reason(addr string) (error, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	err, ok := l.byAddr[addr]
	return err, ok
}

// firstAt returns when the first close was reported.
func (l *closeLog) firstAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// wait waits until at least n connections have closed: up to
// testDeadline, or only replyWait once the test failed already (its
// clients timed out: the server is stuck).
func (l *closeLog) wait(t testing.TB, n int) {
	t.Helper()
	limit := testDeadline
	if t.Failed() {
		limit = replyWait
	}
	timeout := time.After(limit)
	for l.count() < n {
		select {
		case <-l.changed:
		case <-timeout:
			t.Fatalf("the server closed %d of %d connections", l.count(), n)
		}
	}
}

// next waits for the next close not handed out yet, in the order they
// came, and returns its reason.
func (l *closeLog) next(t testing.TB) error {
	t.Helper()
	timeout := deadline()
	for {
		l.mu.Lock()
		if l.taken < len(l.reasons) {
			err := l.reasons[l.taken]
			l.taken++
			l.mu.Unlock()
			return err
		}
		l.mu.Unlock()
		select {
		case <-l.changed:
		case <-timeout:
			t.Fatal("no close")
		}
	}
}

// nextIs checks that the next close's reason is, or wraps, want (nil: an
// orderly close).
func (l *closeLog) nextIs(t testing.TB, want error) {
	t.Helper()
	if err := l.next(t); !errors.Is(err, want) {
		t.Fatalf("close reason = %v, want %v", err, want)
	}
}
