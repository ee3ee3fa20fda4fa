package simpleserver

import (
	"errors"
	"net"

	"github.com/simple-server/simpleserver/internal/sock"
)

// Detach hands c's socket over to the caller as a net.Conn served by the Go
// runtime, with blocking reads and writes and deadlines, and ends c: the
// server no longer reads, writes or times it (an HTTP hijack: WebSocket
// libraries take the connection over this way). It first waits until the
// output queued on c has been written. kept is what the server read from
// the socket but the handler did not consume (a StreamHandler's kept
// input): it comes before the net.Conn's first byte. CloseStream and
// OnClose get ErrDetached; Stats counts c in Closed.Detached. The caller
// owns the net.Conn and must close it.
//
// Any goroutine but c's loop may call it (it waits for the loop). A
// handler offloaded with Conn.Offload may call it: Offload's ordering
// still holds, the functions queued after it run, with c closed.
func (c *Conn) Detach() (nc net.Conn, kept []byte, err error) {
	for {
		// Written before the hand-over, so that bytes queued on c and
		// bytes the caller writes to nc reach the peer in that order.
		flushed := make(chan error, 1)
		if _, err := c.WriteNotify(func(_ *Conn, err error) { flushed <- err }); err != nil {
			return nil, nil, err
		}
		if err := <-flushed; err != nil {
			return nil, nil, err
		}
		type result struct {
			nc   net.Conn
			kept []byte
			err  error
		}
		done := make(chan result, 1)
		if !c.loop.post(func() {
			nc, kept, err := c.loop.handOver(c)
			done <- result{nc, kept, err}
		}) {
			return nil, nil, ErrConnClosed
		}
		r := <-done
		if r.err != errOutputPending {
			return r.nc, r.kept, r.err
		}
		// Another goroutine wrote after the flush: write that too.
	}
}

// errOutputPending: the hand-over found output queued again.
var errOutputPending = errors.New("simpleserver: output queued during detach")

// handOver is Detach on the loop.
func (l *loop) handOver(c *Conn) (net.Conn, []byte, error) {
	if c.fd < 0 {
		return nil, nil, ErrConnClosed
	}
	if c.Buffered() > 0 {
		return nil, nil, errOutputPending
	}
	fd := int(c.fd)
	nc, err := sock.FileConn(fd)
	if err != nil {
		return nil, nil, err
	}
	// Out of this loop's epoll set explicitly: the socket now has another
	// descriptor (nc's), and an epoll registration lasts until every
	// descriptor of the open file is closed, so closing ours alone would
	// leave it reporting events to this loop.
	if err := l.poller.Del(fd); err != nil {
		nc.Close()
		return nil, nil, err
	}
	var kept []byte
	if x := c.rare.Load(); x != nil && len(x.in) > 0 {
		kept = append([]byte(nil), x.in...)
	}
	l.detach(c, kindDetached, ErrDetached, endHandOver)
	sock.Close(fd)
	return nc, kept, nil
}
