package worker

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// runFunc adapts a function to runner.
type runFunc func() bool

func (f runFunc) run() bool { return f() }

// recv waits for a value from ch, failing the test at the deadline.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// send hands v to ch, failing the test at the deadline.
func send[T any](t testing.TB, ch chan<- T, v T, what string) {
	t.Helper()
	timer := time.NewTimer(testTimeout)
	defer timer.Stop()
	select {
	case ch <- v:
	case <-timer.C:
		t.Fatalf("timed out %s", what)
	}
}

// noValue fails if ch has a value ready now.
func noValue[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	default:
	}
}

// waitFor polls cond until it holds, failing the test at the deadline. It
// is for states no channel reports (goroutines exiting, a flag set inside
// a blocked call).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// testPool is a Pool closed when the test ends. abort is closed first, so
// functions blocked on test channels can give up (select on it) and the
// Close does not hang after a failed test.
type testPool struct {
	*Pool
	abort chan struct{}
}

func newTestPool(t testing.TB, n int) *testPool {
	t.Helper()
	p := &testPool{Pool: NewPool(n), abort: make(chan struct{})}
	t.Cleanup(func() {
		close(p.abort)
		if !p.isClosed() {
			closeWithin(t, p.Pool)
		}
	})
	return p
}

// block waits for ch (a receive or a close) or the end of the test.
func (p *testPool) block(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-p.abort:
	}
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// closing runs p.Close on another goroutine; the channel is closed when
// Close returns.
func closing(p *Pool) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		p.Close()
		close(done)
	}()
	return done
}

// closeWithin closes p and fails the test if Close does not return before
// the deadline.
func closeWithin(t testing.TB, p *Pool) {
	t.Helper()
	recv(t, closing(p), "Pool.Close to return")
}

// occupy holds n of p's workers with runners that wait for release to be
// closed, and returns once all n run.
func (p *testPool) occupy(t testing.TB, n int) (release chan struct{}) {
	t.Helper()
	started, release := make(chan struct{}, n), make(chan struct{})
	for range n {
		p.submit(runFunc(func() bool {
			started <- struct{}{}
			p.block(release)
			return false
		}), false)
	}
	for range n {
		recv(t, started, "a gate runner to start")
	}
	return release
}

// poolWorkers counts the goroutines NewPool started that have not exited,
// in any pool (started or not yet).
func poolWorkers() int {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "created by github.com/simple-server/simpleserver/worker.NewPool")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// firstError keeps the first failure seen on a worker goroutine.
type firstError struct {
	mu  sync.Mutex
	msg string
}

func (e *firstError) set(msg string) {
	e.mu.Lock()
	if e.msg == "" {
		e.msg = msg
	}
	e.mu.Unlock()
}

func (e *firstError) check(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.msg != "" {
		t.Fatal(e.msg)
	}
}
