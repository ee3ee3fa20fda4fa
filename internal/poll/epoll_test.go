//go:build linux && !simpleserver_portable

package poll

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// waitMsec is the timeout of a Wait expected to return at once: an event
// is already pending, and a broken Poller fails the test instead of
// hanging it.
const waitMsec = int(testTimeout / time.Millisecond)

func newPoller(t *testing.T) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// socketPair returns two connected non-blocking AF_UNIX stream sockets,
// closed when the test ends.
func socketPair(t testing.TB) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds[0], fds[1]
}

func write(t testing.TB, fd int, s string) {
	t.Helper()
	if n, err := unix.Write(fd, []byte(s)); n != len(s) || err != nil {
		t.Fatalf("write(%d) = %d, %v", fd, n, err)
	}
}

func readAll(t testing.TB, fd int) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EAGAIN {
			return string(out)
		}
		if err != nil || n == 0 {
			t.Fatalf("read(%d) = %d, %v", fd, n, err)
		}
		out = append(out, buf[:n]...)
	}
}

// wait calls Wait and fails on an error. EINTR (a nil, false, nil result:
// Go preempts with signals) is retried while time is left.
func wait(t testing.TB, p *Poller, msec int) ([]unix.EpollEvent, bool) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(max(msec, 0)) * time.Millisecond)
	for {
		events, woken, err := p.Wait(msec)
		if err != nil {
			t.Fatalf("Wait(%d): %v", msec, err)
		}
		if len(events) > 0 || woken || msec == 0 || !time.Now().Before(deadline) {
			return events, woken
		}
		msec = max(int(time.Until(deadline)/time.Millisecond), 1)
	}
}

// eventMap turns events into fd -> event bits, failing on duplicates and
// on the wake-up descriptor showing up.
func eventMap(t testing.TB, p *Poller, events []unix.EpollEvent) map[int]uint32 {
	t.Helper()
	m := make(map[int]uint32, len(events))
	for _, ev := range events {
		fd := int(ev.Fd)
		if fd == p.wakefd {
			t.Fatalf("the wake-up eventfd %d was returned as an event", fd)
		}
		if _, dup := m[fd]; dup {
			t.Fatalf("fd %d reported twice in one Wait", fd)
		}
		m[fd] = ev.Events
	}
	return m
}

// expectEvents waits (msec) and checks the exact set of fd -> bits.
func expectEvents(t testing.TB, p *Poller, msec int, want map[int]uint32, wantWoken bool) {
	t.Helper()
	events, woken := wait(t, p, msec)
	got := eventMap(t, p, events)
	if woken != wantWoken {
		t.Fatalf("Wait(%d) woken = %v, want %v (events %v)", msec, woken, wantWoken, got)
	}
	if len(got) != len(want) {
		t.Fatalf("Wait(%d) returned %v, want %v", msec, got, want)
	}
	for fd, bits := range want {
		if got[fd] != bits {
			t.Fatalf("Wait(%d) returned %v, want %v", msec, got, want)
		}
	}
}

// eventfdCount reads an eventfd's counter without consuming it.
func eventfdCount(t testing.TB, fd int) uint64 {
	t.Helper()
	info, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd))
	if err != nil {
		t.Fatalf("fdinfo: %v", err)
	}
	for line := range strings.Lines(string(info)) {
		if v, ok := strings.CutPrefix(line, "eventfd-count:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("fdinfo eventfd-count %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no eventfd-count in fdinfo of fd %d:\n%s", fd, info)
	return 0
}

func TestNewDescriptorsCloseOnExec(t *testing.T) {
	p := newPoller(t)
	for _, fd := range []int{p.epfd, p.wakefd} {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			t.Fatalf("F_GETFD: %v", err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d is not close-on-exec", fd)
		}
	}
	if len(p.events) != minCap {
		t.Fatalf("new Poller has %d event slots, want %d", len(p.events), minCap)
	}
	expectEvents(t, p, 0, nil, false)
}

func TestAddReadable(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, In); err != nil {
		t.Fatalf("Add: %v", err)
	}
	expectEvents(t, p, 0, nil, false) // nothing written yet

	write(t, b, "hello")
	expectEvents(t, p, waitMsec, map[int]uint32{a: In}, false)
	// Level-triggered: still readable, still reported.
	expectEvents(t, p, 0, map[int]uint32{a: In}, false)
	if got := readAll(t, a); got != "hello" {
		t.Fatalf("read %q", got)
	}
	expectEvents(t, p, 0, nil, false)

	// The other end, registered for output, is writable at once.
	if err := p.Add(b, Out); err != nil {
		t.Fatalf("Add: %v", err)
	}
	expectEvents(t, p, waitMsec, map[int]uint32{b: Out}, false)
}

func TestAddEdgeTriggered(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, In|Edge); err != nil {
		t.Fatalf("Add: %v", err)
	}
	write(t, b, "x")
	expectEvents(t, p, waitMsec, map[int]uint32{a: In}, false)
	// Edge-triggered: unread data is not reported again...
	expectEvents(t, p, 0, nil, false)
	// ...until more arrives.
	write(t, b, "y")
	expectEvents(t, p, waitMsec, map[int]uint32{a: In}, false)
	if got := readAll(t, a); got != "xy" {
		t.Fatalf("read %q", got)
	}
}

func TestPeerClose(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, In|RDHup); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := unix.Shutdown(b, unix.SHUT_WR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// A half close: readable (EOF) and RDHUP, not HUP.
	expectEvents(t, p, waitMsec, map[int]uint32{a: In | RDHup}, false)
	if err := unix.Shutdown(a, unix.SHUT_WR); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Both directions shut: HUP, reported even though not asked for.
	expectEvents(t, p, waitMsec, map[int]uint32{a: In | RDHup | Hup}, false)
}

func TestMod(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, In); err != nil {
		t.Fatalf("Add: %v", err)
	}
	write(t, b, "pending")
	steps := []struct {
		events uint32
		want   uint32 // 0: no event
	}{
		{Out, Out},           // readable, but only output is asked for
		{In | Out, In | Out}, // both
		{0, 0},               // nothing asked: nothing reported
		{In, In},             // back to input
		{RDHup, 0},           // no hang-up yet
		{In | Edge, In},      // edge: the MOD itself re-arms the edge
	}
	for _, st := range steps {
		if err := p.Mod(a, st.events); err != nil {
			t.Fatalf("Mod(%#x): %v", st.events, err)
		}
		var want map[int]uint32
		msec := 0
		if st.want != 0 {
			want, msec = map[int]uint32{a: st.want}, waitMsec
		}
		expectEvents(t, p, msec, want, false)
	}
	// The edge was consumed above.
	expectEvents(t, p, 0, nil, false)
}

func TestDel(t *testing.T) {
	p := newPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, In); err != nil {
		t.Fatalf("Add: %v", err)
	}
	write(t, b, "x")
	expectEvents(t, p, waitMsec, map[int]uint32{a: In}, false)
	if err := p.Del(a); err != nil {
		t.Fatalf("Del: %v", err)
	}
	// Still readable, no longer watched.
	expectEvents(t, p, 0, nil, false)
	write(t, b, "y")
	expectEvents(t, p, 0, nil, false)

	// Registered again, it is reported again.
	if err := p.Add(a, In); err != nil {
		t.Fatalf("Add after Del: %v", err)
	}
	expectEvents(t, p, waitMsec, map[int]uint32{a: In}, false)
}

func TestCtlErrors(t *testing.T) {
	p := newPoller(t)
	a, _ := socketPair(t)
	unregistered, _ := socketPair(t)
	if err := p.Add(a, In); err != nil {
		t.Fatalf("Add: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		want unix.Errno
	}{
		{"Add twice", func() error { return p.Add(a, In) }, unix.EEXIST},
		{"Mod unregistered", func() error { return p.Mod(unregistered, In) }, unix.ENOENT},
		{"Del unregistered", func() error { return p.Del(unregistered) }, unix.ENOENT},
		{"Add bad fd", func() error { return p.Add(-1, In) }, unix.EBADF},
		{"Add epoll itself", func() error { return p.Add(p.epfd, In) }, unix.EINVAL},
	}
	for _, tt := range tests {
		err := tt.call()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := p.Del(a); err != nil {
		t.Fatalf("Del: %v", err)
	}
	if err := p.Del(a); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Del twice: %v, want ENOENT", err)
	}
	if err := p.Mod(a, In); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Mod after Del: %v, want ENOENT", err)
	}
}

// waitBlocked waits until a goroutine is inside Poller.Wait's epoll_wait
// system call.
func waitBlocked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		for g := range strings.SplitSeq(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "[syscall") && strings.Contains(g, "poll.(*Poller).Wait(") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine blocked in Wait")
		}
		runtime.Gosched()
	}
}

type waitResult struct {
	events []unix.EpollEvent
	woken  bool
	err    error
}

// A blocking Wait(-1) returns when another goroutine calls Wake, reporting
// the wake-up and no events, again and again.
func TestWakeUnblocksWait(t *testing.T) {
	p := newPoller(t)
	a, _ := socketPair(t)
	if err := p.Add(a, In); err != nil { // registered, never ready
		t.Fatalf("Add: %v", err)
	}
	for round := range 5 {
		res := make(chan waitResult, 1)
		go func() {
			for {
				events, woken, err := p.Wait(-1)
				if events == nil && !woken && err == nil {
					continue // EINTR
				}
				res <- waitResult{slices.Clone(events), woken, err}
				return
			}
		}()
		waitBlocked(t)
		if err := p.Wake(); err != nil {
			t.Fatalf("Wake: %v", err)
		}
		timer := time.NewTimer(testTimeout)
		select {
		case r := <-res:
			timer.Stop()
			if r.err != nil || !r.woken || len(r.events) != 0 {
				t.Fatalf("round %d: Wait(-1) = %v, %v, %v; want no events, woken", round, r.events, r.woken, r.err)
			}
		case <-timer.C:
			t.Fatalf("round %d: Wait(-1) did not return after Wake", round)
		}
		if got := eventfdCount(t, p.wakefd); got != 0 {
			t.Fatalf("round %d: eventfd counter %d after the wake-up was consumed", round, got)
		}
	}
}

// Any number of Wake calls before a Wait cost one eventfd write and give
// one wake-up; the next Wait reports none; a later Wake works again.
func TestWakeCoalesces(t *testing.T) {
	for _, goroutines := range []int{1, 2, 8, 64} {
		t.Run(fmt.Sprint(goroutines), func(t *testing.T) {
			p := newPoller(t)
			for round := range 3 {
				start := make(chan struct{})
				var wg sync.WaitGroup
				errs := make(chan error, goroutines)
				for range goroutines {
					wg.Go(func() {
						<-start
						for range 200 {
							if err := p.Wake(); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				close(start)
				done := make(chan struct{})
				go func() {
					wg.Wait()
					close(done)
				}()
				select {
				case <-done:
				case <-time.After(testTimeout):
					t.Fatalf("Wake calls did not finish")
				}
				close(errs)
				for err := range errs {
					t.Fatalf("Wake: %v", err)
				}
				if got := eventfdCount(t, p.wakefd); got != 1 {
					t.Fatalf("round %d: %d Wake calls wrote the eventfd %d times, want 1", round, goroutines*200, got)
				}
				expectEvents(t, p, waitMsec, nil, true)
				if got := eventfdCount(t, p.wakefd); got != 0 {
					t.Fatalf("round %d: eventfd counter %d after the wake-up", round, got)
				}
				expectEvents(t, p, 0, nil, false)
			}
		})
	}
}

// A wake-up and ready descriptors come out of one Wait together.
func TestWakeWithEvents(t *testing.T) {
	p := newPoller(t)
	want := map[int]uint32{}
	for range 5 {
		a, b := socketPair(t)
		if err := p.Add(a, In); err != nil {
			t.Fatalf("Add: %v", err)
		}
		write(t, b, "x")
		want[a] = In
	}
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	expectEvents(t, p, waitMsec, want, true)
	expectEvents(t, p, 0, want, false)
}

// No wake-up is lost: producers queue items and Wake; the loop drains the
// queue after each wake-up and must see every item.
func TestWakeNoLostWakeups(t *testing.T) {
	const producers, each = 4, 5000
	p := newPoller(t)
	var (
		mu    sync.Mutex
		queue []int
	)
	errs := make(chan error, producers)
	for range producers {
		go func() {
			for i := range each {
				mu.Lock()
				queue = append(queue, i)
				mu.Unlock()
				if err := p.Wake(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(testTimeout)
	got := 0
	for got < producers*each {
		left := time.Until(deadline)
		if left <= 0 {
			mu.Lock()
			pending := len(queue)
			mu.Unlock()
			t.Fatalf("lost wake-up: %d items handled, %d queued, Wait not woken", got, pending)
		}
		events, woken, err := p.Wait(max(int(left/time.Millisecond), 1))
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if len(events) != 0 {
			t.Fatalf("Wait returned events %v with nothing registered", events)
		}
		select {
		case err := <-errs:
			t.Fatalf("Wake: %v", err)
		default:
		}
		if !woken {
			continue // EINTR, or the deadline (caught above)
		}
		mu.Lock()
		got += len(queue)
		queue = queue[:0]
		mu.Unlock()
	}
}

// socketsReady makes n read ends ready (one byte each) and registers them.
func socketsReady(t *testing.T, p *Poller, n int, events uint32) map[int]bool {
	t.Helper()
	fds := make(map[int]bool, n)
	for range n {
		a, b := socketPair(t)
		write(t, b, "x")
		if err := p.Add(a, events); err != nil {
			t.Fatalf("Add: %v", err)
		}
		fds[a] = true
	}
	return fds
}

// collect checks events are distinct registered fds with In, and adds them
// to seen.
func collect(t *testing.T, p *Poller, events []unix.EpollEvent, fds, seen map[int]bool) {
	t.Helper()
	for fd, bits := range eventMap(t, p, events) {
		if !fds[fd] {
			t.Fatalf("event for unknown fd %d", fd)
		}
		if bits != In {
			t.Fatalf("fd %d: events %#x, want In", fd, bits)
		}
		seen[fd] = true
	}
}

// Level-triggered, 100 ready: the first Wait fills the 64 slots and grows
// the array; the next returns all 100 at once.
func TestEventsGrowLevel(t *testing.T) {
	const n = 100
	p := newPoller(t)
	fds := socketsReady(t, p, n, In)

	events, woken := wait(t, p, 0)
	if woken || len(events) != minCap {
		t.Fatalf("first Wait: %d events, woken %v; want %d, false", len(events), woken, minCap)
	}
	if len(p.events) != 2*minCap {
		t.Fatalf("%d event slots after a full Wait, want %d", len(p.events), 2*minCap)
	}
	// The returned events were not disturbed by the growth.
	first := map[int]bool{}
	collect(t, p, events, fds, first)
	if len(first) != minCap {
		t.Fatalf("first Wait: %d distinct fds", len(first))
	}

	events, woken = wait(t, p, 0)
	if woken || len(events) != n {
		t.Fatalf("second Wait: %d events, woken %v; want %d (> %d), false", len(events), woken, n, minCap)
	}
	all := map[int]bool{}
	collect(t, p, events, fds, all)
	if len(all) != n {
		t.Fatalf("second Wait: %d of %d fds", len(all), n)
	}
	if len(p.events) != 2*minCap {
		t.Fatalf("%d event slots after a Wait that did not fill them, want %d", len(p.events), 2*minCap)
	}
}

// Edge-triggered, 200 ready: every fd is reported exactly once across
// Waits, and the array grows after each full Wait.
func TestEventsGrowEdge(t *testing.T) {
	const n = 200
	p := newPoller(t)
	fds := socketsReady(t, p, n, In|Edge)
	seen := map[int]bool{}
	wantLens := []int{64, 128, 8}
	wantCaps := []int{128, 256, 256}
	for i := range wantLens {
		events, woken := wait(t, p, 0)
		before := len(seen)
		collect(t, p, events, fds, seen)
		if woken || len(events) != wantLens[i] || len(seen)-before != wantLens[i] {
			t.Fatalf("Wait %d: %d events (%d new), woken %v; want %d new", i, len(events), len(seen)-before, woken, wantLens[i])
		}
		if len(p.events) != wantCaps[i] {
			t.Fatalf("Wait %d: %d event slots after, want %d", i, len(p.events), wantCaps[i])
		}
	}
	if len(seen) != n {
		t.Fatalf("%d of %d fds reported", len(seen), n)
	}
	expectEvents(t, p, 0, nil, false)
}

// The wake-up's own event counts toward a full array: 63 ready fds plus a
// wake-up fill 64 slots, the wake-up is taken out, and the array grows.
func TestEventsGrowWithWake(t *testing.T) {
	p := newPoller(t)
	fds := socketsReady(t, p, minCap-1, In)
	if err := p.Wake(); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	events, woken := wait(t, p, waitMsec)
	seen := map[int]bool{}
	collect(t, p, events, fds, seen)
	if !woken || len(events) != minCap-1 || len(seen) != minCap-1 {
		t.Fatalf("Wait: %d events, woken %v; want %d, true", len(events), woken, minCap-1)
	}
	if len(p.events) != 2*minCap {
		t.Fatalf("%d event slots, want %d", len(p.events), 2*minCap)
	}
}

// The array stops growing at maxCap.
func TestEventsGrowthCapped(t *testing.T) {
	const n = maxCap + 200
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < n+1000 {
		t.Skipf("needs %d descriptors (RLIMIT_NOFILE %d, %v)", n+1000, lim.Cur, err)
	}
	p := newPoller(t)
	for range n {
		fd, err := unix.Eventfd(1, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC) // readable
		if err != nil {
			t.Fatalf("eventfd: %v", err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err := p.Add(fd, In); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	for size := minCap; ; size *= 2 {
		events, _ := wait(t, p, 0)
		want := min(size, maxCap)
		if len(events) != want {
			t.Fatalf("Wait with %d slots returned %d events, want %d", size, len(events), want)
		}
		if len(p.events) != min(2*size, maxCap) {
			t.Fatalf("after a full Wait with %d slots: %d slots, want %d", size, len(p.events), min(2*size, maxCap))
		}
		if size > maxCap {
			break
		}
	}
}

func BenchmarkWakeWait(b *testing.B) {
	p, err := New()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	for b.Loop() {
		p.Wake()
		p.Wake()
		if _, woken, err := p.Wait(0); !woken || err != nil {
			b.Fatalf("Wait: %v, %v", woken, err)
		}
	}
}
