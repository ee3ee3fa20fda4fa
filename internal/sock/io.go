//go:build linux

package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read, Write and Writev are read(2), write(2) and writev(2) for
// non-blocking sockets, made as raw system calls: without the scheduler
// hand-off (entersyscall/exitsyscall) that a call which might block needs.
// On a non-blocking socket these never block, they only copy, so the
// hand-off would buy nothing: no other goroutine could use the P in the
// microseconds the call takes. An event loop makes two of them per request,
// so the hand-off was a measurable share of its CPU time.
//
// Errors are the bare unix.Errno, EINTR included: the caller decides.

// Read reads into p.
func Read(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Write writes p.
func Write(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Writev writes the buffers iov describes, in order.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	var ptr unsafe.Pointer
	if len(iov) > 0 {
		ptr = unsafe.Pointer(&iov[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(ptr), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
