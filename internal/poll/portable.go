//go:build !linux || simpleserver_portable

package poll

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/simple-server/simpleserver/internal/sock"
)

// Event bits, epoll's, as the portable sockets post them.
const (
	In    = sock.EventIn
	Out   = sock.EventOut
	RDHup = sock.EventRDHup
	Hup   = sock.EventHup
	Err   = sock.EventErr
	Edge  = sock.EventEdge
)

// Engine names this readiness source in logs and Server.Engine.
const Engine = "portable"

// Event is one readiness report: the descriptor and its event bits.
type Event struct {
	Events uint32
	Fd     int32
}

// Poller collects the readiness the portable sockets it watches post
// (sock.Notifier). Edge-triggered registrations are reported once per
// post; a level-triggered one is asked for its level again (sock.Readiness)
// at each Wait after it was reported, and reported again while it lasts,
// which is how epoll keeps a level-triggered descriptor on its ready list.
type Poller struct {
	mu    sync.Mutex
	queue []Event     // posted, not yet collected; guarded by mu
	index map[int]int // fd → its Event in queue; guarded by mu
	spare []Event     // the slice Wait returned last

	signal   chan struct{} // a post or a Wake since Wait last looked
	notified atomic.Bool   // see Wake

	// Owned by the loop goroutine.
	level   map[int]uint32 // level-triggered registrations
	recheck []int          // level-triggered fds the last Wait reported
	timer   *time.Timer
}

// New creates a Poller.
func New() (*Poller, error) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &Poller{
		index:  make(map[int]int),
		signal: make(chan struct{}, 1),
		level:  make(map[int]uint32),
		timer:  t,
	}, nil
}

// Close stops the timer. Call it once, after the loop has stopped waiting.
func (p *Poller) Close() error {
	p.timer.Stop()
	return nil
}

// Add registers fd for the given events.
func (p *Poller) Add(fd int, events uint32) error { return p.Mod(fd, events) }

// Mod changes the events fd is registered for.
func (p *Poller) Mod(fd int, events uint32) error {
	if events&Edge == 0 {
		p.level[fd] = events
	} else {
		delete(p.level, fd)
	}
	return sock.Watch(fd, p, events)
}

// Del removes fd's registration and any readiness of it not yet collected.
func (p *Poller) Del(fd int) error {
	delete(p.level, fd)
	err := sock.Unwatch(fd)
	p.Forget(fd)
	return err
}

// Notify records readiness of fd; sockets call it from their goroutines
// (sock.Notifier).
func (p *Poller) Notify(fd int, events uint32) {
	p.mu.Lock()
	if i, ok := p.index[fd]; ok {
		p.queue[i].Events |= events
	} else {
		p.index[fd] = len(p.queue)
		p.queue = append(p.queue, Event{Events: events, Fd: int32(fd)})
	}
	p.mu.Unlock()
	p.poke()
}

// Forget withdraws readiness of fd not yet collected (sock.Notifier).
func (p *Poller) Forget(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i, ok := p.index[fd]; ok {
		// Keep the slot, empty: the other indexes stay valid.
		p.queue[i].Events = 0
		delete(p.index, fd)
	}
}

func (p *Poller) poke() {
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// Wait blocks for at most msec milliseconds (-1: until an event or a Wake;
// 0: not at all) and returns the ready events, valid until the next call,
// and whether a Wake arrived.
func (p *Poller) Wait(msec int) (events []Event, woken bool, err error) {
	for _, fd := range p.recheck {
		if mask, ok := p.level[fd]; ok {
			// Asked without p.mu held: sockets hold their own lock
			// when they call Notify.
			if ev := sock.Readiness(fd) & (mask | Err | Hup); ev != 0 {
				p.Notify(fd, ev)
			}
		}
	}
	p.recheck = p.recheck[:0]
	var deadline <-chan time.Time
	for {
		p.mu.Lock()
		if p.ready() || p.notified.Load() {
			events = p.collect()
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
		if msec == 0 {
			return nil, false, nil
		}
		if msec > 0 && deadline == nil {
			p.timer.Reset(time.Duration(msec) * time.Millisecond)
			deadline = p.timer.C
		}
		select {
		case <-p.signal:
		case <-deadline:
			return nil, false, nil
		}
	}
	if deadline != nil {
		p.timer.Stop()
	}
	woken = p.notified.Swap(false)
	for _, ev := range events {
		if _, ok := p.level[int(ev.Fd)]; ok {
			p.recheck = append(p.recheck, int(ev.Fd))
		}
	}
	return events, woken, nil
}

// ready reports whether an event is queued. With p.mu held.
func (p *Poller) ready() bool { return len(p.index) > 0 }

// collect takes the queued events, dropping forgotten ones. With p.mu
// held.
func (p *Poller) collect() []Event {
	events := p.queue[:0]
	for _, ev := range p.queue {
		if ev.Events != 0 {
			events = append(events, ev)
		}
	}
	p.queue, p.spare = p.spare[:0], events
	clear(p.index)
	return events
}

// Wake makes the loop's current or next Wait return. Any goroutine may
// call it; calls coalesce until the loop's Wait reports the wake-up.
func (p *Poller) Wake() error {
	if p.notified.CompareAndSwap(false, true) {
		p.poke()
	}
	return nil
}
