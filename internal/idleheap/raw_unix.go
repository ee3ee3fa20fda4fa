//go:build unix

package idleheap

import "syscall"

const rawSupported = true

// rawConn is a blocking client socket that is a bare descriptor: no Go
// object stands for it, so it adds nothing to the heap being measured.
type rawConn int

// dialRaw connects to 127.0.0.1:port.
func dialRaw(port int) (rawConn, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return rawConn(fd), nil
}

func (c rawConn) write(p []byte) (int, error) { return syscall.Write(int(c), p) }
func (c rawConn) read(p []byte) (int, error)  { return syscall.Read(int(c), p) }
func (c rawConn) close()                      { syscall.Close(int(c)) }
