package simpleserver

import (
	"errors"

	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/internal/buffer"
	"golang.org/x/sys/unix"
)

// read reads c until the socket is drained, c stops reading, or the read
// budget is spent (then c is read again next turn). On the loop.
//
// A read shorter than the buffer means the socket was drained at that
// moment. With edge-triggered epoll that is enough: any byte arriving
// later raises a new edge, so no extra read is spent to see EAGAIN.
func (l *loop) read(c *Conn) {
	for i := 0; c.reading == reading && !c.closing.Load(); i++ {
		if i == readBudget {
			if !c.inReady {
				c.inReady = true
				l.ready = append(l.ready, c)
			}
			return
		}
		n, err := unix.Read(c.fd, l.buf)
		if n > 0 {
			l.onData(c, l.buf[:n])
			if n < len(l.buf) {
				break
			}
			continue
		}
		switch {
		case err == nil: // EOF: the peer will send nothing more
			c.reading = stopped
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
		default:
			l.closeConn(c, err)
			return
		}
		break
	}
	if c.reading == stopped || c.closing.Load() {
		l.stopReading(c, nil)
	}
}

// drainOnce reads what the socket holds right now, within the budget,
// without rescheduling. On the loop, during shutdown.
func (l *loop) drainOnce(c *Conn) {
	for range readBudget {
		if c.reading != reading || c.closing.Load() {
			return
		}
		n, err := unix.Read(c.fd, l.buf)
		if n > 0 {
			l.onData(c, l.buf[:n])
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			c.reading = stopped
		}
		return
	}
}

// onData cuts data (prefixed by any partial frame kept from earlier) into
// messages and dispatches them. It never closes c: a close decided here
// only sets c.reading = stopped (or c.closing), and the caller settles c
// once data and c.in are no longer in use. On the loop.
func (l *loop) onData(c *Conn, data []byte) {
	s := l.srv
	buf := data
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		buf = c.in
	}
	if s.pool == nil {
		// The handler runs here and will likely write: this turn's
		// flush covers it, so its writes need not request one.
		c.flushQueued.Store(true)
		l.markDirty(c)
	}
	off := 0
	for off < len(buf) && c.reading != stopped && !c.closing.Load() {
		var msg []byte
		var n int
		if s.Codec == nil {
			msg, n = buf[off:], len(buf)-off
		} else {
			var err error
			msg, n, err = s.Codec.Decode(buf[off:])
			if err != nil {
				off += n
				if errors.Is(err, codec.ErrCloseRequest) {
					c.setReason(nil)
				} else {
					perr := &ProtocolError{Err: err}
					s.logger().Warn("closing connection", "remote", c.remote.String(), "err", perr)
					c.setReason(perr)
				}
				c.reading = stopped
				break
			}
			if n == 0 {
				break
			}
		}
		off += n
		if s.pool == nil {
			c.serve(msg)
		} else if c.serial.Push(append(buffer.Get(len(msg)), msg...)) && c.reading == reading {
			c.reading = paused
		}
	}
	l.keepTail(c, buf, off)
}

// keepTail keeps buf[off:], the start of a frame not complete yet, in
// c.in, and releases c.in when nothing is left, so an idle connection
// holds no buffer.
func (l *loop) keepTail(c *Conn, buf []byte, off int) {
	rest := buf[off:]
	switch {
	case len(rest) == 0 || c.reading == stopped || c.closing.Load():
		if c.in != nil {
			buffer.Put(c.in)
			c.in = nil
		}
	case len(c.in) > 0:
		// buf is c.in: move the tail to the front.
		c.in = c.in[:copy(c.in, rest)]
	default:
		c.in = append(buffer.Get(len(rest)), rest...)
	}
}
