//go:build linux && !simpleserver_portable

package sock

import (
	"errors"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Listen creates a listening socket and returns its descriptor and the
// address it is bound to (with a requested port 0 replaced by the port the
// kernel chose).
//
// network is "tcp", "tcp4", "tcp6" or "unix".
//
// For TCP, address is host:port as understood by net.ResolveTCPAddr (a
// host name is resolved, which may block, and the first address is used;
// a zone such as [fe80::1%eth0] is honoured). With "tcp" and an empty or
// unspecified host (":80", "0.0.0.0:80", "[::]:80") the socket is a
// dual-stack [::] listener (IPV6_V6ONLY=0) that also accepts IPv4 clients
// as IPv4-mapped addresses, exactly like net.Listen; if the kernel has no
// IPv6 it falls back to 0.0.0.0. "tcp6" sets IPV6_V6ONLY=1 and "tcp4" uses
// AF_INET. Every TCP listener gets SO_REUSEADDR, so a restarted server can
// bind its port while connections of the previous process are still in
// TIME_WAIT.
//
// For "unix", address is a filesystem path, or "@name" for a name in the
// Linux abstract namespace (no file, disappears with the last socket), or
// "" to let the kernel pick a unique abstract name. At most 107 bytes. A
// path is not removed when the descriptor is closed, and a leftover socket
// file makes the next bind fail with EADDRINUSE: removing it is the
// caller's decision.
//
// The descriptor is non-blocking and close-on-exec, and the caller must
// close it. Errors are *net.OpError{Op: "listen"} wrapping the failing
// system call as *os.SyscallError, so errors.Is(err, unix.EADDRINUSE)
// works. On error fd is -1 and no descriptor is left open.
func Listen(network, address string, opt ListenOptions) (fd int, addr net.Addr, err error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return listenTCP(network, address, opt)
	case "unix":
		return listenUnix(address, opt)
	}
	return -1, nil, &net.OpError{Op: "listen", Net: network, Addr: rawAddr{network, address}, Err: net.UnknownNetworkError(network)}
}

func listenTCP(network, address string, opt ListenOptions) (fd int, addr net.Addr, err error) {
	la, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return -1, nil, &net.OpError{Op: "listen", Net: network, Addr: rawAddr{network, address}, Err: err}
	}
	fail := func(err error) (int, net.Addr, error) {
		return -1, nil, &net.OpError{Op: "listen", Net: network, Addr: la, Err: err}
	}

	family, v6only := tcpFamily(network, la.IP)
	s, err := tcpSocket(family, v6only)
	if err != nil && family == unix.AF_INET6 && network == "tcp" && isWildcard(la.IP) && noIPv6(err) {
		// The kernel was built or booted without IPv6
		// (ipv6.disable=1): serve IPv4 only, as net does.
		family = unix.AF_INET
		s, err = tcpSocket(family, false)
	}
	if err != nil {
		return fail(err)
	}
	// From here on every failure must close s.
	defer func() {
		if err != nil {
			unix.Close(s)
		}
	}()

	// SO_REUSEADDR lets bind succeed while connections from a previous
	// incarnation of this listener sit in TIME_WAIT (up to 60 s on Linux).
	// It does not let two sockets listen on the same port; that is what
	// SO_REUSEPORT is for.
	if err := setInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"); err != nil {
		return fail(err)
	}
	// SO_REUSEPORT must be set before bind: the kernel decides at bind
	// time whether the port may be shared.
	if opt.ReusePort {
		if err := setInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT"); err != nil {
			return fail(err)
		}
	}
	sa, err := tcpSockaddr(family, la)
	if err != nil {
		return fail(err)
	}
	if err := unix.Bind(s, sa); err != nil {
		return fail(os.NewSyscallError("bind", err))
	}
	// Set TCP_DEFER_ACCEPT before listen so that no connection can reach
	// the accept queue undeferred in between.
	if opt.DeferAccept > 0 {
		if err := SetDeferAccept(s, opt.DeferAccept); err != nil {
			return fail(err)
		}
	}
	if err := unix.Listen(s, Backlog(opt.Backlog)); err != nil {
		return fail(os.NewSyscallError("listen", err))
	}
	addr, err = LocalAddr(s)
	if err != nil {
		return fail(err)
	}
	return s, addr, nil
}

// tcpFamily picks the address family for a TCP listener the way net does
// (favoriteAddrFamily): the network suffix decides if there is one;
// otherwise a wildcard host gets a dual-stack AF_INET6 socket, an IPv4 host
// (including IPv4-mapped IPv6 literals) AF_INET, and anything else AF_INET6.
// v6only reports whether IPV6_V6ONLY should be 1.
func tcpFamily(network string, ip net.IP) (family int, v6only bool) {
	switch {
	case network == "tcp4":
		return unix.AF_INET, false
	case network == "tcp6":
		return unix.AF_INET6, true
	case isWildcard(ip):
		return unix.AF_INET6, false
	case ip.To4() != nil:
		return unix.AF_INET, false
	}
	return unix.AF_INET6, false
}

func isWildcard(ip net.IP) bool { return ip == nil || ip.IsUnspecified() }

// noIPv6 reports whether err from socket(AF_INET6) means the kernel has no
// IPv6 at all, as opposed to a resource error that must be reported.
func noIPv6(err error) bool {
	return errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EPROTONOSUPPORT)
}

// tcpSocket creates a non-blocking, close-on-exec TCP socket. For AF_INET6
// it always sets IPV6_V6ONLY explicitly, because the default comes from the
// net.ipv6.bindv6only sysctl and would otherwise make "tcp" dual-stack on one
// machine and IPv6-only on another.
func tcpSocket(family int, v6only bool) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_INET6 {
		v := 0
		if v6only {
			v = 1
		}
		if err := setInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v, "IPV6_V6ONLY"); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// maxUnixName is the longest AF_UNIX address we accept: sun_path is 108
// bytes and x/sys/unix reserves one for the terminating NUL of a path (or,
// for "@name", for the leading '@' that becomes the NUL).
const maxUnixName = len(unix.RawSockaddrUnix{}.Path) - 1

func listenUnix(address string, opt ListenOptions) (fd int, addr net.Addr, err error) {
	la := &net.UnixAddr{Name: address, Net: "unix"}
	fail := func(err error) (int, net.Addr, error) {
		return -1, nil, &net.OpError{Op: "listen", Net: "unix", Addr: la, Err: err}
	}
	if len(address) > maxUnixName {
		return fail(&net.AddrError{Err: "unix socket address too long", Addr: address})
	}
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(os.NewSyscallError("socket", err))
	}
	bound := false
	defer func() {
		if err != nil {
			unix.Close(s)
			// A successful bind to a path created the socket file; leaving
			// it behind would make every retry fail with EADDRINUSE.
			if bound && address != "" && address[0] != '@' {
				os.Remove(address)
			}
		}
	}()
	// unix.SockaddrUnix maps a leading '@' to the abstract namespace and
	// "" to autobind, so the address is passed through unchanged.
	if err := unix.Bind(s, &unix.SockaddrUnix{Name: address}); err != nil {
		return fail(os.NewSyscallError("bind", err))
	}
	bound = true
	if err := unix.Listen(s, Backlog(opt.Backlog)); err != nil {
		return fail(os.NewSyscallError("listen", err))
	}
	addr, err = LocalAddr(s)
	if err != nil {
		return fail(err)
	}
	return s, addr, nil
}

// rawAddr is a net.Addr for error messages about an address that could not
// be parsed or resolved, so that the message still names it.
type rawAddr struct{ net, addr string }

func (a rawAddr) Network() string { return a.net }
func (a rawAddr) String() string  { return a.addr }
