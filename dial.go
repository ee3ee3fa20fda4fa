package simpleserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/internal/poll"
	"github.com/simple-server/simpleserver/internal/sock"
)

// Dialer says how Server.Dial and DialAsync connect, and what serves the
// connection they make: an outbound connection lives on one of the
// server's loops as the same *Conn as an accepted one, with the server's
// timeouts, watermarks, MaxPendingBytes, socket options and workers, and
// callbacks of its own. The callbacks are called as the Server's are, on
// the connection's loop.
type Dialer struct {
	// Handler handles each message the peer sends. Required.
	Handler Handler
	// Codec cuts the inbound stream into messages; nil means every
	// read's bytes are one message.
	Codec codec.Codec
	// OnOpen, if set, is called once the connection is established,
	// before any of its messages is handled.
	OnOpen func(c *Conn)
	// OnClose, if set, is called exactly once: when an established
	// connection closes, as Server.OnClose, or when the dial fails, with
	// its error (a *net.OpError with Op "dial": ECONNREFUSED, ETIMEDOUT,
	// ENETUNREACH, a resolver's error, or the context's).
	OnClose func(c *Conn, err error)
	// OnBackpressure and OnEOF are as the Server's fields of those names.
	OnBackpressure func(c *Conn, paused bool)
	OnEOF          func(c *Conn)

	// Timeout bounds the whole dial, name resolution and every address
	// tried included; 0 means no bound but the context's (and the
	// kernel's own SYN retries, about two minutes).
	Timeout time.Duration
	// Resolver resolves host names, off the loop; nil means
	// net.DefaultResolver. IP addresses are not resolved.
	Resolver *net.Resolver
	// Near, if set, puts the new connection on Near's loop, so that a
	// proxy's two ends share one loop and pass bytes between them
	// without crossing goroutines. Otherwise the loops take turns.
	Near *Conn
}

// dialState is a dialed connection's dial: owned by its loop.
type dialState struct {
	cb               callbacks
	network, address string
	ctx              context.Context
	cancel           context.CancelFunc // the Timeout's, or a no-op
	stopAfter        func() bool        // unregisters the context's AfterFunc
	addrs            []net.Addr         // still to try, in order
	err              error              // the last attempt's
	done             chan struct{}      // Dial waits on it; nil for DialAsync
	result           error              // what Dial returns, set before done closes
}

// Dial connects to address on one of the server's loops and returns the
// established connection, or the dial's error (a *net.OpError; OnClose has
// then been called with it). network is "tcp", "tcp4", "tcp6" or "unix";
// address is host:port (every address of a host name is tried in turn,
// as the resolver orders them) or a Unix socket path. ctx bounds the dial,
// not the connection. Any goroutine but one of the server's loops, which
// would wait for itself: handlers use DialAsync.
func (s *Server) Dial(ctx context.Context, network, address string, d *Dialer) (*Conn, error) {
	c, err := s.dial(ctx, network, address, d, true)
	if err != nil {
		return nil, err
	}
	x := c.rare.Load().dial
	<-x.done
	if x.result != nil {
		return nil, x.result
	}
	return c, nil
}

// DialAsync is Dial without the wait: it returns the connection at once,
// while it connects. Writes made meanwhile are queued and sent, in order,
// once it is established (Close likewise waits for them); Dialer.OnOpen
// tells when it is, Dialer.OnClose when the dial failed. The error is
// only for a dial that cannot start (a bad Dialer or network, a server
// not running). Any goroutine, loops included: it never blocks.
func (s *Server) DialAsync(ctx context.Context, network, address string, d *Dialer) (*Conn, error) {
	return s.dial(ctx, network, address, d, false)
}

func (s *Server) dial(ctx context.Context, network, address string, d *Dialer, wait bool) (*Conn, error) {
	switch {
	case d == nil || d.Handler == nil:
		return nil, errors.New("simpleserver: Dialer.Handler is nil")
	case d.Timeout < 0:
		return nil, errors.New("simpleserver: Dialer.Timeout must be >= 0")
	case d.Near != nil && d.Near.loop.srv != s:
		return nil, errors.New("simpleserver: Dialer.Near is another server's connection")
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	if v, ok := d.Codec.(codec.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("simpleserver: invalid Dialer.Codec: %w", err)
		}
	}
	l, err := s.dialLoop(d.Near)
	if err != nil {
		return nil, err
	}
	x := &dialState{
		cb: callbacks{codec: d.Codec, handler: d.Handler, onOpen: d.OnOpen, onClose: d.OnClose,
			onBackpressure: d.OnBackpressure, onEOF: d.OnEOF},
		network: network, address: address,
	}
	if d.Timeout > 0 {
		x.ctx, x.cancel = context.WithTimeout(ctx, d.Timeout)
	} else {
		x.ctx, x.cancel = context.WithCancel(ctx)
	}
	if wait {
		x.done = make(chan struct{})
	}
	c := l.newConn(-1, sock.Peer{}, x)
	if network == "unix" {
		c.rare.Load().remote = &net.UnixAddr{Name: address, Net: "unix"}
	}
	// Counted now, like an accepted connection handed to a loop, so that
	// the loop does not exit under it.
	l.stats.open.Add(1)
	l.stats.outbound.Add(1)
	l.stats.dialed.Add(1)
	resolver := d.Resolver
	if !l.post(func() { l.startDial(c, resolver) }) {
		l.stats.open.Add(-1)
		l.stats.outbound.Add(-1)
		x.cancel()
		return nil, ErrServerClosed
	}
	return c, nil
}

// dialLoop is the loop a new outbound connection goes to.
func (s *Server) dialLoop(near *Conn) (*loop, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.stopping || len(s.loops) == 0 {
		return nil, ErrServerClosed
	}
	if near != nil {
		return near.loop, nil
	}
	return s.loops[s.dialRR.Add(1)%uint64(len(s.loops))], nil
}

// startDial resolves the address (off the loop, unless it is literal) and
// begins connecting. On the loop.
func (l *loop) startDial(c *Conn, resolver *net.Resolver) {
	x := c.rare.Load().dial
	if l.stopping {
		l.detach(c, kindShutdown, ErrServerClosed, endAbort)
		return
	}
	x.stopAfter = context.AfterFunc(x.ctx, func() {
		l.post(func() { l.dialFailed(c, x.ctx.Err()) })
	})
	addrs, host, port, err := literal(x.network, x.address)
	switch {
	case err != nil:
		l.dialFailed(c, err)
	case addrs != nil:
		x.addrs = addrs
		l.connectNext(c)
	default:
		if l.resolving == nil {
			l.resolving = make(map[*Conn]struct{})
		}
		l.resolving[c] = struct{}{}
		go func() {
			addrs, err := resolve(x.ctx, resolver, x.network, host, port)
			l.post(func() {
				if _, ok := l.resolving[c]; !ok {
					return // failed meanwhile: cancelled, or the server closed
				}
				delete(l.resolving, c)
				if err != nil {
					l.dialFailed(c, err)
					return
				}
				x.addrs = addrs
				l.connectNext(c)
			})
		}()
	}
}

// literal returns the addresses of a literal address (a Unix path, or an
// IP and a numeric port), or the host and port a resolver must look up.
func literal(network, address string) (addrs []net.Addr, host, port string, err error) {
	if network == "unix" {
		return []net.Addr{&net.UnixAddr{Name: address, Net: "unix"}}, "", "", nil
	}
	host, port, err = net.SplitHostPort(address)
	if err != nil {
		return nil, "", "", err
	}
	n, perr := strconv.ParseUint(port, 10, 16)
	ip, ierr := netip.ParseAddr(host)
	if host == "" {
		// As net.Dial: an empty host is the local system.
		ip, ierr = netip.IPv4Unspecified(), nil
		if network == "tcp6" {
			ip = netip.IPv6Unspecified()
		}
	}
	if perr != nil || ierr != nil {
		return nil, host, port, nil
	}
	if ip.IsUnspecified() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if ip.Is6() || network == "tcp6" {
			ip = netip.IPv6Loopback()
		}
	}
	if !family(network, ip) {
		return nil, "", "", &net.AddrError{Err: "address of the wrong family for " + network, Addr: host}
	}
	return []net.Addr{net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(n)))}, "", "", nil
}

// family reports whether ip may be dialed on network.
func family(network string, ip netip.Addr) bool {
	switch network {
	case "tcp4":
		return ip.Unmap().Is4()
	case "tcp6":
		return ip.Is6() && !ip.Is4In6()
	}
	return true
}

// resolve looks host and port up. Off the loop: it blocks.
func resolve(ctx context.Context, r *net.Resolver, network, host, port string) ([]net.Addr, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	p, err := r.LookupPort(ctx, network, port)
	if err != nil {
		return nil, err
	}
	ipnet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := r.LookupNetIP(ctx, ipnet, host)
	if err != nil {
		return nil, err
	}
	var addrs []net.Addr
	for _, ip := range ips {
		if family(network, ip) {
			addrs = append(addrs, net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), uint16(p))))
		}
	}
	if len(addrs) == 0 {
		return nil, &net.AddrError{Err: "no suitable address found", Addr: host}
	}
	return addrs, nil
}

// connectNext starts a non-blocking connect to the next address, or fails
// the dial with the last attempt's error when none is left. On the loop.
func (l *loop) connectNext(c *Conn) {
	x := c.rare.Load().dial
	for len(x.addrs) > 0 {
		a := x.addrs[0]
		x.addrs = x.addrs[1:]
		fd, peer, err := sock.Connect(a)
		if err == nil {
			if err = l.poller.Add(fd, connEvents); err != nil {
				sock.Close(fd)
			}
		}
		if err != nil {
			x.err = &net.OpError{Op: "dial", Net: x.network, Addr: a, Err: err}
			continue
		}
		c.mu.Lock()
		c.fd, c.peer = int32(fd), peer
		if a, ok := a.(*net.TCPAddr); ok {
			c.rare.Load().remote = a
		}
		c.mu.Unlock()
		l.conns.set(fd, c)
		// The outcome comes as EPOLLOUT or EPOLLERR: see connected.
		return
	}
	if x.err == nil {
		x.err = errors.New("no address to dial")
	}
	l.dialFailed(c, x.err)
}

// connected learns the outcome of c's connect from the event that ended
// it, and either establishes c, reporting true (the event's other
// readiness, data and an EOF that came with the handshake, is then
// handled as any connection's), or tries the next address. On the loop.
func (l *loop) connected(c *Conn, ev uint32) bool {
	x := c.rare.Load().dial
	fd := int(c.fd)
	err := sock.SocketError(fd)
	if err == nil && ev&(poll.Err|poll.Hup) != 0 {
		err = errors.New("connection failed")
	}
	if err != nil {
		x.err = &net.OpError{Op: "dial", Net: x.network, Addr: c.rare.Load().remote, Err: err}
		l.conns.set(fd, nil)
		c.mu.Lock()
		c.fd = -1
		c.mu.Unlock()
		sock.Close(fd)
		l.connectNext(c)
		return false
	}
	if err := l.srv.connOpts.Apply(fd, c.peer); err != nil {
		l.closeConn(c, kindError, err)
		return false
	}
	c.pause &^= pauseDial
	l.dialOver(c, nil)
	l.touch(c)
	l.opened(c)
	if c.fd < 0 {
		return false // OnOpen closed it at once
	}
	if c.isClosing() {
		// Closed while connecting: what it queued goes out first.
		l.stopReading(c, kindHandler, nil)
	}
	l.markDirty(c) // writes queued while connecting
	return c.fd >= 0
}

// dialFailed ends a dial that is still under way with err. On the loop.
func (l *loop) dialFailed(c *Conn, err error) {
	if c.pause&pauseDial == 0 {
		return // established, or ended, meanwhile
	}
	if _, ok := err.(*net.OpError); !ok {
		x := c.rare.Load()
		err = &net.OpError{Op: "dial", Net: x.dial.network, Addr: x.remote, Err: err}
	}
	l.detach(c, kindDial, err, endAbort)
}

// dialOver releases what the dial held, once it succeeded (err nil) or
// failed, and wakes Dial. On the loop.
func (l *loop) dialOver(c *Conn, err error) {
	x := c.rare.Load().dial
	delete(l.resolving, c)
	if x.stopAfter != nil {
		x.stopAfter()
	}
	x.cancel()
	x.cancel, x.addrs = nil, nil
	if x.done != nil {
		x.result = err
		close(x.done)
	}
}
