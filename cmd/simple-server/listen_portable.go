//go:build unix && (!linux || simpleserver_portable)

package main

import (
	"context"
	"net"
	"os"
	"syscall"

	"github.com/simple-server/simpleserver/internal/sock"
)

// listenFile opens a listening socket with Go's net, as the portable
// engine's sock.Listen does (whose descriptors are the engine's own
// handles, not the kernel's, so they cannot be passed on): the backlog
// and TCP_DEFER_ACCEPT have no portable equivalent and SO_REUSEPORT groups
// are refused, as there. The *os.File is a dup taken through Control, so
// that ExtraFiles' Fd leaves it non-blocking (net's File would switch the
// shared socket to blocking), and the net.Listener is closed: the dup
// keeps the socket, and its socket file, which that listener would
// otherwise remove on Close.
func listenFile(network, address string, opt sock.ListenOptions) (*os.File, net.Addr, error) {
	if opt.ReusePort && network != "unix" {
		return nil, nil, sock.ErrReusePort
	}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	nfd := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if nfd, dupErr = syscall.Dup(int(fd)); dupErr == nil {
			syscall.CloseOnExec(nfd)
		}
	}); err != nil {
		return nil, nil, err
	}
	if dupErr != nil {
		return nil, nil, os.NewSyscallError("dup", dupErr)
	}
	return os.NewFile(uintptr(nfd), ln.Addr().String()), ln.Addr(), nil
}
