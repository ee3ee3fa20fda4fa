package simpleserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
	"golang.org/x/sys/unix"
)

// Descriptor exhaustion is tested in a child process (this test binary
// run again with fdChildEnv set), so the lowered RLIMIT_NOFILE can not
// make any other test fail.
const (
	fdChildEnv = "SIMPLESERVER_FD_CHILD"
	// fdChildHeadroom is how many descriptors the child leaves its
	// server above those open once it is started.
	fdChildHeadroom = 40
	// fdMaxDials bounds the connections opened to exhaust the child.
	fdMaxDials = 200
	// fdShedWait is how long a connection may wait for its reply, or for
	// the server to close it, while the server is out of descriptors: the
	// back-off is at most a second, so a client the server neither
	// serves nor sheds within this is left hanging in the backlog.
	fdShedWait = 3 * time.Second
	// fdCPUWindow is how long the child's CPU use is measured for.
	fdCPUWindow = time.Second
	// fdMaxCPU is the share of one core the exhausted child may use. A
	// level-triggered listener that is neither backed off nor drained
	// makes the loop retry accept(2) without sleeping: most of a core
	// (60% measured with the race detector on 2 cores, the rest going to
	// the knocking clients and the kernel). Backed off (one wake-up per
	// back-off step, one shed per knock) it used 0-1%; 30% leaves room
	// for the race detector, the garbage collector and a loaded machine.
	fdMaxCPU = 0.30
	// fdRecoverWithin bounds recovery after descriptors are freed: the
	// back-off is at most a second.
	fdRecoverWithin = 5 * time.Second
	// fdFreed is how many held connections are closed to recover.
	fdFreed = 10
	// fdReplyWait bounds the client goroutines of the tests below. It is
	// far longer than a healthy server needs (milliseconds) and shorter
	// than testDeadline, so a client stuck waiting reports exactly what
	// it was waiting for before the test gives up on it.
	fdReplyWait = 5 * time.Second
)

// TestFDExhaustionChild is the child half of
// TestFDExhaustionBacksOffAndRecovers: a hello server with one loop whose
// process may open only fdChildHeadroom more descriptors. It prints
// "<addr> <free descriptors>", serves until its stdin is closed, shuts
// down gracefully and prints its final Stats as JSON.
func TestFDExhaustionChild(t *testing.T) {
	if os.Getenv(fdChildEnv) != "1" {
		t.Skip("helper process of TestFDExhaustionBacksOffAndRecovers")
	}
	srv := helloServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	addr := start(t, srv)

	// The limit is on descriptor numbers, and the kernel hands out the
	// lowest free one: with the limit just above the fdChildHeadroom-th
	// free number, exactly that many more descriptors can be opened.
	// (Descriptors open above the limit keep working.)
	limit := fdtNthFreeDescriptor(t, fdChildHeadroom) + 1
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = uint64(limit)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s %d\n", addr, fdChildHeadroom)

	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := json.Marshal(srv.Stats())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s\n", st)
}

// fdtNthFreeDescriptor returns the n-th lowest descriptor number not in
// use. It probes with fcntl rather than listing /proc/self/fd, which
// would itself take a descriptor.
func fdtNthFreeDescriptor(t *testing.T, n int) int {
	t.Helper()
	for fd := 0; fd < 1<<20; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			if n--; n == 0 {
				return fd
			}
		}
	}
	t.Fatal("no free descriptor numbers")
	return 0
}

// fdOutcome is what became of one request sent to the exhausted child.
type fdOutcome int

const (
	fdServed fdOutcome = iota // the correct reply arrived
	fdShed                    // closed by the server without a reply
	fdHung                    // neither within the wait
)

func (o fdOutcome) String() string {
	return [...]string{"served", "shed", "hung"}[o]
}

// fdtTry connects to addr, sends one request and waits up to wait for
// the reply. The connection stays open only if it was served. err is set
// for anything that is none of the three outcomes (a wrong or partial
// reply, a failed dial). Any goroutine may call it.
func fdtTry(addr, payload string, wait time.Duration) (net.Conn, fdOutcome, error) {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return nil, 0, err
	}
	c.SetDeadline(time.Now().Add(wait))
	outcome, err := func() (fdOutcome, error) {
		if _, err := c.Write(frame(payload)); err != nil {
			if fdtClosedByPeer(err) {
				return fdShed, nil
			}
			return 0, fmt.Errorf("write: %w", err)
		}
		got := make([]byte, hello.ReplyLen(len(payload)))
		n, err := io.ReadFull(c, got)
		switch {
		case err == nil && string(got) == reply(payload):
			return fdServed, nil
		case err == nil:
			return 0, fmt.Errorf("reply = %q, want %q", got, reply(payload))
		case n == 0 && fdtClosedByPeer(err):
			return fdShed, nil
		case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
			return fdHung, nil
		}
		return 0, fmt.Errorf("read after %d of %d reply bytes: %w", n, len(got), err)
	}()
	if outcome != fdServed || err != nil {
		c.Close()
		return nil, outcome, err
	}
	return c, fdServed, nil
}

// fdtClosedByPeer reports whether err says the server closed the
// connection: a FIN (EOF) or, when it closed with our request unread, a
// reset.
func fdtClosedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// fdtChild is the running child process.
type fdtChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // its stdout, line by line; closed at EOF
	stderr fdtSyncBuffer
	waited chan error // receives Wait's result once
}

// fdtSyncBuffer is a bytes.Buffer safe for the exec copier goroutine and
// the test to use at once.
type fdtSyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *fdtSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *fdtSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func fdtStartChild(t *testing.T) *fdtChild {
	t.Helper()
	ch := &fdtChild{lines: make(chan string, 16), waited: make(chan error, 1)}
	ch.cmd = exec.Command(os.Args[0], "-test.run=^TestFDExhaustionChild$", "-test.count=1", "-test.timeout=60s")
	ch.cmd.Env = append(os.Environ(), fdChildEnv+"=1")
	ch.cmd.Stderr = &ch.stderr
	var err error
	if ch.stdin, err = ch.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := ch.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
		close(ch.lines)
		// Wait only once stdout is read to its end, as exec requires.
		ch.waited <- ch.cmd.Wait()
	}()
	t.Cleanup(func() {
		// Normally the child has exited already. If the test failed
		// half way, stop it, and wait so no goroutine outlives the test.
		ch.stdin.Close()
		select {
		case err := <-ch.waited:
			ch.waited <- err
		case <-time.After(testDeadline):
			ch.cmd.Process.Kill()
			for range ch.lines {
			}
			ch.waited <- <-ch.waited
		}
		if t.Failed() {
			t.Logf("child stderr:\n%s", ch.stderr.String())
		}
	})
	return ch
}

// line returns the child's next line of output.
func (ch *fdtChild) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-ch.lines:
		if !ok {
			t.Fatalf("child ended its output early; stderr:\n%s", ch.stderr.String())
		}
		return l
	case <-deadline():
		t.Fatal("no output from child")
	}
	return ""
}

// fdtCPUTicks returns the user plus system CPU time, in clock ticks, that
// process pid (all its threads) has used.
func fdtCPUTicks(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after it start with field 3, state.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseUint(f[14-3], 10, 64)
	stime, err2 := strconv.ParseUint(f[15-3], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("parsing /proc/%d/stat: %v", pid, err)
	}
	return utime + stime
}

// fdtClockTicks is the kernel's USER_HZ (sysconf(_SC_CLK_TCK)), which the
// kernel passes to every process as AT_CLKTCK in its auxiliary vector.
func fdtClockTicks(t *testing.T) float64 {
	t.Helper()
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Fatal(err)
	}
	// (type, value) pairs of native words.
	word := func(b []byte) uint64 {
		if strconv.IntSize == 32 {
			return uint64(binary.NativeEndian.Uint32(b))
		}
		return binary.NativeEndian.Uint64(b)
	}
	for w := strconv.IntSize / 8; len(b) >= 2*w; b = b[2*w:] {
		if word(b) == atClkTck {
			return float64(word(b[w:]))
		}
	}
	t.Fatal("no AT_CLKTCK in /proc/self/auxv")
	return 0
}

// TestFDExhaustionBacksOffAndRecovers runs a server out of descriptors and
// checks that it sheds the clients it can not take (they see a prompt
// close, not a hang), keeps serving the connections it has, does not
// spin while exhausted, and serves new connections again once
// descriptors are freed.
func TestFDExhaustionBacksOffAndRecovers(t *testing.T) {
	if os.Getenv(fdChildEnv) != "" {
		t.Skip("in the child")
	}
	child := fdtStartChild(t)
	first := strings.Fields(child.line(t))
	if len(first) != 2 {
		t.Fatalf("child's first line = %q, want \"<addr> <free descriptors>\"", first)
	}
	addr := first[0]
	free, err := strconv.Atoi(first[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("child %d serves %s with %d free descriptors", child.cmd.Process.Pid, addr, free)
	// What this side saw, checked against the child's Stats at the end:
	// requests answered, connections served, connections shed.
	replies, servedSeen, shedSeen := 0, 0, 0

	// (a) The keeper is served.
	keeper := dial(t, addr)
	if _, err := keeper.Write(frame("keeper 0")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, keeper, "keeper 0")
	replies++
	servedSeen++

	// (b) Open connections until one is closed without a reply.
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	hungSeen := false
	for i := 2; ; i++ { // the keeper was connection 1
		if i > fdMaxDials {
			t.Fatalf("%d connections served and the server is not out of descriptors", len(held)+1)
		}
		c, outcome, err := fdtTry(addr, fmt.Sprintf("exhaust %d", i), fdShedWait)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if outcome == fdServed {
			held = append(held, c)
			replies++
			servedSeen++
			continue
		}
		if outcome == fdHung {
			hungSeen = true
			t.Errorf("connection %d, the first the server had no descriptor for, was neither served nor closed within %v: "+
				"it waits in the backlog instead of being shed", i, fdShedWait)
		} else {
			shedSeen++
		}
		break
	}
	served := len(held) + 1 // and the keeper
	t.Logf("served %d connections before running out", served)
	if served != free {
		t.Errorf("the server served %d connections with %d free descriptors; want exactly %d", served, free, free)
	}
	if len(held) < fdFreed {
		t.Fatalf("only %d held connections, want at least %d", len(held), fdFreed)
	}

	// (c) The connections it has are still served.
	keeperRoundTrip := func(tag string) {
		t.Helper()
		keeper.SetDeadline(time.Now().Add(testDeadline))
		var req []byte
		for i := range 3 {
			req = append(req, frame(fmt.Sprintf("keeper %s %d", tag, i))...)
		}
		if _, err := keeper.Write(req); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			expectReply(t, keeper, fmt.Sprintf("keeper %s %d", tag, i))
			replies++
		}
	}
	keeperRoundTrip("exhausted")
	for i, c := range held[:3] {
		c.SetDeadline(time.Now().Add(testDeadline))
		payload := fmt.Sprintf("held %d while exhausted", i)
		if _, err := c.Write(frame(payload)); err != nil {
			t.Fatal(err)
		}
		expectReply(t, c, payload)
		replies++
	}

	// (d) Exhausted, with a client knocking every 50 ms, the child stays
	// nearly idle. Measuring CPU use needs a window of real time.
	clk := fdtClockTicks(t)
	pid := child.cmd.Process.Pid
	type probeResult struct {
		outcome fdOutcome
		err     error
	}
	probes := make(chan probeResult, 64)
	nprobes := 0
	ticker := time.NewTicker(50 * time.Millisecond)
	window := time.NewTimer(fdCPUWindow)
	ticks0, t0 := fdtCPUTicks(t, pid), time.Now()
knock:
	for {
		select {
		case <-ticker.C:
			nprobes++
			go func(i int) {
				// Shed at the latest when the back-off (at most 1 s)
				// ends after the window.
				c, outcome, err := fdtTry(addr, fmt.Sprintf("probe %d", i), fdShedWait)
				if c != nil {
					c.Close()
				}
				probes <- probeResult{outcome, err}
			}(nprobes)
		case <-window.C:
			break knock
		}
	}
	ticks1, t1 := fdtCPUTicks(t, pid), time.Now()
	ticker.Stop()
	cpu := float64(ticks1-ticks0) / clk / t1.Sub(t0).Seconds()
	t.Logf("exhausted child used %.1f%% of a core over %v (%d ticks at %v Hz) while %d clients knocked",
		100*cpu, t1.Sub(t0).Round(time.Millisecond), ticks1-ticks0, clk, nprobes)
	if cpu >= fdMaxCPU {
		t.Errorf("exhausted child used %.0f%% of a core; want < %.0f%%: the acceptor spins", 100*cpu, 100*fdMaxCPU)
	}
	outcomes := map[fdOutcome]int{}
	for range nprobes {
		select {
		case r := <-probes:
			if r.err != nil {
				t.Errorf("probe: %v", r.err)
				continue
			}
			outcomes[r.outcome]++
		case <-deadline():
			t.Fatal("probes did not finish")
		}
	}
	shedSeen += outcomes[fdShed]
	hungSeen = hungSeen || outcomes[fdHung] > 0
	if outcomes[fdShed] != nprobes {
		t.Errorf("of %d clients knocking while exhausted: %v; want all shed", nprobes, outcomes)
	}
	keeperRoundTrip("after knocking")

	// (e) Free fdFreed descriptors: new connections are served again
	// within the longest back-off, and exactly fdFreed of them.
	for _, c := range held[len(held)-fdFreed:] {
		c.Close()
	}
	held = held[:len(held)-fdFreed]
	freedAt := time.Now()
	retries := 0
	for {
		wait := time.Until(freedAt.Add(fdRecoverWithin))
		if wait <= 0 {
			t.Fatalf("no connection served within %v of freeing %d descriptors (%d attempts)", fdRecoverWithin, fdFreed, retries+1)
		}
		c, outcome, err := fdtTry(addr, fmt.Sprintf("recover %d", retries), wait)
		if err != nil {
			t.Fatal(err)
		}
		if outcome == fdServed {
			held = append(held, c)
			replies++
			servedSeen++
			break
		}
		if outcome == fdShed {
			shedSeen++
		}
		retries++
	}
	t.Logf("served again %v after freeing %d descriptors (%d connections shed meanwhile)",
		time.Since(freedAt).Round(time.Millisecond), fdFreed, retries)
	again := 1
	for i := 1; ; i++ {
		if i > fdMaxDials {
			t.Fatal("the server is not out of descriptors again")
		}
		c, outcome, err := fdtTry(addr, fmt.Sprintf("refill %d", i), fdShedWait)
		if err != nil {
			t.Fatalf("refill connection %d: %v", i, err)
		}
		if outcome != fdServed {
			if outcome == fdShed {
				shedSeen++
			}
			break
		}
		held = append(held, c)
		replies++
		servedSeen++
		again++
	}
	if again != fdFreed {
		t.Errorf("after freeing %d descriptors the server served %d new connections; want exactly %d", fdFreed, again, fdFreed)
	}
	keeperRoundTrip("recovered")

	// The child shuts down cleanly and its counters agree with ours.
	child.stdin.Close()
	var st simpleserver.Stats
	if err := json.Unmarshal([]byte(child.line(t)), &st); err != nil {
		t.Fatalf("child's stats: %v", err)
	}
	select {
	case err := <-child.waited:
		child.waited <- err
		if err != nil {
			t.Fatalf("child: %v; stderr:\n%s", err, child.stderr.String())
		}
	case <-deadline():
		t.Fatal("child did not exit")
	}
	t.Logf("child's final stats: %+v", st)
	if st.Open != 0 || st.BytesQueued != 0 || st.MessagesIn != st.MessagesOut {
		t.Errorf("child's final stats: %+v; want nothing open or queued, and a reply to every message", st)
	}
	c := st.Closed
	if sum := c.Peer + c.Handler + c.Idle + c.ReadTimeout + c.WriteTimeout + c.SlowConsumer + c.Protocol + c.Panic + c.Shutdown + c.Limit + c.Error; sum != st.Accepted {
		t.Errorf("child closed %d connections of %d accepted", sum, st.Accepted)
	}
	if !hungSeen {
		// Every connection made was served or shed, and each side
		// counted it. The fdFreed closed by this side are Peer; those
		// still open at the end (the keeper and held) are Shutdown.
		want := simpleserver.ClosedStats{Peer: fdFreed, Shutdown: uint64(len(held) + 1), Limit: uint64(shedSeen)}
		if st.Accepted != uint64(servedSeen+shedSeen) || c != want || st.MessagesIn != uint64(replies) {
			t.Errorf("child accepted %d, closed %+v, handled %d messages;\nwant %d (%d served, %d shed), %+v, %d",
				st.Accepted, c, st.MessagesIn, servedSeen+shedSeen, servedSeen, shedSeen, want, replies)
		}
	}
	t.Logf("child logged %d back-off warnings", strings.Count(child.stderr.String(), "backing off"))
}

// fdtCountFDs returns how many descriptors this process has open.
func fdtCountFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) // includes ReadDir's own descriptor, every time
}

// fdtWarmUp makes one round trip to a throwaway server, so that anything
// the runtime or the server opens lazily on first use is open before a
// test takes its descriptor baseline.
func fdtWarmUp(t *testing.T) {
	t.Helper()
	srv := helloServer(func(s *simpleserver.Server) { s.Logger = discardLogger() })
	c := dial(t, start(t, srv))
	if _, err := c.Write(frame("warm up")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, c, "warm up")
	c.Close()
	srv.Close()
}

// fdtCloseCounter is an OnClose that counts closes and their reasons and
// closes done when the count reaches want.
type fdtCloseCounter struct {
	want    int64
	n       atomic.Int64
	nonNil  atomic.Int64
	resets  atomic.Int64
	done    chan struct{}
	lastErr atomic.Value
}

func newFDTCloseCounter(want int) *fdtCloseCounter {
	return &fdtCloseCounter{want: int64(want), done: make(chan struct{})}
}

func (cc *fdtCloseCounter) onClose(_ *simpleserver.Conn, err error) {
	if err != nil {
		cc.nonNil.Add(1)
		cc.lastErr.Store(err.Error())
		if errors.Is(err, syscall.ECONNRESET) {
			cc.resets.Add(1)
		}
	}
	if cc.n.Add(1) == cc.want {
		close(cc.done)
	}
}

// wait waits for the closes: up to testDeadline, or only fdReplyWait once
// the test failed already (its clients timed out: the server is stuck).
func (cc *fdtCloseCounter) wait(t *testing.T) {
	t.Helper()
	limit := testDeadline
	if t.Failed() {
		limit = fdReplyWait
	}
	select {
	case <-cc.done:
	case <-time.After(limit):
		t.Fatalf("the server closed %d of %d connections", cc.n.Load(), cc.want)
	}
}

// TestHalfCloseGetsEveryReply: a client that sends its requests and
// shuts down its sending side still gets every reply, in order, and then
// the server's close — also when replies are still being produced (on
// workers, some slowly) as the EOF arrives. With one request, the EOF
// reaches the server together with the request; with 100 and workers,
// the loop also pauses reading (WorkerQueue) before it sees the EOF.
func TestHalfCloseGetsEveryReply(t *testing.T) {
	const clients = 10
	for _, workers := range []int{0, 4} {
		for _, n := range []int{100, 1} {
			t.Run(fmt.Sprintf("Workers=%d/requests=%d", workers, n), func(t *testing.T) {
				testHalfClose(t, workers, clients, n)
			})
		}
	}
}

func testHalfClose(t *testing.T, workers, clients, n int) {
	closes := newFDTCloseCounter(clients)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = workers
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			if msg[len(msg)-1] == '7' { // every tenth request is slow
				time.Sleep(time.Millisecond)
			}
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	errs := make(chan error, clients)
	for id := range clients {
		go func() { errs <- fdtHalfCloseClient(addr, id, n) }()
	}
	for range clients {
		select {
		case err := <-errs:
			if err != nil {
				t.Error(err)
			}
		case <-deadline():
			t.Fatal("half-closing clients did not finish")
		}
	}
	closes.wait(t)
	if k := closes.nonNil.Load(); k != 0 {
		t.Errorf("%d connections closed with an error, e.g. %v; want all orderly", k, closes.lastErr.Load())
	}
	var payloads uint64
	for id := range clients {
		for i := range n {
			payloads += uint64(len(fdtHalfClosePayload(id, i)))
		}
	}
	st := srv.Stats()
	want := simpleserver.Stats{
		Accepted:    uint64(clients),
		Closed:      simpleserver.ClosedStats{Peer: uint64(clients)},
		BytesIn:     uint64(clients*n*hello.HeaderLen) + payloads,
		BytesOut:    uint64(clients*n*len(hello.Prefix)) + payloads,
		MessagesIn:  uint64(clients * n),
		MessagesOut: uint64(clients * n),
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

func fdtHalfClosePayload(id, i int) string { return fmt.Sprintf("client %d request %d", id, i) }

// fdtHalfCloseClient pipelines n requests, shuts down its sending side,
// and expects exactly the n replies in order, then EOF.
func fdtHalfCloseClient(addr string, id, n int) error {
	c, err := net.DialTimeout("tcp", addr, fdReplyWait)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(fdReplyWait))
	var req []byte
	for i := range n {
		req = hello.AppendRequest(req, []byte(fdtHalfClosePayload(id, i)))
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for i := range n {
		want := []byte(reply(fdtHalfClosePayload(id, i)))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil {
			return fmt.Errorf("client %d reply %d of %d: %w", id, i, n, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("client %d reply %d = %q, want %q", id, i, got, want)
		}
	}
	if k, err := br.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		return fmt.Errorf("client %d after %d replies: read = %d, %v; want 0, EOF", id, n, k, err)
	}
	return nil
}

// TestResetMidFrameFreesEverything: connections reset by the peer while
// the server holds the start of a frame are closed with every resource
// released: descriptors, counters, queued output.
func TestResetMidFrameFreesEverything(t *testing.T) {
	const conns = 200
	fdtWarmUp(t)
	closes := newFDTCloseCounter(conns)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	baseline := fdtCountFDs(t)

	// One full request and the first half of the next frame (its header
	// declares 64 bytes, 32 follow), in one write. The reply proves the
	// server read the write, so it holds the half frame.
	var req []byte
	req = hello.AppendRequest(req, []byte("complete"))
	req = append(req, le32(64)...)
	req = append(req, bytes.Repeat([]byte("h"), 32)...)
	cs := make([]*net.TCPConn, 0, conns)
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	for range conns {
		c := dial(t, addr).(*net.TCPConn)
		cs = append(cs, c)
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		expectReply(t, c, "complete")
	}
	if st := srv.Stats(); st.Open != conns {
		t.Fatalf("%d connections open, want %d", st.Open, conns)
	}

	for _, c := range cs {
		if err := c.SetLinger(0); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	closes.wait(t)
	if k := closes.resets.Load(); k != conns {
		t.Errorf("%d connections closed with ECONNRESET, want %d (e.g. %v)", k, conns, closes.lastErr.Load())
	}
	st := srv.Stats()
	want := simpleserver.Stats{
		Accepted:    conns,
		Closed:      simpleserver.ClosedStats{Error: conns},
		BytesIn:     conns * uint64(len(req)),
		BytesOut:    conns * uint64(hello.ReplyLen(len("complete"))),
		MessagesIn:  conns,
		MessagesOut: conns,
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	// OnClose runs after the server closed the socket, and the client
	// sockets are closed: nothing may be left but the baseline.
	if n := fdtCountFDs(t); n != baseline {
		t.Errorf("%d descriptors open, want the baseline %d", n, baseline)
	}
}

// TestConnectCloseCyclesLeakNothing: thousands of short connections
// leave no descriptor behind, and every one is counted exactly once.
func TestConnectCloseCyclesLeakNothing(t *testing.T) {
	const goroutines, cycles = 50, 100
	const total = goroutines * cycles
	fdtWarmUp(t)
	closes := newFDTCloseCounter(total)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	baseline := fdtCountFDs(t)

	errs := make(chan error, goroutines)
	for g := range goroutines {
		go func() {
			for i := range cycles {
				if err := fdtCycle(addr, fmt.Sprintf("g%02d c%03d", g, i)); err != nil {
					errs <- fmt.Errorf("goroutine %d cycle %d: %w", g, i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range goroutines {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline():
			t.Fatal("connect/close cycles did not finish")
		}
	}
	closes.wait(t)
	if k := closes.nonNil.Load(); k != 0 {
		t.Errorf("%d connections closed with an error, e.g. %v; want all orderly", k, closes.lastErr.Load())
	}
	const payloadLen = len("g00 c000")
	st := srv.Stats()
	want := simpleserver.Stats{
		Accepted:    total,
		Closed:      simpleserver.ClosedStats{Peer: total},
		BytesIn:     uint64(total * (hello.HeaderLen + payloadLen)),
		BytesOut:    total * uint64(hello.ReplyLen(payloadLen)),
		MessagesIn:  total,
		MessagesOut: total,
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	if n := fdtCountFDs(t); n != baseline {
		t.Errorf("%d descriptors open after %d cycles, want the baseline %d", n, total, baseline)
	}
}

// fdtCycle connects, makes one request, checks the reply and closes.
func fdtCycle(addr, payload string) error {
	c, err := net.DialTimeout("tcp", addr, fdReplyWait)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(fdReplyWait))
	if _, err := c.Write(frame(payload)); err != nil {
		return err
	}
	got := make([]byte, hello.ReplyLen(len(payload)))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != reply(payload) {
		return fmt.Errorf("reply = %q, want %q", got, reply(payload))
	}
	return nil
}
