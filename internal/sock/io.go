//go:build linux && !simpleserver_portable

package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read, Write and Writev are read(2), write(2) and writev(2) for
// non-blocking sockets. Up to RawMax bytes they are raw system calls,
// without the scheduler hand-off (entersyscall/exitsyscall) that a call
// which might block needs: on a non-blocking socket these never block,
// they only copy, so the hand-off buys nothing, and an event loop makes
// two of them per request, so it was a measurable share of its CPU time.
//
// Larger transfers take the ordinary path. A raw call keeps its P, so a
// stop-the-world phase of the garbage collector waits for it to return;
// copying 64 KiB takes some 10-20 µs, copying a few megabytes into a large
// socket buffer a millisecond, which every goroutine would then wait too.
//
// Errors are the bare unix.Errno, EINTR included: the caller decides.

// RawMax is the largest transfer made as a raw system call.
const RawMax = 64 << 10

// Read reads into p.
func Read(fd int, p []byte) (int, error) {
	return call(unix.SYS_READ, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), len(p))
}

// Write writes p.
func Write(fd int, p []byte) (int, error) {
	return call(unix.SYS_WRITE, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), len(p))
}

// Writev writes the buffers iov describes, in order; size is their total
// length.
func Writev(fd int, iov []Iovec, size int) (int, error) {
	return call(unix.SYS_WRITEV, fd, unsafe.Pointer(unsafe.SliceData(iov)), len(iov), size)
}

// call makes the system call trap(fd, p, n), which moves size bytes.
func call(trap uintptr, fd int, p unsafe.Pointer, n, size int) (int, error) {
	var r uintptr
	var e unix.Errno
	if size <= RawMax {
		r, _, e = unix.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(n))
	} else {
		r, _, e = unix.Syscall(trap, uintptr(fd), uintptr(p), uintptr(n))
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
