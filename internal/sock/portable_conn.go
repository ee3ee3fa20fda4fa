//go:build !linux || simpleserver_portable

package sock

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const (
	// minRead and maxRead bound the reader's buffer. It starts small, so
	// that an idle connection holds little, doubles while reads fill it,
	// and falls back to minRead after smallReads reads in a row that used
	// a sixteenth of it or less (one short read, the tail of a message
	// just over the buffer, must not undo the growth: the reads of every
	// message would alternate between two sizes).
	minRead    = 4 << 10
	maxRead    = 64 << 10
	smallReads = 8
	// maxPending bounds the send buffer: bytes written but not yet taken
	// by net.Conn.Write, like SO_SNDBUF.
	maxPending = 64 << 10
	// keptWrite is the largest send buffer kept while nothing is queued;
	// a larger one was for a burst, and goes back to the garbage
	// collector.
	keptWrite = 16 << 10
	// closeFlushTimeout bounds how long a closed connection's writer may
	// go on writing what the send buffer held (the kernel would keep
	// retransmitting it for minutes).
	closeFlushTimeout = 10 * time.Second
	// settleWait bounds a drained connection's wait for bytes between the
	// kernel and its reader (see Drain).
	settleWait = 5 * time.Millisecond
)

// conn is a connected socket. Its fields are guarded by mu; cond (on mu)
// wakes the reader and the writer.
type conn struct {
	nc   net.Conn
	mu   sync.Mutex
	cond sync.Cond
	reg  registration

	in   []byte // read ahead, not yet taken by Read: in[off:]
	off  int
	rerr error // what ended reading (io.EOF at the peer's EOF), once in is taken

	out      []byte // written, not yet taken by the writer
	writing  int    // bytes the writer is writing now
	werr     error  // the write that failed; no more writes
	writer   bool   // the writer goroutine runs
	wantOut  bool   // a write found the buffer full: post Out when it has room
	shutWr   bool   // ShutdownWrite: end the sending side once out is written
	closed   bool   // the descriptor is closed: the goroutines stop
	handover bool   // FileConn: the goroutines stop, leaving nc open
	settling bool   // Drain: Read waits for the reader, until settled
	settled  bool   // the reader's read after Drain timed out

	cancel     func()        // cancels a Connect under way; nil for accepted ones
	readerDone chan struct{} // closed when the reader returns
	writerDone chan struct{} // closed when the writer returns (or never ran)
}

// newConn gives nc a descriptor and starts its reader.
func newConn(nc net.Conn) int {
	c := &conn{nc: nc, readerDone: make(chan struct{}), writerDone: make(chan struct{})}
	c.cond.L = &c.mu
	fd := install(c)
	go c.read()
	return fd
}

// read is the reader goroutine.
func (c *conn) read() {
	defer close(c.readerDone)
	buf := make([]byte, minRead)
	small := 0 // reads in a row that used a sixteenth of buf or less
	for {
		n, err := c.nc.Read(buf)
		c.mu.Lock()
		for n > 0 && c.off < len(c.in) && !c.closed && !c.handover {
			// One buffer read ahead is the limit: wait for the loop.
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		if n > 0 {
			if c.off < len(c.in) {
				// Handing over: keep both.
				c.in = append(c.in[c.off:], buf[:n]...)
				c.off = 0
			} else {
				next := c.in[:cap(c.in)]
				c.in, c.off = buf[:n], 0
				if n <= len(buf)/16 {
					small++
				} else {
					small = 0
				}
				switch {
				case n == len(buf) && len(buf) < maxRead:
					next = make([]byte, 2*len(buf))
				case small >= smallReads && len(buf) > minRead:
					next, small = make([]byte, minRead), 0
				case len(next) != len(buf):
					next = make([]byte, len(buf))
				}
				buf = next
			}
		}
		if c.handover {
			// Stopped by FileConn's deadline, or data that came
			// with it: the new owner reads on.
			c.mu.Unlock()
			return
		}
		if c.settling && !c.settled && errors.Is(err, os.ErrDeadlineExceeded) {
			// Drain's deadline: nothing more had arrived. Read on
			// (a stream is read while it drains), without it.
			c.settled = true
			c.cond.Broadcast()
			// Under mu: FileConn's deadline must not be undone.
			c.nc.SetReadDeadline(time.Time{})
			c.mu.Unlock()
			continue
		}
		if err != nil {
			c.rerr = err
			ev := uint32(EventIn | EventRDHup)
			if err != io.EOF {
				ev |= EventErr | EventHup
			}
			c.reg.post(ev)
			c.cond.Broadcast() // a draining Read waits for this
			c.mu.Unlock()
			return
		}
		c.reg.post(EventIn)
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// drain is Drain for a connection.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.settling || c.closed || c.handover || c.nc == nil {
		return
	}
	c.settling = true
	c.nc.SetReadDeadline(time.Now().Add(settleWait))
}

// Read copies what the connection has read ahead into p; see the
// portable engine's contract in portable.go.
func Read(fd int, p []byte) (int, error) {
	c, err := connOf(fd)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.settling && !c.settled && c.off == len(c.in) && c.rerr == nil {
		c.cond.Wait()
	}
	if c.off < len(c.in) {
		n := copy(p, c.in[c.off:])
		c.off += n
		if c.off == len(c.in) {
			c.cond.Broadcast()
		}
		return n, nil
	}
	switch {
	case c.rerr == nil:
		return 0, syscall.EAGAIN
	case c.rerr == io.EOF:
		return 0, nil
	}
	return 0, errno(c.rerr)
}

// Write copies as much of p as the send buffer has room for.
func Write(fd int, p []byte) (int, error) {
	c, err := connOf(fd)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.write(p)
}

// Iovec describes one buffer of a Writev, as struct iovec does.
type Iovec struct {
	Base *byte
	Len  uint64
}

// SetLen sets the length of the buffer v describes.
func (v *Iovec) SetLen(n int) { v.Len = uint64(n) }

// Writev writes the buffers iov describes, in order, as far as the send
// buffer has room; size is their total length.
func Writev(fd int, iov []Iovec, size int) (int, error) {
	c, err := connOf(fd)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, v := range iov {
		n, err := c.write(unsafeSlice(v.Base, int(v.Len)))
		total += n
		if err != nil {
			if total > 0 && err == syscall.EAGAIN {
				return total, nil
			}
			return total, err
		}
		if n < int(v.Len) {
			break
		}
	}
	return total, nil
}

// write is Write with c's lock held.
func (c *conn) write(p []byte) (int, error) {
	switch {
	case c.werr != nil:
		return 0, errno(c.werr)
	case c.shutWr:
		return 0, syscall.EPIPE
	case c.dialing():
		return 0, syscall.ENOTCONN
	case len(p) == 0:
		return 0, nil
	}
	n := min(len(p), maxPending-len(c.out)-c.writing)
	if n <= 0 {
		c.wantOut = true
		return 0, syscall.EAGAIN
	}
	if n < len(p) {
		// A short write: the caller waits for Out, like after EAGAIN.
		c.wantOut = true
	}
	c.out = append(c.out, p[:n]...)
	c.startWriter()
	c.cond.Broadcast()
	return n, nil
}

// startWriter starts the writer goroutine if it is not running. With c's
// lock held.
func (c *conn) startWriter() {
	if !c.writer {
		c.writer = true
		go c.writeOut()
	}
}

// writeOut is the writer goroutine: it writes what Write buffered, ends
// the sending side after ShutdownWrite, and closes nc after Close.
func (c *conn) writeOut() {
	defer close(c.writerDone)
	var buf []byte
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.out) == 0 && !c.closed && !c.handover && !c.shutWr {
			if cap(buf) > keptWrite {
				buf = nil
			}
			if cap(c.out) > keptWrite {
				c.out = nil
			}
			c.cond.Wait()
		}
		if len(c.out) == 0 {
			switch {
			case c.handover:
				return
			case c.closed:
				c.nc.Close()
				return
			}
			// shutWr, everything written.
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
			for !c.closed && !c.handover {
				c.cond.Wait()
			}
			continue
		}
		buf, c.out = c.out, buf[:0]
		c.writing = len(buf)
		c.mu.Unlock()
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.writing = 0
		if err != nil {
			c.werr = err
			c.out = nil
			c.reg.post(EventOut | EventErr | EventHup)
			if c.closed {
				c.nc.Close()
			}
			return
		}
		if c.wantOut {
			c.wantOut = false
			c.reg.post(EventOut)
		}
	}
}

// ShutdownWrite ends the sending side once the send buffer is written,
// as shutdown(SHUT_WR) does: the peer reads its EOF after the last byte.
func ShutdownWrite(fd int) error {
	c, err := connOf(fd)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dialing() {
		return syscall.ENOTCONN
	}
	c.shutWr = true
	c.startWriter()
	c.cond.Broadcast()
	return nil
}

// SocketError is the error that failed the connection (SO_ERROR), or nil.
func SocketError(fd int) error {
	c, err := connOf(fd)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.werr != nil:
		return errno(c.werr)
	case c.rerr != nil && c.rerr != io.EOF:
		return errno(c.rerr)
	}
	return nil
}

func (c *conn) watch(fd int, n Notifier, events uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reg.set(fd, n, events, c.level())
}

func (c *conn) readiness() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.level()
}

// level is c's readiness now. With c's lock held.
func (c *conn) level() uint32 {
	var ev uint32
	if c.dialing() {
		return 0
	}
	if c.off < len(c.in) || c.rerr != nil {
		ev |= EventIn
	}
	if c.rerr != nil {
		ev |= EventRDHup
	}
	if c.werr == nil && maxPending-len(c.out)-c.writing > 0 {
		ev |= EventOut
	}
	if c.werr != nil || c.rerr != nil && c.rerr != io.EOF {
		ev |= EventErr | EventHup
	}
	return ev
}

// close is Close for a connection. Unread input makes it an abort, as on
// Linux (a reset, the send buffer dropped); otherwise the writer writes
// what is buffered, within closeFlushTimeout, and then closes.
func (c *conn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.handover {
		return nil
	}
	c.closed = true
	c.cond.Broadcast()
	if c.nc == nil {
		if c.cancel != nil {
			c.cancel() // the dial is under way, or failed
		}
		return nil
	}
	if c.off < len(c.in) {
		if tc, ok := c.nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.out = nil
		return c.nc.Close()
	}
	if c.writer && c.werr == nil && len(c.out)+c.writing > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		return nil // the writer closes nc
	}
	return c.nc.Close()
}

// connOf returns the connection fd refers to.
func connOf(fd int) (*conn, error) {
	c, ok := lookup(fd).(*conn)
	if !ok {
		return nil, syscall.EBADF
	}
	return c, nil
}

// FileConn hands the connection fd over to the caller as its net.Conn,
// served by Go's runtime from then on. fd stays the caller's, to close;
// closing it then leaves the net.Conn open.
//
// The reader is stopped with a read deadline in the past (and the deadline
// cleared again); what it had read ahead comes first out of the returned
// net.Conn's Read. What the send buffer still holds is written before the
// new owner's first write. When there is neither, the net.Conn is the one
// net made.
func FileConn(fd int) (net.Conn, error) {
	c, err := connOf(fd)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.handover = true
	c.cond.Broadcast()
	c.nc.SetReadDeadline(time.Unix(1, 0))
	c.mu.Unlock()
	<-c.readerDone
	c.nc.SetReadDeadline(time.Time{})

	c.mu.Lock()
	defer c.mu.Unlock()
	c.reg.set(fd, nil, 0, 0)
	var kept []byte
	if c.off < len(c.in) {
		kept = append([]byte(nil), c.in[c.off:]...)
	}
	rerr := c.rerr
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		rerr = nil // FileConn's own deadline
	}
	pending := c.writer && len(c.out)+c.writing > 0
	if !pending && kept == nil && rerr == nil {
		return c.nc, nil
	}
	h := &handedConn{Conn: c.nc, kept: kept, rerr: rerr, written: c.writerDone, src: c}
	if !pending {
		h.written = nil
	}
	return h, nil
}

// handedConn is a handed-over connection that first delivers what the
// reader had read ahead, and lets the writer finish before its own
// writes.
type handedConn struct {
	net.Conn
	mu      sync.Mutex
	kept    []byte
	rerr    error           // what ended the reader, reported after kept
	written <-chan struct{} // closed when the writer is done; nil: it is
	src     *conn
}

func (h *handedConn) Read(p []byte) (int, error) {
	h.mu.Lock()
	if len(h.kept) > 0 {
		n := copy(p, h.kept)
		h.kept = h.kept[n:]
		h.mu.Unlock()
		return n, nil
	}
	err := h.rerr
	h.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return h.Conn.Read(p)
}

func (h *handedConn) Write(p []byte) (int, error) {
	if h.written != nil {
		// Bounded by the new owner's write deadline, which stops the
		// writer's net.Conn.Write as well.
		<-h.written
		h.src.mu.Lock()
		err := h.src.werr
		h.src.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return h.Conn.Write(p)
}

// CloseWrite ends the sending side, as *net.TCPConn's does.
func (h *handedConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// unsafeSlice is the buffer an Iovec describes.
func unsafeSlice(base *byte, n int) []byte { return unsafe.Slice(base, n) }
