// Package sock is the socket layer under the event loops: it creates
// listening sockets, accepts connections, sets per-connection options,
// reads and writes them, and converts between kernel socket addresses and
// net.Addr.
//
// Everything here works on raw file descriptors (ints) rather than net.Conn,
// because the server drives readiness itself with epoll instead of going
// through the Go runtime's netpoller. The caller owns every descriptor this
// package returns and must close it with Close.
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
// That is the epoll engine's socket layer, on Linux. Elsewhere (and on
// Linux with the build tag simpleserver_portable) the same functions work
// on sockets of Go's net package instead, emulated as descriptors: see
// portable.go. The files of each engine say so in their build line; the
// option types (options.go) are shared.
package sock
