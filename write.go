package simpleserver

import (
	"cmp"
	"context"
	"log/slog"
	"syscall"

	"github.com/simple-server/simpleserver/internal/sock"
)

// flush writes what c has queued with one write or writev, fires the
// completion callbacks that are due, applies the output watermarks, and
// settles c if it is stopping. On the loop.
func (l *loop) flush(c *Conn) {
	if c.fd < 0 || c.pause&pauseDial != 0 {
		return // closed, or connecting (connected flushes)
	}
	// Cleared before mu is taken: a writer that appends after this point
	// either is seen by this flush or requests another one.
	c.clearFlushQueued()
	c.mu.Lock()
	var n int
	var err error
	if c.queued() > 0 {
		n, err = c.out.WriteTo(int(c.fd), l.iov)
	}
	// Notes fire with nothing queued too: a WriteNotify of no bytes asks
	// to hear when what was queued before it is written.
	fired := l.firedBuf[:0]
	if x := c.rare.Load(); x != nil {
		x.written += uint64(n)
		k := 0
		for k < len(x.notes) && x.notes[k].end <= x.written {
			k++
		}
		if k > 0 {
			fired = append(fired, x.notes[:k]...)
			x.notes = x.notes[:copy(x.notes, x.notes[k:])]
		}
	}
	pending := c.queued()
	// CloseWrite's shutdown follows the last queued byte.
	shut := c.wr == wrAsked && pending == 0 && err == nil
	if shut {
		c.wr = wrShut
	}
	l.wakeDrain(c, pending)
	l.settleStats(c)
	c.mu.Unlock()
	if shut {
		err = sock.ShutdownWrite(int(c.fd))
	}
	if n > 0 {
		l.stats.bytesOut.Add(uint64(n))
	}

	for _, w := range fired {
		w.fn(c, nil)
	}
	clear(fired)
	l.firedBuf = fired[:0]
	switch err {
	case nil:
		if n > 0 {
			l.touch(c)
		}
		l.unblocked(c)
	case syscall.EAGAIN:
		if n > 0 || !c.outBlocked {
			// Progress (or the first stall) restarts the write timeout.
			l.touch(c)
			l.armWriteDL(c)
		}
		c.outBlocked = true
		l.watermarks(c, pending)
	default:
		l.closeConn(c, kindError, err)
	}
}

// wakeDrain releases the goroutines blocked in WaitDrain once c's output,
// pending bytes now, is at or below the low watermark (or gone, because c
// closed). With c.mu held, on the loop.
func (l *loop) wakeDrain(c *Conn, pending int) {
	if x := c.rare.Load(); x != nil && x.drained != nil && pending <= max(l.srv.lowWater, 0) {
		close(x.drained)
		x.drained = nil
	}
}

// settleStats brings the loop's counters up to date with c's writes, and
// gives c's output queue back once it is empty. Called with c.mu held, on
// the loop.
func (l *loop) settleStats(c *Conn) {
	q := c.out
	if q == nil {
		return
	}
	if q.unsettledMsgs > 0 {
		l.stats.messagesOut.Add(q.unsettledMsgs)
		q.unsettledMsgs = 0
	}
	if d := q.Len() - q.settledQueued; d != 0 {
		l.stats.queued.Add(int64(d))
		q.settledQueued += d
	}
	if q.Len() == 0 {
		c.out = nil
		outQueues.Put(q)
	}
}

// unblocked notes that c's output is fully written.
func (l *loop) unblocked(c *Conn) {
	c.outBlocked = false
	l.disarmWriteDL(c)
	l.watermarks(c, 0)
	if c.stopped {
		l.settle(c)
	}
}

// watermarks stops reading c while its queued output is above the high
// watermark and resumes once it is at or below the low one, telling
// OnBackpressure each time. On the loop.
func (l *loop) watermarks(c *Conn, pending int) {
	s, onBackpressure := l.srv, c.cb().onBackpressure
	if s.highWater <= 0 {
		return
	}
	switch {
	case c.pause&pauseOutput == 0 && pending >= s.highWater:
		c.pauseFor(pauseOutput)
		if onBackpressure != nil {
			onBackpressure(c, true)
		}
	case c.pause&pauseOutput != 0 && pending <= s.lowWater:
		c.resumeFor(pauseOutput)
		if onBackpressure != nil {
			onBackpressure(c, false)
		}
		// Edge-triggered: what arrived while paused raised its edge
		// already, so read it next turn rather than wait for another.
		if c.canRead() || c.reoffer {
			l.readAgain(c)
		}
	}
}

// stopReading stops c's inbound side for good, records the reason if c has
// none yet, and settles it. On the loop.
func (l *loop) stopReading(c *Conn, kind closeKind, reason error) {
	if c.fd < 0 {
		return
	}
	c.stopped = true
	if kind != kindNone {
		c.halfOpen = false // a reason to close that OnEOF does not override
	}
	if !c.keepsInput() {
		l.keepTail(c, nil, 0)
	}
	c.setReason(kind, reason)
	l.settle(c)
}

// settle closes c once it has stopped reading, no message of it waits for
// or runs on a worker, and its output is written. Until then each of those
// events calls settle again. On the loop.
func (l *loop) settle(c *Conn) {
	if c.fd < 0 || !c.stopped {
		return
	}
	if w := l.work[c]; w != nil && !w.serial.WhenIdle() {
		return // workerNotified settles again
	}
	if c.resumesPending() {
		return // resumeStream settles again
	}
	c.mu.Lock()
	pending, wr := c.queued(), c.wr
	c.mu.Unlock()
	if pending > 0 {
		if !c.outBlocked {
			l.markDirty(c) // flush settles again
		}
		return
	}
	if c.halfOpen && wr != wrShut {
		return // open for writing until Close, or CloseWrite's shutdown
	}
	l.finish(c)
}

// closeConn closes c's socket now, dropping unwritten output: an abort,
// which the peer may see as a reset. On the loop.
func (l *loop) closeConn(c *Conn, kind closeKind, reason error) {
	l.detach(c, kind, reason, endAbort)
}

// finish closes c, whose output is all written, in an orderly way: if the
// peer has not ended its side, the socket lingers (see linger.go) so the
// replies already in the kernel reach it. On the loop.
func (l *loop) finish(c *Conn) {
	how := endLinger
	if c.sawEOF {
		how = endAbort // nothing unread: a plain close sends a FIN
	}
	l.detach(c, kindNone, nil, how)
}

// ending is what detach does with the socket.
type ending uint8

const (
	endAbort    ending = iota // close it now
	endLinger                 // shut down its sending side and linger (linger.go)
	endHandOver               // leave it open: it was handed over (Conn.Detach)
)

// detach ends c: it closes the socket (or starts its lingering close, or
// leaves it to whom it was handed over) and reports the close exactly
// once, afterwards: to the write callbacks still due, to the stats, to the
// StreamHandler and to OnClose. kind and reason apply unless a reason is
// recorded already. On the loop.
func (l *loop) detach(c *Conn, kind closeKind, reason error, how ending) {
	dialing := c.pause&pauseDial != 0
	if c.fd < 0 && !dialing {
		return
	}
	c.mu.Lock()
	fd := int(c.fd)
	c.fd = -1
	c.closed = true
	c.markClosing()
	c.setReasonLocked(kind, reason)
	if how == endHandOver {
		// Handed over, whatever was on its way: a drain, the peer's EOF.
		c.kind = kindDetached
		c.moreLocked().reason = ErrDetached
	}
	if c.kind == kindNone {
		c.setReasonLocked(kindError, nil)
	}
	kind, reason = c.kind, nil
	var notes []writeNote
	if x := c.rare.Load(); x != nil {
		reason, notes, x.notes = x.reason, x.notes, nil
	}
	l.wakeDrain(c, 0)
	if c.out != nil {
		c.out.Reset()
	}
	l.settleStats(c)
	c.mu.Unlock()

	// Counted before the socket closes: a peer that sees the close and
	// asks Stats finds it.
	l.stats.open.Add(-1)
	l.stats.closed[kind].Add(1)
	if c.dialed {
		l.stats.outbound.Add(-1)
	}
	if c.pause&^pauseDial != 0 {
		l.stats.paused.Add(-1)
	}
	c.pause = 0
	if fd >= 0 {
		l.conns.set(fd, nil)
	}
	switch {
	case fd < 0: // a dial that had no socket yet
	case how == endLinger:
		l.linger(fd)
	case how == endAbort:
		// No EPOLL_CTL_DEL: the socket was never duplicated, so closing
		// it removes it from the epoll set, one syscall fewer.
		sock.Close(fd)
	}
	c.stopped = true
	l.keepTail(c, nil, 0)
	l.idles.Remove(&c.idle)
	if x := c.rare.Load(); x != nil && x.proxy != nil && x.proxy.timer != nil {
		l.timers.Remove(x.proxy.timer)
		x.proxy.timer = nil
	}
	l.disarmWriteDL(c)
	noteErr := reason
	if noteErr == nil {
		noteErr = ErrConnClosed
	}
	for _, w := range notes {
		w.fn(c, noteErr)
	}
	if log := l.srv.logger(); log.Enabled(context.Background(), slog.LevelDebug) {
		var remote string
		if a := c.RemoteAddr(); a != nil {
			remote = a.String()
		}
		log.Debug("connection closed", "remote", remote, "outbound", c.dialed, "reason", closeReason(kind), "err", reason)
	}
	cb := c.cb()
	if cb.stream != nil {
		c.protect(func() { cb.stream.CloseStream(c, reason) })
	}
	if cb.onClose != nil {
		cb.onClose(c, reason)
	}
	if dialing {
		l.dialOver(c, cmp.Or(reason, ErrConnClosed))
	}
}
