//go:build linux && !simpleserver_portable

package sock

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dup returns a new descriptor for the socket behind ln, non-blocking and
// close-on-exec, so that the event loops can serve a listener created
// elsewhere: by net.Listen (port 0 in tests), or by net.FileListener for a
// socket inherited through systemd socket activation.
//
// ln must be a *net.TCPListener or *net.UnixListener; anything else (a TLS
// or wrapped listener, nil) is an error, because the event loops need the
// kernel socket itself.
//
// The descriptor is duplicated with fcntl(F_DUPFD_CLOEXEC) inside
// SyscallConn().Control rather than taken from ln.File(): File's *os.File
// closes the descriptor from a finalizer when it is garbage collected, and
// getting the number out of it with Fd switches the socket to blocking
// mode, a flag the duplicate shares with ln (see below), which would leave
// ln's own Accept blocking an OS thread. Control runs while net holds a
// reference to its descriptor, so ln cannot be closed underneath the dup.
//
// The new descriptor refers to the same open socket as ln, not a copy:
//   - closing one does not close the other, and the socket (and its port)
//     stays open until both are closed;
//   - file status flags are shared, so setting O_NONBLOCK here also
//     applies to ln — harmless, net's listeners are non-blocking already;
//   - both can accept connections from the one queue, so stop calling
//     ln.Accept once the event loops serve the dup;
//   - closing a *net.UnixListener removes its socket file by default; call
//     SetUnlinkOnClose(false) on it or keep it open while serving the dup.
func Dup(ln net.Listener) (int, error) {
	var rc syscall.RawConn
	var err error
	switch l := ln.(type) {
	case *net.TCPListener:
		rc, err = l.SyscallConn()
	case *net.UnixListener:
		rc, err = l.SyscallConn()
	default:
		return -1, fmt.Errorf("sock: dup: unsupported listener type %T (want *net.TCPListener or *net.UnixListener)", ln)
	}
	if err != nil {
		return -1, fmt.Errorf("sock: dup: %w", err)
	}
	nfd := -1
	var dupErr error
	err = rc.Control(func(fd uintptr) {
		nfd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil {
		// Control failed (listener closed) before running the function.
		return -1, fmt.Errorf("sock: dup: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("sock: dup: %w", os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", dupErr))
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, fmt.Errorf("sock: dup: %w", os.NewSyscallError("fcntl(F_SETFL)", err))
	}
	return nfd, nil
}

// FileConn returns a net.Conn for the connected socket fd, served by the Go
// runtime's netpoller from then on; fd stays the caller's, to close.
//
// net.FileConn needs an *os.File, whose finalizer closes its descriptor:
// handing it fd itself would close fd behind the caller's back whenever the
// garbage collector found the File. So the File gets a duplicate, which
// FileConn duplicates once more and which is closed here.
func FileConn(fd int) (net.Conn, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	f := os.NewFile(uintptr(nfd), "")
	defer f.Close()
	return net.FileConn(f)
}
