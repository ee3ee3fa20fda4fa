//go:build linux

// Package sock is the socket layer under the epoll event loops: it creates
// listening sockets, accepts connections, sets per-connection options,
// reads and writes them, and converts between kernel socket addresses and
// net.Addr.
//
// Everything here works on raw file descriptors (ints) rather than net.Conn,
// because the server drives readiness itself with epoll instead of going
// through the Go runtime's netpoller. The caller owns every descriptor this
// package returns and must close it with unix.Close.
//
// Every descriptor is created non-blocking and close-on-exec in the same
// system call that creates it (SOCK_NONBLOCK|SOCK_CLOEXEC, F_DUPFD_CLOEXEC):
//
//   - Non-blocking, because an event loop thread that blocks in read,
//     write or accept stalls every other connection on that loop. Readiness
//     reported by epoll is only a hint (another thread, or a connection
//     reset, can consume it), so the following call must be able to fail
//     with EAGAIN instead of sleeping.
//   - Close-on-exec atomically, because any goroutine may fork+exec at any
//     time (os/exec). A separate fcntl(FD_CLOEXEC) after socket() leaves a
//     window in which the child inherits the descriptor and keeps the port
//     or connection open behind our back.
//
// The package is Linux-only: TCP_DEFER_ACCEPT, accept4 and the TCP
// keep-alive knobs used here are Linux interfaces.
package sock
