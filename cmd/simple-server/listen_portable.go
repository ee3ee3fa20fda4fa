//go:build unix && (!linux || simpleserver_portable)

package main

import (
	"net"
	"os"

	"github.com/simple-server/simpleserver/internal/sock"
)

// listenFile opens a listening socket with Go's net (listenNet), as the
// portable engine's sock.Listen does (whose descriptors are the engine's
// own handles, not the kernel's, so they cannot be passed on): the backlog
// and TCP_DEFER_ACCEPT have no portable equivalent and SO_REUSEPORT groups
// are refused, as there.
func listenFile(network, address string, opt sock.ListenOptions) (*os.File, net.Addr, error) {
	if opt.ReusePort && network != "unix" {
		return nil, nil, sock.ErrReusePort
	}
	return listenNet(network, address)
}
