//go:build linux && !simpleserver_portable

package sock

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept takes one connection off the accept queue of the listening socket
// fd and returns its descriptor, non-blocking and close-on-exec, and the
// peer address (which also tells ConnOptions.Apply the family).
//
// When the queue is empty Accept returns unix.EAGAIN itself (not wrapped),
// the normal end of an accept loop after an EPOLLIN wakeup: drain until
// EAGAIN, then wait for the next wakeup. Other errors are *os.SyscallError.
//
// Two errors are retried internally because they say nothing about the
// listener: EINTR (a signal arrived; with a non-blocking socket this is
// rare, but possible) and ECONNABORTED (a connection was reset while still
// in the queue; the next one may be fine, and net retries it too).
//
// Everything else is returned. EMFILE and ENFILE (out of descriptors) need
// care in the caller: the failed connection stays queued, so a
// level-triggered listener stays readable and the loop would spin; back
// off or stop polling the listener for a while. Older kernels could also
// pass pending network errors of the new connection (ENETDOWN, EPROTO,
// EHOSTUNREACH, ...) up through accept; they are not retried here because
// the same errno can also mean the listener itself is unusable, and a
// blind retry would then never terminate.
func Accept(fd int) (nfd int, peer Peer, err error) {
	for {
		nfd, peer, err = accept4(fd)
		switch err {
		case nil:
			return nfd, peer, nil
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EAGAIN:
			return -1, Peer{}, unix.EAGAIN
		}
		return -1, Peer{}, os.NewSyscallError("accept4", err)
	}
}

// accept4 calls accept4(2) with SOCK_NONBLOCK|SOCK_CLOEXEC, so the new
// descriptor is never visible without those flags (see the package doc).
//
// It does not use unix.Accept4, whose address decoder costs an extra
// getsockopt(SO_PROTOCOL) system call on every accepted TCP connection just
// to rule out L2TP; see getname.
func accept4(fd int) (int, Peer, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unix.SizeofSockaddrAny)
	r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd),
		uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, Peer{}, e
	}
	nfd := int(r)
	peer, err := peerOf(&rsa, n)
	if err != nil {
		// Not a TCP or AF_UNIX listener. Do not leak the connection.
		unix.Close(nfd)
		return -1, Peer{}, err
	}
	return nfd, peer, nil
}
