//go:build linux

package sock

import (
	"fmt"
	"math"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
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

// Apply sets the options on the connected socket fd.
//
// peer is the address returned by Accept; Apply only looks at its family,
// so that TCP-only options are skipped for AF_UNIX without a system call.
// If the family is unknown (a zero Peer), it is asked from the kernel
// (SO_DOMAIN).
//
// The first failing setsockopt is returned as *os.SyscallError naming the
// option; options before it stay applied.
func (o ConnOptions) Apply(fd int, peer Peer) error {
	tcp, err := isTCP(fd, peer)
	if err != nil {
		return err
	}
	if tcp {
		if o.NoDelay {
			if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1, "TCP_NODELAY"); err != nil {
				return err
			}
		}
		if ka := o.KeepAlive; ka.Enable {
			if err := setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1, "SO_KEEPALIVE"); err != nil {
				return err
			}
			if ka.Idle > 0 {
				if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, seconds(ka.Idle), "TCP_KEEPIDLE"); err != nil {
					return err
				}
			}
			if ka.Interval > 0 {
				if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, seconds(ka.Interval), "TCP_KEEPINTVL"); err != nil {
					return err
				}
			}
			if ka.Count > 0 {
				if err := setInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.Count, "TCP_KEEPCNT"); err != nil {
					return err
				}
			}
		}
	}
	if o.ReadBuffer > 0 {
		if err := setInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, o.ReadBuffer, "SO_RCVBUF"); err != nil {
			return err
		}
	}
	if o.WriteBuffer > 0 {
		if err := setInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, o.WriteBuffer, "SO_SNDBUF"); err != nil {
			return err
		}
	}
	return nil
}

// isTCP reports whether fd is an IPv4/IPv6 (hence, for us, TCP) socket.
func isTCP(fd int, peer Peer) (bool, error) {
	switch {
	case peer.TCP():
		return true, nil
	case peer.Unix():
		return false, nil
	}
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return false, os.NewSyscallError("getsockopt(SO_DOMAIN)", err)
	}
	return domain == unix.AF_INET || domain == unix.AF_INET6, nil
}

// SetDeferAccept sets TCP_DEFER_ACCEPT on the listening TCP socket fd, for
// example one obtained with Dup; Listen does it for ListenOptions.DeferAccept.
// d is rounded up to whole seconds (at least 1 for any d > 0); d <= 0
// turns deferral off.
//
// With TCP_DEFER_ACCEPT the kernel does not complete a connection when the
// client's handshake ACK arrives, but only once the first data segment
// does. Until then the connection is a cheap request socket in the SYN
// queue rather than an established socket in the accept queue, so the event
// loop is never woken to accept a connection that has nothing to read, and
// a client that connects and stays silent costs the server nothing for the
// deferral period.
//
// The kernel keeps the period as a number of SYN-ACK retransmissions
// (1 s, 2 s, 4 s, ... apart), so getsockopt reports the time rounded up to
// the next retransmission: 1 s reads back as 1, 2 s as 3, 5 s as 7. When the
// retransmissions run out and the client ACKs again, the connection is
// accepted without data rather than dropped (since Linux 2.6.32), so it
// delays silent clients but does not filter them. Use it only for
// protocols in which the client speaks first.
func SetDeferAccept(fd int, d time.Duration) error {
	secs := 0
	if d > 0 {
		secs = seconds(d)
	}
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, secs, "TCP_DEFER_ACCEPT")
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

// setInt is setsockopt with an int value, with errors naming the option.
func setInt(fd, level, opt, value int, name string) error {
	if err := unix.SetsockoptInt(fd, level, opt, value); err != nil {
		return os.NewSyscallError("setsockopt("+name+")", err)
	}
	return nil
}
