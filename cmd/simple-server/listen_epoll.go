//go:build linux && !simpleserver_portable

package main

import (
	"net"
	"os"

	"github.com/simple-server/simpleserver/internal/sock"
)

// listenFile opens a listening socket with sock.Listen, the library's own
// (backlog, SO_REUSEPORT, TCP_DEFER_ACCEPT), as an *os.File. The
// descriptor is non-blocking and close-on-exec; os.NewFile of a
// non-blocking descriptor leaves it so when ExtraFiles asks for its Fd,
// unlike net's File, whose Fd would switch the socket, shared with the
// event loops' dup, to blocking.
func listenFile(network, address string, opt sock.ListenOptions) (*os.File, net.Addr, error) {
	fd, bound, err := sock.Listen(network, address, opt)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), bound.String()), bound, nil
}
