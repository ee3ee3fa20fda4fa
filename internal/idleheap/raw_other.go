//go:build !unix

package idleheap

import "errors"

// Windows sockets are handles that need overlapped I/O; Measure skips.
const rawSupported = false

type rawConn struct{}

func dialRaw(int) (rawConn, error)        { return rawConn{}, errors.ErrUnsupported }
func (rawConn) write([]byte) (int, error) { return 0, errors.ErrUnsupported }
func (rawConn) read([]byte) (int, error)  { return 0, errors.ErrUnsupported }
func (rawConn) close()                    {}
