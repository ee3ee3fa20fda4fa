package main

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper waits for moments on the run's schedule. On Linux it is a
// timerfd read through Go's poller: the goroutine is woken by the timer's
// own epoll event, to the microsecond. time.Timer is not: when the process
// has nothing else to do, the runtime sleeps in epoll_wait with a timeout
// in whole milliseconds, so a timer due in 300µs fires up to a millisecond
// late, and that lateness would count as server latency.
type sleeper struct {
	f   *os.File
	rc  syscall.RawConn // for the descriptor, without File.Fd's switch to blocking mode
	buf [8]byte
}

func newSleeper() (*sleeper, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &sleeper{f: f, rc: rc}, nil
}

// sleep blocks the goroutine for d (> 0). It fails once close was called.
func (s *sleeper) sleep(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	var serr error
	if err := s.rc.Control(func(fd uintptr) {
		serr = unix.TimerfdSettime(int(fd), 0, &spec, nil)
	}); err != nil {
		return err
	}
	if serr != nil {
		return serr
	}
	_, err := s.f.Read(s.buf[:])
	return err
}

// close releases the timer and ends a sleep in progress. Any goroutine may
// call it.
func (s *sleeper) close() { s.f.Close() }
