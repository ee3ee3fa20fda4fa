//go:build unix

package simpleserver_test

import "syscall"

// setRcvbuf sets SO_RCVBUF on the socket fd.
func setRcvbuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
