package simpleserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/simple-server/simpleserver/internal/proxyproto"
	"github.com/simple-server/simpleserver/internal/timer"
)

// Defaults for ProxyProtocol's zero fields.
const (
	DefaultProxyHeaderTimeout = 3 * time.Second
	DefaultProxyHeaderBytes   = 4096
)

// ErrProxyHeader is the close reason (wrapped, with the cause) of a
// connection that did not start with a valid PROXY protocol header in
// time, or came from a peer not trusted to send one, while
// Server.ProxyProtocol is set.
var ErrProxyHeader = errors.New("simpleserver: PROXY protocol header refused")

// ProxyProtocol makes a Server expect the PROXY protocol (versions 1 and
// 2, as HAProxy's send-proxy and send-proxy-v2 and most cloud load
// balancers send it) at the start of every accepted connection. The
// header is read on the loop, before the first message; it is required,
// never guessed at (a connection that starts otherwise is closed, as the
// specification says). Conn.RemoteAddr then reports the client's address
// from the header, and Conn.Proxy the rest. OnOpen is called once the
// header is read.
type ProxyProtocol struct {
	// Timeout bounds the wait for the complete header from the accept
	// on; 0 means DefaultProxyHeaderTimeout.
	Timeout time.Duration
	// MaxHeaderBytes bounds a version 2 header with its TLVs (version 1
	// is at most 107 bytes); 0 means DefaultProxyHeaderBytes.
	MaxHeaderBytes int
	// Trusted, if not empty, are the only networks a proxy may connect
	// from: connections from elsewhere are closed at once. Empty trusts
	// every peer that can reach the listener.
	Trusted []netip.Prefix
}

// ProxyInfo is what a PROXY protocol header told about a connection.
type ProxyInfo struct {
	// Proxy is the connection's own peer: the proxy that sent the header.
	Proxy net.Addr
	// Destination is the address the client connected to, as the proxy
	// saw it; nil when Local.
	Destination net.Addr
	// Local is set when the header carries no client (the proxy's own
	// health check, version 2's LOCAL, or version 1's UNKNOWN); then
	// RemoteAddr is the proxy's address.
	Local bool
	// Authority (the host name the client asked for) and ALPN are the
	// version 2 TLVs of those names; empty when absent.
	Authority, ALPN string
}

// proxyState is a connection's PROXY protocol state, in its rare part.
type proxyState struct {
	waiting bool         // the header is not read yet (loop-owned)
	timer   *timer.Entry // ends the wait
	info    *ProxyInfo   // guarded by Conn.mu
}

// Proxy returns what the connection's PROXY protocol header said, or nil
// without Server.ProxyProtocol (and before the header is read). Any
// goroutine may call it.
func (c *Conn) Proxy() *ProxyInfo {
	x := c.rare.Load()
	if x == nil || x.proxy == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return x.proxy.info
}

// check validates p. With the Server's lock held.
func (p *ProxyProtocol) check() error {
	if p.Timeout < 0 || p.MaxHeaderBytes < 0 {
		return errors.New("simpleserver: ProxyProtocol.Timeout and MaxHeaderBytes must be >= 0")
	}
	return nil
}

// trusts reports whether peer may send a header.
func (p *ProxyProtocol) trusts(peer net.Addr) bool {
	if len(p.Trusted) == 0 {
		return true
	}
	a, ok := peer.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, _ := netip.AddrFromSlice(a.IP)
	for _, n := range p.Trusted {
		if n.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// awaitProxyHeader starts the wait for a new connection's header. On the
// loop, in place of OnOpen, which waits for the header.
func (l *loop) awaitProxyHeader(c *Conn) {
	p := l.srv.ProxyProtocol
	x := c.more()
	st := &proxyState{waiting: true}
	x.proxy = st
	d := p.Timeout
	if d == 0 {
		d = DefaultProxyHeaderTimeout
	}
	st.timer = l.after(d, func() {
		st.timer = nil
		if st.waiting && c.fd >= 0 {
			l.closeConn(c, kindProxy, l.refusedProxy(c.peer.Addr(), errors.New("header timeout")))
		}
	})
}

// proxyHeader reads c's header from the start of buf, and returns how
// many bytes it took and whether c is ready for its messages: false while
// the header is incomplete (buf is kept) or after it was refused (c
// stops). On the loop.
func (l *loop) proxyHeader(c *Conn, st *proxyState, buf []byte) (int, bool) {
	p := l.srv.ProxyProtocol
	limit := p.MaxHeaderBytes
	if limit == 0 {
		limit = DefaultProxyHeaderBytes
	}
	h, n, err := proxyproto.Parse(buf, limit)
	switch {
	case err != nil:
		// As a Codec's error: c stops, and the caller settles it.
		c.setReason(kindProxy, l.refusedProxy(c.peer.Addr(), err))
		c.stopped = true
		return 0, false
	case n == 0:
		return 0, false
	}
	st.waiting = false
	if st.timer != nil {
		l.timers.Remove(st.timer)
		st.timer = nil
	}
	info := &ProxyInfo{Proxy: c.peer.Addr(), Destination: h.Destination, Local: h.Local, Authority: h.Authority, ALPN: h.ALPN}
	c.mu.Lock()
	x := c.moreLocked()
	if info.Proxy == nil {
		info.Proxy = x.remote // a Unix socket's peer, named at accept
	}
	st.info = info
	if !h.Local {
		x.remote = h.Source
	}
	c.mu.Unlock()
	l.opened(c)
	return n, c.fd >= 0 && !c.stopped && !c.isClosing()
}

// awaitingProxy reports whether c's PROXY header is still to come. On the
// loop.
func (c *Conn) awaitingProxy() bool {
	x := c.rare.Load()
	return x != nil && x.proxy != nil && x.proxy.waiting
}

// refusedProxy logs (at debug level) that a connection from peer is
// refused for its PROXY header, and returns the close reason. On the loop.
func (l *loop) refusedProxy(peer net.Addr, cause error) error {
	err := fmt.Errorf("%w: %w", ErrProxyHeader, cause)
	l.srv.logger().Debug("closing connection", "remote", peer, "err", err)
	return err
}
