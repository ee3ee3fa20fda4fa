package simpleserver

import "fmt"

// StreamHandler serves a protocol that frames itself, such as HTTP/1.1,
// in place of a Codec and a Handler (Server.Stream). The server calls its
// methods on the connection's event loop, so they must not block; work
// that blocks goes to the workers with Conn.Offload.
//
// The server keeps what ServeStream did not consume and offers it again,
// followed by whatever arrives next, so a handler parses incrementally
// without buffering input itself, and a connection with nothing kept holds
// no buffer. Per-connection state goes in Conn.SetValue.
type StreamHandler interface {
	// ServeStream is given c's input not consumed yet: what earlier calls
	// left, followed by what was just read. It returns how many bytes
	// from the start of in it consumed (0 <= consumed <= len(in)); the
	// rest is offered again on the next call. in is valid only during the
	// call. eof reports that nothing follows in: the peer ended its side,
	// or Server.ReadTimeout ended reading (then c's close reason is
	// ErrReadTimeout already). After the peer's EOF what the handler
	// leaves is still kept, but offered again only when it calls
	// ResumeReading (eof still set): a request pipelined behind one a
	// worker still serves is answered before the close.
	//
	// While c's queued output is above Server.WriteHighWater, ServeStream
	// is not called (the handler would only queue more): input waits, and
	// is offered once the output drains to WriteLowWater.
	//
	// Unlike with a Codec, the server does not know where a stream's
	// messages begin and end: the handler starts and stops
	// Server.ReadTimeout itself (Conn.StartReadTimeout).
	ServeStream(c *Conn, in []byte, eof bool) (consumed int)

	// DrainStream is called once when the server begins a graceful
	// shutdown (or when a connection arrives during one). Connections
	// served with a Codec stop reading at once; a stream connection is
	// read on until the handler closes it with Conn.Close, so a message in
	// progress (a request whose body is still arriving) can finish. The
	// handler closes c at its next message boundary, at once if it is
	// between messages. c's close reason is already ErrServerClosed.
	DrainStream(c *Conn)

	// CloseStream is called once, when c has closed, with the reason
	// Server.OnClose gets, before OnClose. It releases what the handler
	// holds for c, and wakes whatever of its own waits on c.
	CloseStream(c *Conn, err error)
}

// StreamValidator is implemented by a StreamHandler that depends on the
// configuration of the Server it serves (say, on Server.Workers). Start
// calls ValidateServer before it opens anything, with the server's lock
// held (so it must only read s's fields), and fails with its error.
type StreamValidator interface {
	ValidateServer(s *Server) error
}

// PauseReading stops the loop from reading c until ResumeReading: a
// handler calls it when it can take no more input for now (a request
// body's buffer is full, a handler runs and input queues up behind it, a
// proxy's other side cannot keep up).
// What was read already stays kept; the peer's further bytes wait in the
// kernel, which in time stops the peer from sending. On the loop.
func (c *Conn) PauseReading() {
	c.pauseFor(pauseUser)
}

// ResumeReading undoes PauseReading and, for a StreamHandler's
// connection, calls ServeStream again with c's kept input, which may be
// none (a StreamHandler that returned without
// consuming, because it was waiting for something, calls it once that
// something is done, paused or not), and then reads on. Any goroutine may
// call it; the loop acts on it in its next turn.
func (c *Conn) ResumeReading() {
	c.resumePosted()
	if !c.loop.postResume(c) {
		c.resumeDone()
	}
}

// keepsInput reports whether c's kept input outlives the end of reading:
// a StreamHandler's after the peer's EOF, until the handler is done with
// it or c closes. On the loop.
func (c *Conn) keepsInput() bool {
	return c.sawEOF && c.cb().stream != nil && !c.isClosing()
}

// resumeStream is ResumeReading on the loop.
func (l *loop) resumeStream(c *Conn) {
	c.resumeDone()
	if c.fd < 0 {
		return
	}
	if c.stopped && !c.keepsInput() {
		l.settle(c) // it waited for this resume
		return
	}
	// Edge-triggered: input that arrived while paused raised its edge
	// already and was left unread. Without a pause every edge was read,
	// and a read now would only meet EAGAIN (once per HTTP request).
	unread := c.pause&pauseUser != 0
	c.resumeFor(pauseUser)
	if c.cb().stream != nil {
		l.reofferStream(c)
	}
	if unread && c.canRead() {
		l.read(c)
	}
}

// reofferStream offers c's kept input to the StreamHandler again, unless
// the output is above the high watermark (then once it drains). On the
// loop.
func (l *loop) reofferStream(c *Conn) {
	if c.pause&pauseOutput != 0 {
		c.reoffer = true // once the output drains (watermarks)
	} else if !c.isClosing() {
		c.reoffer = false
		var kept []byte
		if x := c.rare.Load(); x != nil {
			kept = x.in
		}
		l.serveStream(c, kept, c.sawEOF)
		if c.sawEOF {
			// Done with the kept input, or waiting again: close once
			// nothing else is in flight.
			l.settle(c)
		}
	}
}

// serveStream offers buf, c's kept input followed by new input (or the
// kept input alone), to the StreamHandler and keeps what it leaves. On the
// loop.
func (l *loop) serveStream(c *Conn, buf []byte, eof bool) {
	l.flushThisTurn(c) // ServeStream runs here
	n := 0
	// A panic closes this connection only (and keeps nothing of it).
	c.protect(func() {
		n = c.cb().stream.ServeStream(c, buf, eof)
		if n < 0 || n > len(buf) {
			panic(fmt.Sprintf("simpleserver: ServeStream consumed %d of %d bytes", n, len(buf)))
		}
	})
	l.keepTail(c, buf, n)
}

// StartReadTimeout starts Server.ReadTimeout for c unless it is running
// already: c is closed with ErrReadTimeout unless StopReadTimeout is called
// within that time. A StreamHandler calls it where a message begins (HTTP:
// the first byte of a request head) and StopReadTimeout where it is
// complete; RestartReadTimeout makes it count from now instead (HTTP: a
// request body that makes progress). No-op when ReadTimeout is 0. On the
// loop.
func (c *Conn) StartReadTimeout() {
	if c.loop.srv.ReadTimeout > 0 && c.fd >= 0 {
		if x := c.more(); !c.loop.readDLs.Contains(&x.readDL) {
			c.loop.armReadDL(c)
		}
	}
}

// RestartReadTimeout starts Server.ReadTimeout for c afresh, counting from
// now. On the loop.
func (c *Conn) RestartReadTimeout() {
	if c.fd >= 0 {
		c.loop.armReadDL(c)
	}
}

// StopReadTimeout stops c's read timeout. On the loop.
func (c *Conn) StopReadTimeout() {
	c.loop.disarmReadDL(c)
}
