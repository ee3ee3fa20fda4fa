package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simple-server/simpleserver/protocol/hello"
)

// The per-connection loop keeps up to -pipeline requests in flight, writes
// every request it may send at once in one Write call, and reads replies in
// order, comparing each byte for byte with the one it expects.
//
// There are two shapes of it, chosen per run by windowFits:
//
//   - window: one goroutine alternates: write every request the window
//     allows, read one reply (blocking), read any further replies already
//     buffered, repeat. No channel or goroutine hand-off per request, which
//     at pipeline 1 is most of the client's own cost. It relies on a whole
//     window of requests fitting in the kernel's socket buffers: otherwise
//     a server that stops reading while its replies back up (because we are
//     not reading either: we are blocked in Write) would deadlock us both.
//
//   - split: a writer goroutine and a reader goroutine share a queue of the
//     requests in flight and a pool of -pipeline send slots. The reader is
//     always reading, so any window size is safe. Used for deep pipelines
//     and large messages, where the hand-off is amortised over many bytes.
//
// With -rate there is a third: the run's scheduler writes each request
// when it falls due, and a reader per connection reads the replies and
// sends what the window held back (see runRate). -hold uses the window
// loop for its single request.

// inflight is a request that has been written and whose reply is owed.
type inflight struct {
	idx   int32 // which payload (index into wire.frames and wire.replies)
	close bool  // http: the request carried Connection: close
	sent  int64 // run-clock nanoseconds when its bytes were handed to Write
	start int64 // latency is measured from here: sent, or with -rate the request's due time
}

// windowMax is the largest window, in bytes each way and in requests, that
// the single-goroutine loop is trusted with. Linux starts a loopback socket
// with at least 16 KiB of send buffer and 128 KiB of receive buffer, and
// counts per-packet overhead against them; these limits stay well inside.
const (
	windowMaxBytes    = 16 << 10
	windowMaxRequests = 64
)

func windowFits(pipeline, maxFrame, maxReply int) bool {
	return pipeline <= windowMaxRequests &&
		pipeline*maxFrame <= windowMaxBytes &&
		pipeline*maxReply <= windowMaxBytes
}

type conn struct {
	id    int
	r     *runner
	nc    net.Conn
	br    *bufio.Reader
	hist  *histogram
	lag   *histogram // -rate: how late requests were sent after their due time
	quota int64      // requests this connection sends; < 0 means until stopped
	held  bool       // -hold: got its reply and stayed open

	// http: the response parser, and with -close the request (by number)
	// that carries Connection: close (-1: none) and whether it was sent.
	hp        *respParser
	closeAt   int64
	closeSent bool

	// -rate: writes and this state are under wmu, shared by the scheduler
	// and the connection's reader.
	wmu      sync.Mutex
	released uint64 // requests of this connection due so far
	inflight int    // sent and not answered yet
	dead     bool   // failed: send nothing more

	// Writer side (the writer goroutine's alone in split mode).
	next     int // payload index of the next request
	sent     uint64
	bytesOut uint64
	wdl      int64 // write deadline currently set, run-clock ns
	wbuf     []byte

	// -churn and -retry (the window loop's alone).
	onConn     int64 // requests written on the current connection
	broken     bool  // -retry: a write found the connection gone; read what it left
	retries    int   // retries in a row without a reply in between
	dials      uint64
	dialErrors uint64
	retried    uint64

	// Reader side.
	replies       uint64
	mismatches    uint64
	bytesIn       uint64
	rdl           int64 // read deadline currently set, run-clock ns
	scratch       []byte
	firstMismatch string
	progress      atomic.Uint64 // replies, for the progress line

	// Window mode: the requests in flight, oldest at head.
	ring []inflight
	head int
	n    int
	// Split mode: the writer hands written requests to the reader here.
	queue chan inflight

	mu      sync.Mutex
	errKind errKind
	err     error
}

// fail records the connection's first error; later ones are consequences
// of it (closing the socket under the other goroutine, say) and are dropped.
func (c *conn) fail(k errKind, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errKind == kindNone {
		c.errKind, c.err = k, err
		c.r.errCount.Add(1)
	}
}

func (c *conn) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errKind != kindNone
}

// run drives the connection to the end of the run and closes it.
func (c *conn) run() {
	defer func() { c.nc.Close() }() // the last of them, with -churn or -retry
	switch {
	case c.r.cfg.Hold:
		c.runHold()
	case c.r.cfg.Rate > 0:
		c.runRate()
	case c.queue != nil:
		c.runSplit()
	default:
		c.runWindow()
	}
	if c.r.cfg.Close && !c.failed() {
		c.closeHandshake()
	}
}

// sendable returns how many more requests may be sent, at most limit: none
// once the run is stopping or the connection's quota is used up.
func (c *conn) sendable(limit int) int {
	if limit <= 0 || c.r.stopped.Load() {
		return 0
	}
	if c.quota >= 0 {
		limit = int(min(int64(limit), c.quota-int64(c.sent)))
	}
	return limit
}

func (c *conn) runWindow() {
	churn := int64(c.r.cfg.Churn)
	for {
		room := len(c.ring) - c.n
		if churn > 0 {
			if c.onConn >= churn && c.n == 0 && c.sendable(1) > 0 {
				// This connection had its share: a new one takes over.
				if !c.redial() {
					return
				}
			}
			room = int(min(int64(room), churn-c.onConn))
		}
		if k := c.sendable(room); k > 0 {
			if err := c.send(k); err != nil {
				c.fail(classify("write", err), err)
				return
			}
		}
		if c.n == 0 {
			return // nothing owed and nothing more to send
		}
		// Block for the oldest reply, then take every reply that the same
		// read(2) already brought in, so the next write refills the window
		// in one call.
		for first := true; c.n > 0; first = false {
			rec := c.ring[c.head]
			if !first && c.br.Buffered() < c.r.w.minReply(rec.idx) {
				break
			}
			if err := c.recv(rec); err != nil {
				if c.retryable(err) {
					if !c.retry(err) {
						return
					}
					break
				}
				c.fail(classify("read", err), err)
				return
			}
			c.head = (c.head + 1) % len(c.ring)
			c.n--
		}
	}
}

func (c *conn) runSplit() {
	pipeline := c.r.cfg.Pipeline
	// slots holds one token per request that may still be sent; the writer
	// takes them, the reader gives them back as replies arrive. Tokens bound
	// the queue, so sends into it never block.
	slots := make(chan struct{}, pipeline)
	for range pipeline {
		slots <- struct{}{}
	}
	quit := make(chan struct{})
	var once sync.Once
	abort := func(k errKind, err error) {
		c.fail(k, err)
		// Closing the socket unblocks the other goroutine's Read or Write.
		once.Do(func() { close(quit); c.nc.Close() })
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		defer close(c.queue) // tells the reader that no more will come
		for {
			limit := c.sendable(pipeline)
			if limit == 0 {
				return
			}
			select {
			case <-slots:
			case <-quit:
				return
			case <-c.r.stopCh:
				return
			}
			k := 1
		grab:
			for k < limit {
				select {
				case <-slots:
					k++
				default:
					break grab
				}
			}
			if err := c.send(k); err != nil {
				abort(classify("write", err), err)
				return
			}
		}
	}()
	for rec := range c.queue {
		if err := c.recv(rec); err != nil {
			abort(classify("read", err), err)
			break
		}
		slots <- struct{}{}
	}
	<-writerDone
}

// The -rate loop. The run's scheduler goroutine releases each request as
// it falls due (schedule, in run.go) and writes it at once if the
// connection's window has room; otherwise it stays released but unsent (a
// backlog), and the connection's reader sends it as soon as a reply frees
// a slot, together with any others waiting. Either way a request keeps its
// due time, so the time it waited counts in its latency. Writes and the
// counters below are under wmu; the reader only reads.

// release notes that one more request of c is due, and sends what the
// window allows. Called by the scheduler.
func (c *conn) release() {
	c.wmu.Lock()
	c.released++
	c.pump()
	c.wmu.Unlock()
}

// pump sends every released, unsent request the window and the quota
// allow, in one batch. With wmu held.
func (c *conn) pump() {
	if c.dead {
		return
	}
	k := c.sendable(c.r.cfg.Pipeline - c.inflight)
	k = int(min(uint64(k), c.released-c.sent))
	if k <= 0 {
		return
	}
	if err := c.send(k); err != nil {
		c.dead = true
		c.fail(classify("write", err), err)
		c.nc.Close() // the reader's Read returns
		return
	}
	c.inflight += k
}

// runRate is a -rate connection's reader: it reads the replies in order
// and refills the window from the backlog after each, until the run has
// stopped (or the quota is sent) and nothing is in flight.
func (c *conn) runRate() {
	for {
		c.wmu.Lock()
		done := c.dead || c.inflight == 0 && (c.r.stopped.Load() || c.quota >= 0 && int64(c.sent) >= c.quota)
		c.wmu.Unlock()
		if done {
			return
		}
		var rec inflight
		select {
		case rec = <-c.queue:
		case <-c.r.stopCh:
			continue // look again: something may still be in flight
		}
		if err := c.recv(rec); err != nil {
			c.wmu.Lock()
			c.dead = true
			c.wmu.Unlock()
			c.fail(classify("read", err), err)
			return
		}
		c.wmu.Lock()
		c.inflight--
		c.pump()
		c.wmu.Unlock()
	}
}

// runHold sends one request, reads its reply and keeps the connection
// open until the run ends.
func (c *conn) runHold() {
	r := c.r
	err := c.send(1)
	if err != nil {
		c.fail(classify("write", err), err)
	} else if err = c.recv(c.ring[c.head]); err != nil {
		c.fail(classify("read", err), err)
	} else {
		c.n = 0
		c.held = true
		r.held.Add(1)
	}
	if r.holding.Add(-1) == 0 {
		r.holdDone(int(r.held.Load()))
	}
	if err != nil {
		return
	}
	// Silent until the end, then the usual ending (-close or not). A
	// server that closes meanwhile is not noticed here; the -close check
	// sees it.
	<-r.stopCh
}

// send writes the next k requests, in as few Write calls as the write
// buffer allows (one, unless the batch is over 64 KiB; a frame too big for
// the buffer is written straight from the shared frame table, not copied),
// and queues them as in flight. The request numbered closeAt is taken from
// the http close frames instead.
func (c *conn) send(k int) error {
	frames := c.r.w.frames
	buf, bufFirst, bufN := c.wbuf[:0], c.next, 0
	for range k {
		f := frames[c.next]
		if int64(c.sent)+int64(bufN) == c.closeAt {
			f = c.r.w.http.closeFrames[c.next]
		}
		if bufN > 0 && len(buf)+len(f) > cap(buf) {
			if err := c.write(buf, bufFirst, bufN); err != nil {
				return err
			}
			buf, bufN = buf[:0], 0
		}
		if len(f) > cap(buf) {
			if err := c.write(f, c.next, 1); err != nil {
				return err
			}
		} else {
			if bufN == 0 {
				bufFirst = c.next
			}
			buf = append(buf, f...)
			bufN++
		}
		c.next = (c.next + 1) % len(frames)
	}
	if bufN > 0 {
		return c.write(buf, bufFirst, bufN)
	}
	return nil
}

// writeBytes writes b, n requests, at time t: unless -retry found the
// socket gone, whose requests then count as written (see brokenBy).
func (c *conn) writeBytes(b []byte, t int64, n int) error {
	if need := t + c.r.timeout; c.wdl < need {
		// Deadlines are moved only once they are about to be too short, so
		// a busy connection touches the runtime timer every timeout/16, not
		// every write; a write may thus get up to 1/16 more than -timeout.
		c.wdl = need + c.r.slack
		if err := c.nc.SetWriteDeadline(c.r.at(c.wdl)); err != nil {
			return err
		}
	}
	if !c.broken {
		m, err := c.nc.Write(b)
		c.bytesOut += uint64(m)
		if err != nil && !c.brokenBy(err) {
			return err
		}
	}
	c.onConn += int64(n)
	return nil
}

// write writes b, which holds n consecutive frames starting at payload
// first, and enqueues them with the time just before Write.
func (c *conn) write(b []byte, first, n int) error {
	t := c.r.now()
	if err := c.writeBytes(b, t, n); err != nil {
		return err
	}
	count := len(c.r.w.frames)
	for j := range n {
		rec := inflight{idx: int32((first + j) % count), sent: t, start: t}
		if int64(c.sent)+int64(j) == c.closeAt {
			rec.close, c.closeSent = true, true
		}
		if c.lag != nil {
			rec.start = c.r.due(c.id, c.sent+uint64(j))
			c.lag.record(uint64(max(t-rec.start, 0)))
		}
		if c.queue != nil {
			c.queue <- rec
		} else {
			c.ring[(c.head+c.n)%len(c.ring)] = rec
			c.n++
		}
	}
	c.sent += uint64(n)
	return nil
}

// recv reads the reply to rec, exactly as many bytes as it must have, and
// compares it with the expected one. A mismatch is counted, not fatal: the
// reply had the right length, so the stream is still in step.
func (c *conn) recv(rec inflight) error {
	if c.hp != nil {
		return c.recvHTTP(rec)
	}
	want := c.r.w.replies[rec.idx]
	if need := rec.sent + c.r.timeout; c.rdl < need {
		c.rdl = need + c.r.slack
		if err := c.nc.SetReadDeadline(c.r.at(c.rdl)); err != nil {
			return err
		}
	}
	bad := ""
	for off := 0; off < len(want); {
		chunk := c.scratch[:min(len(c.scratch), len(want)-off)]
		m, err := io.ReadFull(c.br, chunk)
		c.bytesIn += uint64(m)
		if err != nil {
			if off == 0 && m == 0 {
				return noReplyByte{err}
			}
			return err
		}
		if bad == "" && !bytes.Equal(chunk, want[off:off+len(chunk)]) {
			bad = describeMismatch(chunk, want[off:off+len(chunk)], off)
		}
		off += len(chunk)
	}
	lat := c.r.now() - rec.start
	c.hist.record(uint64(max(lat, 0)))
	c.retries = 0
	c.replies++
	c.progress.Add(1)
	if bad != "" {
		c.mismatches++
		if c.firstMismatch == "" {
			c.firstMismatch = fmt.Sprintf("conn %d reply %d (payload %d): %s", c.id, c.replies, rec.idx, bad)
		}
	}
	return nil
}

// describeMismatch locates the first differing byte of got and want (which
// start at offset off of the reply) and quotes a little of each around it.
func describeMismatch(got, want []byte, off int) string {
	i := 0
	for i < len(got) && got[i] == want[i] {
		i++
	}
	lo, hi := max(i-16, 0), min(i+16, len(got))
	return fmt.Sprintf("byte %d differs: got %q, want %q", off+i, got[lo:hi], want[lo:hi])
}

// closeHandshake ends a connection the way the protocol allows: hello's
// zero-length request, for echo a half-close, for http Connection: close
// (see closeHTTP); either way the server must then close without sending
// anything more.
func (c *conn) closeHandshake() {
	if c.hp != nil {
		c.closeHTTP()
		return
	}
	deadline := time.Now().Add(c.r.cfg.Timeout)
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.fail(kindWrite, err)
		return
	}
	if c.r.cfg.Proto == "hello" {
		m, err := c.nc.Write(make([]byte, hello.HeaderLen)) // length 0: "please close"
		c.bytesOut += uint64(m)
		if err != nil {
			c.fail(classify("write", err), err)
			return
		}
	} else if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			c.fail(kindWrite, err)
			return
		}
	}
	c.expectEOF("the close request")
}

// expectEOF reads what should be the server's orderly close, after what
// (the close request).
func (c *conn) expectEOF(what string) {
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		c.bytesIn++
		c.fail(kindRead, fmt.Errorf("server sent %q after %s instead of closing", b, what))
	case errors.Is(err, io.EOF):
		// The orderly close we asked for.
	default:
		c.fail(classify("read", err), err)
	}
}
