//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/internal/sock"
)

// The binary owns its listening sockets, so that it can hand them to a
// successor on SIGHUP (restart_unix.go): it takes them from systemd socket
// activation or from the process it succeeds, or opens them itself with
// the options the library would use, and gives the server net.Listeners
// for them. The *os.File of each is kept for the successor.
//
// Inherited sockets come by one protocol, systemd's (sd_listen_fds(3)):
// LISTEN_FDS descriptors from 3 on, named by LISTEN_FDNAMES. systemd sets
// LISTEN_PID to the pid it starts; a restarting simple-server cannot set
// its child's pid before exec from Go, so it sets envParentPID to its own
// pid instead, and the child takes the descriptors when that is its
// parent's pid. Either way the variables are unset once read, so that no
// process started later mistakes them for its own.
const (
	envListenPID   = "LISTEN_PID"
	envListenFDs   = "LISTEN_FDS"
	envListenNames = "LISTEN_FDNAMES"
	envParentPID   = "SIMPLE_SERVER_PARENT_PID" // set by a restarting parent instead of LISTEN_PID
	envReadyFD     = "SIMPLE_SERVER_READY_FD"   // the restart's readiness pipe, after the sockets
	envUnlink      = "SIMPLE_SERVER_UNLINK"     // the socket file the chain of restarts created, to remove at the final exit
	firstListenFD  = 3                          // SD_LISTEN_FDS_START

	// metricsName names the -metrics-addr socket among the inherited
	// ones (FileDescriptorName=metrics in a systemd socket unit): it is
	// handed on at a restart with the others, so that the successor
	// serves /metrics and /readyz on the same port, and served by the
	// operator's endpoint rather than the event loops.
	metricsName = "metrics"
)

// sockets are the listening sockets the process serves.
type sockets struct {
	files   []*os.File     // in order, for a successor; non-blocking, close-on-exec
	names   []string       // their LISTEN_FDNAMES
	lns     []net.Listener // the server's: every socket but metrics
	metrics net.Listener   // the -metrics-addr socket, or nil
	source  string         // where they came from: "systemd", "restart", or "" (opened here)
	unlink  string         // socket file to remove at the final exit; "" if not ours
	ready   *os.File       // from a restarting parent: write a byte once serving
	hup     chan os.Signal

	handedOver atomic.Bool                // a successor serves the sockets now
	starting   atomic.Pointer[os.Process] // a successor not ready yet
	once       sync.Once
}

// openSockets takes the inherited sockets, or opens srv's own, and the
// metrics socket: inherited (named metricsName), else opened on
// metricsAddr unless that is empty. Inherited sockets make srv's address
// and metricsAddr irrelevant, which is said in a log line. It also starts
// catching SIGHUP, before anything is served: SIGHUP's default action
// would kill a process that is not ready for it yet.
func openSockets(srv *simpleserver.Server, metricsAddr string, log *slog.Logger) (*sockets, error) {
	s := &sockets{hup: make(chan os.Signal, 1)}
	signal.Notify(s.hup, syscall.SIGHUP)
	err := s.inherit(log)
	if err == nil && len(s.files) > 0 {
		log.Info("serving inherited sockets; -addr is ignored", "from", s.source, "sockets", len(s.files), "names", strings.Join(s.names, ":"), "addr_flag", srv.Addr)
	} else if err == nil {
		err = s.listen(srv)
	}
	if err == nil && metricsAddr != "" && !slices.Contains(s.names, metricsName) {
		var f *os.File
		if f, _, err = listenNet("tcp", metricsAddr); err != nil {
			err = fmt.Errorf("-metrics-addr: %w", err)
		} else {
			s.files = append(s.files, f)
			s.names = append(s.names, metricsName)
		}
	}
	if err == nil {
		err = s.listeners()
	}
	if err != nil {
		for _, ln := range s.lns {
			ln.Close()
		}
		if s.metrics != nil {
			s.metrics.Close()
		}
		s.lns, s.metrics = nil, nil
		s.release()
		return nil, err
	}
	return s, nil
}

// listeners makes a net.Listener of each socket: the metrics one for the
// operator's endpoint, the others for the server.
func (s *sockets) listeners() error {
	for i, f := range s.files {
		ln, err := net.FileListener(f)
		if err != nil {
			return fmt.Errorf("socket %d (fd %d, %s): not a listening stream socket: %w", i, firstListenFD+i, s.names[i], err)
		}
		switch {
		case s.names[i] != metricsName:
			s.lns = append(s.lns, ln)
		case s.metrics == nil:
			s.metrics = ln
		default:
			ln.Close()
			return fmt.Errorf("socket %d (fd %d): a second socket named %s", i, firstListenFD+i, metricsName)
		}
	}
	if len(s.lns) == 0 {
		return fmt.Errorf("no socket for the server: every inherited one is named %s", metricsName)
	}
	return nil
}

// inherit takes the sockets of systemd socket activation or of a
// restarting parent, if the environment hands this process any.
func (s *sockets) inherit(log *slog.Logger) error {
	env := map[string]string{}
	for _, k := range []string{envListenPID, envListenFDs, envListenNames, envParentPID, envReadyFD, envUnlink} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
		os.Unsetenv(k)
	}
	fds, ok := env[envListenFDs]
	if !ok {
		return nil
	}
	switch pid := strconv.Itoa(os.Getpid()); {
	case env[envListenPID] == pid:
		s.source = "systemd"
	case env[envListenPID] == "" && env[envParentPID] == strconv.Itoa(os.Getppid()):
		s.source = "restart"
	default:
		log.Info("LISTEN_FDS is for another process; ignored", "listen_pid", env[envListenPID], "parent_pid", env[envParentPID], "pid", pid)
		return nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return fmt.Errorf("bad %s=%q: want the number of inherited sockets", envListenFDs, fds)
	}
	names := strings.Split(env[envListenNames], ":")
	if len(names) != n {
		names = make([]string, n) // unnamed, or a count that does not match: none trusted
		for i := range names {
			names[i] = "unknown"
		}
	}
	for i := range n {
		fd := firstListenFD + i
		// Ours to make non-blocking (the event loops and Go's poller
		// need it) and close-on-exec (only a successor we choose gets
		// them, through ExtraFiles).
		syscall.CloseOnExec(fd)
		if err := syscall.SetNonblock(fd, true); err != nil {
			return fmt.Errorf("inherited socket %d (fd %d): %w", i, fd, os.NewSyscallError("fcntl", err))
		}
		s.files = append(s.files, os.NewFile(uintptr(fd), names[i]))
	}
	s.names = names
	if s.source == "restart" {
		s.unlink = env[envUnlink]
		if v, ok := env[envReadyFD]; ok {
			fd, err := strconv.Atoi(v)
			if err != nil || fd < firstListenFD+n {
				return fmt.Errorf("bad %s=%q", envReadyFD, v)
			}
			syscall.CloseOnExec(fd)
			s.ready = os.NewFile(uintptr(fd), "restart-ready")
		}
	}
	return nil
}

// listen opens srv's sockets as the library would (Server.Start with no
// listener): one, or with ReusePort one per loop in one SO_REUSEPORT
// group; the backlog; TCP_DEFER_ACCEPT per DeferAccept, for TCP.
func (s *sockets) listen(srv *simpleserver.Server) error {
	network, opt := sock.ServerListen(srv.Network, srv.Backlog, srv.DeferAccept, srv.ReusePort)
	addr := srv.Addr
	n := 1
	if srv.ReusePort {
		if network == "unix" {
			return errors.New("-reuseport needs a TCP address")
		}
		n = loopCount(srv.Loops)
	}
	for i := range n {
		f, bound, err := listenFile(network, addr, opt)
		if err != nil {
			return err
		}
		s.files = append(s.files, f)
		s.names = append(s.names, "simple-server")
		if i == 0 {
			// Port 0: the rest of the group joins the port the first got.
			addr = bound.String()
		}
	}
	if network == "unix" && !strings.HasPrefix(addr, "@") {
		s.unlink = addr
	}
	// The group exists now; the server gets it as listeners, and
	// ReusePort means "open the group" only to Start with none.
	srv.ReusePort = false
	return nil
}

// serverListeners are what the server serves; it owns them once given.
func (s *sockets) serverListeners() []net.Listener { return s.lns }

// metricsListener is the operator's endpoint's, or nil; the endpoint owns
// it once given.
func (s *sockets) metricsListener() net.Listener { return s.metrics }

// logAttrs are the start line's words about the sockets.
func (s *sockets) logAttrs() []any {
	inherited := 0
	if s.source != "" {
		inherited = len(s.files)
	}
	return []any{"pid", os.Getpid(), "inherited", inherited, "sockets", len(s.files)}
}

// loopCount is the number of event loops Server.Loops asks for.
func loopCount(loops int) int {
	if loops <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return loops
}

// release closes the kept sockets and, at a final exit (no successor took
// them), removes the Unix socket file the process (or its predecessors)
// created. A socket systemd created is systemd's to remove. It is called
// before the server's Shutdown: a kept descriptor would keep the socket
// listening after the server closed its own, so that clients would
// connect into a backlog nobody accepts and be reset at exit, instead of
// refused. Any goroutine; only the first call counts.
func (s *sockets) release() { s.once.Do(s.doRelease) }

func (s *sockets) doRelease() {
	signal.Stop(s.hup)
	if p := s.starting.Load(); p != nil && !s.handedOver.Load() {
		p.Kill() // exiting mid-restart: an unready successor must not outlive us
	}
	for _, f := range s.files {
		f.Close()
	}
	if s.ready != nil {
		s.ready.Close()
	}
	if s.unlink != "" && !s.handedOver.Load() {
		os.Remove(s.unlink)
	}
}

// listenNet opens a listening socket with Go's net, for the portable
// engine's sockets and the metrics one. The *os.File is a dup taken
// through Control, so that ExtraFiles' Fd leaves it non-blocking (net's
// File would switch the shared socket to blocking), and the net.Listener
// is closed: the dup keeps the socket, and its socket file, which that
// listener would otherwise remove on Close.
func listenNet(network, address string) (*os.File, net.Addr, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	nfd := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if nfd, dupErr = syscall.Dup(int(fd)); dupErr == nil {
			syscall.CloseOnExec(nfd)
		}
	}); err != nil {
		return nil, nil, err
	}
	if dupErr != nil {
		return nil, nil, os.NewSyscallError("dup", dupErr)
	}
	return os.NewFile(uintptr(nfd), ln.Addr().String()), ln.Addr(), nil
}
