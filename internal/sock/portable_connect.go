//go:build !linux || simpleserver_portable

package sock

import (
	"context"
	"net"
)

// Connect starts connecting to addr (a *net.TCPAddr with an IP, or a
// *net.UnixAddr) and returns a descriptor at once, as the epoll engine's
// non-blocking connect does: a goroutine dials with net.Dialer, and the
// descriptor reports Out when the connection is up (its reader then
// starts), or Err and Hup when the dial failed, which SocketError then
// returns. Closing the descriptor first cancels the dial.
func Connect(addr net.Addr) (int, Peer, error) {
	switch addr.(type) {
	case *net.TCPAddr, *net.UnixAddr:
	default:
		return -1, Peer{}, &net.AddrError{Err: "unsupported address type", Addr: addr.String()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{cancel: cancel, readerDone: make(chan struct{}), writerDone: make(chan struct{})}
	c.cond.L = &c.mu
	fd := install(c)
	go c.dial(ctx, addr)
	return fd, Peer{addr: addr}, nil
}

// dial is the connecting goroutine of a descriptor from Connect.
func (c *conn) dial(ctx context.Context, addr net.Addr) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, addr.Network(), addr.String())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancel()
	if err == nil && c.closed {
		nc.Close()
		err = net.ErrClosed
	}
	if err != nil {
		// No reader will run: as after a reset, reads and writes fail
		// with the dial's error.
		c.werr, c.rerr = err, err
		close(c.readerDone)
		c.reg.post(EventErr | EventHup)
		return
	}
	c.nc = nc
	go c.read()
	c.reg.post(EventOut)
}

// dialing reports whether c is a Connect still under way. With c's lock
// held.
func (c *conn) dialing() bool { return c.nc == nil && c.rerr == nil }
