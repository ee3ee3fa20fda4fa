package simpleserver

import (
	"golang.org/x/sys/unix"
)

// flush writes what c has queued with one write or writev, fires the
// completion callbacks that are due, and settles c if it is stopping. On
// the loop.
func (l *loop) flush(c *Conn) {
	if c.fd < 0 {
		return
	}
	// Cleared before mu is taken: a writer that appends after this point
	// either is seen by this flush or requests another one.
	c.flushQueued.Store(false)
	c.mu.Lock()
	if c.out.Len() == 0 {
		c.mu.Unlock()
		c.outBlocked = false
		if c.reading == stopped {
			l.settle(c)
		}
		return
	}
	n, err := c.out.WriteTo(c.fd, l.iov)
	c.written += uint64(n)
	fired := l.firedBuf[:0]
	if len(c.notes) > 0 && c.notes[0].end <= c.written {
		k := 0
		for k < len(c.notes) && c.notes[k].end <= c.written {
			k++
		}
		fired = append(fired, c.notes[:k]...)
		c.notes = c.notes[:copy(c.notes, c.notes[k:])]
	}
	c.mu.Unlock()
	for _, w := range fired {
		w.fn(c, nil)
	}
	clear(fired)
	l.firedBuf = fired[:0]
	switch err {
	case nil:
		c.outBlocked = false
		if c.reading == stopped {
			l.settle(c)
		}
	case unix.EAGAIN:
		c.outBlocked = true
	default:
		l.closeConn(c, err)
	}
}

// stopReading stops c's inbound side for good, records reason if c has
// none yet, and settles it. On the loop.
func (l *loop) stopReading(c *Conn, reason error) {
	if c.fd < 0 {
		return
	}
	c.reading = stopped
	if c.in != nil {
		l.keepTail(c, nil, 0)
	}
	c.setReason(reason)
	l.settle(c)
}

// settle closes c once it has stopped reading, no message of it waits for
// or runs on a worker, and its output is written. Until then each of those
// events calls settle again. On the loop.
func (l *loop) settle(c *Conn) {
	if c.fd < 0 || c.reading != stopped {
		return
	}
	if c.serial != nil && !c.serial.WhenIdle() {
		return // workerNotified settles again
	}
	c.mu.Lock()
	pending := c.out.Len()
	c.mu.Unlock()
	if pending > 0 {
		if !c.outBlocked {
			l.markDirty(c) // flush settles again
		}
		return
	}
	l.closeConn(c, nil)
}

// setReason records err as the close reason unless one is recorded.
func (c *Conn) setReason(err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	if c.reason == nil {
		c.reason = err
	}
	c.mu.Unlock()
}

// closeConn closes c's socket now, dropping unwritten output, and reports
// the close exactly once. reason overrides nothing already recorded. On
// the loop.
func (l *loop) closeConn(c *Conn, reason error) {
	if c.fd < 0 {
		return
	}
	c.mu.Lock()
	fd := c.fd
	c.fd = -1
	c.closed = true
	c.closing.Store(true)
	if c.reason == nil {
		c.reason = reason
	}
	reason = c.reason
	notes := c.notes
	c.notes = nil
	c.out.Reset()
	c.mu.Unlock()

	// No EPOLL_CTL_DEL: the socket was never duplicated, so closing it
	// removes it from the epoll set, one syscall fewer per connection.
	unix.Close(fd)
	l.conns[fd] = nil
	l.nconns--
	l.load.Add(-1)
	if c.in != nil {
		l.keepTail(c, nil, 0)
	}
	c.reading = stopped
	noteErr := reason
	if noteErr == nil {
		noteErr = ErrConnClosed
	}
	for _, w := range notes {
		w.fn(c, noteErr)
	}
	if l.srv.OnClose != nil {
		l.srv.OnClose(c, reason)
	}
}
