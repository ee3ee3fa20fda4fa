//go:build linux && !simpleserver_portable

package sock

import "golang.org/x/sys/unix"

// Iovec describes one buffer of a Writev.
type Iovec = unix.Iovec

// Close closes fd.
func Close(fd int) error { return unix.Close(fd) }

// ShutdownWrite ends the sending side of the connection fd
// (shutdown(SHUT_WR)): the peer reads its EOF after the last byte sent.
func ShutdownWrite(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }

// SocketError is the error pending on fd (SO_ERROR), or nil.
func SocketError(fd int) error {
	e, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if e != 0 {
		return unix.Errno(e)
	}
	return nil
}

// OpenReserve opens a spare descriptor (/dev/null, close-on-exec) for a
// loop to give up when the process runs out of descriptors.
func OpenReserve() (int, error) {
	return unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// Drain prepares fd, a listener or a connection, for the loop's last
// accept or read before a graceful close. On Linux there is nothing to
// do: accept and read take what the kernel holds, which is what that last
// round is for.
func Drain(fd int) {}
