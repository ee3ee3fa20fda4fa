package simpleserver_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// Timeouts are checked against real time: the loop sleeps in epoll_wait
// until the nearest deadline, so a fake clock could not wake it. The
// bounds are therefore loose on the late side (a loaded CI machine may run
// the loop late) and tight only where lateness cannot help: never early.
const (
	timeoutUnderTest = 300 * time.Millisecond
	lateSlack        = 3 * time.Second
)

// expectTimedOut checks that the server closes c, what, with nothing more
// to say about timeoutUnderTest after began.
func expectTimedOut(t *testing.T, what string, c net.Conn, began time.Time) {
	t.Helper()
	expectEOF(t, c)
	elapsed := time.Since(began)
	if elapsed < timeoutUnderTest-20*time.Millisecond || elapsed > timeoutUnderTest+lateSlack {
		t.Fatalf("%s closed after %v, want about %v", what, elapsed, timeoutUnderTest)
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, closes := recordingServer(func(s *simpleserver.Server) { s.IdleTimeout = timeoutUnderTest })
	addr := start(t, srv)
	idle, busy := dial(t, addr), dial(t, addr)
	expectRoundTrip(t, idle, "then silence")
	began := time.Now()

	// The busy connection talks every 50 ms for three timeouts' worth:
	// activity keeps pushing its deadline back.
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		for i := range 18 {
			p := fmt.Sprint("tick ", i)
			if _, err := busy.Write(frame(p)); err != nil {
				t.Error(err)
				return
			}
			expectReply(t, busy, p)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	expectTimedOut(t, "idle connection", idle, began)
	closes.nextIs(t, simpleserver.ErrIdleTimeout)
	// Only the idle one went. The test ends after the busy one's last
	// reply, which its goroutine reads (the connection closes with the
	// test).
	select {
	case <-ticked:
	case <-time.After(testDeadline):
		t.Fatal("the busy connection's ticks did not finish")
	}
	if closes.count() > 1 {
		t.Fatalf("busy connection closed: %v", closes.next(t))
	}
	if st := srv.Stats(); st.Closed.Idle != 1 || st.Open != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// A handler running longer than the idle timeout does not make its
// connection idle.
func TestIdleTimeoutSparesBusyHandlers(t *testing.T) {
	srv := helloServer(func(s *simpleserver.Server) {
		s.IdleTimeout = 100 * time.Millisecond
		s.Workers = 1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			time.Sleep(400 * time.Millisecond)
			hello.Serve(c, msg)
		})
	})
	c := dial(t, start(t, srv))
	expectRoundTrip(t, c, "slow")
}

func TestReadTimeoutClosesSlowloris(t *testing.T) {
	srv, closes := recordingServer(func(s *simpleserver.Server) { s.ReadTimeout = timeoutUnderTest })
	addr := start(t, srv)
	slow, steady := dial(t, addr), dial(t, addr)
	// A whole frame, then half of the next: the timeout starts with the
	// incomplete frame.
	req := append(frame("complete"), frame("never finished")[:9]...)
	if _, err := slow.Write(req); err != nil {
		t.Fatal(err)
	}
	expectReply(t, slow, "complete")
	began := time.Now()
	// A connection that sends nothing is not reading anything slowly: the
	// read timeout does not apply to it (that is IdleTimeout's job).
	expectTimedOut(t, "slowloris", slow, began)
	closes.nextIs(t, simpleserver.ErrReadTimeout)
	expectRoundTrip(t, steady, "unaffected")
	if st := srv.Stats(); st.Closed.ReadTimeout != 1 || st.Open != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestWriteTimeoutClosesStuckOutput(t *testing.T) {
	big := bytes.Repeat([]byte("w"), 12<<20) // far more than loopback buffers hold
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.WriteTimeout = timeoutUnderTest
		s.WriteHighWater = -1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, _ []byte) { c.Write(big) })
	})
	c := dial(t, start(t, srv))
	if _, err := c.Write(frame("send me a lot, I won't read it")); err != nil {
		t.Fatal(err)
	}
	closes.nextIs(t, simpleserver.ErrWriteTimeout)
	st := srv.Stats()
	if st.Closed.WriteTimeout != 1 || st.Open != 0 || st.BytesQueued != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if st.BytesOut == 0 || st.BytesOut >= uint64(len(big)) {
		t.Fatalf("BytesOut = %d: want some but not all of %d written", st.BytesOut, len(big))
	}
}

func TestSlowConsumerCap(t *testing.T) {
	writeErr := make(chan error, 1)
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.MaxPendingBytes = 1 << 20
		s.WriteHighWater, s.WriteLowWater = 256<<10, 64<<10
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, _ []byte) {
			chunk := make([]byte, 64<<10)
			for range 32 { // 2 MiB, all queued before the loop flushes
				if _, err := c.Write(chunk); err != nil {
					writeErr <- err
					return
				}
			}
			writeErr <- nil
		})
	})
	c := dial(t, start(t, srv))
	if _, err := c.Write(frame("flood")); err != nil {
		t.Fatal(err)
	}
	if err := <-writeErr; !errors.Is(err, simpleserver.ErrSlowConsumer) {
		t.Fatalf("write past the cap = %v, want ErrSlowConsumer", err)
	}
	closes.nextIs(t, simpleserver.ErrSlowConsumer)
	if st := srv.Stats(); st.Closed.SlowConsumer != 1 || st.BytesQueued != 0 {
		t.Fatalf("stats: %+v", st)
	}
	// Nothing of the dropped output is sent: the close does not flush.
	c.SetReadDeadline(time.Now().Add(testDeadline))
	if n, err := io.Copy(io.Discard, c); err == nil && n != 0 {
		t.Fatalf("received %d bytes of dropped output", n)
	}
}

// A client pipelines 200,000 requests and does not read: the server stops
// reading it once its replies back up, holds no more than the cap for it,
// keeps serving others, and when the client reads, every reply arrives,
// in order.
func TestBackpressureHoldsAndResumes(t *testing.T) {
	const requests = 200000
	const high, low, cap = 256 << 10, 64 << 10, 2 << 20
	// The loop must never block in the callback, however often the
	// connection flips between paused and resumed while it drains.
	var mu sync.Mutex
	var flips []bool
	paused := make(chan bool, 1)
	srv := helloServer(func(s *simpleserver.Server) {
		s.WriteHighWater, s.WriteLowWater, s.MaxPendingBytes = high, low, cap
		s.OnBackpressure = func(_ *simpleserver.Conn, p bool) {
			mu.Lock()
			flips = append(flips, p)
			mu.Unlock()
			select {
			case paused <- p:
			default:
			}
		}
	})
	addr := start(t, srv)
	c := dial(t, addr)
	var reqs []byte
	for i := range requests {
		reqs = hello.AppendRequest(reqs, fmt.Appendf(nil, "%06d", i))
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(reqs) // blocks while the server is not reading
		wrote <- err
	}()
	select {
	case p := <-paused:
		if !p {
			t.Fatal("resumed before pausing")
		}
	case <-deadline():
		t.Fatal("the server never paused the non-reading client")
	}
	st := srv.Stats()
	if st.Paused != 1 {
		t.Errorf("Stats.Paused = %d while the one stalled client is paused, want 1", st.Paused)
	}
	if st.BytesQueued < high || st.BytesQueued > cap {
		t.Fatalf("queued %d bytes for the stalled client, want between %d and %d", st.BytesQueued, high, cap)
	}
	t.Logf("stalled: %d bytes queued (high water %d, cap %d), %d of %d requests read", st.BytesQueued, high, cap, st.MessagesIn, requests)
	// Others are served meanwhile.
	other := dial(t, addr)
	expectRoundTrip(t, other, "me too")
	if st := srv.Stats(); st.BytesQueued > cap {
		t.Fatalf("queued %d bytes, over the cap %d", st.BytesQueued, cap)
	}

	br := bufio.NewReaderSize(c, 64<<10)
	want := []byte(hello.Prefix + "000000")
	got := make([]byte, len(want))
	for i := range requests {
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		want = fmt.Appendf(want[:len(hello.Prefix)], "%06d", i)
		if !bytes.Equal(got, want) {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if st := waitStats(srv, func(st simpleserver.Stats) bool { return st.Paused == 0 }); st.Paused != 0 {
		t.Errorf("Stats.Paused = %d once the client has read everything, want 0", st.Paused)
	}
	st = srv.Stats()
	if st.Closed.SlowConsumer != 0 || st.MessagesIn != requests+1 {
		t.Fatalf("stats: %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range flips {
		if p != (i%2 == 0) {
			t.Fatalf("OnBackpressure reported %v: pauses and resumes must alternate, starting with a pause", flips)
		}
	}
	if len(flips)%2 != 0 {
		t.Fatalf("OnBackpressure reported %v: the last pause was never resumed", flips)
	}
}

func TestMaxConns(t *testing.T) {
	srv := helloServer(func(s *simpleserver.Server) { s.MaxConns = 5 })
	addr := start(t, srv)
	var held []net.Conn
	for i := range 5 {
		c := dial(t, addr)
		expectRoundTrip(t, c, fmt.Sprint("conn ", i))
		held = append(held, c)
	}
	extra := dial(t, addr)
	extra.Write(frame("no room"))
	if n, err := extra.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("connection over MaxConns: read %d, %v; want it closed", n, err)
	}
	if st := srv.Stats(); st.Closed.Limit != 1 || st.Accepted != 6 || st.Open != 5 {
		t.Fatalf("stats: %+v", st)
	}
	held[0].Close()
	// The server sees the close asynchronously; retry until a slot is
	// free, within the deadline.
	for end := time.Now().Add(testDeadline); ; {
		c := dial(t, addr)
		c.Write(frame("room now"))
		got := make([]byte, hello.ReplyLen(len("room now")))
		if _, err := io.ReadFull(c, got); err == nil {
			if string(got) != reply("room now") {
				t.Fatalf("reply %q", got)
			}
			break
		}
		if time.Now().After(end) {
			t.Fatal("no slot freed after a close")
		}
	}
}

// AfterFunc runs on the loop in deadline order; a stopped timer never
// runs; a timer of a closed connection never runs.
func TestConnAfterFunc(t *testing.T) {
	var stopped *simpleserver.Timer
	armed := make(chan struct{})
	lateDue := make(chan struct{})
	srv := helloServer(func(s *simpleserver.Server) {
		s.Loops = 1 // the timers below must share one loop's heap
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			switch string(msg) {
			case "arm":
				for _, d := range []int{60, 20, 40} {
					c.AfterFunc(time.Duration(d)*time.Millisecond, func() { fmt.Fprintf(c, "%d;", d) })
				}
				stopped = c.AfterFunc(30*time.Millisecond, func() { c.Write([]byte("stopped timer ran;")) })
				close(armed)
			case "close":
				c.AfterFunc(10*time.Millisecond, func() { t.Error("timer of a closed connection ran") })
				c.Close()
			case "witness":
				// Due after the closed connection's timer, on the same
				// loop: once it runs, that one has had its turn.
				c.AfterFunc(50*time.Millisecond, func() { close(lateDue) })
			}
		})
	})
	addr := start(t, srv)
	c := dial(t, addr)
	if _, err := c.Write(frame("arm")); err != nil {
		t.Fatal(err)
	}
	<-armed
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true once, then false")
	}
	if got := string(readN(t, c, len("20;40;60;"))); got != "20;40;60;" {
		t.Fatalf("timers ran as %q, want 20;40;60;", got)
	}
	if _, err := c.Write(frame("close")); err != nil {
		t.Fatal(err)
	}
	expectEOF(t, c)
	w := dial(t, addr)
	if _, err := w.Write(frame("witness")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lateDue:
	case <-deadline():
		t.Fatal("witness timer never ran")
	}
}
