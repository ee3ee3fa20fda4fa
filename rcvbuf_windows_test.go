package simpleserver_test

import "syscall"

// setRcvbuf sets SO_RCVBUF on the socket fd.
func setRcvbuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
