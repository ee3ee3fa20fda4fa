//go:build unix

package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Zero-downtime restart, hand-made rather than with cloudflare/tableflip:
// the successor receives the sockets by the same protocol as systemd
// socket activation (LISTEN_FDS, LISTEN_FDNAMES, descriptors from 3), so
// one code path (sockets.inherit) serves both, while tableflip has a
// parent/child protocol of its own and creates listeners itself through
// net.Listen, which would lose our listener options (backlog,
// TCP_DEFER_ACCEPT, one SO_REUSEPORT socket per loop). What is needed is
// small: pass the descriptors, a readiness pipe, then drain.
//
// On SIGHUP the process starts its executable again with the same
// arguments, stdout and stderr, the sockets and the pipe's write end as
// ExtraFiles. The successor, once its server is started, writes a byte to
// the pipe; then this process stops accepting and drains (Shutdown) while
// the successor serves the new connections, which the kernel queues on
// the very same sockets, so none is refused. A successor that exits, or
// closes the pipe, or is not ready within -restart-timeout, is killed and
// this process goes on serving.
//
// The executable is os.Executable() as resolved at startup: on Linux
// /proc/self/exe's target path. A new binary installed there by
// rename-over (as package managers and `install` do; the running one keeps
// its old inode) is what the successor runs: SIGHUP is how an upgrade
// goes live. Re-executing /proc/self/exe instead would restart the old
// inode forever.

// serve reports readiness (to a restarting parent, and to systemd) and
// handles SIGHUP from now on. The channel yields SIGHUP once a successor
// is ready: then the caller shuts down gracefully and exits 0.
func (s *sockets) serve(log *slog.Logger, timeout time.Duration) <-chan os.Signal {
	pid := os.Getpid()
	if s.source == "restart" {
		// systemd follows the new main process (NotifyAccess=all): the
		// parent, its main process until now, exits after the drain.
		s.notify(log, fmt.Sprintf("MAINPID=%d\nREADY=1", pid))
	} else {
		s.notify(log, "READY=1")
	}
	if s.ready != nil {
		if _, err := s.ready.Write([]byte{1}); err != nil {
			log.Warn("restart: cannot tell the parent we are ready", "err", err)
		}
		s.ready.Close()
		s.ready = nil
	}
	exe, exeErr := os.Executable()
	handed := make(chan os.Signal, 1)
	var busy atomic.Bool
	go func() {
		for range s.hup {
			if !busy.CompareAndSwap(false, true) {
				log.Info("restart already under way; SIGHUP ignored")
				continue
			}
			go func() {
				if exeErr != nil {
					log.Error("restart failed", "err", exeErr)
					busy.Store(false)
					return
				}
				child, err := s.restart(log, exe, timeout)
				if err != nil {
					log.Error("restart failed", "err", err, "executable", exe)
					busy.Store(false)
					return
				}
				// busy stays set: this process is done restarting.
				log.Info("restart: successor ready", "pid", child)
				s.handedOver.Store(true)
				handed <- syscall.SIGHUP
			}()
		}
	}()
	return handed
}

// restart starts a successor and waits for it to be ready; it returns
// the successor's pid, or why there is none (and then none runs).
func (s *sockets) restart(log *slog.Logger, exe string, timeout time.Duration) (int, error) {
	if len(s.files) == 0 {
		return 0, errors.New("no sockets to hand over")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer pr.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = append(append([]*os.File(nil), s.files...), pw)
	cmd.Env = append(os.Environ(),
		envListenFDs+"="+strconv.Itoa(len(s.files)),
		envListenNames+"="+strings.Join(s.names, ":"),
		envParentPID+"="+strconv.Itoa(os.Getpid()),
		envReadyFD+"="+strconv.Itoa(firstListenFD+len(s.files)),
	)
	if s.unlink != "" {
		cmd.Env = append(cmd.Env, envUnlink+"="+s.unlink)
	}
	err = cmd.Start()
	pw.Close() // the successor holds the only write end: its exit is EOF
	if err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	s.starting.Store(cmd.Process)
	defer s.starting.Store(nil)
	log.Info("restart: successor started", "pid", pid, "executable", exe)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // also reaps it, if it outlives us
	readyc := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := io.ReadFull(pr, b[:])
		readyc <- err
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var why error
	select {
	case err := <-readyc:
		if err == nil {
			return pid, nil
		}
		// Closed unready: most likely it is exiting; say how.
		select {
		case werr := <-exited:
			return 0, fmt.Errorf("successor %d exited before it was ready: %v", pid, exitStatus(werr))
		case <-time.After(time.Second):
		}
		why = fmt.Errorf("successor %d closed the readiness pipe without reporting ready", pid)
	case werr := <-exited:
		return 0, fmt.Errorf("successor %d exited before it was ready: %v", pid, exitStatus(werr))
	case <-deadline.C:
		why = fmt.Errorf("successor %d not ready within %v (-restart-timeout)", pid, timeout)
	}
	cmd.Process.Kill()
	<-exited
	return 0, why
}

// exitStatus describes how a process that exited ended.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// notify sends one sd_notify(3) datagram to NOTIFY_SOCKET, when systemd
// (Type=notify) set it. Hand-made: a unixgram datagram, abstract when the
// address starts with '@' (net maps it). A failure is logged: systemd
// would then time the start out, which says why.
func (s *sockets) notify(log *slog.Logger, state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte(state))
		c.Close()
	}
	if err != nil {
		log.Warn("sd_notify failed", "socket", addr, "state", state, "err", err)
	}
}
