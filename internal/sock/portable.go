//go:build !linux || simpleserver_portable

package sock

// The portable engine: the descriptors of this file's build are not the
// kernel's but handles to sockets of Go's net package, so that the event
// loops above, written for non-blocking descriptors and epoll, run
// unchanged on every platform Go's net runs on.
//
// Each connection has a reader goroutine, blocked in net.Conn.Read into a
// buffer of its own, and (from its first write) a writer goroutine,
// blocked in net.Conn.Write. They stand in for the kernel's receive and
// send buffers, and the calls of this package keep the kernel's contract:
//
//   - Read copies what the reader has buffered and never blocks: with
//     nothing buffered it returns syscall.EAGAIN, at the peer's EOF (0, nil).
//   - The reader reads ahead by at most one buffer and then waits until
//     the loop has taken the last one. A loop that stops reading a
//     connection therefore stops the reader, and TCP's flow control stops
//     the peer, exactly as a full kernel receive buffer would.
//   - Write copies into a send buffer bounded by maxPending and never
//     blocks: a full buffer is a short write, then syscall.EAGAIN.
//   - Readiness is posted to the poller the socket is watched by (package
//     poll's portable Poller) when it changes: In when data or the EOF
//     arrives, RDHup with the EOF, Out when a write that found the buffer
//     full can go on, Err and Hup when the connection failed. These are
//     epoll's edges; the poller makes them levels where it was asked to.
//
// Handles are small ints in a table, reused lowest-last like the kernel
// reuses descriptor numbers; a socket's pending readiness is withdrawn
// from its poller when it is closed, so no event outlives its handle.

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
)

// Event bits a portable socket posts. They have epoll's values, so that
// logs and tests read the same on both engines; package poll re-exports
// them.
const (
	EventIn    = 0x1
	EventErr   = 0x8
	EventHup   = 0x10
	EventOut   = 0x4
	EventRDHup = 0x2000
	EventEdge  = 1 << 31
)

// Notifier receives the readiness of the sockets it watches: the portable
// Poller. Notify is called with the socket's lock held, from any
// goroutine; it must not call back into this package.
type Notifier interface {
	Notify(fd int, events uint32)
	// Forget withdraws readiness of fd not yet collected.
	Forget(fd int)
}

// handle is what a descriptor of this build refers to: a connection, a
// listener, or a plain file (the EMFILE reserve).
type handle interface {
	// watch registers n for events (nil: unregister) and returns the
	// readiness now, as epoll_ctl reports it at once.
	watch(fd int, n Notifier, events uint32) uint32
	// readiness is the level now, for level-triggered registrations.
	readiness() uint32
	close() error
}

var table struct {
	sync.RWMutex
	handles []handle
	free    []int
}

// install gives h a descriptor.
func install(h handle) int {
	table.Lock()
	defer table.Unlock()
	if n := len(table.free); n > 0 {
		fd := table.free[n-1]
		table.free = table.free[:n-1]
		table.handles[fd] = h
		return fd
	}
	table.handles = append(table.handles, h)
	return len(table.handles) - 1
}

// lookup returns fd's handle, or nil.
func lookup(fd int) handle {
	table.RLock()
	defer table.RUnlock()
	if fd < 0 || fd >= len(table.handles) {
		return nil
	}
	return table.handles[fd]
}

// remove frees fd and returns what it referred to, or nil.
func remove(fd int) handle {
	table.Lock()
	defer table.Unlock()
	if fd < 0 || fd >= len(table.handles) || table.handles[fd] == nil {
		return nil
	}
	h := table.handles[fd]
	table.handles[fd] = nil
	table.free = append(table.free, fd)
	return h
}

// Close closes fd. A connection with unread input is reset, as Linux
// resets it; otherwise what its send buffer holds is still written, then
// the connection is closed (see conn.close).
func Close(fd int) error {
	h := remove(fd)
	if h == nil {
		return syscall.EBADF
	}
	h.watch(fd, nil, 0)
	return h.close()
}

// Drain prepares fd for the loop's last read before a graceful close
// (Server.Shutdown), so that the read sees what the peer had sent by then,
// as a read of the kernel's buffer would: a listener's Accept takes the
// whole backlog, and a connection's Read waits, until settleWait after
// Drain, for what its reader is still receiving. Drain every connection
// first and read them after: the waits then overlap.
func Drain(fd int) {
	switch h := lookup(fd).(type) {
	case *listener:
		h.drain()
	case *conn:
		h.drain()
	}
}

// Watch registers n for fd's events (EventEdge set: edge-triggered) and
// posts fd's readiness now, as EPOLL_CTL_ADD and EPOLL_CTL_MOD report it.
// It replaces an earlier registration.
func Watch(fd int, n Notifier, events uint32) error {
	h := lookup(fd)
	if h == nil {
		return os.NewSyscallError("watch", syscall.EBADF)
	}
	if ev := h.watch(fd, n, events); ev != 0 {
		n.Notify(fd, ev)
	}
	return nil
}

// Unwatch ends fd's registration.
func Unwatch(fd int) error {
	h := lookup(fd)
	if h == nil {
		return os.NewSyscallError("unwatch", syscall.EBADF)
	}
	h.watch(fd, nil, 0)
	return nil
}

// Readiness is fd's level now: what a level-triggered registration
// reports again while it lasts.
func Readiness(fd int) uint32 {
	if h := lookup(fd); h != nil {
		return h.readiness()
	}
	return 0
}

// registration is a handle's Notifier and the events it asked for.
// Guarded by the handle's lock.
type registration struct {
	fd     int
	n      Notifier
	events uint32
}

// post reports ev to the registered notifier, filtered by the events it
// asked for (Err and Hup always pass, as with epoll). With the handle's
// lock held.
func (r *registration) post(ev uint32) {
	if r.n == nil {
		return
	}
	if ev &= r.events | EventErr | EventHup; ev != 0 {
		r.n.Notify(r.fd, ev)
	}
}

// set replaces the registration and returns the readiness now, filtered.
// With the handle's lock held.
func (r *registration) set(fd int, n Notifier, events, now uint32) uint32 {
	if r.n != nil {
		r.n.Forget(r.fd)
	}
	r.fd, r.n, r.events = fd, n, events
	if n == nil {
		return 0
	}
	return now & (events | EventErr | EventHup)
}

// errno reduces an error of net to the errno it carries, which is what
// the loops compare; an error without one (net.ErrClosed, a deadline) is
// returned as it is.
func errno(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, net.ErrClosed) {
		return syscall.EBADF
	}
	return err
}

// file is a handle that only holds an open file: the loops' EMFILE
// reserve.
type file struct{ f *os.File }

func (f file) watch(int, Notifier, uint32) uint32 { return 0 }
func (f file) readiness() uint32                  { return 0 }
func (f file) close() error                       { return f.f.Close() }

// OpenReserve opens a spare descriptor, a real one (the reserve exists to
// be given up when the process runs out of them).
func OpenReserve() (int, error) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return -1, err
	}
	return install(file{f}), nil
}
