package simpleserver_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// splitStream is a few requests of lineProto, one with a body that holds
// newlines, and splitReply their replies.
const (
	splitStream = "echo hello\nput 6\nab\ncd\necho bye\n"
	splitReply  = "hello\n[ab\ncd\n]\nbye\n"
)

// The stream split in three at every pair of offsets (so in two too),
// each piece written on its own once the server has been offered
// everything before it, is served the same: each call's input is exactly
// the stream from the count consumed so far (lineProto checks it), so kept
// input is never dropped, duplicated or offered from the wrong place, also
// when a call consumes some of what was kept and keeps the rest.
func TestStreamKeptInputSplitAtEveryOffset(t *testing.T) {
	p := newLineProto(t)
	p.expect = []byte(splitStream)
	_, closes, addr := streamServer(t, p, nil)
	for i := 1; i < len(splitStream); i++ {
		for j := i + 1; j <= len(splitStream); j++ {
			split := fmt.Sprintf("split at %d and %d", i, j)
			c := dial(t, addr)
			var st *lineConn
			for _, end := range []int{i, j} {
				write(t, c, []byte(splitStream[:end][st.offered():]))
				st = p.conn(t, c, split, func(st *lineConn) bool { return st.consumed+len(st.left) >= end })
				if n := st.offered(); n != end {
					t.Fatalf("%s: the server offered %d bytes of the %d sent", split, n, end)
				}
			}
			write(t, c, []byte(splitStream[j:]))
			expectBytes(t, c, splitReply)
			c.Close()
			closes.nextIs(t, nil)
			st.mu.Lock()
			if st.consumed != len(splitStream) || len(st.left) != 0 || st.eofCalls != 1 {
				t.Errorf("%s: consumed %d of %d bytes, left %q, %d eof calls (calls: %q)",
					split, st.consumed, len(splitStream), st.left, st.eofCalls, st.ins)
			}
			st.mu.Unlock()
		}
	}
}

// offered returns how many bytes of its stream the server has offered st
// so far: those consumed and those kept; 0 for no connection yet.
func (st *lineConn) offered() int {
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.consumed + len(st.left)
}

// Byte by byte, each byte a call of its own: every call offers what was
// kept plus the new byte. Once all is consumed, nothing is kept: a resume
// offers no bytes, and the next bytes come alone.
func TestStreamKeptInputByteByByte(t *testing.T) {
	const again = "echo again\n"
	p := newLineProto(t)
	p.expect = []byte(splitStream + again)
	_, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Loops = 1 })
	c := dial(t, addr)
	var st *lineConn
	for k := range len(splitStream) {
		write(t, c, []byte{splitStream[k]})
		st = p.conn(t, c, fmt.Sprintf("byte %d offered", k), func(st *lineConn) bool { return st.calls == k+1 })
	}
	expectBytes(t, c, splitReply)
	calls, ins := st.snapshot()
	// A byte completing a line is consumed with it; every other call
	// leaves its input for the next.
	for i, in := range ins {
		if want := splitStream[consumedBefore(i) : i+1]; in != want {
			t.Fatalf("call %d: in = %q, want %q", i, in, want)
		}
	}

	// Nothing is kept now: a resume offers nothing (it may call
	// ServeStream, with nothing). The witness timer is posted after the
	// resume, so it runs on the loop after it.
	st.c.ResumeReading()
	witness := make(chan []string, 1)
	st.c.AfterFunc(0, func() {
		_, ins := st.snapshot()
		witness <- ins
	})
	select {
	case ins := <-witness:
		for _, in := range ins[calls:] {
			if in != "" {
				t.Fatalf("a resume with nothing kept offered %q", in)
			}
		}
	case <-deadline():
		t.Fatal("the witness timer never ran")
	}
	write(t, c, []byte(again))
	expectBytes(t, c, "again\n")
	if _, ins := st.snapshot(); ins[len(ins)-1] != again {
		t.Fatalf("after all was consumed, the next call's in = %q, want %q", ins[len(ins)-1], again)
	}
	c.Close()
	closes.nextIs(t, nil)
}

// consumedBefore returns how much of splitStream lineProto has consumed
// once offered its first i bytes: every line up to its '\n', and every
// body byte at once.
func consumedBefore(i int) int {
	start, body := 0, 0
	for j := range i {
		switch {
		case body > 0:
			body--
			start = j + 1
		case splitStream[j] == '\n':
			if n, ok := strings.CutPrefix(splitStream[start:j], "put "); ok {
				body, _ = strconv.Atoi(n)
			}
			start = j + 1
		}
	}
	return start
}

// A complete request, a partial one, then the client's FIN: the last call
// has eof set and exactly the partial request; the complete one is
// answered; the server closes; CloseStream and OnClose get nil, in that
// order, once each.
func TestStreamEOF(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		req     string
		kept    string
	}{
		{"loop", 0, "echo one\npart", "part"},
		{"worker", 2, "echo one\npart", "part"},
		{"nothing kept", 0, "echo one\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newLineProto(t)
			p.offloadEcho = tc.workers > 0
			srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = tc.workers })
			c := dial(t, addr)
			write(t, c, []byte(tc.req))
			if err := c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			expectBytes(t, br, "one\n")
			expectEOF(t, br)
			closes.nextIs(t, nil)
			st := p.conn(t, c, "the close", nil)
			st.mu.Lock()
			defer st.mu.Unlock()
			if st.eofCalls != 1 || string(st.eofIn) != tc.kept || st.late != 0 {
				t.Fatalf("%d eof calls, the last with %q, %d calls after it (calls: %q); want 1 with %q, none after",
					st.eofCalls, st.eofIn, st.late, st.ins, tc.kept)
			}
			if st.ins[len(st.ins)-1] != tc.kept {
				t.Fatalf("the last call's in = %q, want %q", st.ins[len(st.ins)-1], tc.kept)
			}
			if st.closes != 1 || st.closeErr != nil || st.onCloses != 1 {
				t.Fatalf("CloseStream %d times (%v), OnClose %d times", st.closes, st.closeErr, st.onCloses)
			}
			if got := srv.Stats().Closed.Peer; got != 1 {
				t.Fatalf("Stats.Closed.Peer = %d, want 1", got)
			}
		})
	}
}

// Pipelined requests, each offloaded to one of 4 workers that sleeps a
// random while before replying: the replies come in request order, on
// every connection.
func TestStreamOffloadKeepsOrder(t *testing.T) {
	const conns, perConn = 4, 300
	p := newLineProto(t)
	p.cmds["slow"] = func(c *simpleserver.Conn, st *lineConn, arg string) {
		st.busy++
		c.Offload(func() {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			c.Write([]byte(arg + "\n"))
			p.idle(c, st)
		})
	}
	_, _, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 4 })
	runEach(t, conns, func(id int) error {
		var req, want []byte
		for i := range perConn {
			req = fmt.Appendf(req, "slow %d-%d\n", id, i)
			want = fmt.Appendf(want, "%d-%d\n", id, i)
		}
		c, err := send(addr, testDeadline, req)
		if err != nil {
			return err
		}
		defer c.Close()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("conn %d: %w", id, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("conn %d: replies out of order:\n%s", id, firstDiff(got, want))
		}
		return nil
	})
}

// firstDiff describes where got first differs from want.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-20)
	return fmt.Sprintf("at byte %d: got %q, want %q", i, got[from:min(len(got), i+40)], want[from:min(len(want), i+40)])
}

// Offload without workers panics with the message its documentation
// implies (Server.Workers must be positive).
func TestStreamOffloadWithoutWorkersPanics(t *testing.T) {
	const msg = "simpleserver: Conn.Offload needs Server.Workers > 0"
	p := newLineProto(t)
	p.cmds["offload"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		defer func() { fmt.Fprintf(c, "recovered: %v\n", recover()) }()
		c.Offload(func() { t.Error("an offloaded function ran without workers") })
	}
	_, _, addr := streamServer(t, p, nil)
	c := dial(t, addr)
	write(t, c, []byte("offload\necho after\n"))
	expectBytes(t, c, "recovered: "+msg+"\nafter\n")
}

// From a Handler, whose panics the server recovers, the panic closes the
// connection with ErrHandlerPanic, carrying the message.
func TestOffloadWithoutWorkersPanicsInHandler(t *testing.T) {
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			hello.Serve(c, msg)
			c.Offload(func() { t.Error("an offloaded function ran without workers") })
		})
	})
	addr := start(t, srv)
	c := dial(t, addr)
	write(t, c, frame("first"))
	expectReply(t, c, "first")
	expectEOF(t, c)
	err := closes.next(t)
	if !errors.Is(err, simpleserver.ErrHandlerPanic) || !strings.Contains(err.Error(), "Conn.Offload needs Server.Workers > 0") {
		t.Fatalf("close reason = %v, want ErrHandlerPanic with Offload's message", err)
	}
	if st := srv.Stats(); st.Closed.Panic != 1 || st.Open != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// An offloaded function that panics closes its connection only, with
// ErrHandlerPanic, after the replies before it; the functions offloaded
// after it still run, and find the connection closed.
func TestStreamOffloadedPanic(t *testing.T) {
	after := make(chan error, 1)
	p := newLineProto(t)
	p.offloadEcho = true
	p.cmds["panic"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Offload(func() { panic("offloaded boom") })
	}
	p.cmds["after"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Offload(func() {
			_, err := c.Write([]byte("after the panic\n"))
			after <- err
		})
	}
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 2 })
	other := dial(t, addr)
	c := dial(t, addr)
	write(t, c, []byte("echo before\npanic\nafter\n"))
	expectBytes(t, c, "before\n")
	expectEOF(t, c)
	if err := closes.next(t); !errors.Is(err, simpleserver.ErrHandlerPanic) || !strings.Contains(err.Error(), "offloaded boom") {
		t.Fatalf("close reason = %v, want ErrHandlerPanic with the panic's value", err)
	}
	select {
	case err := <-after:
		if !errors.Is(err, simpleserver.ErrConnClosed) {
			t.Fatalf("a write after the panic = %v, want ErrConnClosed", err)
		}
	case <-deadline():
		t.Fatal("the function offloaded after the panicking one never ran")
	}
	write(t, other, []byte("echo unaffected\n"))
	expectBytes(t, other, "unaffected\n")
	if st := srv.Stats(); st.Closed.Panic != 1 || st.Open != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// While paused, ServeStream is not called, though the client sends.
// ResumeReading, from another goroutine, offers the kept input again even
// with nothing new arrived, then reads on.
func TestStreamPauseAndResume(t *testing.T) {
	paused := make(chan *lineConn, 1)
	p := newLineProto(t)
	p.cmds["pause"] = func(c *simpleserver.Conn, st *lineConn, _ string) {
		c.PauseReading()
		st.stop = true // the rest of in stays kept
		paused <- st
	}
	// One loop: the witness connection's reply proves the loop has seen
	// the paused connection's bytes arrive.
	_, _, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Loops = 1 })
	c := dial(t, addr)
	witness := dial(t, addr)
	waitPaused := func() *lineConn {
		t.Helper()
		select {
		case st := <-paused:
			return st
		case <-deadline():
			t.Fatal("the pause request was not served")
			return nil
		}
	}
	// expectCalls checks the calls since the pause offered exactly ins.
	expectCalls := func(st *lineConn, since int, ins ...string) {
		t.Helper()
		_, got := st.snapshot()
		if !slices.Equal(got[since:], ins) {
			t.Fatalf("calls since the pause offered %q, want %q", got[since:], ins)
		}
	}

	// Kept input, nothing new: only the resume can get "abc" served.
	write(t, c, []byte("pause\necho abc\n"))
	st := waitPaused()
	calls, _ := st.snapshot()
	go st.c.ResumeReading()
	expectBytes(t, c, "abc\n")
	expectCalls(st, calls, "echo abc\n")

	// Kept input, and more arriving while paused.
	write(t, c, []byte("pause\necho xyz\n"))
	st = waitPaused()
	calls, _ = st.snapshot()
	write(t, c, []byte("echo def\n"))
	write(t, witness, []byte("echo witness\n"))
	expectBytes(t, witness, "witness\n")
	expectCalls(st, calls)
	go st.c.ResumeReading()
	expectBytes(t, c, "xyz\ndef\n")
	expectCalls(st, calls, "echo xyz\n", "echo def\n")
}

// The HTTP pattern: each request pauses reading and runs on a worker,
// which replies and resumes. Pipelined requests wait as kept input, are
// offered again at each resume, and are answered in order.
func TestStreamPausePerOffloadedRequest(t *testing.T) {
	const n = 200
	p := newLineProto(t)
	p.cmds["job"] = func(c *simpleserver.Conn, st *lineConn, arg string) {
		c.PauseReading()
		st.stop = true // the next request waits, kept, until the resume
		st.busy++
		c.Offload(func() {
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
			c.Write([]byte(arg + "\n"))
			p.idle(c, st)
			c.ResumeReading()
		})
	}
	_, _, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 2 })
	runEach(t, 3, func(id int) error {
		var req, want []byte
		for i := range n {
			req = fmt.Appendf(req, "job %d-%d\n", id, i)
			want = fmt.Appendf(want, "%d-%d\n", id, i)
		}
		c, err := send(addr, testDeadline, req)
		if err != nil {
			return err
		}
		defer c.Close()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("conn %d: %w", id, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("conn %d: %s", id, firstDiff(got, want))
		}
		return nil
	})
}

// With ReadTimeout set, the handler runs it per request: a request
// completed in time is served and its timer stopped; one left incomplete
// is closed with ErrReadTimeout after ReadTimeout; one whose body keeps
// coming has it restarted at each byte and outlives it many times over.
func TestStreamReadTimeoutControl(t *testing.T) {
	p := newLineProto(t)
	p.timeouts = true
	// One loop: the connections' read deadlines share one list, so the
	// incomplete request's timeout firing shows the completed one's
	// (earlier, had it not been stopped) is gone.
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) {
		s.Loops = 1
		s.ReadTimeout = timeoutUnderTest
	})
	done := dial(t, addr)
	write(t, done, []byte("echo in"))
	p.conn(t, done, "the first piece", func(st *lineConn) bool { return len(st.left) == len("echo in") })
	write(t, done, []byte(" time\n"))
	expectBytes(t, done, "in time\n")

	slow := dial(t, addr)
	began := time.Now()
	write(t, slow, []byte("echo never fin"))
	expectTimedOut(t, "an incomplete request", slow, began)
	closes.nextIs(t, simpleserver.ErrReadTimeout)
	write(t, done, []byte("echo still here\n"))
	expectBytes(t, done, "still here\n")

	body := dial(t, addr)
	const n = 12
	bodyStart := time.Now()
	write(t, body, []byte(fmt.Sprintf("put %d\n", n)))
	for i := range n {
		time.Sleep(timeoutUnderTest / 5) // pacing: each byte well inside the timeout
		write(t, body, []byte{byte('a' + i)})
	}
	expectBytes(t, body, "[abcdefghijkl]\n")
	if took := time.Since(bodyStart); took < 2*timeoutUnderTest {
		t.Fatalf("the body took %v, want more than twice the timeout %v", took, timeoutUnderTest)
	}
	if closes.count() != 1 {
		t.Fatalf("%d connections closed, want only the incomplete one", closes.count())
	}
	if st := srv.Stats(); st.Closed.ReadTimeout != 1 || st.Open != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

// Shutdown while an offloaded request runs: DrainStream is called once per
// connection; the handler closes the idle ones at once, the one with a
// body still arriving once the body is in (the server reads on), and the
// busy one after its reply, which arrives in full. Every close is
// ErrServerClosed, counted as Shutdown, and Shutdown returns nil.
func TestStreamDrainAtShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	big := pattern(0, 1<<20)
	p := newLineProto(t)
	p.cmds["block"] = func(c *simpleserver.Conn, st *lineConn, _ string) {
		st.busy++
		c.Offload(func() {
			close(started)
			<-release
			c.Writev(big, []byte("\n"))
			p.idle(c, st)
		})
	}
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 2 })
	idle := []net.Conn{dial(t, addr), dial(t, addr)}
	for i, c := range idle {
		write(t, c, []byte(fmt.Sprintf("echo idle %d\n", i)))
		expectBytes(t, c, fmt.Sprintf("idle %d\n", i))
	}
	body := dial(t, addr)
	write(t, body, []byte("put 6\nabc"))
	expectBytes(t, body, "[abc")
	busy := dial(t, addr)
	write(t, busy, []byte("block\n"))
	select {
	case <-started:
	case <-deadline():
		t.Fatal("the blocking request never ran")
	}

	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	p.waitDrains(t, 4)
	for _, c := range idle {
		expectEOF(t, c)
		c.Close()
	}
	closes.wait(t, 2)
	// The body's connection is read on: its request completes, then it
	// closes.
	write(t, body, []byte("def"))
	br := bufio.NewReader(body)
	expectBytes(t, br, "def]\n")
	expectEOF(t, br)
	body.Close()
	closes.wait(t, 3)
	if st := p.conn(t, busy, "busy", nil); st.snapshotCloses() != 0 {
		t.Fatal("the busy connection closed before its reply")
	}
	close(release)
	br = bufio.NewReader(busy)
	if got := readN(t, br, len(big)+1); !bytes.Equal(got, append(big, '\n')) {
		t.Fatalf("the busy connection's reply:\n%s", firstDiff(got, append(big, '\n')))
	}
	expectEOF(t, br)
	busy.Close()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
	case <-deadline():
		t.Fatal("Shutdown did not return")
	}
	if n, last := closes.matching(func(err error) bool { return err != simpleserver.ErrServerClosed }); n != 0 {
		t.Fatalf("%d closes were not ErrServerClosed, one was %v", n, last)
	}
	for _, c := range append(idle, body, busy) {
		st := p.conn(t, c, "the drain", nil)
		st.mu.Lock()
		drains := st.drains
		st.mu.Unlock()
		if drains != 1 {
			t.Errorf("%s: DrainStream called %d times, want 1", st.addr, drains)
		}
	}
	if st := srv.Stats(); st.Closed.Shutdown != 4 || st.Open != 0 || st.Closed != (simpleserver.ClosedStats{Shutdown: 4}) {
		t.Fatalf("stats: %+v", st)
	}
}

func (st *lineConn) snapshotCloses() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.closes
}

// A worker streams 64 MiB in 64 KiB writes, waiting for the output to
// drain between them, to a client that reads slowly at first, then fast:
// every byte arrives in order, the connection is never closed as a slow
// consumer although 64 MiB is four times MaxPendingBytes, and the queue
// never holds more than WriteHighWater and one write.
func TestStreamWaitDrain(t *testing.T) {
	const size, total = 64 << 10, 64 << 20
	base := pattern(0, size)
	type result struct {
		err            error
		maxQueued      int
		waits, written int
	}
	res := make(chan result, 1)
	p := newLineProto(t)
	p.cmds["stream"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Offload(func() {
			var r result
			b := make([]byte, size)
			for i := range total / size {
				if c.Buffered() >= simpleserver.DefaultWriteHighWater {
					r.waits++
				}
				if r.err = c.WaitDrain(); r.err != nil {
					break
				}
				if _, r.err = c.Write(chunk(b, base, i)); r.err != nil {
					break
				}
				r.written++
				r.maxQueued = max(r.maxQueued, c.Buffered())
			}
			res <- r
		})
	}
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 1 })
	c := dial(t, addr)
	write(t, c, []byte("stream\n"))
	// Slowly: 4 KiB every 2 ms for the first MiB, then as fast as it can.
	r := &slowReader{r: c, slow: 1 << 20, piece: 4 << 10, pause: 2 * time.Millisecond}
	got, want := make([]byte, size), make([]byte, size)
	for i := range total / size {
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if !bytes.Equal(got, chunk(want, base, i)) {
			t.Fatalf("chunk %d:\n%s", i, firstDiff(got, want))
		}
	}
	var w result
	select {
	case w = <-res:
	case <-deadline():
		t.Fatal("the writer did not finish")
	}
	if w.err != nil || w.written != total/size {
		t.Fatalf("the writer wrote %d chunks, then: %v", w.written, w.err)
	}
	if limit := simpleserver.DefaultWriteHighWater + size; w.maxQueued > limit {
		t.Fatalf("the writer saw %d bytes queued, more than high water and one write (%d)", w.maxQueued, limit)
	}
	if w.waits == 0 {
		t.Fatal("the writer never found the output at high water: WaitDrain was not put to the test")
	}
	t.Logf("the writer waited %d times, saw at most %d bytes queued", w.waits, w.maxQueued)
	c.Close()
	closes.nextIs(t, nil)
	if st := srv.Stats(); st.Closed.SlowConsumer != 0 || st.BytesOut != total || st.BytesQueued != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// slowReader reads from r in pieces of at most piece bytes, pausing before
// each, until slow bytes have been read; then it reads at full speed.
type slowReader struct {
	r           io.Reader
	slow, piece int
	pause       time.Duration
	n           int
}

func (s *slowReader) Read(b []byte) (int, error) {
	if s.n < s.slow {
		time.Sleep(s.pause)
		b = b[:min(len(b), s.piece)]
	}
	n, err := s.r.Read(b)
	s.n += n
	return n, err
}

// A writer waiting in WaitDrain for a client that does not read learns
// promptly, with ErrConnClosed, that the client reset the connection.
func TestStreamWaitDrainReset(t *testing.T) {
	waiting := make(chan struct{})
	res := make(chan error, 1)
	p := newLineProto(t)
	p.cmds["stream"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Offload(func() {
			b := make([]byte, 64<<10)
			waited := false
			for {
				if c.Buffered() >= simpleserver.DefaultWriteHighWater {
					if !waited {
						waited = true
						close(waiting)
					}
					err := c.WaitDrain()
					if err != nil || c.Buffered() <= simpleserver.DefaultWriteLowWater {
						res <- err
						return
					}
					// The loop wrote some between the check and the
					// wait, under high water again: WaitDrain did not
					// wait. Fill up and wait again.
					continue
				}
				if _, err := c.Write(b); err != nil {
					if waited {
						res <- err // the reset came while filling up again
					} else {
						res <- fmt.Errorf("write before the wait: %w", err)
					}
					return
				}
			}
		})
	}
	// Small socket buffers: the kernel can not take the queued output
	// off the server's hands, so only the reset ends the wait.
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) {
		s.Workers = 1
		s.WriteBuffer = 64 << 10
	})
	c := dialSmall(t, addr)
	write(t, c, []byte("stream\n"))
	select {
	case <-waiting:
	case <-deadline():
		t.Fatal("the writer never reached high water")
	}
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	c.Close() // a reset
	reset := time.Now()
	select {
	case err := <-res:
		if !errors.Is(err, simpleserver.ErrConnClosed) {
			t.Fatalf("WaitDrain = %v, want ErrConnClosed", err)
		}
		if took := time.Since(reset); took > replyWait {
			t.Fatalf("WaitDrain returned %v after the reset", took)
		}
	case <-deadline():
		t.Fatal("WaitDrain still waits after the client's reset")
	}
	if err := closes.next(t); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("close reason = %v, want a reset", err)
	}
	if st := srv.Stats(); st.Closed.Error != 1 || st.Closed.SlowConsumer != 0 || st.Open != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// With the watermarks off, WaitDrain returns at once, however much is
// queued; once the connection has closed, it returns ErrConnClosed.
func TestStreamWaitDrainWatermarksOff(t *testing.T) {
	big := pattern(0, 4<<20)
	res := make(chan [2]error, 1)
	p := newLineProto(t)
	p.cmds["big"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Offload(func() {
			c.Write(big)
			res <- [2]error{c.WaitDrain(), nil}
		})
	}
	p.cmds["bye"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Close()
		c.Offload(func() { res <- [2]error{nil, c.WaitDrain()} })
	}
	_, closes, addr := streamServer(t, p, func(s *simpleserver.Server) {
		s.Workers = 1
		s.WriteHighWater = -1
		s.WriteBuffer = 64 << 10
	})
	c := dialSmall(t, addr)
	write(t, c, []byte("big\n"))
	select {
	case r := <-res:
		if r[0] != nil {
			t.Fatalf("WaitDrain = %v, want nil at once", r[0])
		}
	case <-deadline():
		t.Fatal("WaitDrain waited with the watermarks off")
	}
	if got := readN(t, c, len(big)); !bytes.Equal(got, big) {
		t.Fatalf("the large write:\n%s", firstDiff(got, big))
	}
	write(t, c, []byte("bye\n"))
	select {
	case r := <-res:
		if r[1] != simpleserver.ErrConnClosed {
			t.Fatalf("WaitDrain after Close = %v, want ErrConnClosed", r[1])
		}
	case <-deadline():
		t.Fatal("WaitDrain after Close did not return")
	}
	expectEOF(t, c)
	closes.nextIs(t, nil)
}

// detached is what an offloaded Detach returned.
type detached struct {
	nc   net.Conn
	kept []byte
	err  error
}

// detachProto is lineProto with a "detach" request: it pauses reading
// (what follows the request stays kept), and a worker writes pre, then
// detaches and hands the result to the test.
func detachProto(t *testing.T, pre []byte) (*lineProto, chan detached) {
	out := make(chan detached, 1)
	p := newLineProto(t)
	p.cmds["detach"] = func(c *simpleserver.Conn, st *lineConn, _ string) {
		c.PauseReading()
		st.stop = true
		c.Offload(func() {
			if len(pre) > 0 {
				c.Write(pre)
			}
			nc, kept, err := c.Detach()
			out <- detached{nc, kept, err}
		})
	}
	return p, out
}

// Detach hands the socket over as a net.Conn, with the input the protocol
// left as kept, after the output queued before it (more than the kernel
// holds, so Detach has to wait for it). The connection is closed for the
// server (ErrDetached, Stats.Closed.Detached, Open 0) while the net.Conn
// works on, with blocking reads, writes and deadlines, and no descriptor
// leaks.
func TestStreamDetach(t *testing.T) {
	warmUp(t)
	pre := pattern(0, 2<<20)
	p, out := detachProto(t, pre)
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) {
		s.Workers = 1
		s.WriteBuffer = 64 << 10
	})
	base := openFDs(t)
	c := dialSmall(t, addr)
	write(t, c, []byte("detach\nEXTRA BYTES"))
	br := bufio.NewReader(c)
	if got := readN(t, br, len(pre)); !bytes.Equal(got, pre) {
		t.Fatalf("output queued before Detach:\n%s", firstDiff(got, pre))
	}
	var d detached
	select {
	case d = <-out:
	case <-deadline():
		t.Fatal("Detach did not return")
	}
	if d.err != nil {
		t.Fatalf("Detach = %v", d.err)
	}
	nc := d.nc
	defer nc.Close()
	if string(d.kept) != "EXTRA BYTES" {
		t.Fatalf("kept = %q, want %q", d.kept, "EXTRA BYTES")
	}
	closes.nextIs(t, simpleserver.ErrDetached)
	st := p.conn(t, c, "the close", nil)
	st.mu.Lock()
	closeErr, calls := st.closeErr, st.calls
	st.mu.Unlock()
	if closeErr != simpleserver.ErrDetached {
		t.Fatalf("CloseStream got %v, want ErrDetached", closeErr)
	}
	if s := srv.Stats(); s.Closed != (simpleserver.ClosedStats{Detached: 1}) || s.Open != 0 {
		t.Fatalf("stats after Detach: %+v", s)
	}
	// The client and the net.Conn: the server's own descriptor is gone.
	if added := waitNewFDs(t, base, 2); len(added) != 2 {
		t.Fatalf("descriptors opened and still open while detached: %v, want 2 (the client and the net.Conn)", added)
	}

	// The net.Conn's bytes come after everything c wrote.
	nc.SetDeadline(time.Now().Add(testDeadline))
	if _, err := nc.Write([]byte("on the net.Conn\n")); err != nil {
		t.Fatal(err)
	}
	expectBytes(t, br, "on the net.Conn\n")
	write(t, c, []byte("to the net.Conn\n"))
	expectBytes(t, nc, "to the net.Conn\n")

	// A deadline in the past wakes a Read blocked with none.
	nc.SetReadDeadline(time.Time{})
	readErr := make(chan error, 1)
	go func() {
		_, err := nc.Read(make([]byte, 1))
		readErr <- err
	}()
	wake := time.AfterFunc(50*time.Millisecond, func() { nc.SetReadDeadline(time.Now().Add(-time.Second)) })
	defer wake.Stop()
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("blocked Read = %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(replyWait):
		t.Fatal("a deadline in the past did not wake the blocked Read")
	}
	// And the net.Conn reads on once the deadline is lifted.
	nc.SetReadDeadline(time.Now().Add(testDeadline))
	write(t, c, []byte("after the deadline\n"))
	expectBytes(t, nc, "after the deadline\n")

	if s := srv.Stats(); s.Open != 0 || s.Closed != (simpleserver.ClosedStats{Detached: 1}) {
		t.Fatalf("stats while the net.Conn works: %+v", s)
	}
	if n, _ := st.snapshot(); n != calls {
		t.Fatalf("the server served %d more calls after Detach", n-calls)
	}
	nc.Close()
	expectEOF(t, br)
	c.Close()
	if leaked := waitNewFDs(t, base, 0); len(leaked) != 0 {
		t.Fatalf("descriptors left open after both ends closed: %v", leaked)
	}
}

// A Detach with nothing queued and nothing kept hands over at once: kept
// is empty.
func TestStreamDetachNothingKept(t *testing.T) {
	p, out := detachProto(t, nil)
	_, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 1 })
	c := dial(t, addr)
	write(t, c, []byte("detach\n"))
	var d detached
	select {
	case d = <-out:
	case <-deadline():
		t.Fatal("Detach did not return")
	}
	if d.err != nil || len(d.kept) != 0 {
		t.Fatalf("Detach = kept %q, %v; want nothing kept, no error", d.kept, d.err)
	}
	defer d.nc.Close()
	closes.nextIs(t, simpleserver.ErrDetached)
	d.nc.SetDeadline(time.Now().Add(testDeadline))
	write(t, c, []byte("hi"))
	expectBytes(t, d.nc, "hi")
}

// validatingProto is lineProto with a StreamValidator that wants workers.
type validatingProto struct {
	*lineProto
	saw *simpleserver.Server
}

var errNeedsWorkers = errors.New("validatingProto needs Server.Workers > 0")

func (v *validatingProto) ValidateServer(s *simpleserver.Server) error {
	v.saw = s
	if s.Workers == 0 {
		return errNeedsWorkers
	}
	return nil
}

func TestStreamConfig(t *testing.T) {
	const both = "Server.Stream is set together with Handler or Codec"
	for _, tc := range []struct {
		name string
		srv  *simpleserver.Server
	}{
		{"with Handler", &simpleserver.Server{Stream: newLineProto(t), Handler: hello.Handler}},
		{"with Codec", &simpleserver.Server{Stream: newLineProto(t), Codec: hello.Codec(0)}},
		{"with both", &simpleserver.Server{Stream: newLineProto(t), Handler: hello.Handler, Codec: hello.Codec(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			err = tc.srv.Start(ln)
			if err == nil {
				tc.srv.Close()
				t.Fatalf("Start succeeded, want an error with %q", both)
			}
			if !strings.Contains(err.Error(), both) {
				t.Fatalf("Start = %q, want it to contain %q", err, both)
			}
			// A refused listener is closed, as with any bad configuration.
			if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept on the refused listener = %v, want net.ErrClosed", err)
			}
		})
	}
	t.Run("validator refuses", func(t *testing.T) {
		v := &validatingProto{lineProto: newLineProto(t)}
		srv := &simpleserver.Server{Stream: v, Addr: "127.0.0.1:0"}
		if err := srv.Start(nil); err != errNeedsWorkers {
			if err == nil {
				srv.Close()
			}
			t.Fatalf("Start = %v, want the validator's error", err)
		}
		if v.saw != srv {
			t.Fatalf("ValidateServer got %p, want the server %p", v.saw, srv)
		}
	})
	t.Run("validator accepts", func(t *testing.T) {
		v := &validatingProto{lineProto: newLineProto(t)}
		srv := &simpleserver.Server{Stream: v, Workers: 1, Logger: discardLogger()}
		c := dial(t, start(t, srv))
		write(t, c, []byte("echo validated\n"))
		expectBytes(t, c, "validated\n")
	})
	t.Run("Stream alone", func(t *testing.T) {
		srv := &simpleserver.Server{Stream: newLineProto(t), Logger: discardLogger()}
		c := dial(t, start(t, srv))
		write(t, c, []byte("echo no Handler needed\n"))
		expectBytes(t, c, "no Handler needed\n")
	})
}

// A WriteNotify of no bytes with nothing queued fires at once, on the
// connection's loop, whether asked for on the loop or on a worker.
func TestStreamWriteNotifyNothingQueued(t *testing.T) {
	type note struct {
		err   error
		g     uint64 // the goroutine it ran on
		loop  uint64 // the loop's, as ServeStream last saw it
		asked uint64 // the goroutine that asked
	}
	notes := make(chan note, 2)
	p := newLineProto(t)
	notify := func(c *simpleserver.Conn, st *lineConn) {
		asked := goid()
		if _, err := c.WriteNotify(func(_ *simpleserver.Conn, err error) {
			notes <- note{err: err, g: goid(), loop: st.loopGo.Load(), asked: asked}
			c.Write([]byte("notified\n"))
		}); err != nil {
			t.Errorf("WriteNotify = %v", err)
		}
	}
	p.cmds["notify"] = func(c *simpleserver.Conn, st *lineConn, _ string) { notify(c, st) }
	p.cmds["worker"] = func(c *simpleserver.Conn, st *lineConn, _ string) {
		c.Offload(func() { notify(c, st) })
	}
	_, _, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 1 })
	c := dial(t, addr)
	for _, req := range []string{"notify", "worker"} {
		write(t, c, []byte(req+"\n"))
		expectBytes(t, c, "notified\n")
		select {
		case n := <-notes:
			if n.err != nil || n.g != n.loop {
				t.Fatalf("%s: the callback got %v on goroutine %d, want nil on the loop's, %d", req, n.err, n.g, n.loop)
			}
			if req == "worker" && n.asked == n.loop {
				t.Fatal("the worker asked on the loop's goroutine")
			}
		case <-deadline():
			t.Fatalf("%s: no callback", req)
		}
	}
}

// A WriteNotify of no bytes after a large write to a client that does not
// read fires only once the large write is in the kernel: not while the
// client reads nothing, and when it fires the client has read almost all.
func TestStreamWriteNotifyAfterLargeWrite(t *testing.T) {
	big := pattern(0, 4<<20)
	var clientRead atomic.Int64
	fired := make(chan int64, 1)
	p := newLineProto(t)
	p.cmds["big"] = func(c *simpleserver.Conn, _ *lineConn, _ string) {
		c.Write(big)
		c.WriteNotify(func(_ *simpleserver.Conn, err error) {
			if err != nil {
				t.Errorf("WriteNotify's callback got %v", err)
			}
			fired <- clientRead.Load()
		})
	}
	srv, _, addr := streamServer(t, p, func(s *simpleserver.Server) { s.WriteBuffer = 64 << 10 })
	c := dialSmall(t, addr)
	write(t, c, []byte("big\n"))
	// Stalled: a flush left output queued, and nothing can move it on
	// until the client reads.
	if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.BytesQueued > 0 }); st.BytesQueued == 0 {
		t.Fatalf("the output never stalled: %+v", st)
	}
	select {
	case n := <-fired:
		t.Fatalf("the callback fired with output queued and %d bytes read by the client", n)
	default:
	}
	got := make([]byte, len(big))
	for off := 0; off < len(got); {
		n, err := c.Read(got[off:])
		off += n
		clientRead.Store(int64(off))
		if err != nil {
			t.Fatalf("after %d bytes: %v", off, err)
		}
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("the large write:\n%s", firstDiff(got, big))
	}
	select {
	case n := <-fired:
		// The kernel holds a few hundred KiB at most (64 KiB buffers on
		// both ends); the rest the client must have read first.
		if n < int64(len(big))-1<<20 {
			t.Fatalf("the callback fired when the client had read %d of %d bytes", n, len(big))
		}
	case <-deadline():
		t.Fatal("the callback never fired")
	}
}
