package simpleserver

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/simple-server/simpleserver/internal/poll"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/internal/timer"
)

// Listeners are level-triggered: the acceptor takes at most acceptBudget
// connections per wake-up and relies on the level to be called again for
// the rest, so a connection storm cannot starve the loop's other work.
const (
	listenEvents = poll.In
	acceptBudget = 64
	minBackoff   = 10 * time.Millisecond
	maxBackoff   = time.Second
)

// listener is a listening socket owned by one loop.
type listener struct {
	fd     int
	addr   net.Addr
	loop   *loop
	orig   net.Listener // the caller's listener, closed with ours
	unlink string       // socket file to remove on close (ours only)

	backoff time.Duration // current accept back-off; 0 while healthy
	paused  bool          // removed from epoll while backing off
	timer   *timer.Entry  // ends the back-off
	closed  bool
}

// listen opens the server's listeners: a dup of each given listener, or
// one (ReusePort: one per loop) bound to s.Addr. On error every given
// listener is closed.
func (s *Server) listen(given []net.Listener, loops int) ([]*listener, error) {
	if len(given) > 0 {
		lns := make([]*listener, 0, len(given))
		for i, ln := range given {
			fd, err := -1, errNilListener
			if ln != nil {
				fd, err = sock.Dup(ln)
			}
			if err != nil {
				for _, l := range lns {
					l.close()
				}
				closeListeners(given[i:])
				return nil, err
			}
			lns = append(lns, &listener{fd: fd, addr: ln.Addr(), orig: ln})
		}
		return lns, nil
	}
	network, opt := sock.ServerListen(s.Network, s.Backlog, s.DeferAccept, s.ReusePort)
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	n := 1
	if s.ReusePort {
		if network == "unix" {
			return nil, errors.New("simpleserver: ReusePort needs a TCP network")
		}
		n = loops
	}
	var lns []*listener
	for i := range n {
		fd, bound, err := sock.Listen(network, addr, opt)
		if err != nil {
			for _, l := range lns {
				l.close()
			}
			return nil, err
		}
		l := &listener{fd: fd, addr: bound}
		if network == "unix" && !strings.HasPrefix(addr, "@") {
			l.unlink = addr
		}
		lns = append(lns, l)
		if i == 0 {
			// Port 0: the other listeners join the port the first got.
			addr = bound.String()
		}
	}
	return lns, nil
}

var errNilListener = errors.New("simpleserver: Start got a nil listener")

// closeListeners closes the caller's listeners the server took and will
// not serve.
func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		if ln != nil {
			ln.Close()
		}
	}
}

// close releases the listener. Called on its loop (or before loops run).
func (ln *listener) close() {
	if ln.closed {
		return
	}
	ln.closed = true
	if ln.loop != nil {
		ln.loop.srv.listening.Add(-1)
	}
	if ln.timer != nil {
		ln.loop.timers.Remove(ln.timer)
	}
	if ln.loop != nil && !ln.paused {
		ln.loop.poller.Del(ln.fd)
	}
	sock.Close(ln.fd)
	if ln.orig != nil {
		ln.orig.Close()
	}
	if ln.unlink != "" {
		os.Remove(ln.unlink)
	}
}

// accept takes up to acceptBudget pending connections, and reports
// whether it stopped because of the budget (more may be waiting). On the
// loop.
func (l *loop) accept(ln *listener) (more bool) {
	s := l.srv
	for range acceptBudget {
		fd, peer, err := sock.Accept(ln.fd)
		if err != nil {
			var errno syscall.Errno
			errors.As(err, &errno)
			switch errno {
			case syscall.EAGAIN:
				return false
			case syscall.EPROTO, syscall.EPERM:
				// The connection died in the backlog or a firewall
				// refused it: nothing is wrong with the listener.
				continue
			case syscall.EMFILE, syscall.ENFILE:
				l.shed(ln)
				l.backOff(ln, err)
				return false
			default:
				// ENOBUFS, ENOMEM and anything unexpected: the listener
				// stays level-readable, so retrying now would spin.
				// Step back and keep serving the connections we have.
				l.backOff(ln, err)
				return false
			}
		}
		l.stats.accepted.Add(1)
		if ln.backoff != 0 {
			s.logger().Info("accepting again", "addr", ln.addr.String())
			ln.backoff = 0
		}
		if s.MaxConns > 0 && s.openConns() >= int64(s.MaxConns) {
			// Accept and close at once, rather than leave it in the
			// backlog where the client would wait for nothing.
			l.stats.open.Add(1)
			l.reject(fd, kindLimit)
			continue
		}
		if err := s.connOpts.Apply(fd, peer); err != nil {
			// Typically the peer already reset the connection.
			s.logger().Debug("socket options on accepted connection", "err", err)
			l.stats.open.Add(1)
			l.reject(fd, kindError)
			continue
		}
		target := l
		if !s.acceptLocal {
			target = s.pick(l)
		}
		// Counted now, not when the target registers it, so MaxConns
		// and LeastConns see it at once.
		target.stats.open.Add(1)
		if target == l {
			l.register(fd, peer)
		} else if !target.post(func() { target.register(fd, peer) }) {
			target.reject(fd, kindShutdown) // that loop has exited
		}
	}
	return true
}

// shed is libuv's answer to running out of descriptors: give up the
// reserve descriptor, use it to accept and close what waits in the
// backlog, and take the reserve back. Clients then see a prompt close
// instead of hanging in the backlog while the server cannot take them.
// On the loop.
func (l *loop) shed(ln *listener) {
	if l.reserve < 0 {
		return
	}
	sock.Close(l.reserve)
	l.reserve = -1
	for range acceptBudget {
		fd, _, err := sock.Accept(ln.fd)
		if err != nil {
			break
		}
		l.stats.accepted.Add(1)
		l.stats.open.Add(1)
		l.reject(fd, kindLimit)
	}
	l.openReserve()
}

// openReserve takes a spare descriptor for shed. On the loop (or before
// it runs).
func (l *loop) openReserve() {
	if l.reserve >= 0 {
		return
	}
	fd, err := sock.OpenReserve()
	if err != nil {
		return // out of descriptors still: try again after the next shed
	}
	l.reserve = fd
}

// backOff takes ln out of epoll for a doubling delay (minBackoff to
// maxBackoff) after an accept error. On the loop.
func (l *loop) backOff(ln *listener, err error) {
	ln.backoff = min(max(2*ln.backoff, minBackoff), maxBackoff)
	l.stats.backoffs.Add(1)
	if ln.backoff == minBackoff || ln.backoff == maxBackoff {
		// Once when trouble starts and once a second while it lasts.
		l.srv.logger().Warn("accept failed; backing off", "addr", ln.addr.String(), "err", err, "retry_in", ln.backoff)
	}
	if err := l.poller.Del(ln.fd); err != nil {
		l.srv.logger().Error("pause listener", "err", err)
		return
	}
	ln.paused = true
	ln.timer = l.after(ln.backoff, func() {
		ln.timer = nil
		if ln.closed || l.stopping {
			return
		}
		ln.paused = false
		l.openReserve()
		if err := l.poller.Add(ln.fd, listenEvents); err != nil {
			l.srv.logger().Error("resume listener", "err", err)
			return
		}
		l.accept(ln)
	})
}
