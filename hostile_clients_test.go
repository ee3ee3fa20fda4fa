package simpleserver_test

// Hostile clients, end to end over loopback. The promise under test:
// nothing a client does can crash the server or harm another client, and
// every accepted request gets exactly one reply, in order, unless its
// connection dies. This file: clients that trickle, clients that never
// read, handlers that panic; hostile_input_test.go: absurd lengths and
// garbage; hostile_conns_test.go: connection floods and churn;
// hostile_shutdown_test.go: closes with unread input.
//
// Every wait is bounded: connections carry testDeadline, and every wait
// for the server is a select on a signal and deadline(). Where real time
// is what is being tested (timeouts, latency) the bounds are generous and
// say why.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

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
	srv, closes := recordingServer(func(s *simpleserver.Server) { s.ReadTimeout = readTimeout })
	addr := start(t, srv)
	good := dial(t, addr)
	expectRoundTrip(t, good, "warm up")
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
		expectRoundTrip(t, good, fmt.Sprintf("steady %03d", i))
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
	firstClose := closes.firstAt()
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
		if n, err := c.Read(make([]byte, 1)); n != 0 || !closedByServer(err) {
			t.Errorf("slowloris %d: read %d, %v; want the server's close", i, n, err)
		}
	}
	st := srv.Stats()
	if st.Closed.ReadTimeout != lorises || st.Open != 1 || st.MessagesIn != requests+1 {
		t.Errorf("stats = %+v; want %d read timeouts, 1 open, %d messages", st, lorises, requests+1)
	}
	expectRoundTrip(t, good, "after")
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
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.WriteHighWater, s.WriteLowWater, s.MaxPendingBytes = high, low, maxPending
		s.WriteBuffer = kernelBuf
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
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.Workers = workers
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
