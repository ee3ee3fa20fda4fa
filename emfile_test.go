//go:build linux

package simpleserver_test

// Running out of descriptors (EMFILE): the server sheds the clients it
// can not take, keeps serving those it has, does not spin, and recovers.
// The server runs in a child process (this test binary run again with
// fdChildEnv set; see emfile_child_test.go), so the lowered RLIMIT_NOFILE
// can not make any other test fail.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
	"golang.org/x/sys/unix"
)

const (
	// fdChildEnv, set to 1, makes this test binary the child.
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
	limit := nthFreeDescriptor(t, fdChildHeadroom) + 1
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

// tryRequest connects to addr, sends one request and waits up to wait for
// the reply. The connection stays open only if it was served. err is set
// for anything that is none of the three outcomes (a wrong or partial
// reply, a failed dial). Any goroutine may call it.
func tryRequest(addr, payload string, wait time.Duration) (net.Conn, fdOutcome, error) {
	c, err := connect(addr, wait)
	if err != nil {
		return nil, 0, err
	}
	outcome, err := func() (fdOutcome, error) {
		if _, err := c.Write(frame(payload)); err != nil {
			if closedByServer(err) {
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
		case n == 0 && closedByServer(err):
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

// TestFDExhaustionBacksOffAndRecovers runs a server out of descriptors and
// checks that it sheds the clients it can not take (they see a prompt
// close, not a hang), keeps serving the connections it has, does not
// spin while exhausted, and serves new connections again once
// descriptors are freed.
func TestFDExhaustionBacksOffAndRecovers(t *testing.T) {
	if os.Getenv(fdChildEnv) != "" {
		t.Skip("in the child")
	}
	child := startFDChild(t)
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
	expectRoundTrip(t, keeper, "keeper 0")
	replies++
	servedSeen++

	// (b) Open connections until one is closed without a reply.
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	// fill opens connections, holding those served, until one is not,
	// and returns how many were served and what became of that one.
	fill := func(tag string) (int, fdOutcome) {
		t.Helper()
		for n := 0; ; n++ {
			if n == fdMaxDials {
				t.Fatalf("%d %s connections served and the server is not out of descriptors", n, tag)
			}
			c, outcome, err := tryRequest(addr, fmt.Sprintf("%s %d", tag, n), fdShedWait)
			if err != nil {
				t.Fatalf("%s connection %d: %v", tag, n, err)
			}
			switch outcome {
			case fdServed:
				held = append(held, c)
				replies++
				servedSeen++
				continue
			case fdShed:
				shedSeen++
			}
			return n, outcome
		}
	}
	hungSeen := false
	if n, outcome := fill("exhaust"); outcome == fdHung {
		hungSeen = true
		t.Errorf("connection %d, the first the server had no descriptor for, was neither served nor closed within %v: "+
			"it waits in the backlog instead of being shed", n+2, fdShedWait) // the keeper was connection 1
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
		expectRoundTrip(t, c, fmt.Sprintf("held %d while exhausted", i))
		replies++
	}

	// (d) Exhausted, with a client knocking every 50 ms, the child stays
	// nearly idle. Measuring CPU use needs a window of real time.
	clk := clockTicks(t)
	pid := child.cmd.Process.Pid
	type probeResult struct {
		outcome fdOutcome
		err     error
	}
	probes := make(chan probeResult, 64)
	nprobes := 0
	ticker := time.NewTicker(50 * time.Millisecond)
	window := time.NewTimer(fdCPUWindow)
	ticks0, t0 := cpuTicks(t, pid), time.Now()
knock:
	for {
		select {
		case <-ticker.C:
			nprobes++
			go func(i int) {
				// Shed at the latest when the back-off (at most 1 s)
				// ends after the window.
				c, outcome, err := tryRequest(addr, fmt.Sprintf("probe %d", i), fdShedWait)
				if c != nil {
					c.Close()
				}
				probes <- probeResult{outcome, err}
			}(nprobes)
		case <-window.C:
			break knock
		}
	}
	ticks1, t1 := cpuTicks(t, pid), time.Now()
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
		c, outcome, err := tryRequest(addr, fmt.Sprintf("recover %d", retries), wait)
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
	refilled, _ := fill("refill")
	if again := 1 + refilled; again != fdFreed {
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
	// Every EMFILE backs the listener off; the warning is logged only
	// when trouble starts and once a second while it lasts.
	warnings := strings.Count(child.stderr.String(), "backing off")
	t.Logf("child backed off %d times and logged %d back-off warnings", st.AcceptBackoffs, warnings)
	if st.AcceptBackoffs == 0 || st.AcceptBackoffs < uint64(warnings) {
		t.Errorf("Stats.AcceptBackoffs = %d after %d back-off warnings; want at least one, and at least one per warning", st.AcceptBackoffs, warnings)
	}
}
