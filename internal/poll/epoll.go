//go:build linux && !simpleserver_portable

package poll

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Engine names this readiness source in logs and Server.Engine.
const Engine = "epoll"

// Event is one readiness report: the descriptor and its event bits.
type Event = unix.EpollEvent

// Event bits, re-exported so callers need not import x/sys/unix for them.
const (
	In     = unix.EPOLLIN
	Out    = unix.EPOLLOUT
	RDHup  = unix.EPOLLRDHUP
	Hup    = unix.EPOLLHUP
	Err    = unix.EPOLLERR
	Edge   = unix.EPOLLET
	minCap = 64
	maxCap = 4096
)

// Poller is an epoll instance with a coalescing wake-up.
type Poller struct {
	epfd   int
	wakefd int
	events []unix.EpollEvent

	// notified is set by the first Wake after the loop last consumed a
	// wake-up, and cleared by the loop when it consumes one. Any number of
	// Wake calls in between cost one eventfd write: the loop, once woken,
	// looks at all queued work anyway.
	notified atomic.Bool
}

// New creates a Poller. Both descriptors are close-on-exec: Go programs
// start children, and they must not inherit the server's epoll set.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	p := &Poller{epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, minCap)}
	// Level-triggered: the loop reads the counter back to zero on every
	// wake-up, so a level is exactly "a wake-up not yet consumed".
	if err := p.Add(wakefd, In); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close releases both descriptors. Call it once, after the loop has
// stopped waiting.
func (p *Poller) Close() error {
	err := unix.Close(p.wakefd)
	if err2 := unix.Close(p.epfd); err == nil {
		err = err2
	}
	return err
}

// Add registers fd for the given events.
func (p *Poller) Add(fd int, events uint32) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, events)
}

// Mod changes the events fd is registered for.
func (p *Poller) Mod(fd int, events uint32) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, events)
}

// Del removes fd. Closing an fd removes it implicitly only when no other
// descriptor refers to the same open file, so listeners (which may be dups
// of a caller's socket) are removed explicitly.
func (p *Poller) Del(fd int) error {
	return p.ctl(unix.EPOLL_CTL_DEL, fd, 0)
}

func (p *Poller) ctl(op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl(%d, fd %d): %w", op, fd, err)
	}
	return nil
}

// Wait blocks for at most msec milliseconds (-1: until an event or a Wake;
// 0: not at all) and returns the ready events, valid until the next call,
// and whether a Wake arrived. The wake-up's own event is consumed here and
// not returned.
//
// The event array doubles each time a wait fills it, up to maxCap, so a
// loop with thousands of busy connections needs few calls per turn while a
// quiet one stays small.
func (p *Poller) Wait(msec int) (events []Event, woken bool, err error) {
	n, err := unix.EpollWait(p.epfd, p.events, msec)
	if err != nil {
		if err == unix.EINTR {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("epoll_wait: %w", err)
	}
	events = p.events[:n]
	for i := 0; i < len(events); i++ {
		if int(events[i].Fd) == p.wakefd {
			p.consumeWake()
			woken = true
			events[i] = events[len(events)-1]
			events = events[:len(events)-1]
			break
		}
	}
	if n == len(p.events) && n < maxCap {
		// Grow after using the events: they live in the old array.
		defer func() { p.events = make([]unix.EpollEvent, 2*n) }()
	}
	return events, woken, nil
}

// one is the 8-byte counter increment eventfd writes require.
var one = [8]byte{1}

// Wake makes the loop's current or next Wait return. Any goroutine may
// call it; calls coalesce until the loop consumes the wake-up.
func (p *Poller) Wake() error {
	if !p.notified.CompareAndSwap(false, true) {
		return nil
	}
	for {
		_, err := unix.Write(p.wakefd, one[:])
		switch err {
		case nil, unix.EAGAIN:
			// EAGAIN: the counter is near overflow, so a wake-up is
			// pending anyway.
			return nil
		case unix.EINTR:
			continue
		default:
			return fmt.Errorf("eventfd write: %w", err)
		}
	}
}

// consumeWake resets the eventfd counter and then the coalescing flag. The
// order matters: a Wake that finds the flag still set has queued its work
// before the loop goes on to look at queued work, so nothing is missed.
func (p *Poller) consumeWake() {
	var buf [8]byte
	for {
		_, err := unix.Read(p.wakefd, buf[:])
		if err != unix.EINTR {
			break
		}
	}
	p.notified.Store(false)
}
