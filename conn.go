package simpleserver

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/simple-server/simpleserver/internal/buffer"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/internal/timer"
)

// Reasons a loop is not reading a connection for now; see Conn.pause.
const (
	pauseWorker uint8 = 1 << iota // WorkerQueue messages wait for a worker
	pauseOutput                   // queued output is above WriteHighWater
	pauseUser                     // the handler paused reading (Conn.PauseReading)
	pauseDial                     // a dialed connection's connect is under way
)

// pauseFor adds reason to c's pause bits and resumeFor removes it; both
// keep the loop's paused gauge (Stats.Paused), which counts a connection
// once whatever its reasons. A connect under way is not a pause: nothing
// could be read yet. On the loop.
func (c *Conn) pauseFor(reason uint8) {
	if c.pause&^pauseDial == 0 {
		c.loop.stats.paused.Add(1)
	}
	c.pause |= reason
}

func (c *Conn) resumeFor(reason uint8) {
	if c.pause&reason == 0 {
		return
	}
	c.pause &^= reason
	if c.pause&^pauseDial == 0 {
		c.loop.stats.paused.Add(-1)
	}
}

// Stages of a connection's sending side after CloseWrite.
const (
	wrOpen  uint8 = iota
	wrAsked       // CloseWrite: no more writes; shut down once what is queued is written
	wrShut        // shutdown(SHUT_WR) done
)

// writeNote is a write-completion callback, due once the stream has been
// written up to end.
type writeNote struct {
	end uint64
	fn  func(*Conn, error)
}

// Conn is one connection, accepted by the server or made by Dial. It is
// created by the server and handed to Handler, OnOpen and OnClose (the
// Server's, or the Dialer's); it stays valid (its methods return
// ErrConnClosed) after the connection closes.
//
// A Conn is kept small, because an idle server is mostly idle connections:
// what only some connections ever need lives in connRare, made on first
// use, and the peer address is kept packed, not as a net.Addr.
type Conn struct {
	loop *loop
	peer sock.Peer // as accept returned it; see RemoteAddr

	// Owned by the loop goroutine. fd is written only with mu held (so
	// LocalAddr may read it under mu); the loop reads it freely.
	fd         int32 // -1 once closed: the number may already be reused
	stopped    bool  // never read again: EOF, close request, closing
	peerShut   bool  // epoll saw EPOLLRDHUP: an EOF follows the data
	sawEOF     bool  // read returned EOF: nothing unread is left
	pause      uint8 // pauseWorker | pauseOutput
	inDirty    bool  // in loop.dirty: flush before the loop sleeps
	inReady    bool  // in loop.ready: read again before the loop sleeps
	outBlocked bool  // the last flush hit EAGAIN; EPOLLOUT resumes it
	reoffer    bool  // a ResumeReading waits for the output to drain
	halfOpen   bool  // the peer's EOF came, and OnEOF keeps c open for writing

	// Guarded by mu; here rather than below to share the flags' word.
	closed bool      // no more writes accepted
	kind   closeKind // why it closes; the first reason wins
	wr     uint8     // wrOpen, wrAsked, wrShut

	dialed bool // made by Dial: its callbacks are rare.dial's (immutable)

	// state holds what goroutines other than the loop read or write
	// without mu, in the flags' word (see stFlushQueued, stClosing and
	// stResume): one word instead of three keeps Conn in its size class.
	state atomic.Uint32

	idle timer.Node // in loop.idles, which finds c from it with timer.Owner
	// rare is made, under mu, the first time it is needed; the loop reads
	// it without mu, hence the atomic pointer.
	rare atomic.Pointer[connRare]

	mu  sync.Mutex
	out *outQueue // nil while no output waits (see outQueue)

	// value is SetValue's; a pointer, so that Value (once per HTTP request)
	// takes no lock.
	value atomic.Pointer[any]
}

// Conn.state's bits.
const (
	// stFlushQueued is set while the connection is known to be flushed
	// before the loop next sleeps: a writer that finds it set need not
	// ask. See Conn.enqueue and loop.flush for the ordering argument.
	stFlushQueued = 1 << iota
	// stClosing mirrors Conn.closed for readers that must not take mu.
	stClosing
	// stResume is one ResumeReading posted to the loop and not run yet;
	// the bits from here up count them. Until they run, a stopped stream
	// is not settled, because the handler that asked to be resumed has
	// kept input still to serve. (Here rather than in the rare part: an
	// HTTP Handler's connection resumes once per request.)
	stResume
)

func (c *Conn) flushQueued() bool { return c.state.Load()&stFlushQueued != 0 }

// claimFlush sets stFlushQueued and reports whether it was clear: the
// caller is the one to ask for the flush.
func (c *Conn) claimFlush() bool     { return c.state.Or(stFlushQueued)&stFlushQueued == 0 }
func (c *Conn) clearFlushQueued()    { c.state.And(^uint32(stFlushQueued)) }
func (c *Conn) isClosing() bool      { return c.state.Load()&stClosing != 0 }
func (c *Conn) markClosing()         { c.state.Or(stClosing) }
func (c *Conn) resumePosted()        { c.state.Add(stResume) }
func (c *Conn) resumeDone()          { c.state.Add(^uint32(stResume - 1)) }
func (c *Conn) resumesPending() bool { return c.state.Load() >= stResume }

// outQueue is a connection's output while some waits for the socket: the
// bytes, and the write stats not settled yet (they are settled at each
// flush, not at each write: one atomic add per flush instead of several
// per message). A connection holds one only while output waits, so an
// idle connection holds none (bench/RESULTS.md, (e)); they are pooled,
// with the chunk list each has grown. Guarded by Conn.mu.
type outQueue struct {
	buffer.Queue
	unsettledMsgs uint64 // writes not yet added to stats.messagesOut
	settledQueued int    // this connection's share of stats.queued
}

var outQueues = sync.Pool{New: func() any { return new(outQueue) }}

// queued is the number of bytes c's output holds. With c.mu held.
func (c *Conn) queued() int {
	if c.out == nil {
		return 0
	}
	return c.out.Len()
}

// output returns c's output queue, taking one if c has none. With c.mu
// held.
func (c *Conn) output() *outQueue {
	if c.out == nil {
		c.out = outQueues.Get().(*outQueue)
	}
	return c.out
}

// connRare is the part of a Conn that most connections never need. It is
// made the first time a connection needs any of it, and then kept.
type connRare struct {
	// Owned by the loop goroutine.
	in      []byte     // the start of a frame not complete yet
	conn    *Conn      // whose rare part this is
	readDL  timer.Node // in loop.readDLs while a frame is incomplete
	writeDL timer.Node // in loop.writeDLs while output is blocked

	// Guarded by Conn.mu. A note's end is an offset in the output stream
	// counted from when connRare was made; written is the same count of
	// bytes since then. Before it exists no note waits, so nothing needs
	// counting.
	notes   []writeNote
	written uint64
	drained chan struct{} // closed when output drains to low water; see WaitDrain
	reason  error         // the error OnClose gets
	remote  net.Addr      // a Unix peer's, a dial's, a PROXY header's client (a TCP peer's is made per call)

	dial  *dialState  // a dialed connection's; set before it is published
	proxy *proxyState // with Server.ProxyProtocol; set at registration
}

// job is one piece of a connection's work for a worker: a message for the
// Handler, or a function from Conn.Offload.
type job struct {
	msg []byte
	fn  func()
}

// newConn makes the Conn of an accepted socket (dial nil), or of a dial
// (fd -1: it has no socket yet). Any goroutine: c is not published yet.
func (l *loop) newConn(fd int, peer sock.Peer, dial *dialState) *Conn {
	c := &Conn{loop: l, fd: int32(fd), peer: peer}
	if dial != nil {
		c.moreLocked().dial = dial
		c.dialed, c.pause = true, pauseDial
		return c
	}
	if peer.Unix() {
		// Peer cannot hold an AF_UNIX name; ask now, while the socket is
		// surely open. Unix sockets are rare enough to pay the syscall.
		addr, err := sock.PeerAddr(fd)
		if err != nil {
			addr = &net.UnixAddr{Name: "@", Net: "unix"}
		}
		c.moreLocked().remote = addr // not published yet: no lock needed
	}
	return c
}

// more returns c's rare part, making it if need be. Any goroutine, without
// c.mu held.
func (c *Conn) more() *connRare {
	if x := c.rare.Load(); x != nil {
		return x
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moreLocked()
}

// moreLocked is more with c.mu held (or before c is published).
func (c *Conn) moreLocked() *connRare {
	if x := c.rare.Load(); x != nil {
		return x
	}
	return c.newRare()
}

// newRare makes c's rare part. With c.mu held, or before c is published.
func (c *Conn) newRare() *connRare {
	x := &connRare{}
	x.conn = c
	c.rare.Store(x)
	return x
}

// canRead reports whether the loop should read c now.
func (c *Conn) canRead() bool {
	return !c.stopped && c.pause == 0 && !c.isClosing()
}

// Write queues p to be sent and returns len(p). It never blocks: the bytes
// are copied, and the loop writes them (with everything else queued for
// this connection) before it next waits for events. The bytes of one call
// are never interleaved with another's. If the connection's queued output
// would exceed Server.MaxPendingBytes, the write fails with ErrSlowConsumer
// and the connection is closed. Any goroutine may call it.
func (c *Conn) Write(p []byte) (int, error) {
	return c.enqueue(nil, p)
}

// Writev is Write for several buffers at once: they are queued together,
// and reach the peer contiguously. Any goroutine may call it.
func (c *Conn) Writev(bufs ...[]byte) (int, error) {
	return c.enqueue(nil, bufs...)
}

// WriteNotify is Writev with a completion callback: done is called once,
// on the connection's loop, when all of bufs have been written to the
// socket (err nil), or when the connection closes first (err is the close
// reason, or ErrConnClosed). done must not block. If WriteNotify returns an
// error, done is not called. Any goroutine may call it.
func (c *Conn) WriteNotify(done func(c *Conn, err error), bufs ...[]byte) (int, error) {
	return c.enqueue(done, bufs...)
}

func (c *Conn) enqueue(done func(*Conn, error), bufs ...[]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	c.mu.Lock()
	if c.closed || c.wr != wrOpen {
		c.mu.Unlock()
		return 0, ErrConnClosed
	}
	if c.overLimit(n) {
		return 0, ErrSlowConsumer
	}
	if n > 0 { // a WriteNotify of nothing is no message, and queues nothing
		q := c.output()
		for _, b := range bufs {
			q.Append(b)
		}
		q.unsettledMsgs++
	}
	if done != nil {
		x := c.moreLocked()
		x.notes = append(x.notes, writeNote{end: x.written + uint64(c.queued()), fn: done})
	}
	c.mu.Unlock()
	// The append is ordered before this load. If it sees the flag set,
	// the loop has not cleared it yet, and it clears it before taking mu
	// to flush, so that flush sees the append. The plain load first
	// spares handlers on the loop (where the flag is always set) a
	// locked instruction per write.
	if !c.flushQueued() && c.claimFlush() {
		c.loop.requestFlush(c)
	}
	return n, nil
}

// overLimit reports whether queuing n more bytes would take c's output
// past Server.MaxPendingBytes, and if so closes c. With c.mu held, which
// it releases when it reports true.
func (c *Conn) overLimit(n int) bool {
	if limit := c.loop.srv.maxPending; limit <= 0 || c.queued()+n <= limit {
		return false
	}
	// The peer does not read what it asks for: stop holding memory for
	// it. Queued output is dropped; the close does not flush.
	c.closed = true
	c.markClosing()
	c.setReasonLocked(kindSlowConsumer, ErrSlowConsumer)
	if c.out != nil {
		c.out.Reset()
	}
	c.mu.Unlock()
	c.loop.post(func() { c.loop.closeConn(c, kindNone, nil) })
	return true
}

// WriteDirect is Write for a handler on c's loop that passes bytes on, a
// proxy: when nothing is queued ahead of p, p goes to the socket at once,
// from the caller's buffer, and only what the kernel did not take is
// copied and queued (and written when the socket can take more);
// otherwise p is queued as Write queues it. Unlike Write's, its bytes do
// not wait for the end of the loop's turn to share one write with the
// turn's others: a system call per call, no copy. On c's loop only.
func (c *Conn) WriteDirect(p []byte) (int, error) {
	if len(p) == 0 || c.fd < 0 || c.pause&pauseDial != 0 || c.outBlocked {
		return c.enqueue(nil, p)
	}
	c.mu.Lock()
	if c.closed || c.wr != wrOpen || c.queued() > 0 {
		c.mu.Unlock()
		return c.enqueue(nil, p)
	}
	// Under mu, so that no other goroutine's write can queue between this
	// write and its rest.
	// An error is left for the flush to meet again, and close c for.
	n, _ := sock.Write(int(c.fd), p)
	n = max(n, 0)
	if x := c.rare.Load(); x != nil {
		x.written += uint64(n) // write notes count every byte written
	}
	l := c.loop
	if n < len(p) {
		if c.overLimit(len(p) - n) {
			return 0, ErrSlowConsumer
		}
		q := c.output()
		q.Append(p[n:])
		q.unsettledMsgs++
	} else {
		// Nothing queued to settle it with.
		l.stats.messagesOut.Add(1)
	}
	c.mu.Unlock()
	if n > 0 {
		l.stats.bytesOut.Add(uint64(n))
		l.touch(c)
	}
	if n < len(p) {
		l.markDirty(c)
	}
	return len(p), nil
}

// WaitDrain blocks while c's queued output is at or above
// Server.WriteHighWater, until it drains to WriteLowWater; then it returns
// nil, or ErrConnClosed if c closed first. A goroutine that streams a large
// reply (a worker) calls it between writes, so the reply flows at the
// peer's pace instead of piling up to MaxPendingBytes. It returns at once
// when the watermarks are off. Any goroutine but c's loop, which must
// never wait.
func (c *Conn) WaitDrain() error {
	high := c.loop.srv.highWater
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrConnClosed
	}
	if high <= 0 || c.queued() < high {
		c.mu.Unlock()
		return nil
	}
	x := c.moreLocked()
	if x.drained == nil {
		x.drained = make(chan struct{})
	}
	ch := x.drained
	c.mu.Unlock()
	<-ch
	if c.isClosing() {
		return ErrConnClosed
	}
	return nil
}

// Close stops reading, lets the messages already received be handled,
// writes what is queued, then closes the socket. Writes after Close fail
// with ErrConnClosed; so does a second Close. Any goroutine may call it.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrConnClosed
	}
	c.closed = true
	c.markClosing()
	c.setReasonLocked(kindHandler, nil)
	c.mu.Unlock()
	c.loop.post(func() { c.loop.stopReading(c, kindHandler, nil) })
	return nil
}

// CloseWrite ends c's sending side: what is queued is written, then the
// socket is shut down for writing (shutdown(SHUT_WR)), so the peer reads
// its EOF after the last byte, while c goes on reading. Writes after it
// fail with ErrConnClosed. c closes when the peer ends its side too (at
// once if it has, with Server.OnEOF keeping c open), or on Close. A proxy
// passes a half-close on with it. Any goroutine may call it.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	if c.closed || c.wr != wrOpen {
		c.mu.Unlock()
		return ErrConnClosed
	}
	c.wr = wrAsked
	c.mu.Unlock()
	c.loop.post(func() { c.loop.markDirty(c) })
	return nil
}

// RemoteAddr returns the peer's address, as accept reported it (or as a
// PROXY header named the client): it stays available after the
// connection closed (in OnClose, say). A TCP peer's is made from the
// packed address on each call rather than kept, so that a connection
// asked once (an HTTP request's RemoteAddr) holds no net.Addr while it
// idles. Any goroutine may call it.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if x := c.rare.Load(); x != nil && x.remote != nil {
		return x.remote
	}
	return c.peer.Addr()
}

// LocalAddr returns the local address of the connection (useful when the
// server listens on a wildcard address), or nil once it is closed. It asks
// the kernel each time rather than keep a copy in every connection. Any
// goroutine may call it.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The loop sets fd to -1 under mu before it closes the socket, so a
	// non-negative fd here is still ours for as long as we hold mu.
	if c.fd < 0 {
		return nil
	}
	addr, _ := sock.LocalAddr(int(c.fd))
	return addr
}

// SetValue attaches a user value to the connection. Any goroutine may call
// it.
func (c *Conn) SetValue(v any) {
	c.value.Store(&v)
}

// Value returns the value set with SetValue, or nil. Any goroutine may
// call it.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// Buffered returns the number of bytes queued but not yet written to the
// socket. Any goroutine may call it.
func (c *Conn) Buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued()
}

// setReason records why c closes unless a reason is recorded already.
func (c *Conn) setReason(kind closeKind, err error) {
	c.mu.Lock()
	c.setReasonLocked(kind, err)
	c.mu.Unlock()
}

func (c *Conn) setReasonLocked(kind closeKind, err error) {
	if c.kind == kindNone && kind != kindNone {
		c.kind = kind
		if err != nil {
			c.moreLocked().reason = err
		}
	}
}
