package simpleserver

import (
	"errors"
	"syscall"

	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/internal/buffer"
	"github.com/simple-server/simpleserver/internal/sock"
)

// read reads c until the socket is drained, c may not be read any more,
// or the read budget is spent (then c is read again next turn). On the
// loop.
//
// A read shorter than the buffer means the socket was drained at that
// moment. With edge-triggered epoll that is enough: any byte arriving
// later raises a new edge, so no extra read is spent to see EAGAIN. The
// exception is a FIN that arrived with the data: its edge is spent, so
// when epoll reported EPOLLRDHUP the loop reads on until the EOF.
func (l *loop) read(c *Conn) {
	if c.inReady {
		// It spent its budget last turn and runReady reads it this
		// turn: reading it now too (for an event, or a resume) would
		// spend two budgets before the end-of-turn flush applies its
		// partner's watermark (a relay's upstream flooding a client
		// that is not reading).
		return
	}
	if c.reoffer && c.pause == 0 {
		// A ResumeReading waited for the output to drain.
		l.reofferStream(c)
	}
	for i := 0; c.canRead(); i++ {
		if i == readBudget {
			l.readAgain(c)
			return
		}
		n, err := sock.Read(int(c.fd), l.buf)
		if n > 0 {
			l.onData(c, l.buf[:n])
			if n < len(l.buf) && !c.peerShut {
				break
			}
			if l.srv.highWater > 0 && c.fd >= 0 && c.Buffered() >= l.srv.highWater {
				// About to read again while replies pile up faster
				// than one turn should hold: flush now, and if the
				// peer is not reading, the watermark pauses c before
				// the next read, so the overshoot is one read's worth
				// of replies.
				l.flush(c)
			}
			continue
		}
		switch {
		case err == nil: // EOF: the peer will send nothing more
			c.setReason(kindPeer, nil)
			if c.cb().stream != nil && !c.isClosing() && !c.awaitingProxy() {
				// A stream handler learns of the EOF with what it kept,
				// which may be a message cut short.
				var kept []byte
				if x := c.rare.Load(); x != nil {
					kept = x.in
				}
				l.serveStream(c, kept, true)
			}
			c.stopped, c.sawEOF = true, true
			if f := c.cb().onEOF; f != nil && !c.isClosing() {
				c.halfOpen = true
				f(c)
			}
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
		default:
			l.closeConn(c, kindError, err)
			return
		}
		break
	}
	if c.stopped || c.isClosing() {
		l.stopReading(c, kindNone, nil)
	}
}

// readAgain queues c to be read next turn, before the loop sleeps.
func (l *loop) readAgain(c *Conn) {
	if !c.inReady {
		c.inReady = true
		l.ready = append(l.ready, c)
	}
}

// onData cuts data (prefixed by any partial frame kept from earlier) into
// messages and dispatches them. It never closes c: a close decided here
// only sets c.stopped (or stClosing), and the caller settles c once data
// and the kept partial frame are no longer in use. On the loop.
func (l *loop) onData(c *Conn, data []byte) {
	s, cb := l.srv, c.cb()
	l.stats.bytesIn.Add(uint64(len(data)))
	l.touch(c)
	buf := data
	x := c.rare.Load()
	if x != nil && len(x.in) > 0 {
		x.in = buffer.Append(x.in, data)
		buf = x.in
	}
	if c.awaitingProxy() {
		n, ready := l.proxyHeader(c, x.proxy, buf)
		if !ready {
			l.keepTail(c, buf, n)
			return
		}
		buf = buf[n:]
	}
	if cb.stream != nil {
		if !c.isClosing() {
			l.serveStream(c, buf, false)
		} else {
			l.keepTail(c, buf, len(buf))
		}
		return
	}
	if s.pool == nil {
		l.flushThisTurn(c) // the handler runs here
	}
	off, msgs := 0, uint64(0)
	var w *workQueue
	for off < len(buf) && !c.stopped && !c.isClosing() {
		var msg []byte
		var n int
		if cb.codec == nil {
			msg, n = buf[off:], len(buf)-off
		} else {
			var err error
			msg, n, err = cb.codec.Decode(buf[off:])
			if err != nil {
				off += n
				if errors.Is(err, codec.ErrCloseRequest) {
					c.setReason(kindPeer, nil)
				} else {
					perr := &ProtocolError{Err: err}
					s.logger().Warn("closing connection", "remote", c.RemoteAddr().String(), "err", perr)
					c.setReason(kindProtocol, perr)
				}
				c.stopped = true
				break
			}
			if n == 0 {
				break
			}
		}
		off += n
		msgs++
		if s.pool == nil {
			c.serve(msg)
			continue
		}
		if w == nil {
			w = l.takeWork(c)
		}
		if w.serial.Push(job{msg: append(buffer.Get(len(msg)), msg...)}) {
			c.pauseFor(pauseWorker)
		}
	}
	if w != nil {
		l.workQueued(w)
	}
	l.stats.messagesIn.Add(msgs)
	l.keepTail(c, buf, off)
}

// keepTail keeps buf[off:], the start of a frame not complete yet (or
// what a StreamHandler left), in c's rare part, and releases that buffer
// when nothing is left, so an idle connection holds none. For a Codec it
// also runs the read timeout: armed when a new frame begins, disarmed when
// no frame is pending (a StreamHandler runs it itself). keepTail(c, nil, 0)
// releases and disarms. On the loop.
func (l *loop) keepTail(c *Conn, buf []byte, off int) {
	rest := buf[off:]
	x := c.rare.Load()
	framed := c.cb().stream == nil
	switch {
	case c.isClosing() || c.stopped && !c.keepsInput():
		if x != nil {
			l.release(x)
			l.readDLs.Remove(&x.readDL)
		}
	case len(rest) == 0:
		if x != nil {
			l.release(x)
			if framed {
				l.readDLs.Remove(&x.readDL)
			}
		}
	case x != nil && len(x.in) > 0:
		// buf is x.in: move the tail to the front. If frames were
		// consumed, the tail is a new frame and gets a new deadline.
		x.in = x.in[:copy(x.in, rest)]
		if off > 0 && framed {
			l.armReadDL(c)
		}
	default:
		x = c.more()
		x.in = append(buffer.Get(len(rest)), rest...)
		if framed {
			l.armReadDL(c)
		}
	}
}

// release gives back the buffer of kept input. On the loop.
func (l *loop) release(x *connRare) {
	if x.in != nil {
		buffer.Put(x.in)
		x.in = nil
	}
}
