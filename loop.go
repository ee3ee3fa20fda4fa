package simpleserver

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/simple-server/simpleserver/internal/buffer"
	"github.com/simple-server/simpleserver/internal/poll"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/internal/timer"
)

const (
	// readBufferSize is the loop's shared read buffer. Every connection
	// reads into it; only a partial frame's tail is copied out.
	readBufferSize = 64 << 10
	// readBudget caps reads per connection per turn, so one fast sender
	// cannot starve the loop's other connections (libuv stops at 32,
	// nbio at 3). A connection that used its budget is read again next
	// turn, before the loop sleeps.
	readBudget = 8
	// connEvents: edge-triggered, so nothing is ever re-armed. EPOLLOUT
	// stays registered and is simply ignored while there is nothing to
	// write; that is cheaper than an epoll_ctl pair per blocked write,
	// and pausing a connection's reads costs no syscall either.
	connEvents = poll.In | poll.Out | poll.RDHup | poll.Edge
)

// loop is one event loop: a goroutine, its epoll instance and the
// connections assigned to it. Fields without a comment are owned by the
// loop goroutine.
type loop struct {
	srv        *Server
	poller     *poll.Poller
	buf        []byte
	iov        []sock.Iovec
	conns      connTable
	listeners  []*listener
	reserve    int     // a spare descriptor, given up to shed on EMFILE; -1 if none
	dirty      []*Conn // connections to flush at the end of this turn
	ready      []*Conn // connections to read again next turn
	spareReady []*Conn // the other of ready's two buffers
	stopping   bool
	firedBuf   []writeNote
	rr         uint64 // round-robin cursor of Server.pick, for what this loop accepts

	// With Server.Workers: the work queues of connections that have
	// work queued or running (see dispatch.go), and given-back ones.
	work      map[*Conn]*workQueue
	workPeak  int
	spareWork []*workQueue

	base     time.Time     // the loop's clock starts here (immutable)
	now      time.Duration // the loop's clock, read once per turn
	idles    timer.List    // Conn.idle nodes
	readDLs  timer.List    // connRare.readDL nodes
	writeDLs timer.List    // connRare.writeDL nodes
	timers   timer.Heap

	lingering map[int]*lingerer  // closed connections' sockets, by fd
	resolving map[*Conn]struct{} // dials whose names are being resolved
	lingers   timer.List         // lingerer.node nodes

	stats counters // read by Server.Stats from any goroutine

	taskMu sync.Mutex // guards tasks, resumes, flushes and exited
	exited bool       // the poller is closed: nothing may wake it (written under taskMu)
	// asleep is set, under taskMu, when the loop found no task queued and
	// is about to block in the poller; only then does queuing one need a
	// Wake. While the loop is awake it runs what is queued before it
	// sleeps again, so a worker's reply (or a relay's write to the other
	// end of a pair) costs no eventfd write and no extra turn.
	asleep  atomic.Bool
	tasks   []func()
	resumes []*Conn // one per ResumeReading call; see stResume
	flushes []*Conn
	spareT  []func()
	spareR  []*Conn
	spareF  []*Conn
}

func newLoop(s *Server) (*loop, error) {
	p, err := poll.New()
	if err != nil {
		return nil, err
	}
	return &loop{
		srv:     s,
		poller:  p,
		buf:     make([]byte, readBufferSize),
		iov:     make([]sock.Iovec, buffer.MaxIovecs),
		reserve: -1,
		base:    time.Now(),
		work:    map[*Conn]*workQueue{},
	}, nil
}

// post queues fn to run on the loop and wakes it. It reports false, and
// fn never runs, when the loop has exited. Any goroutine may call it.
// Tasks are for rare events (new connections, closes, resumes); the
// per-message path uses requestFlush instead, which allocates nothing.
func (l *loop) post(fn func()) bool {
	l.taskMu.Lock()
	defer l.taskMu.Unlock()
	if l.exited {
		return false
	}
	l.tasks = append(l.tasks, fn)
	l.wake()
	return true
}

// requestFlush queues c to be flushed by the loop. Any goroutine may call
// it; Conn.state's stFlushQueued makes sure each connection is queued once.
func (l *loop) requestFlush(c *Conn) { l.queueConn(&l.flushes, c) }

// postResume queues ResumeReading's resume of c, without a task to
// allocate or keep: an HTTP Handler's connection resumes once per
// request. It reports false when the loop has exited. Any goroutine may
// call it.
func (l *loop) postResume(c *Conn) bool { return l.queueConn(&l.resumes, c) }

// queueConn appends c to q, the loop's resumes or flushes, under taskMu,
// and wakes the loop; it reports false, queuing nothing, once the loop has
// exited. Any goroutine may call it.
func (l *loop) queueConn(q *[]*Conn, c *Conn) bool {
	l.taskMu.Lock()
	defer l.taskMu.Unlock()
	if l.exited {
		return false
	}
	*q = append(*q, c)
	l.wake()
	return true
}

// wake wakes the loop if it sleeps (or is about to). It runs with taskMu
// held: exit closes the eventfd under the same lock, so a wake-up can never
// be written to a descriptor number the kernel has since given to
// something else; and the loop decides to sleep under it, so a task queued
// just before that is seen, and one queued after it wakes the loop.
func (l *loop) wake() {
	if !l.asleep.Load() {
		return
	}
	l.asleep.Store(false)
	if err := l.poller.Wake(); err != nil {
		l.srv.logger().Error("wake event loop", "err", err)
	}
}

// run is the loop goroutine.
func (l *loop) run() {
	defer l.exit()
	for {
		msec := l.waitMsec()
		if msec != 0 && l.srv.pool != nil {
			// About to block in epoll_wait, a system call that keeps this
			// goroutine's P: the workers this turn woke (handlers, body
			// readers) were queued on that P, and would wait for the
			// runtime to take it back from the call, tens to hundreds of
			// microseconds later. Yielding runs them first, on this
			// thread, without waking another; their replies then wake
			// the wait at once.
			runtime.Gosched()
		}
		if msec != 0 && !l.sleep() {
			msec = 0
		}
		events, _, err := l.poller.Wait(msec)
		l.asleep.Store(false)
		if err != nil {
			l.srv.logger().Error("event loop stopped", "err", err)
			return
		}
		l.now = l.clock()
		// What spent its read budget last turn is read this turn, after
		// the events; what spends it this turn waits for the next, so no
		// connection reads more than one budget between two flushes.
		ready := l.takeReady()
		for i := range events {
			l.handle(int(events[i].Fd), events[i].Events)
		}
		l.runTasks()
		l.runReady(ready)
		l.expire()
		l.flushDirty()
		if l.stopping && l.stats.open.Load() == 0 && l.srv.listening.Load() == 0 && len(l.lingering) == 0 {
			// stats.open counts connections handed to this loop but not
			// registered yet, and no listener is left to hand over more:
			// nothing can arrive after this.
			return
		}
	}
}

func (l *loop) handle(fd int, ev uint32) {
	for _, ln := range l.listeners {
		if ln.fd == fd {
			l.accept(ln)
			return
		}
	}
	c := l.conns.get(fd)
	if c == nil {
		if lg := l.lingering[fd]; lg != nil {
			l.discard(lg)
		}
		return
	}
	if c.pause&pauseDial != 0 && (ev&(poll.Out|poll.Err|poll.Hup) == 0 || !l.connected(c, ev)) {
		return // still connecting, failed, or closed by OnOpen
	}
	if ev&poll.Err != 0 {
		// The socket has a pending error (a reset): nothing can be
		// delivered any more.
		err := sock.SocketError(fd)
		if err == nil {
			err = syscall.ECONNRESET
		}
		l.closeConn(c, kindError, err)
		return
	}
	if ev&(poll.Out|poll.Hup) != 0 && c.outBlocked {
		l.flush(c)
	}
	if ev&(poll.RDHup|poll.Hup) != 0 {
		c.peerShut = true
	}
	if c.fd >= 0 && ev&(poll.In|poll.RDHup|poll.Hup) != 0 {
		l.read(c)
		l.flushIfMany()
	}
}

// sleep reports whether the loop may block in the poller: nothing is
// queued for it. If so, queuing something from now on wakes it.
func (l *loop) sleep() bool {
	l.taskMu.Lock()
	defer l.taskMu.Unlock()
	if len(l.tasks) > 0 || len(l.resumes) > 0 || len(l.flushes) > 0 {
		return false
	}
	l.asleep.Store(true)
	return true
}

// runTasks runs what other goroutines queued: tasks first (they may
// register connections that resumes and flush requests refer to), then
// resumes, then flushes.
func (l *loop) runTasks() {
	l.taskMu.Lock()
	tasks, resumes, flushes := l.tasks, l.resumes, l.flushes
	if len(tasks) == 0 && len(resumes) == 0 && len(flushes) == 0 {
		l.taskMu.Unlock()
		return
	}
	l.tasks, l.resumes, l.flushes = l.spareT[:0], l.spareR[:0], l.spareF[:0]
	l.taskMu.Unlock()
	for _, fn := range tasks {
		fn()
	}
	for _, c := range resumes {
		l.resumeStream(c)
	}
	for _, c := range flushes {
		l.markDirty(c)
	}
	clear(tasks)
	clear(resumes)
	clear(flushes)
	l.spareT, l.spareR, l.spareF = tasks, resumes, flushes
}

// takeReady hands over the connections queued to be read again, and
// starts an empty queue for the ones this turn adds. On the loop.
func (l *loop) takeReady() []*Conn {
	ready := l.ready
	l.ready, l.spareReady = l.spareReady[:0], nil
	return ready
}

// runReady reads the connections takeReady handed over. On the loop.
func (l *loop) runReady(ready []*Conn) {
	for _, c := range ready {
		c.inReady = false
		if c.fd >= 0 {
			l.read(c)
			l.flushIfMany()
		}
	}
	clear(ready)
	l.spareReady = ready[:0]
}

// flushThisTurn is for a handler about to run on the loop, which will
// likely write: this turn's flush covers c, so its writes need not
// request one. The plain load first spares a locked instruction when the
// flag is set already. On the loop.
func (l *loop) flushThisTurn(c *Conn) {
	if !c.flushQueued() {
		c.claimFlush()
	}
	l.markDirty(c)
}

// markDirty schedules c for the end-of-turn flush.
func (l *loop) markDirty(c *Conn) {
	if !c.inDirty && c.fd >= 0 {
		c.inDirty = true
		l.dirty = append(l.dirty, c)
	}
}

// maxDirty bounds how many connections wait for the end-of-turn flush.
// Waiting lets a turn's writes to one connection share a write, and sends
// the replies after the loop has seen every ready connection, which keeps
// the next epoll_wait's batch large; but each waiting connection holds an
// output buffer, so a turn that handles thousands of connections (a burst
// of new ones) would hold thousands of buffers at once.
const maxDirty = 64

// flushIfMany flushes early when maxDirty connections wait. It is called
// between connections, never while one is being handled: a handler's
// writes rely on the flush to come. On the loop.
func (l *loop) flushIfMany() {
	if len(l.dirty) >= maxDirty {
		l.flushDirty()
	}
}

func (l *loop) flushDirty() {
	// Flushing may settle and close connections; an index loop stays
	// correct even if that ever adds to dirty.
	for i := 0; i < len(l.dirty); i++ {
		c := l.dirty[i]
		c.inDirty = false
		l.flush(c)
	}
	clear(l.dirty)
	l.dirty = l.dirty[:0]
}

// register adopts an accepted socket, already counted in stats.open by the
// acceptor. On the loop.
func (l *loop) register(fd int, peer sock.Peer) {
	if l.exited {
		l.reject(fd, kindShutdown)
		return
	}
	if p := l.srv.ProxyProtocol; p != nil && !p.trusts(peer.Addr()) {
		l.refusedProxy(peer.Addr(), errors.New("peer not in ProxyProtocol.Trusted"))
		l.reject(fd, kindProxy)
		return
	}
	c := l.newConn(fd, peer, nil)
	if err := l.poller.Add(fd, connEvents); err != nil {
		l.srv.logger().Error("register connection", "err", err)
		l.reject(fd, kindError)
		return
	}
	l.conns.set(fd, c)
	l.touch(c)
	if l.srv.ProxyProtocol != nil {
		l.awaitProxyHeader(c) // OnOpen once the header is read
	} else {
		l.opened(c)
	}
	if l.stopping {
		// Accepted before the stop reached the acceptor: answer what it
		// sent, like every other connection.
		sock.Drain(fd)
		l.read(c)
		l.drain(c)
	}
	// Edge-triggered: data that arrived before the ADD (always, with
	// TCP_DEFER_ACCEPT) is reported by the ADD itself, so no read here.
}

// opened logs c's opening (at debug level: one line per connection, never
// per message) and calls OnOpen. On the loop.
func (l *loop) opened(c *Conn) {
	if log := l.srv.logger(); log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("connection opened", "remote", c.RemoteAddr().String(), "outbound", c.dialed)
	}
	if f := c.cb().onOpen; f != nil {
		f(c)
	}
}

// reject closes an accepted socket that never became a Conn.
func (l *loop) reject(fd int, kind closeKind) {
	// Counted first: a peer that sees the close and asks Stats finds it.
	l.stats.open.Add(-1)
	l.stats.closed[kind].Add(1)
	sock.Close(fd)
}

// shutdown starts a graceful stop of this loop. On the loop.
func (l *loop) shutdown() {
	// Connections that completed their handshake wait in the backlog: the
	// kernel accepted them on our behalf, so they are served like the
	// rest (the drain is bounded by the backlog's length).
	for _, ln := range l.listeners {
		sock.Drain(ln.fd)
		for i := 0; !ln.paused && i <= sock.Backlog(l.srv.Backlog)/acceptBudget && l.accept(ln); i++ {
		}
	}
	l.stopping = true
	l.closeListeners()
	for c := range l.conns.all() {
		sock.Drain(int(c.fd))
	}
	for c := range l.conns.all() {
		// Requests already in the socket buffer were accepted by the
		// kernel on our behalf: answer them too (one budget's worth),
		// even from a connection waiting for its next turn's read.
		c.inReady = false
		l.read(c)
		l.drain(c)
	}
	l.abandonResolving()
}

// abandonResolving ends the dials still resolving a name: a stopping
// server makes no new connection. On the loop.
func (l *loop) abandonResolving() {
	for c := range l.resolving {
		l.detach(c, kindShutdown, ErrServerClosed, endAbort)
	}
}

// drain starts the graceful close of c. A Codec's connection stops reading
// at once; a StreamHandler's is read on until the handler closes it at a
// message boundary. On the loop.
func (l *loop) drain(c *Conn) {
	if c.fd < 0 {
		return
	}
	stream := c.cb().stream
	if stream == nil || c.stopped {
		l.stopReading(c, kindShutdown, ErrServerClosed)
		return
	}
	c.setReason(kindShutdown, ErrServerClosed)
	c.protect(func() { stream.DrainStream(c) })
}

// closeAll closes every connection and listener at once, and returns how
// many connections it cut off. On the loop.
func (l *loop) closeAll() int {
	l.stopping = true
	l.closeListeners()
	cut := 0
	for c := range l.conns.all() {
		cut++
		l.closeConn(c, kindShutdown, ErrServerClosed)
	}
	l.abandonResolving()
	l.closeLingering()
	return cut
}

func (l *loop) closeListeners() {
	for _, ln := range l.listeners {
		ln.close()
	}
	if len(l.listeners) > 0 && l.srv.listening.Load() == 0 {
		// The last listener is gone: wake the other loops, which may
		// be waiting only for that to exit.
		for _, other := range l.srv.loops {
			if other != l {
				other.post(func() {})
			}
		}
	}
	l.listeners = nil
	if l.reserve >= 0 {
		sock.Close(l.reserve)
		l.reserve = -1
	}
}

// exit releases everything when run returns. Tasks still queued are run
// first: one may carry an accepted socket that must be closed.
func (l *loop) exit() {
	l.closeAll()
	l.taskMu.Lock()
	l.exited = true
	tasks := l.tasks
	l.tasks = nil
	l.poller.Close()
	l.taskMu.Unlock()
	for _, fn := range tasks {
		fn()
	}
}
