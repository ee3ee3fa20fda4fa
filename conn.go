package simpleserver

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/simple-server/simpleserver/internal/buffer"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/internal/timer"
	"github.com/simple-server/simpleserver/worker"
	"golang.org/x/sys/unix"
)

// Reasons a loop is not reading a connection for now; see Conn.pause.
const (
	pauseWorker uint8 = 1 << iota // WorkerQueue messages wait for a worker
	pauseOutput                   // queued output is above WriteHighWater
)

// writeNote is a write-completion callback, due once the stream has been
// written up to end.
type writeNote struct {
	end uint64
	fn  func(*Conn, error)
}

// Conn is one accepted connection. It is created by the server and
// handed to Handler, OnOpen and OnClose; it stays valid (its methods
// return ErrConnClosed) after the connection closes.
type Conn struct {
	loop *loop
	sa   unix.Sockaddr // the peer, as accept returned it

	// Owned by the loop goroutine. fd is written only with mu held (so
	// LocalAddr may read it under mu); the loop reads it freely.
	fd         int    // -1 once closed: the number may already be reused
	in         []byte // the start of a frame not complete yet
	stopped    bool   // never read again: EOF, close request, closing
	peerShut   bool   // epoll saw EPOLLRDHUP: an EOF follows the data
	sawEOF     bool   // read returned EOF: nothing unread is left
	pause      uint8  // pauseWorker | pauseOutput
	inDirty    bool
	inReady    bool
	outBlocked bool // the last flush hit EAGAIN; EPOLLOUT resumes it
	idle       timer.Node[*Conn]
	readDL     timer.Node[*Conn] // armed while a frame is incomplete
	writeDL    timer.Node[*Conn] // armed while output is blocked
	serial     *worker.Serial[[]byte]
	notifyTask func()

	// flushQueued is true while the connection is known to be flushed
	// before the loop next sleeps: a writer that finds it set need not
	// ask. See Conn.enqueue and loop.flush for the ordering argument.
	flushQueued atomic.Bool
	// closing mirrors closed for readers that must not take mu.
	closing atomic.Bool

	mu      sync.Mutex
	out     buffer.Queue
	queued  uint64 // bytes ever appended to out
	written uint64 // bytes ever written to the socket
	// Stats are settled at each flush, not at each write: one atomic add
	// per flush instead of several per message.
	unsettledMsgs uint64 // writes not yet added to stats.messagesOut
	settledQueued int    // this connection's share of stats.queued
	notes         []writeNote
	closed        bool      // no more writes accepted
	kind          closeKind // why it closes; the first reason wins
	reason        error     // the error OnClose gets
	remote        net.Addr  // made from sa when first asked for
	value         any
}

func newConn(l *loop, fd int, sa unix.Sockaddr) *Conn {
	// Nothing here is allocated that an idle connection does not need:
	// the peer's net.Addr is made on demand, and the rare tasks (close,
	// abort) are built when posted.
	c := &Conn{loop: l, fd: fd, sa: sa}
	c.idle.Value, c.readDL.Value, c.writeDL.Value = c, c, c
	if l.srv.pool != nil {
		c.notifyTask = func() { l.workerNotified(c) }
		c.serial = worker.NewSerial(l.srv.pool, l.srv.workerQueue, c.serveOffloaded, func() { l.post(c.notifyTask) })
	}
	return c
}

// canRead reports whether the loop should read c now.
func (c *Conn) canRead() bool {
	return !c.stopped && c.pause == 0 && !c.closing.Load()
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
	if c.closed {
		c.mu.Unlock()
		return 0, ErrConnClosed
	}
	if limit := c.loop.srv.maxPending; limit > 0 && c.out.Len()+n > limit {
		// The peer does not read what it asks for: stop holding memory
		// for it. Queued output is dropped; the close does not flush.
		c.closed = true
		c.closing.Store(true)
		c.setReasonLocked(kindSlowConsumer, ErrSlowConsumer)
		c.out.Reset()
		c.mu.Unlock()
		c.loop.post(func() { c.loop.closeConn(c, kindNone, nil) })
		return 0, ErrSlowConsumer
	}
	for _, b := range bufs {
		c.out.Append(b)
	}
	c.queued += uint64(n)
	if done != nil {
		c.notes = append(c.notes, writeNote{end: c.queued, fn: done})
	}
	c.unsettledMsgs++
	c.mu.Unlock()
	// The append is ordered before this load. If it sees the flag set,
	// the loop has not cleared it yet, and it clears it before taking mu
	// to flush, so that flush sees the append. The plain load first
	// spares handlers on the loop (where the flag is always set) a
	// locked instruction per write.
	if !c.flushQueued.Load() && c.flushQueued.CompareAndSwap(false, true) {
		c.loop.requestFlush(c)
	}
	return n, nil
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
	c.closing.Store(true)
	c.setReasonLocked(kindHandler, nil)
	c.mu.Unlock()
	c.loop.post(func() { c.loop.stopReading(c, kindHandler, nil) })
	return nil
}

// RemoteAddr returns the peer's address. Any goroutine may call it.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remote == nil {
		c.remote = sock.ToAddr(c.sa)
	}
	return c.remote
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
	addr, _ := sock.LocalAddr(c.fd)
	return addr
}

// SetValue attaches a user value to the connection. Any goroutine may call
// it.
func (c *Conn) SetValue(v any) {
	c.mu.Lock()
	c.value = v
	c.mu.Unlock()
}

// Value returns the value set with SetValue, or nil. Any goroutine may
// call it.
func (c *Conn) Value() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.value
}

// Buffered returns the number of bytes queued but not yet written to the
// socket. Any goroutine may call it.
func (c *Conn) Buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Len()
}

// setReason records why c closes unless a reason is recorded already.
func (c *Conn) setReason(kind closeKind, err error) {
	c.mu.Lock()
	c.setReasonLocked(kind, err)
	c.mu.Unlock()
}

func (c *Conn) setReasonLocked(kind closeKind, err error) {
	if c.kind == kindNone && kind != kindNone {
		c.kind, c.reason = kind, err
	}
}
