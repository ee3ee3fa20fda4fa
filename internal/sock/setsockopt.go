//go:build linux && !simpleserver_portable

package sock

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

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

// setInt is setsockopt with an int value, with errors naming the option.
func setInt(fd, level, opt, value int, name string) error {
	if err := unix.SetsockoptInt(fd, level, opt, value); err != nil {
		return os.NewSyscallError("setsockopt("+name+")", err)
	}
	return nil
}
