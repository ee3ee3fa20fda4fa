package sock

import (
	"fmt"
	"math"
	"net"
	"strings"
	"time"
)

// ConnOptions are applied to each accepted connection by Apply.
//
// Apply only ever switches things on: a zero field leaves the socket as the
// kernel created it (TCP_NODELAY off, keep-alive off, autotuned buffers).
// It does not rely on options set on the listener being inherited, since
// which options accept(2) copies from the listener is a kernel
// implementation detail, and Dup'd listeners were configured by someone
// else.
type ConnOptions struct {
	// NoDelay sets TCP_NODELAY, disabling Nagle's algorithm. Nagle holds
	// back a small segment while earlier data is unacknowledged; combined
	// with the peer's delayed ACK that stalls request/response traffic by
	// up to 40 ms (Linux's minimum delayed-ACK timeout). A server that
	// writes each response with one write call wants it on. TCP only.
	NoDelay bool

	// KeepAlive controls TCP keep-alive probes, which detect peers that
	// vanished without a FIN or RST (crash, power loss, NAT state
	// dropped) so that their connections do not stay open forever.
	// Enable sets SO_KEEPALIVE; then Idle, Interval and Count, each only
	// when > 0, set TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT, with
	// durations rounded up to whole seconds (the kernel's unit). A zero
	// or negative value keeps the kernel default (net.ipv4.tcp_keepalive_*
	// sysctls: 7200 s, 75 s, 9), unlike net.Dialer where 0 means 15 s.
	// Enable false ignores the other fields. TCP only.
	KeepAlive net.KeepAliveConfig

	// ReadBuffer and WriteBuffer, when > 0, set SO_RCVBUF and SO_SNDBUF.
	// The kernel doubles the value (to account for its bookkeeping
	// overhead), caps it at net.core.rmem_max / wmem_max, and — the
	// important part — stops autotuning that buffer for this socket. Only
	// set them to bound per-connection memory or to exceed the autotuning
	// limit. The TCP window scale is negotiated from the listener's
	// buffer during the handshake, before Apply runs, so a receive buffer
	// set here cannot use a window larger than that scale allows.
	ReadBuffer, WriteBuffer int
}

// Kernel limits (include/net/tcp.h): larger values make setsockopt fail
// with EINVAL.
const (
	maxKeepIdle  = 32767 // MAX_TCP_KEEPIDLE, seconds
	maxKeepIntvl = 32767 // MAX_TCP_KEEPINTVL, seconds
	maxKeepCnt   = 127   // MAX_TCP_KEEPCNT
)

// Validate reports option values the kernel would reject, so that a
// server can refuse a bad configuration at startup instead of failing
// every accepted connection.
func (o ConnOptions) Validate() error {
	if !o.KeepAlive.Enable {
		return nil
	}
	if s := seconds(o.KeepAlive.Idle); s > maxKeepIdle {
		return fmt.Errorf("sock: keep-alive idle %v exceeds the kernel limit of %d s", o.KeepAlive.Idle, maxKeepIdle)
	}
	if s := seconds(o.KeepAlive.Interval); s > maxKeepIntvl {
		return fmt.Errorf("sock: keep-alive interval %v exceeds the kernel limit of %d s", o.KeepAlive.Interval, maxKeepIntvl)
	}
	if o.KeepAlive.Count > maxKeepCnt {
		return fmt.Errorf("sock: keep-alive count %d exceeds the kernel limit of %d", o.KeepAlive.Count, maxKeepCnt)
	}
	return nil
}

// seconds rounds d up to whole seconds, capped at MaxInt32 (setsockopt
// takes a C int). It returns 0 for d <= 0.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s := d / time.Second
	if d%time.Second > 0 {
		s++
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// ListenOptions apply to a listening socket created by Listen.
type ListenOptions struct {
	// Backlog is the accept-queue length; see Backlog for how it is
	// defaulted (<= 0 means DefaultBacklog) and capped at somaxconn.
	Backlog int

	// ReusePort sets SO_REUSEPORT before bind, so that several listeners
	// (one per event loop) can bind the same address. The kernel then
	// hashes each incoming connection to one of them, which spreads
	// accepts across loops without a shared accept queue or thundering
	// herd. All sockets in the group must set it and belong to the same
	// effective user. TCP only: AF_UNIX has no reuseport groups (a second
	// bind fails with EADDRINUSE regardless), so it is ignored there.
	ReusePort bool

	// DeferAccept, when > 0, sets TCP_DEFER_ACCEPT to this duration in
	// whole seconds (rounded up, at least 1); see SetDeferAccept. 0 (or
	// negative) leaves it off. TCP only; ignored for "unix".
	DeferAccept time.Duration
}

// DefaultBacklog is the accept-queue length used when none is requested.
//
// The accept queue holds connections whose handshake the kernel has
// completed but that nobody has accepted yet. When it is full the kernel
// drops the client's final handshake ACK (or answers with RST if
// net.ipv4.tcp_abort_on_overflow is set), and the client retransmits with
// exponential backoff, so a burst of connections larger than the queue
// costs whole seconds of latency. An event loop normally drains the queue
// within one wakeup, so the queue only has to absorb bursts arriving while
// the loop is busy; 1024 covers that without pinning much memory.
const DefaultBacklog = 1024

// DefaultDeferAccept is how long TCP_DEFER_ACCEPT holds a connection for
// its first bytes when the server does not say.
const DefaultDeferAccept = time.Second

// ServerListen is how a server listens, from its Network, Backlog,
// DeferAccept and ReusePort fields: network "" is "tcp", DeferAccept 0
// is DefaultDeferAccept and negative is off, and TCP_DEFER_ACCEPT applies
// to TCP only. The library's Server and simple-server, which opens the
// same sockets itself so that it can hand them on at a restart, both
// listen so.
func ServerListen(network string, backlog int, deferAccept time.Duration, reusePort bool) (string, ListenOptions) {
	if network == "" {
		network = "tcp"
	}
	opt := ListenOptions{Backlog: backlog, ReusePort: reusePort}
	if opt.Backlog <= 0 {
		opt.Backlog = DefaultBacklog
	}
	if strings.HasPrefix(network, "tcp") {
		switch {
		case deferAccept == 0:
			opt.DeferAccept = DefaultDeferAccept
		case deferAccept > 0:
			opt.DeferAccept = deferAccept
		}
	}
	return network, opt
}
