package simpleserver_test

// Hostile clients, end to end over loopback. The promise under test:
// nothing a client does can crash the server or harm another client, and
// every accepted request gets exactly one reply, in order, unless its
// connection dies.
//
// Every wait is bounded: connections carry testDeadline, and every wait
// for the server is a select on a signal and deadline(). Where real time
// is what is being tested (timeouts, latency) the bounds are generous and
// say why.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// hstCloses is an OnClose that records every close: how many, and the
// reason by the peer's address (the client's LocalAddr), unless it counts
// only.
type hstCloses struct {
	mu      sync.Mutex
	reasons map[string]error // nil: count only
	n       int
	nonNil  int
	first   time.Time // when the first close was reported
	changed chan struct{}
}

func newHstCloses(countOnly bool) *hstCloses {
	h := &hstCloses{changed: make(chan struct{}, 1)}
	if !countOnly {
		h.reasons = make(map[string]error)
	}
	return h
}

func (h *hstCloses) onClose(c *simpleserver.Conn, err error) {
	h.mu.Lock()
	if h.reasons != nil {
		h.reasons[c.RemoteAddr().String()] = err
	}
	if h.n == 0 {
		h.first = time.Now()
	}
	h.n++
	if err != nil {
		h.nonNil++
	}
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *hstCloses) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// errors returns how many connections closed with a non-nil reason.
func (h *hstCloses) errors() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nonNil
}

// reason returns the close reason of the connection whose client side
// is at addr, and whether it closed.
func (h *hstCloses) reason(addr string) (error, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	err, ok := h.reasons[addr]
	return err, ok
}

// wait waits until at least n connections have closed.
func (h *hstCloses) wait(t testing.TB, n int) {
	t.Helper()
	timeout := deadline()
	for h.count() < n {
		select {
		case <-h.changed:
		case <-timeout:
			t.Fatalf("the server closed %d of %d connections", h.count(), n)
		}
	}
}

// hstRoundTrip sends one request and checks its reply.
func hstRoundTrip(c net.Conn, payload string) error {
	if _, err := c.Write(frame(payload)); err != nil {
		return fmt.Errorf("request %q: %w", payload, err)
	}
	got := make([]byte, hello.ReplyLen(len(payload)))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reply to %q: %w", payload, err)
	}
	if string(got) != reply(payload) {
		return fmt.Errorf("reply = %q, want %q", got, reply(payload))
	}
	return nil
}

// hstClosedByServer reports whether err says the server closed the
// connection: a FIN, or a reset when it closed with bytes of ours unread.
func hstClosedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// hstCountFDs returns how many descriptors this process has open
// (ReadDir's own included, every time).
func hstCountFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// hstWaitFDs waits for the descriptor count to come back to want: a
// client socket is closed when Close returns, but the server closes its
// side on its loop, a moment after the client saw the reply.
func hstWaitFDs(t testing.TB, want int) int {
	t.Helper()
	end := time.Now().Add(testDeadline)
	n := hstCountFDs(t)
	for n != want && time.Now().Before(end) {
		time.Sleep(5 * time.Millisecond)
		n = hstCountFDs(t)
	}
	return n
}

// hstSettled returns srv's Stats once no output is queued. A loop
// subtracts what it wrote from BytesQueued (and adds it to BytesOut) just
// after the write, so a client may hold a reply a moment before the
// counters say it left.
func hstSettled(srv *simpleserver.Server) simpleserver.Stats {
	return hstWaitStats(srv, func(st simpleserver.Stats) bool { return st.BytesQueued == 0 })
}

// hstWaitStats returns srv's Stats once ready says they are, or after
// testDeadline.
func hstWaitStats(srv *simpleserver.Server, ready func(simpleserver.Stats) bool) simpleserver.Stats {
	end := time.Now().Add(testDeadline)
	for {
		st := srv.Stats()
		if ready(st) || time.Now().After(end) {
			return st
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHostileHugeDeclaredLength: 100 connections declare a 2^32-1 byte
// request (half send the header with 1000 bytes of payload in one write,
// half send the header one byte at a time). Each is closed with a
// *ProtocolError wrapping codec.ErrFrameTooLarge as soon as its header is
// complete, gets no reply, and the server never allocates for the
// declared length: across all 100 the whole process allocates far less
// than one such frame (4 GiB).
func TestHostileHugeDeclaredLength(t *testing.T) {
	const conns = 100
	const allocBound = 64 << 20
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	good := dial(t, addr)
	if err := hstRoundTrip(good, "before"); err != nil {
		t.Fatal(err)
	}
	bytesIn := uint64(len(frame("before")))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hdr := le32(math.MaxUint32)
	var addrs []string
	for i := range conns {
		c := dial(t, addr)
		addrs = append(addrs, c.LocalAddr().String())
		if i%2 == 0 {
			req := append(slices.Clone(hdr), bytes.Repeat([]byte("x"), 1000)...)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			bytesIn += uint64(len(req))
		} else {
			for _, b := range hdr {
				if _, err := c.Write([]byte{b}); err != nil {
					t.Fatal(err)
				}
			}
			bytesIn += uint64(len(hdr))
		}
		expectEOF(t, c)
		c.Close()
	}
	closes.wait(t, conns)
	runtime.ReadMemStats(&after)
	total := after.TotalAlloc - before.TotalAlloc
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d connections declaring %d bytes: the process allocated %.1f MiB in all, heap grew by %.1f MiB",
		conns, uint32(math.MaxUint32), float64(total)/(1<<20), float64(heap)/(1<<20))
	if total >= allocBound || heap >= allocBound {
		t.Errorf("allocated %d bytes (heap grew %d) for %d oversized declarations; want < %d", total, heap, conns, allocBound)
	}
	for i, a := range addrs {
		err, ok := closes.reason(a)
		var perr *simpleserver.ProtocolError
		if !ok || !errors.As(err, &perr) || !errors.Is(err, codec.ErrFrameTooLarge) {
			t.Errorf("connection %d: close reason %v (closed %v), want a *ProtocolError wrapping ErrFrameTooLarge", i, err, ok)
		}
	}
	st := hstSettled(srv)
	if st.Closed.Protocol != conns || st.Open != 1 || st.MessagesIn != 1 || st.BytesIn != bytesIn || st.BytesQueued != 0 {
		t.Errorf("stats = %+v; want %d protocol closes, 1 open, 1 message, %d bytes in", st, conns, bytesIn)
	}
	if err := hstRoundTrip(good, "after"); err != nil {
		t.Fatal(err)
	}
}

// hstExpect is what the server must do with one byte stream that is
// followed by the client's EOF, by the protocol's rules.
type hstExpect struct {
	replies  []byte // every reply, in order
	msgs     int    // requests handled
	protocol bool   // closed with a protocol error (else orderly)
	closeReq bool   // closed on a zero-length request
	partial  bool   // the stream ended inside a frame
	early    bool   // the server stops before the end of the stream
}

// hstModel runs the hello protocol over stream: frames are answered in
// order until a length over maxFrame (a protocol error), a zero length (a
// close request), or the end of the stream (EOF; a partial frame is
// dropped).
func hstModel(stream []byte, maxFrame int) hstExpect {
	var e hstExpect
	for len(stream) >= hello.HeaderLen {
		n := binary.LittleEndian.Uint32(stream)
		switch {
		case uint64(n) > uint64(maxFrame):
			e.protocol = true
		case n == 0:
			e.closeReq = true
		case len(stream)-hello.HeaderLen < int(n):
			e.partial = true
			return e
		default:
			e.replies = append(e.replies, hello.Prefix...)
			e.replies = append(e.replies, stream[hello.HeaderLen:hello.HeaderLen+int(n)]...)
			e.msgs++
			stream = stream[hello.HeaderLen+int(n):]
			continue
		}
		e.early = len(stream) > hello.HeaderLen
		return e
	}
	e.partial = len(stream) > 0
	return e
}

// hstGarbage returns one connection's worth of hostile bytes: a third are
// pure noise, the rest a random mix of valid requests, noise, plausible
// lengths the rest of the stream may or may not fill, lengths over the
// limit and close requests.
func hstGarbage(r *rand.Rand, maxFrame int) []byte {
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	if r.IntN(3) == 0 {
		return noise(1 + r.IntN(2048))
	}
	var b []byte
	for range 1 + r.IntN(16) {
		switch k := r.IntN(20); {
		case k < 10:
			b = hello.AppendRequest(b, noise(1+r.IntN(300)))
		case k < 14:
			b = append(b, noise(1+r.IntN(32))...)
		case k < 17:
			b = binary.LittleEndian.AppendUint32(b, uint32(1+r.IntN(4096)))
		case k < 19:
			b = binary.LittleEndian.AppendUint32(b, uint32(maxFrame)+1+r.Uint32N(math.MaxUint32-uint32(maxFrame)))
		default:
			b = binary.LittleEndian.AppendUint32(b, 0)
		}
	}
	return b
}

// hstGarbageClient sends stream in one write, shuts its sending side and
// reads until the server closes; what it read must be exactly the
// model's replies. The close must be a FIN, unless the server stopped
// before the end of the stream, when bytes it never read make its close a
// reset. It reports whether it saw a reset.
func hstGarbageClient(addr string, stream []byte, want hstExpect) (reset bool, err error) {
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		return false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testDeadline))
	if _, err := c.Write(stream); err != nil && !(want.early && hstClosedByServer(err)) {
		return false, fmt.Errorf("write: %w", err)
	}
	c.(*net.TCPConn).CloseWrite() // fails only if the server reset us already
	got, err := io.ReadAll(c)
	switch {
	case err == nil:
	case want.early && errors.Is(err, syscall.ECONNRESET):
		reset = true
	default:
		return false, fmt.Errorf("after %d reply bytes: %w", len(got), err)
	}
	if !bytes.Equal(got, want.replies) {
		return reset, fmt.Errorf("got %d reply bytes, want %d:\n got %q\nwant %q", len(got), len(want.replies), trunc(string(got)), trunc(string(want.replies)))
	}
	return reset, nil
}

// TestHostileRandomGarbage: 200 connections of random bytes (fixed seed),
// 20 at a time, while a well-behaved client makes round trips all along.
// Each garbage connection gets exactly what the protocol says, replies
// for the well-formed frames before the first bad length, close request
// or EOF, in order, then the close; the server counts each close under
// the right reason; the good client is answered correctly throughout.
func TestHostileRandomGarbage(t *testing.T) {
	for _, workers := range []int{0, 4} {
		t.Run(fmt.Sprintf("Workers=%d", workers), func(t *testing.T) { testHostileGarbage(t, workers) })
	}
}

func testHostileGarbage(t *testing.T, workers int) {
	const conns, parallel = 200, 20
	const maxFrame = hello.DefaultMaxFrame
	rng := rand.New(rand.NewPCG(0x5eed, uint64(workers)))
	streams := make([][]byte, conns)
	wants := make([]hstExpect, conns)
	for i := range streams {
		streams[i] = hstGarbage(rng, maxFrame)
		wants[i] = hstModel(streams[i], maxFrame)
	}
	closes := newHstCloses(true)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = workers
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)

	good := dial(t, addr)
	stop := make(chan struct{})
	goodDone := make(chan error, 1)
	var goodTrips atomic.Int64
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				goodDone <- nil
				return
			default:
			}
			if err := hstRoundTrip(good, fmt.Sprintf("good %d", i)); err != nil {
				goodDone <- err
				return
			}
			goodTrips.Add(1)
		}
	}()

	errs := make([]error, conns)
	resets := make([]bool, conns)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for {
				id := int(next.Add(1) - 1)
				if id >= conns {
					return
				}
				resets[id], errs[id] = hstGarbageClient(addr, streams[id], wants[id])
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-goodDone; err != nil { // bounded: good has testDeadline
		t.Fatalf("the well-behaved client: %v", err)
	}
	closes.wait(t, conns)

	var protocol, closeReq, partial, eof, msgs, nreset int
	var replyBytes int
	for i := range conns {
		if errs[i] != nil {
			t.Errorf("garbage connection %d (%d bytes): %v", i, len(streams[i]), errs[i])
		}
		w := wants[i]
		msgs += w.msgs
		replyBytes += len(w.replies)
		switch {
		case w.protocol:
			protocol++
		case w.closeReq:
			closeReq++
		case w.partial:
			partial++
		default:
			eof++
		}
		if resets[i] {
			nreset++
		}
	}
	t.Logf("%d garbage connections: %d protocol errors, %d close requests, %d ended inside a frame, %d ended cleanly; "+
		"%d requests answered (%d bytes); %d closes seen as resets; the good client made %d round trips meanwhile",
		conns, protocol, closeReq, partial, eof, msgs, replyBytes, nreset, goodTrips.Load())
	if goodTrips.Load() == 0 {
		t.Error("the well-behaved client made no round trip while the garbage was sent")
	}
	st := hstSettled(srv)
	trips := uint64(goodTrips.Load())
	want := simpleserver.ClosedStats{Protocol: uint64(protocol), Peer: uint64(conns - protocol)}
	if st.Closed != want || st.Open != 1 || st.MessagesIn != uint64(msgs)+trips || st.MessagesOut != uint64(msgs)+trips || st.BytesQueued != 0 {
		t.Errorf("stats = %+v\nwant closed %+v, 1 open, %d messages in and out", st, want, uint64(msgs)+trips)
	}
	if err := hstRoundTrip(good, "still here"); err != nil {
		t.Fatal(err)
	}
}

// TestHostileSlowloris: 1,000 connections each begin a request and send
// one byte of it every 100 ms, with ReadTimeout 1 s. (The attack this
// answers sends one byte a second; 10x that keeps the test short and
// changes nothing: any rate that does not finish a frame within
// ReadTimeout is caught the same way, since trickled bytes do not push
// the deadline back.) Meanwhile a well-behaved client's latency holds
// (p99 of 200 round trips under 50 ms, a generous bound: unloaded it is
// well under a millisecond), and every slowloris connection is closed
// with ErrReadTimeout, not before ReadTimeout.
func TestHostileSlowloris(t *testing.T) {
	const (
		lorises     = 1000
		trickle     = 100 * time.Millisecond
		readTimeout = time.Second
		requests    = 200
		spacing     = 3 * time.Millisecond // 200 requests within the first 0.6 s of the attack
		p99Bound    = 50 * time.Millisecond
		// closeSlack bounds how late the read timeouts may fire: the
		// loop checks deadlines once per turn, and a loaded CI machine
		// (and the race detector) may run it late.
		closeSlack = 3 * time.Second
	)
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.ReadTimeout = readTimeout
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	good := dial(t, addr)
	if err := hstRoundTrip(good, "warm up"); err != nil {
		t.Fatal(err)
	}
	lconns := make([]net.Conn, lorises)
	for i := range lconns {
		lconns[i] = dial(t, addr)
	}

	// One goroutine trickles for all: a header declaring 1000 bytes,
	// then payload, one byte per connection per tick, until the
	// connection fails or the test stops it. Attackers are not in step:
	// each tick is spread over ten slots of a tenth of the connections.
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		select {
		case <-stopTrickle:
		default:
			close(stopTrickle)
		}
		wg.Wait()
	})
	hdr := le32(1000)
	began := time.Now()
	wg.Go(func() {
		const slots = 10
		tick := time.NewTicker(trickle / slots)
		defer tick.Stop()
		dead := make([]bool, lorises)
		for k := 0; ; k++ {
			b := []byte("s")
			if k/slots < len(hdr) {
				b = hdr[k/slots : k/slots+1]
			}
			for i := k % slots; i < lorises; i += slots {
				if !dead[i] {
					_, err := lconns[i].Write(b)
					dead[i] = err != nil
				}
			}
			if k == slots-1 {
				close(trickled)
			}
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
			}
		}
	})
	select {
	case <-trickled:
	case <-deadline():
		t.Fatal("the first trickle did not finish")
	}

	lat := make([]time.Duration, 0, requests)
	next := time.Now()
	for i := range requests {
		time.Sleep(time.Until(next))
		next = next.Add(spacing)
		t0 := time.Now()
		if err := hstRoundTrip(good, fmt.Sprintf("steady %03d", i)); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	openAtEnd := lorises - closes.count()
	slices.Sort(lat)
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100-1], lat[len(lat)-1]
	t.Logf("well-behaved client, %d round trips under %d slowloris connections: p50 %v, p99 %v, max %v; %d slowloris connections still open when it finished",
		requests, lorises, p50, p99, worst, openAtEnd)
	if p99 >= p99Bound {
		t.Errorf("well-behaved client's p99 latency %v under slowloris; want < %v", p99, p99Bound)
	}

	closes.wait(t, lorises)
	lastClose := time.Now()
	close(stopTrickle)
	wg.Wait()
	closes.mu.Lock()
	firstClose := closes.first
	closes.mu.Unlock()
	t.Logf("slowloris connections closed between %v and %v after their first byte",
		firstClose.Sub(began).Round(time.Millisecond), lastClose.Sub(began).Round(time.Millisecond))
	if firstClose.Sub(began) < readTimeout {
		t.Errorf("first slowloris closed %v after its first byte, before ReadTimeout %v", firstClose.Sub(began), readTimeout)
	}
	if lastClose.Sub(began) > readTimeout+closeSlack {
		t.Errorf("last slowloris closed %v after its first byte; want within %v", lastClose.Sub(began), readTimeout+closeSlack)
	}
	for i, c := range lconns {
		if err, _ := closes.reason(c.LocalAddr().String()); !errors.Is(err, simpleserver.ErrReadTimeout) {
			t.Errorf("slowloris %d closed with %v, want ErrReadTimeout", i, err)
			continue
		}
		// It never got a byte: the server closed it (a reset when our
		// trickle arrived after the close).
		if n, err := c.Read(make([]byte, 1)); n != 0 || !hstClosedByServer(err) {
			t.Errorf("slowloris %d: read %d, %v; want the server's close", i, n, err)
		}
	}
	st := srv.Stats()
	if st.Closed.ReadTimeout != lorises || st.Open != 1 || st.MessagesIn != requests+1 {
		t.Errorf("stats = %+v; want %d read timeouts, 1 open, %d messages", st, lorises, requests+1)
	}
	if err := hstRoundTrip(good, "after"); err != nil {
		t.Fatal(err)
	}
}

// TestHostileClientsThatNeverRead: 50 clients pipeline requests as fast
// as they can and never read a reply. The server pauses each (its output
// crosses WriteHighWater), holds at most MaxPendingBytes for any of them
// (Buffered per connection, Stats().BytesQueued in all), never needs the
// cap (no ErrSlowConsumer), and serves 20 other clients meanwhile.
func TestHostileClientsThatNeverRead(t *testing.T) {
	const (
		stalled                     = 50
		high, low, maxPending       = 64 << 10, 16 << 10, 256 << 10
		kernelBuf                   = 32 << 10 // small socket buffers: a few hundred KiB of replies fill them
		goodClients, goodPerClients = 20, 100
	)
	var mu sync.Mutex
	open := map[string]*simpleserver.Conn{}
	paused := map[*simpleserver.Conn]bool{}
	pausedCh := make(chan struct{}, 1)
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.WriteHighWater, s.WriteLowWater, s.MaxPendingBytes = high, low, maxPending
		s.WriteBuffer = kernelBuf
		s.Logger = discardLogger()
		s.OnOpen = func(c *simpleserver.Conn) {
			mu.Lock()
			open[c.RemoteAddr().String()] = c
			mu.Unlock()
		}
		s.OnBackpressure = func(c *simpleserver.Conn, p bool) {
			if !p {
				return
			}
			mu.Lock()
			paused[c] = true
			mu.Unlock()
			select {
			case pausedCh <- struct{}{}:
			default:
			}
		}
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)

	conns := make([]*net.TCPConn, stalled)
	var writers sync.WaitGroup
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		writers.Wait()
	})
	for i := range conns {
		c := dial(t, addr).(*net.TCPConn)
		if err := c.SetReadBuffer(kernelBuf); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		writers.Go(func() {
			var batch []byte
			for j := range 50 {
				batch = hello.AppendRequest(batch, fmt.Appendf(nil, "%03d %02d %s", i, j, bytes.Repeat([]byte("p"), 192)))
			}
			// Blocks once the server stops reading; ends when the test
			// closes the connection (or at its testDeadline).
			for {
				if _, err := c.Write(batch); err != nil {
					return
				}
			}
		})
	}
	npaused := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(paused)
	}
	timeout := deadline()
	for npaused() < stalled {
		select {
		case <-pausedCh:
		case <-timeout:
			t.Fatalf("the server paused %d of %d clients that never read", npaused(), stalled)
		}
	}
	serverConns := make([]*simpleserver.Conn, stalled)
	mu.Lock()
	for i, c := range conns {
		serverConns[i] = open[c.LocalAddr().String()]
	}
	mu.Unlock()
	check := func(when string) {
		t.Helper()
		lo, hi := math.MaxInt, 0
		for i, sc := range serverConns {
			if sc == nil {
				t.Fatalf("no server connection for client %d", i)
			}
			b := sc.Buffered()
			lo, hi = min(lo, b), max(hi, b)
			if b > maxPending {
				t.Errorf("%s: client %d has %d bytes queued, over MaxPendingBytes %d", when, i, b, maxPending)
			}
		}
		st := srv.Stats()
		t.Logf("%s: queued per stalled client %d..%d bytes, %d in all (cap %d each)", when, lo, hi, st.BytesQueued, maxPending)
		if st.BytesQueued > stalled*maxPending {
			t.Errorf("%s: %d bytes queued in all, over %d", when, st.BytesQueued, stalled*maxPending)
		}
	}
	check("all paused")

	// Others are served meanwhile; sample what the server holds while
	// they are.
	stopSampling := make(chan struct{})
	var maxQueued atomic.Int64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			maxQueued.Store(max(maxQueued.Load(), srv.Stats().BytesQueued))
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	runClients(t, addr, goodClients, goodPerClients)
	close(stopSampling)
	sampler.Wait()
	t.Logf("at most %d bytes queued in all while %d other clients were served", maxQueued.Load(), goodClients)
	if maxQueued.Load() > stalled*maxPending {
		t.Errorf("%d bytes queued while others were served, over %d", maxQueued.Load(), stalled*maxPending)
	}
	check("after the others were served")
	closes.wait(t, goodClients)
	for i, c := range conns {
		if err, ok := closes.reason(c.LocalAddr().String()); ok {
			t.Errorf("stalled client %d was closed (%v); want it held, paused", i, err)
		}
	}
	if st := srv.Stats(); st.Closed.SlowConsumer != 0 || st.Open != stalled || st.Closed.Peer != goodClients {
		t.Errorf("stats = %+v; want no slow-consumer close, %d open, %d orderly closes", st, stalled, goodClients)
	}

	// They go away with replies unread: a reset, and everything they held
	// is released.
	for _, c := range conns {
		c.Close()
	}
	writers.Wait()
	closes.wait(t, goodClients+stalled)
	st := srv.Stats()
	if st.Open != 0 || st.BytesQueued != 0 || st.Closed.SlowConsumer != 0 || st.Closed.Error != stalled {
		t.Errorf("stats = %+v; want nothing open or queued, %d closed by reset", st, stalled)
	}
}

// TestHostileConnFloodAboveMaxConns: with MaxConns 100 and 100 held
// connections, 2,000 more connection attempts (40 at a time) are each
// accepted and closed at once without a reply, counted in
// Stats().Closed.Limit; the held connections are served throughout; and
// once all is closed the process has exactly the descriptors it had
// before.
func TestHostileConnFloodAboveMaxConns(t *testing.T) {
	const maxConns, attempts, parallel = 100, 2000, 40
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.MaxConns = maxConns
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	baseline := hstCountFDs(t)
	held := make([]net.Conn, maxConns)
	for i := range held {
		held[i] = dial(t, addr)
		if err := hstRoundTrip(held[i], fmt.Sprintf("held %d", i)); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	heldDone := make(chan error, 1)
	var heldTrips atomic.Int64
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				heldDone <- nil
				return
			default:
			}
			if err := hstRoundTrip(held[i%maxConns], fmt.Sprintf("held %d during the flood", i)); err != nil {
				heldDone <- err
				return
			}
			heldTrips.Add(1)
		}
	}()
	var next atomic.Int64
	var resets atomic.Int64
	errs := make(chan error, attempts)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for next.Add(1) <= attempts {
				c, err := net.DialTimeout("tcp", addr, testDeadline)
				if err != nil {
					errs <- fmt.Errorf("dial: %w", err)
					continue
				}
				c.SetDeadline(time.Now().Add(testDeadline))
				c.Write(frame("over the limit")) // may fail: the server may have closed already
				n, err := c.Read(make([]byte, 64))
				c.Close()
				switch {
				case n != 0:
					errs <- fmt.Errorf("a connection over MaxConns got %d reply bytes", n)
				case !hstClosedByServer(err):
					errs <- fmt.Errorf("a connection over MaxConns: read %v; want the server's close", err)
				case errors.Is(err, syscall.ECONNRESET):
					resets.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-heldDone; err != nil {
		t.Fatalf("a held connection during the flood: %v", err)
	}
	close(errs)
	nerr := 0
	for err := range errs {
		if nerr++; nerr <= 5 {
			t.Error(err)
		}
	}
	// The acceptor closes a refused socket before it counts it: wait
	// for the count to catch up with what the clients saw.
	st := hstWaitStats(srv, func(st simpleserver.Stats) bool { return st.Closed.Limit >= attempts })
	t.Logf("%d attempts over MaxConns %d: %d refused (%d seen as resets, the rest as EOF); %d round trips on held connections meanwhile",
		attempts, maxConns, st.Closed.Limit, resets.Load(), heldTrips.Load())
	if st.Closed.Limit != attempts || st.Accepted != maxConns+attempts || st.Open != maxConns {
		t.Errorf("stats = %+v; want %d limit closes, %d accepted, %d open", st, attempts, maxConns+attempts, maxConns)
	}
	if heldTrips.Load() == 0 {
		t.Error("no held connection was served during the flood")
	}
	for i, c := range held {
		if err := hstRoundTrip(c, fmt.Sprintf("held %d after", i)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	closes.wait(t, maxConns)
	if n := closes.errors(); n != 0 {
		t.Errorf("%d held connections closed with an error", n)
	}
	if n := hstWaitFDs(t, baseline); n != baseline {
		t.Errorf("%d descriptors open after the flood, want the baseline %d", n, baseline)
	}
}

// TestHostileConnectCloseCycles: 50,000 connect, request, reply, close
// cycles (16 clients at a time) leave exactly the descriptors and the
// goroutines there were before, and each is counted once.
func TestHostileConnectCloseCycles(t *testing.T) {
	const cycles, parallel = 50000, 16
	closes := newHstCloses(true)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	baseline := hstCountFDs(t)
	began := time.Now()
	var next atomic.Int64
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= cycles {
					return
				}
				if err := hstCycle(addr, fmt.Sprintf("cycle %05d", i)); err != nil {
					errs <- fmt.Errorf("cycle %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	closes.wait(t, cycles)
	t.Logf("%d connect/close cycles in %v", cycles, time.Since(began).Round(time.Millisecond))
	const payloadLen = len("cycle 00000")
	st := srv.Stats()
	want := simpleserver.Stats{
		Accepted:    cycles,
		Closed:      simpleserver.ClosedStats{Peer: cycles},
		BytesIn:     cycles * uint64(hello.HeaderLen+payloadLen),
		BytesOut:    cycles * uint64(hello.ReplyLen(payloadLen)),
		MessagesIn:  cycles,
		MessagesOut: cycles,
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	if n := hstWaitFDs(t, baseline); n != baseline {
		t.Errorf("%d descriptors open after %d cycles, want the baseline %d", n, cycles, baseline)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}

// hstCycle connects, makes one request, checks the reply and closes.
func hstCycle(addr, payload string) error {
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testDeadline))
	return hstRoundTrip(c, payload)
}

// TestHostilePanickingHandlers: 100 connections, connection i pipelining
// 1 + i%13 requests; the handler panics on every 7th message of a
// connection. Exactly the connections that reach a 7th message are
// closed with ErrHandlerPanic, after the replies to their first six; the
// others get every reply and close orderly; the server keeps serving. On
// the loops and on workers.
func TestHostilePanickingHandlers(t *testing.T) {
	for _, workers := range []int{0, 4} {
		t.Run(fmt.Sprintf("Workers=%d", workers), func(t *testing.T) { testHostilePanics(t, workers) })
	}
}

func testHostilePanics(t *testing.T, workers int) {
	const conns = 100
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = workers
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			// "c%03d m%02d": m is the message's 1-based number on its
			// connection. Other messages are just answered.
			if len(msg) == len("c000 m00") && msg[0] == 'c' && msg[5] == 'm' {
				if seq, err := strconv.Atoi(string(msg[6:])); err == nil && seq%7 == 0 {
					panic(fmt.Sprintf("every 7th message: %q", msg))
				}
			}
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	addrs := make([]string, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	wantReplies, wantPanics := 0, 0
	for id := range conns {
		n := 1 + id%13
		answered := min(n, 6)
		wantReplies += answered
		if n >= 7 {
			wantPanics++
		}
		c := dial(t, addr)
		addrs[id] = c.LocalAddr().String()
		wg.Go(func() {
			var req, want []byte
			for seq := 1; seq <= n; seq++ {
				p := fmt.Appendf(nil, "c%03d m%02d", id, seq)
				req = hello.AppendRequest(req, p)
				if seq <= answered {
					want = append(append(want, hello.Prefix...), p...)
				}
			}
			if n < 7 {
				req = append(req, le32(0)...) // the close request
			}
			if _, err := c.Write(req); err != nil {
				errs[id] = err
				return
			}
			got, err := io.ReadAll(c) // to the server's close: a FIN, we sent nothing it did not read
			if err != nil {
				errs[id] = fmt.Errorf("after %d bytes: %w", len(got), err)
			} else if !bytes.Equal(got, want) {
				errs[id] = fmt.Errorf("got %q, want %q", got, want)
			}
		})
	}
	wg.Wait()
	for id, err := range errs {
		if err != nil {
			t.Errorf("connection %d (%d requests): %v", id, 1+id%13, err)
		}
	}
	closes.wait(t, conns)
	for id, a := range addrs {
		err, _ := closes.reason(a)
		if panics := 1+id%13 >= 7; panics && !errors.Is(err, simpleserver.ErrHandlerPanic) {
			t.Errorf("connection %d reached a 7th message: closed with %v, want ErrHandlerPanic", id, err)
		} else if !panics && err != nil {
			t.Errorf("connection %d never panicked: closed with %v, want an orderly close", id, err)
		}
	}
	st := srv.Stats()
	t.Logf("%d connections: %d panicked and were closed, %d replies sent", conns, st.Closed.Panic, st.MessagesOut)
	if st.Closed.Panic != uint64(wantPanics) || st.Closed.Peer != uint64(conns-wantPanics) || st.MessagesOut != uint64(wantReplies) || st.Open != 0 {
		t.Errorf("stats = %+v; want %d panics, %d orderly closes, %d replies", st, wantPanics, conns-wantPanics, wantReplies)
	}
	if err := pipelineClient(addr, 1000, 50); err != nil {
		t.Fatalf("after the panics: %v", err)
	}
}

// TestHostileShutdownUnderFullLoad: 200 connections pipeline continuously
// (up to 32 requests in flight each, Workers 4) when Shutdown begins.
// Every reply a client gets is correct and in order; every connection
// ends with EOF right after its last reply (a reset would mean the server
// threw away what the client sent and, with it, any reply still in the
// kernel); and the server handled exactly as many requests as the clients
// got replies for: not one accepted request went unanswered.
//
// It fails today: the server close(2)s a connection whose input it has
// not read, so the kernel resets it, discarding replies not yet
// delivered; see "Open problem" in docs/RELIABILITY.md.
func TestHostileShutdownUnderFullLoad(t *testing.T) {
	const (
		clients = 200
		window  = 32 // requests in flight per connection
		batch   = 8  // requests per write, at most
		warm    = 20 // replies every client has had before Shutdown
	)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 4
		s.Logger = discardLogger()
	})
	addr := start(t, srv)

	type result struct {
		wrote, replies int
		end            error // what ended the replies: want io.EOF
		bad            error // a wrong reply, or a failure to connect
	}
	results := make([]result, clients)
	var warmed atomic.Int64
	allWarm := make(chan struct{})
	var wg sync.WaitGroup
	for id := range clients {
		wg.Go(func() {
			r := &results[id]
			c, err := net.DialTimeout("tcp", addr, testDeadline)
			if err != nil {
				r.bad = err
				if warmed.Add(1) == clients {
					close(allWarm)
				}
				return
			}
			c.SetDeadline(time.Now().Add(testDeadline))
			payload := func(seq int) []byte { return fmt.Appendf(nil, "c%03d r%08d", id, seq) }
			frameLen := hello.HeaderLen + len(payload(0))
			slots := make(chan struct{}, window)
			readerDone := make(chan struct{})
			var wrote atomic.Int64
			var writer sync.WaitGroup
			writer.Go(func() {
				var buf []byte
				for seq := 0; ; {
					select {
					case slots <- struct{}{}:
					case <-readerDone:
						return
					}
					k := 1
				more:
					for k < batch {
						select {
						case slots <- struct{}{}:
							k++
						default:
							break more
						}
					}
					buf = buf[:0]
					for i := range k {
						buf = hello.AppendRequest(buf, payload(seq+i))
					}
					n, err := c.Write(buf)
					wrote.Add(int64(n / frameLen))
					if err != nil {
						return
					}
					seq += k
				}
			})
			br := bufio.NewReader(c)
			got := make([]byte, hello.ReplyLen(len(payload(0))))
			for seq := 0; ; seq++ {
				if _, err := io.ReadFull(br, got); err != nil {
					r.end = err
					break
				}
				if want := append([]byte(hello.Prefix), payload(seq)...); !bytes.Equal(got, want) {
					r.bad = fmt.Errorf("reply %d = %q, want %q", seq, got, want)
					break
				}
				r.replies++
				<-slots
				if r.replies == warm && warmed.Add(1) == clients {
					close(allWarm)
				}
			}
			close(readerDone)
			c.Close()
			writer.Wait()
			r.wrote = int(wrote.Load())
		})
	}
	select {
	case <-allWarm:
	case <-deadline():
		t.Fatal("the clients did not all get going")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait() // bounded: every connection has testDeadline

	var wrote, replies, eof, reset int
	ends := map[string]int{}
	for id, r := range results {
		wrote += r.wrote
		replies += r.replies
		if r.bad != nil {
			t.Errorf("client %d: %v", id, r.bad)
			continue
		}
		switch {
		case r.end == io.EOF:
			eof++
		case errors.Is(r.end, syscall.ECONNRESET):
			reset++
		}
		if r.end != io.EOF {
			ends[fltCause(r.end)]++
		}
		if r.replies > r.wrote {
			t.Errorf("client %d: %d replies to %d requests", id, r.replies, r.wrote)
		}
	}
	st := srv.Stats()
	t.Logf("%d clients wrote %d requests and got %d replies; %d ended with EOF, %d with a reset; the server handled %d",
		clients, wrote, replies, eof, reset, st.MessagesIn)
	if eof != clients {
		t.Errorf("%d of %d connections ended with EOF after their last reply; the others: %v", eof, clients, ends)
	}
	if uint64(replies) != st.MessagesIn || st.MessagesOut != st.MessagesIn {
		t.Errorf("clients got %d replies; the server handled %d messages and wrote %d replies: %d accepted requests unanswered",
			replies, st.MessagesIn, st.MessagesOut, int64(st.MessagesIn)-int64(replies))
	}
	if st.Closed.Shutdown != clients || st.Open != 0 {
		t.Errorf("stats = %+v; want %d closed by the shutdown, none open", st, clients)
	}
}

// TestHostileShutdownSlowReaderGetsEveryReply is the full-load case made
// deterministic: one client pipelines 4,000 requests and does not read
// until the server, its replies backed up, has stopped reading it
// (WriteHighWater), so requests it never read wait in its socket. Then
// Shutdown begins, and the client reads, slowly (1 KiB a millisecond).
// The server must deliver the reply to every request it handled, then
// EOF. Small socket buffers (16 KiB) keep it quick.
//
// It fails today: the server close(2)s a connection whose input it has
// not read, so the kernel resets it, discarding replies not yet
// delivered; see "Open problem" in docs/RELIABILITY.md.
func TestHostileShutdownSlowReaderGetsEveryReply(t *testing.T) {
	const (
		requests   = 4000
		high, low  = 64 << 10, 16 << 10
		kernelBuf  = 16 << 10
		payloadLen = 100
	)
	paused := make(chan struct{}, 1)
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.WriteHighWater, s.WriteLowWater = high, low
		s.WriteBuffer = kernelBuf
		s.Logger = discardLogger()
		s.OnBackpressure = func(_ *simpleserver.Conn, p bool) {
			if p {
				select {
				case paused <- struct{}{}:
				default:
				}
			}
		}
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	c := hstDialSmallWindow(t, addr, kernelBuf)
	payload := func(i int) []byte { return hstSlowPayload(i, payloadLen) }
	var req []byte
	for i := range requests {
		req = hello.AppendRequest(req, payload(i))
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		wrote <- err
	}()
	select {
	case <-paused:
	case <-deadline():
		t.Fatal("the server never paused the client")
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// The loop closes its listener and stops reading every connection in
	// one task: once a dial is refused, the client's unread requests will
	// stay unread.
	for end := time.Now().Add(testDeadline); ; {
		p, err := net.DialTimeout("tcp", addr, testDeadline)
		if err != nil {
			break
		}
		p.Close()
		if time.Now().After(end) {
			t.Fatal("still accepting after Shutdown")
		}
		time.Sleep(time.Millisecond)
	}

	got, end := hstReadSlowly(c)
	replies := hstCheckSlowReplies(t, got, payloadLen)
	replyLen := hello.ReplyLen(payloadLen)
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-deadline():
		t.Fatal("Shutdown did not return")
	}
	<-wrote // the server is gone: the write has ended one way or the other
	reason, _ := closes.reason(c.LocalAddr().String())
	st := srv.Stats()
	t.Logf("the server handled %d of %d requests and wrote %d bytes; the client got %d replies (%d bytes) and then %v; server-side close: %v",
		st.MessagesIn, requests, st.BytesOut, replies, len(got), end, reason)
	if end != io.EOF || len(got)%replyLen != 0 {
		t.Errorf("after %d replies (%d bytes): %v; want EOF after a whole reply", replies, len(got), end)
	}
	if uint64(replies) != st.MessagesIn {
		t.Errorf("the client got %d replies; the server handled %d requests: %d accepted requests lost their replies",
			replies, st.MessagesIn, int64(st.MessagesIn)-int64(replies))
	}
}

// TestHostileProtocolErrorSlowReaderGetsRepliesDue: the README's promise
// for a frame over the limit is that "that connection is closed after the
// replies already due". A client pipelines 1,000 requests, then a header
// declaring 2^32-1 bytes, then 256 KiB more, and reads its replies slowly
// (1 KiB a millisecond, 16 KiB socket buffers). It must get all 1,000
// replies, in order, then EOF; the server closes it with a
// *ProtocolError.
//
// It fails today: the server close(2)s a connection whose input it has
// not read, so the kernel resets it, discarding replies not yet
// delivered; see "Open problem" in docs/RELIABILITY.md.
func TestHostileProtocolErrorSlowReaderGetsRepliesDue(t *testing.T) {
	const (
		requests   = 1000
		payloadLen = 100
		kernelBuf  = 16 << 10
		tail       = 256 << 10
	)
	closes := newHstCloses(false)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.WriteHighWater, s.WriteLowWater = 64<<10, 16<<10
		s.WriteBuffer = kernelBuf
		s.Logger = discardLogger()
		s.OnClose = closes.onClose
	})
	addr := start(t, srv)
	c := hstDialSmallWindow(t, addr, kernelBuf)
	var req []byte
	for i := range requests {
		req = hello.AppendRequest(req, hstSlowPayload(i, payloadLen))
	}
	req = append(req, le32(math.MaxUint32)...)
	req = append(req, bytes.Repeat([]byte("g"), tail)...)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		wrote <- err
	}()
	got, end := hstReadSlowly(c)
	replies := hstCheckSlowReplies(t, got, payloadLen)
	<-wrote // the server is gone: the write has ended one way or the other
	closes.wait(t, 1)
	reason, _ := closes.reason(c.LocalAddr().String())
	st := srv.Stats()
	t.Logf("the server handled %d requests and wrote %d bytes; the client got %d replies (%d bytes), then %v; server-side close: %v",
		st.MessagesIn, st.BytesOut, replies, len(got), end, reason)
	var perr *simpleserver.ProtocolError
	if !errors.As(reason, &perr) {
		t.Errorf("closed with %v, want a *ProtocolError", reason)
	}
	if st.MessagesIn != requests {
		t.Errorf("the server handled %d requests, want %d", st.MessagesIn, requests)
	}
	if end != io.EOF || len(got)%hello.ReplyLen(payloadLen) != 0 {
		t.Errorf("after %d replies (%d bytes): %v; want EOF after a whole reply", replies, len(got), end)
	}
	if replies != requests {
		t.Errorf("the client got %d of the %d replies due: %d lost", replies, requests, requests-replies)
	}
}

// hstDialSmallWindow connects with a receive buffer of rcvbuf bytes, set
// before connecting so that the window the client offers is small from
// the start.
func hstDialSmallWindow(t testing.TB, addr string, rcvbuf int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: testDeadline, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*net.TCPConn)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testDeadline))
	return c
}

// hstSlowPayload is the payload of request i of a slow reader.
func hstSlowPayload(i, size int) []byte {
	return fmt.Appendf(nil, "%06d %s", i, bytes.Repeat([]byte("r"), size-7))
}

// hstReadSlowly reads 1 KiB a millisecond until the connection ends.
func hstReadSlowly(c net.Conn) (got []byte, end error) {
	buf := make([]byte, 1<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
		time.Sleep(time.Millisecond)
	}
}

// hstCheckSlowReplies checks that got is the replies to requests 0, 1,
// ... of a slow reader, in order (the last one possibly cut short), and
// returns how many whole replies it holds.
func hstCheckSlowReplies(t testing.TB, got []byte, payloadLen int) int {
	t.Helper()
	replyLen := hello.ReplyLen(payloadLen)
	for i := 0; i*replyLen < len(got); i++ {
		want := append([]byte(hello.Prefix), hstSlowPayload(i, payloadLen)...)
		part := got[i*replyLen : min(len(got), (i+1)*replyLen)]
		if !bytes.Equal(part, want[:len(part)]) {
			t.Fatalf("reply %d = %q, want %q", i, part, want)
		}
	}
	return len(got) / replyLen
}
