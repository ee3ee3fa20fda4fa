package simpleserver

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/simple-server/simpleserver/internal/timer"
)

// The loop's deadlines. Idle, read and write timeouts are each one
// duration shared by every connection, so each lives in a timer.List in
// expiry order and costs O(1) per touch; anything else goes in the heap.
// epoll_wait sleeps until the nearest of them: no timerfd, no Go timers,
// no goroutine per connection.

// touch marks activity on c, pushing back its idle deadline. On the loop.
func (l *loop) touch(c *Conn) {
	if d := l.srv.IdleTimeout; d > 0 {
		l.idles.PushBack(&c.idle, l.now+d)
	}
}

// armReadDL starts the read timeout for a frame that has begun. On the
// loop.
func (l *loop) armReadDL(c *Conn) {
	if d := l.srv.ReadTimeout; d > 0 {
		l.readDLs.PushBack(&c.more().readDL, l.now+d)
	}
}

// armWriteDL (re)starts the write timeout of blocked output. On the loop.
func (l *loop) armWriteDL(c *Conn) {
	if d := l.srv.WriteTimeout; d > 0 {
		l.writeDLs.PushBack(&c.more().writeDL, l.now+d)
	}
}

// disarmReadDL stops c's read timeout, if it runs. On the loop.
func (l *loop) disarmReadDL(c *Conn) {
	if x := c.rare.Load(); x != nil {
		l.readDLs.Remove(&x.readDL)
	}
}

// disarmWriteDL stops c's write timeout, if it runs. On the loop.
func (l *loop) disarmWriteDL(c *Conn) {
	if x := c.rare.Load(); x != nil {
		l.writeDLs.Remove(&x.writeDL)
	}
}

// clock returns the loop's monotonic time.
func (l *loop) clock() time.Duration { return time.Since(l.base) }

// waitMsec is how long the next epoll_wait may sleep: until the nearest
// deadline, rounded up to whole milliseconds so the loop never wakes just
// before it; -1 when there is none.
func (l *loop) waitMsec() int {
	if len(l.ready) > 0 {
		return 0
	}
	next, ok := time.Duration(0), false
	consider := func(at time.Duration) {
		if !ok || at < next {
			next, ok = at, true
		}
	}
	if n := l.idles.Front(); n != nil {
		consider(n.At)
	}
	if n := l.readDLs.Front(); n != nil {
		consider(n.At)
	}
	if n := l.writeDLs.Front(); n != nil {
		consider(n.At)
	}
	if e := l.timers.Min(); e != nil {
		consider(e.At)
	}
	if n := l.lingers.Front(); n != nil {
		consider(n.At)
	}
	if !ok {
		return -1
	}
	d := next - l.clock()
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// expire acts on every deadline that has passed. On the loop.
func (l *loop) expire() {
	now := l.now
	for n := l.idles.Front(); n != nil && n.At <= now; n = l.idles.Front() {
		c := timer.Owner[Conn](n, unsafe.Offsetof(Conn{}.idle))
		if c.busy() {
			// Work is in flight (a handler runs, output waits): not
			// idle, whatever the clock says.
			l.idles.PushBack(n, now+l.srv.IdleTimeout)
			continue
		}
		l.idles.Remove(n)
		l.stopReading(c, kindIdle, ErrIdleTimeout)
	}
	for n := l.readDLs.Front(); n != nil && n.At <= now; n = l.readDLs.Front() {
		l.readDLs.Remove(n)
		c := timer.Owner[connRare](n, unsafe.Offsetof(connRare{}.readDL)).conn
		if c.cb().stream != nil && c.fd >= 0 && !c.stopped && !c.isClosing() {
			// Nothing more will be read: the handler hears it as the
			// end of input, so that a worker waiting for the rest of
			// a message (an HTTP body) is released rather than held
			// until the connection closes, which waits for it.
			c.setReason(kindReadTimeout, ErrReadTimeout)
			var kept []byte
			if x := c.rare.Load(); x != nil {
				kept = x.in
			}
			l.serveStream(c, kept, true)
		}
		l.stopReading(c, kindReadTimeout, ErrReadTimeout)
	}
	for n := l.writeDLs.Front(); n != nil && n.At <= now; n = l.writeDLs.Front() {
		l.closeConn(timer.Owner[connRare](n, unsafe.Offsetof(connRare{}.writeDL)).conn, kindWriteTimeout, ErrWriteTimeout)
	}
	for e := l.timers.PopDue(now); e != nil; e = l.timers.PopDue(now) {
		e.Fn()
	}
	l.expireLingers(now)
}

// busy reports whether c has a message queued for or running on a worker,
// or output not yet written. On the loop.
func (c *Conn) busy() bool {
	w := c.loop.work[c]
	return c.outBlocked || (w != nil && !w.serial.Idle())
}

// after runs fn on the loop once d has passed. On the loop.
func (l *loop) after(d time.Duration, fn func()) *timer.Entry {
	e := &timer.Entry{At: l.clock() + d, Fn: fn}
	l.timers.Push(e)
	return e
}

// Timer is a function scheduled on a connection's event loop with
// Conn.AfterFunc.
type Timer struct {
	l     *loop
	entry timer.Entry
	state atomic.Int32 // timerPending, then timerFired or timerStopped
}

const (
	timerPending int32 = iota
	timerFired
	timerStopped
)

// AfterFunc calls f on c's event loop once d has passed, unless the timer
// is stopped or the connection has closed by then. f runs on the loop, so
// it must not block, and it may use c freely. Any goroutine may call it.
func (c *Conn) AfterFunc(d time.Duration, f func()) *Timer {
	l := c.loop
	t := &Timer{l: l}
	t.entry.At = l.clock() + d
	t.entry.Fn = func() {
		if t.state.CompareAndSwap(timerPending, timerFired) && c.fd >= 0 {
			f()
		}
	}
	if !l.post(func() { l.timers.Push(&t.entry) }) {
		t.state.Store(timerStopped)
	}
	return t
}

// Stop prevents the timer's function from running. It reports whether it
// did so: false means the timer already expired (its function ran, or was
// skipped because the connection had closed) or was stopped before. Any
// goroutine may call it.
func (t *Timer) Stop() bool {
	if !t.state.CompareAndSwap(timerPending, timerStopped) {
		return false
	}
	// Remove it from the heap now rather than when it would have been
	// due: a server arming a long timer per request and stopping it
	// would otherwise hold every one of them until it expired.
	t.l.post(func() { t.l.timers.Remove(&t.entry) })
	return true
}
