package simpleserver_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// testDeadline bounds every blocking step of a test.
const testDeadline = 20 * time.Second

// replyWait bounds a client's wait where a healthy server needs
// milliseconds. It is shorter than testDeadline, so a client stuck
// waiting reports exactly what it was waiting for before the test gives
// up on it.
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

// helloServer is a hello server with the given tweaks applied.
func helloServer(tweak func(*simpleserver.Server)) *simpleserver.Server {
	srv := &simpleserver.Server{Codec: hello.Codec(0), Handler: hello.Handler, Loops: 2}
	if tweak != nil {
		tweak(srv)
	}
	return srv
}

// connect dials addr and gives the connection wait, from now, for all it
// does. Any goroutine may call it.
func connect(addr string, wait time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(wait))
	return c, nil
}

// send connects to addr like connect and writes req. Any goroutine may
// call it.
func send(addr string, wait time.Duration, req []byte) (net.Conn, error) {
	c, err := connect(addr, wait)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dial connects to addr with testDeadline; the connection is closed when
// the test ends.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := connect(addr, testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(payload string) []byte { return hello.AppendRequest(nil, []byte(payload)) }

func reply(payload string) string { return hello.Prefix + payload }

// le32 is a hello header declaring n payload bytes.
func le32(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

// readN reads exactly n bytes.
func readN(t testing.TB, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// expectReply reads one hello reply and checks it is exactly for payload.
func expectReply(t testing.TB, r io.Reader, payload string) {
	t.Helper()
	if got := string(readN(t, r, hello.ReplyLen(len(payload)))); got != reply(payload) {
		t.Fatalf("reply = %q, want %q", trunc(got), trunc(reply(payload)))
	}
}

// readEOF reports an error unless the server closed the connection with
// nothing more to say.
func readEOF(r io.Reader) error {
	var b [1]byte
	if n, err := r.Read(b[:]); n != 0 || err != io.EOF {
		return fmt.Errorf("read = %d, %v; want 0, EOF", n, err)
	}
	return nil
}

// expectEOF checks the server closed the connection with nothing more to
// say.
func expectEOF(t testing.TB, r io.Reader) {
	t.Helper()
	if err := readEOF(r); err != nil {
		t.Fatal(err)
	}
}

// roundTrip sends one request and checks its reply. Any goroutine may
// call it.
func roundTrip(c net.Conn, payload string) error {
	if _, err := c.Write(frame(payload)); err != nil {
		return fmt.Errorf("request %q: %w", trunc(payload), err)
	}
	got := make([]byte, hello.ReplyLen(len(payload)))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reply to %q: %w", trunc(payload), err)
	}
	if string(got) != reply(payload) {
		return fmt.Errorf("reply = %q, want %q", trunc(string(got)), trunc(reply(payload)))
	}
	return nil
}

// expectRoundTrip sends one request and checks its reply.
func expectRoundTrip(t testing.TB, c net.Conn, payload string) {
	t.Helper()
	if err := roundTrip(c, payload); err != nil {
		t.Fatal(err)
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// requestPayload is request i of client id. It names both, so a reply for
// someone else's request can not pass.
func requestPayload(id, i int) string { return fmt.Sprintf("conn %d request %d", id, i) }

// pipelined is the n requests of client id, back to back.
func pipelined(id, n int) []byte {
	var req []byte
	for i := range n {
		req = hello.AppendRequest(req, []byte(requestPayload(id, i)))
	}
	return req
}

// readReplies reads the replies to client id's n requests and checks they
// come exactly and in order.
func readReplies(r io.Reader, id, n int) error {
	for i := range n {
		want := reply(requestPayload(id, i))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil {
			return fmt.Errorf("conn %d reply %d of %d: %w", id, i, n, err)
		}
		if string(got) != want {
			return fmt.Errorf("conn %d reply %d = %q, want %q", id, i, got, want)
		}
	}
	return nil
}

// readRepliesThenEOF reads and checks the replies to client id's n
// requests, then expects the server's close.
func readRepliesThenEOF(r io.Reader, id, n int) error {
	br := bufio.NewReader(r)
	if err := readReplies(br, id, n); err != nil {
		return err
	}
	if err := readEOF(br); err != nil {
		return fmt.Errorf("conn %d after its %d replies: %w", id, n, err)
	}
	return nil
}

// pipelineClient sends n requests on one connection in one write and
// verifies the n replies in order.
func pipelineClient(addr string, id, n int) error {
	c, err := send(addr, testDeadline, pipelined(id, n))
	if err != nil {
		return err
	}
	defer c.Close()
	return readReplies(bufio.NewReader(c), id, n)
}

// inParallel calls f(0), ..., f(n-1) from workers goroutines, each taking
// the next index, and returns once all calls have returned. A goroutine
// takes no more indexes once f returned false.
func inParallel(workers, n int, f func(i int) bool) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || !f(i) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// runEach runs client(0), ..., client(n-1) at once, each on its own
// goroutine, and once all have returned fails the test if any failed.
func runEach(t testing.TB, n int, client func(id int) error) {
	t.Helper()
	errs := make([]error, n)
	inParallel(n, n, func(id int) bool {
		errs[id] = client(id)
		return true
	})
	failed := 0
	for _, err := range errs {
		if err != nil {
			if failed++; failed <= 10 {
				t.Error(err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients failed", failed, n)
	}
}

// runClients runs conns pipelining clients of n requests each at once and
// fails the test if any fails.
func runClients(t testing.TB, addr string, conns, n int) {
	t.Helper()
	runEach(t, conns, func(id int) error { return pipelineClient(addr, id, n) })
}

// closedByServer reports whether err says the server closed the
// connection: a FIN (EOF) or, when it closed with bytes of ours unread, a
// reset.
func closedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
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

// waitStats returns srv's Stats once ready says they are, or after
// testDeadline.
func waitStats(srv *simpleserver.Server, ready func(simpleserver.Stats) bool) simpleserver.Stats {
	end := time.Now().Add(testDeadline)
	for {
		st := srv.Stats()
		if ready(st) || time.Now().After(end) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

// settledStats returns the Stats of srv, a server that writes one reply
// per message, once no output is queued and every message handled has its
// reply counted. A loop settles BytesQueued and MessagesOut (and adds to
// BytesOut) just after the write, so a client may hold a reply a moment
// before the counters say it left.
func settledStats(srv *simpleserver.Server) simpleserver.Stats {
	return waitStats(srv, func(st simpleserver.Stats) bool {
		return st.BytesQueued == 0 && st.MessagesOut == st.MessagesIn
	})
}

// servedStats is the Stats of a hello server that accepted conns
// connections, handled msgs requests carrying payload bytes in all,
// answered every one, and closed every connection as closed says.
func servedStats(conns, msgs, payload uint64, closed simpleserver.ClosedStats) simpleserver.Stats {
	return simpleserver.Stats{
		Accepted:    conns,
		Closed:      closed,
		BytesIn:     msgs*hello.HeaderLen + payload,
		BytesOut:    msgs*uint64(len(hello.Prefix)) + payload,
		MessagesIn:  msgs,
		MessagesOut: msgs,
	}
}

// deadline returns a channel that fires when a test step took too long.
func deadline() <-chan time.Time { return time.After(testDeadline) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// roundTripsMeanwhile makes round trips on conns, one after the other in
// turn, with payloads fmt.Sprintf(format, i), until the returned stop is
// called. stop returns how many were made, and the error that ended them
// early, if one did.
func roundTripsMeanwhile(conns []net.Conn, format string) (stop func() (int64, error)) {
	quit := make(chan struct{})
	done := make(chan error, 1)
	var trips atomic.Int64
	go func() {
		for i := 0; ; i++ {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			if err := roundTrip(conns[i%len(conns)], fmt.Sprintf(format, i)); err != nil {
				done <- err
				return
			}
			trips.Add(1)
		}
	}()
	return func() (int64, error) {
		close(quit)
		err := <-done // bounded: the connections have deadlines
		return trips.Load(), err
	}
}
