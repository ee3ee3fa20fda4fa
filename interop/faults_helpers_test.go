package interop

// The few helpers faults_test.go needs, written for this module: it
// cannot see the root package's test helpers (helpers_test.go,
// helpers_close_test.go), whose semantics these keep.

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// TestMain fails the package if any test leaves a goroutine behind, as
// the root package's does.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// replyWait bounds a wait where a healthy server needs milliseconds; it
// is shorter than testDeadline.
const replyWait = 5 * time.Second

// start serves srv on a fresh 127.0.0.1 port and returns the address. The
// server is closed when the test ends.
func start(t testing.TB, srv *simpleserver.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closeLog is an OnClose that counts the server's closes.
type closeLog struct {
	mu      sync.Mutex
	n       int
	changed chan struct{} // signalled after every close
}

// recordingServer is a hello server on two loops that logs nothing and
// counts its closes.
func recordingServer() (*simpleserver.Server, *closeLog) {
	closes := &closeLog{changed: make(chan struct{}, 1)}
	srv := &simpleserver.Server{
		Codec:   hello.Codec(0),
		Handler: hello.Handler,
		Loops:   2,
		Logger:  slog.New(slog.DiscardHandler),
		OnClose: closes.onClose,
	}
	return srv, closes
}

func (l *closeLog) onClose(*simpleserver.Conn, error) {
	l.mu.Lock()
	l.n++
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
	return l.n
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

// endCause names how a connection ended early, for counts.
func endCause(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "hung"
	}
	return "other"
}
