//go:build !linux || simpleserver_portable

package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// ErrReusePort: SO_REUSEPORT groups that spread one port's connections
// over several sockets are a Linux feature; the portable engine refuses
// the option rather than pretend to balance.
var ErrReusePort = errors.New("sock: ReusePort needs the epoll engine (Linux without the simpleserver_portable tag)")

// listener is a listening socket: an acceptor goroutine, blocked in
// net.Listener.Accept while the listener is watched, holds at most one
// accepted connection (or error) until Accept takes it.
type listener struct {
	ln   net.Listener
	mu   sync.Mutex
	cond sync.Cond
	reg  registration

	next     net.Conn // accepted, not yet taken
	err      error    // the accept that failed, not yet taken
	parked   bool     // after an error, until watched again: Accept accepts itself
	draining bool     // Drain: Accept takes what the backlog holds itself
	closed   bool
}

// newListener gives ln a descriptor and starts its acceptor.
func newListener(ln net.Listener) int {
	l := &listener{ln: ln}
	l.cond.L = &l.mu
	fd := install(l)
	go l.acceptLoop()
	return fd
}

// acceptLoop is the acceptor goroutine. It accepts only while a poller
// watches the listener: one unwatched (a loop backing off after EMFILE,
// or not serving yet) leaves connections in the kernel's backlog, as an
// epoll loop that does not call accept does. After an error it waits for
// the next Accept, so that a persistent error (EMFILE) is retried at the
// loop's pace, not in a spin.
func (l *listener) acceptLoop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for !l.closed && (l.next != nil || l.err != nil || l.parked || l.draining || l.reg.n == nil) {
			l.cond.Wait()
		}
		if l.closed {
			return
		}
		l.mu.Unlock()
		nc, err := l.ln.Accept()
		l.mu.Lock()
		if l.closed {
			if nc != nil {
				nc.Close()
			}
			return
		}
		if l.draining && errors.Is(err, os.ErrDeadlineExceeded) {
			continue // Drain's deadline, meant for its own accepts
		}
		l.next, l.err = nc, err
		l.reg.post(EventIn)
	}
}

// Accept takes the connection the acceptor holds: a new descriptor and
// its peer. With none it returns syscall.EAGAIN. An accept error (EMFILE)
// is returned as net reported it, so errors.As finds its errno. After one,
// and while draining, Accept takes from the kernel's backlog itself
// (acceptNow), and the acceptor waits until the listener is watched
// again. That is what the loops' EMFILE shedding needs: with the reserve
// descriptor given up, accept and close what waits, take the reserve
// back, then back off (unwatched) and watch again.
func Accept(fd int) (int, Peer, error) {
	l, ok := lookup(fd).(*listener)
	if !ok {
		return -1, Peer{}, os.NewSyscallError("accept", syscall.EBADF)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	nc, err := l.next, l.err
	l.next, l.err = nil, nil
	if nc == nil && err == nil && (l.parked || l.draining) {
		nc, err = l.acceptNow()
	}
	if err != nil && !retriedAtOnce(err) {
		// Until the loop watches the listener again (Poller.Add after
		// its back-off): an acceptor running meanwhile would take the
		// descriptor the loop frees for its reserve.
		l.parked = true
	}
	l.cond.Broadcast()
	switch {
	case nc != nil:
		return newConn(nc), Peer{addr: remoteOf(nc)}, nil
	case err != nil:
		return -1, Peer{}, err
	}
	return -1, Peer{}, syscall.EAGAIN
}

// retriedAtOnce reports whether err is one after which the loops accept
// again at once (listener.go): a connection that died in the backlog, or
// one a firewall refused.
func retriedAtOnce(err error) bool {
	return errors.Is(err, syscall.EPROTO) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ECONNABORTED)
}

// drainWait bounds acceptNow's wait for the backlog: a connection there
// is established already and is accepted at once, so the wait is spent
// only when the backlog is empty, once per drain or back-off.
const drainWait = time.Millisecond

// acceptNow is one accept from the kernel's backlog, waiting at most
// drainWait; (nil, nil) when the backlog is empty. With l's lock held:
// the acceptor is stopped by then (it waits while l.parked or
// l.draining, and is not in Accept: it parks only after delivering).
func (l *listener) acceptNow() (net.Conn, error) {
	dl, ok := l.ln.(interface{ SetDeadline(time.Time) error })
	if !ok {
		return nil, nil
	}
	dl.SetDeadline(time.Now().Add(drainWait))
	nc, err := l.ln.Accept()
	dl.SetDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, nil
	}
	return nc, err
}

// drain is Drain for a listener: from now on Accept takes the
// connections waiting in the kernel's backlog itself, as an accept on
// Linux does, instead of only the one the acceptor holds, so that clients
// that connected before a graceful shutdown are served, not reset.
func (l *listener) drain() {
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
	// The acceptor may be blocked in Accept: expire it, so that the
	// draining accepts are ours.
	if dl, ok := l.ln.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(time.Unix(1, 0))
	}
}

func (l *listener) watch(fd int, n Notifier, events uint32) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n != nil {
		l.parked = false
	}
	l.cond.Broadcast()
	return l.reg.set(fd, n, events, l.level())
}

func (l *listener) readiness() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level()
}

func (l *listener) level() uint32 {
	if l.next != nil || l.err != nil {
		return EventIn
	}
	return 0
}

func (l *listener) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.cond.Broadcast()
	if l.next != nil {
		l.next.Close()
		l.next = nil
	}
	return l.ln.Close()
}

// Listen creates a listener with net.ListenConfig: network is "tcp",
// "tcp4", "tcp6" or "unix", address as net.Listen takes it. Backlog and
// DeferAccept have no portable equivalent and are not applied (Go's net
// uses the system's largest backlog); ReusePort is refused with
// ErrReusePort. Keep-alive is left off, as on Linux, for
// ConnOptions.Apply to decide.
func Listen(network, address string, opt ListenOptions) (fd int, addr net.Addr, err error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return -1, nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if opt.ReusePort && network != "unix" {
		return -1, nil, ErrReusePort
	}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return -1, nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		// As on Linux, the socket file is the caller's to remove.
		ul.SetUnlinkOnClose(false)
	}
	return newListener(ln), ln.Addr(), nil
}

// Dup returns a descriptor for ln, which must be a *net.TCPListener or a
// *net.UnixListener, as on Linux. Unlike Linux's dup it is ln itself:
// closing the descriptor closes ln.
func Dup(ln net.Listener) (int, error) {
	switch ln.(type) {
	case *net.TCPListener, *net.UnixListener:
	default:
		return -1, fmt.Errorf("sock: dup: unsupported listener type %T (want *net.TCPListener or *net.UnixListener)", ln)
	}
	return newListener(ln), nil
}

// Backlog returns the backlog a request asks for (DefaultBacklog when
// requested <= 0). The portable engine cannot apply it: Go's net listens
// with the system's largest.
func Backlog(requested int) int {
	if requested <= 0 {
		return DefaultBacklog
	}
	return requested
}

// Apply sets the options on the connection fd with net.TCPConn's
// methods. Unlike Linux's, net's sockets are created with TCP_NODELAY on,
// so NoDelay false switches it off: the zero value means the same on both
// engines.
func (o ConnOptions) Apply(fd int, peer Peer) error {
	c, err := connOf(fd)
	if err != nil {
		return err
	}
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	if err := tc.SetNoDelay(o.NoDelay); err != nil {
		return err
	}
	if ka := o.KeepAlive; ka.Enable {
		// Zero fields keep the system's default, as on Linux (net's
		// zero means 15 s; negative leaves the option unchanged).
		for _, d := range []*int64{(*int64)(&ka.Idle), (*int64)(&ka.Interval)} {
			if *d <= 0 {
				*d = -1
			}
		}
		if ka.Count <= 0 {
			ka.Count = -1
		}
		if err := tc.SetKeepAliveConfig(ka); err != nil {
			return err
		}
	}
	if o.ReadBuffer > 0 {
		if err := tc.SetReadBuffer(o.ReadBuffer); err != nil {
			return err
		}
	}
	if o.WriteBuffer > 0 {
		if err := tc.SetWriteBuffer(o.WriteBuffer); err != nil {
			return err
		}
	}
	return nil
}

// Peer is an accepted connection's peer address.
type Peer struct{ addr net.Addr }

// TCP reports whether the peer is a TCP address.
func (p Peer) TCP() bool { _, ok := p.addr.(*net.TCPAddr); return ok }

// Unix reports whether the peer is a Unix socket.
func (p Peer) Unix() bool { _, ok := p.addr.(*net.UnixAddr); return ok }

// Addr returns the peer's *net.TCPAddr, or nil for a Unix socket.
func (p Peer) Addr() net.Addr {
	if !p.TCP() {
		return nil
	}
	return p.addr
}

// LocalAddr returns the address fd is bound to.
func LocalAddr(fd int) (net.Addr, error) {
	switch h := lookup(fd).(type) {
	case *conn:
		h.mu.Lock()
		nc := h.nc
		h.mu.Unlock()
		if nc == nil {
			return nil, os.NewSyscallError("getsockname", syscall.ENOTCONN)
		}
		return nc.LocalAddr(), nil
	case *listener:
		return h.ln.Addr(), nil
	}
	return nil, os.NewSyscallError("getsockname", syscall.EBADF)
}

// PeerAddr returns the address of fd's peer; an unnamed Unix socket is
// "@", as net reports it.
func PeerAddr(fd int) (net.Addr, error) {
	c, err := connOf(fd)
	if err != nil {
		return nil, os.NewSyscallError("getpeername", err)
	}
	return remoteOf(c.nc), nil
}

// remoteOf is nc's peer address, with an unnamed Unix socket's reported
// as "@" on every platform, as net reports it on Linux.
func remoteOf(nc net.Conn) net.Addr {
	a := nc.RemoteAddr()
	if _, ok := nc.(*net.UnixConn); ok {
		if ua, _ := a.(*net.UnixAddr); ua == nil || ua.Name == "" {
			return &net.UnixAddr{Name: "@", Net: "unix"}
		}
	}
	return a
}
