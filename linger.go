package simpleserver

import (
	"syscall"
	"time"
	"unsafe"

	"github.com/simple-server/simpleserver/internal/poll"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/internal/timer"
)

// Closing a socket that still has unread input makes Linux send a reset
// instead of a FIN, and a reset throws away what the send queue still
// holds: replies the server wrote, but the slow peer has not received yet.
// So an orderly close of a connection whose peer has not ended its side
// lingers (nginx's lingering_close): shutdown(SHUT_WR) sends the FIN after
// the last reply, the loop reads and discards whatever the peer still
// sends, and closes the socket at the peer's EOF, on an error, or after
// lingerTimeout. The connection is closed for the user (OnClose, Stats,
// Conn methods) as soon as lingering starts.

// lingerTimeout bounds how long a peer may keep a closed connection's
// socket open by not closing its side.
const lingerTimeout = 5 * time.Second

// lingerBudget caps reads per lingering socket per turn; lingering
// sockets are level-triggered, so what is left is reported again.
const lingerBudget = 4

// lingerer is a socket whose connection has closed.
type lingerer struct {
	fd   int
	node timer.Node // in loop.lingers
}

// linger starts the lingering close of fd. On the loop.
func (l *loop) linger(fd int) {
	if sock.ShutdownWrite(fd) != nil || l.poller.Mod(fd, poll.In|poll.RDHup) != nil {
		sock.Close(fd)
		return
	}
	lg := &lingerer{fd: fd}
	if l.lingering == nil {
		l.lingering = make(map[int]*lingerer)
	}
	l.lingering[fd] = lg
	l.lingers.PushBack(&lg.node, l.clock()+lingerTimeout)
	l.discard(lg)
}

// discard reads and drops what the peer sent, closing at EOF or on an
// error. On the loop.
func (l *loop) discard(lg *lingerer) {
	for range lingerBudget {
		n, err := sock.Read(lg.fd, l.buf)
		if n > 0 || err == syscall.EINTR {
			continue
		}
		if err != syscall.EAGAIN {
			l.unlinger(lg) // EOF or an error
		}
		return
	}
	// Budget spent: level-triggered epoll reports the rest next turn.
}

// unlinger closes a lingering socket. On the loop.
func (l *loop) unlinger(lg *lingerer) {
	if _, ok := l.lingering[lg.fd]; !ok {
		return
	}
	delete(l.lingering, lg.fd)
	l.lingers.Remove(&lg.node)
	sock.Close(lg.fd)
}

// expireLingers closes lingering sockets whose time is up. On the loop.
func (l *loop) expireLingers(now time.Duration) {
	for n := l.lingers.Front(); n != nil && n.At <= now; n = l.lingers.Front() {
		l.unlinger(timer.Owner[lingerer](n, unsafe.Offsetof(lingerer{}.node)))
	}
}

// closeLingering closes every lingering socket at once. On the loop.
func (l *loop) closeLingering() {
	for _, lg := range l.lingering {
		l.unlinger(lg)
	}
}
