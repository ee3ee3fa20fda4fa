package simpleserver

import (
	"sync/atomic"

	"github.com/simple-server/simpleserver/internal/poll"
)

// Stats is a snapshot of a server's counters since Start. Counters are
// kept per event loop and summed here, so keeping them costs the hot path
// one uncontended atomic add each; a snapshot taken while connections come
// and go is consistent per counter, not across counters.
type Stats struct {
	// Open is the number of connections open now.
	Open int64
	// Accepted counts every connection accept(2) returned, including
	// those closed at once by a limit.
	Accepted uint64
	// Outbound is the number of open connections made by Dial and
	// DialAsync (dials under way included), a part of Open; Dialed counts
	// the dials started, and Closed.Dial the ones that failed.
	Outbound int64
	Dialed   uint64
	// Closed counts closed connections by reason.
	Closed ClosedStats
	// BytesIn and BytesOut count bytes read from and written to sockets.
	BytesIn, BytesOut uint64
	// MessagesIn counts messages handed to the Handler (as cut by the
	// Codec); MessagesOut counts calls to Write, Writev and WriteNotify
	// that were accepted, as of each connection's last flush.
	MessagesIn, MessagesOut uint64
	// BytesQueued is the output queued in the server, not yet taken by
	// the kernel, summed over all connections as of each one's last
	// flush attempt (the loop settles counters once per flush, not per
	// write).
	BytesQueued int64
	// Paused is the number of open connections the server is not reading
	// now: their output is above WriteHighWater, WorkerQueue messages wait
	// for a worker, or the handler paused them (Conn.PauseReading).
	Paused int64
	// WorkerQueued is the number of messages and Offload functions
	// waiting for a worker (0 without Workers). It is server-wide, so
	// LoopStats leaves it 0.
	WorkerQueued int64
	// AcceptBackoffs counts the times a listener stopped accepting for a
	// while because accept(2) failed (out of descriptors, out of memory).
	AcceptBackoffs uint64
}

// ClosedStats counts closed connections by reason.
type ClosedStats struct {
	Peer         uint64 // the peer closed (EOF) or sent a close request
	Handler      uint64 // Conn.Close
	Idle         uint64 // ErrIdleTimeout
	ReadTimeout  uint64 // ErrReadTimeout
	WriteTimeout uint64 // ErrWriteTimeout
	SlowConsumer uint64 // ErrSlowConsumer
	Protocol     uint64 // *ProtocolError
	Panic        uint64 // ErrHandlerPanic
	Shutdown     uint64 // ErrServerClosed
	Limit        uint64 // over MaxConns, or shed while out of descriptors
	Error        uint64 // an I/O error, such as a reset
	Detached     uint64 // handed over with Conn.Detach (an HTTP hijack)
	Dial         uint64 // a dial that failed: the connection never opened
	Proxy        uint64 // ErrProxyHeader: no valid PROXY header in time, or an untrusted peer
}

// closeKind classifies why a connection closed; see ClosedStats.
type closeKind uint8

const (
	kindNone closeKind = iota
	kindPeer
	kindHandler
	kindIdle
	kindReadTimeout
	kindWriteTimeout
	kindSlowConsumer
	kindProtocol
	kindPanic
	kindShutdown
	kindLimit
	kindError
	kindDetached
	kindDial
	kindProxy
	numKinds
)

// closeReason names kind for logs, as ClosedStats names it.
func closeReason(kind closeKind) string {
	return [numKinds]string{"none", "peer", "handler", "idle", "read_timeout", "write_timeout", "slow_consumer",
		"protocol", "panic", "shutdown", "limit", "error", "detached", "dial", "proxy"}[kind]
}

// counters are one loop's share of Stats, written by the loop only.
type counters struct {
	accepted    atomic.Uint64
	bytesIn     atomic.Uint64
	bytesOut    atomic.Uint64
	messagesIn  atomic.Uint64
	messagesOut atomic.Uint64
	queued      atomic.Int64
	open        atomic.Int64
	outbound    atomic.Int64
	dialed      atomic.Uint64
	paused      atomic.Int64
	backoffs    atomic.Uint64
	closed      [numKinds]atomic.Uint64
}

// Engine names the engine the server runs on: "epoll" (Linux) or
// "portable" (Go's net, elsewhere, or on Linux with the build tag
// simpleserver_portable); see the README's Platforms section. It is fixed
// when the program is built. Any goroutine may call it.
func (s *Server) Engine() string { return poll.Engine }

// Stats returns the server's counters summed over its loops. Any goroutine
// may call it, at any time.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	loops, pool := s.loops, s.pool
	s.mu.Unlock()
	var st Stats
	for _, l := range loops {
		l.stats.addTo(&st)
	}
	if pool != nil {
		st.WorkerQueued = pool.Queued()
	}
	return st
}

// LoopStats returns each event loop's share of Stats, in loop order (empty
// before Start), so an operator can see how connections and load spread
// over the loops. Any goroutine may call it, at any time.
func (s *Server) LoopStats() []Stats {
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	sts := make([]Stats, len(loops))
	for i, l := range loops {
		l.stats.addTo(&sts[i])
	}
	return sts
}

// addTo adds one loop's counters to st.
func (c *counters) addTo(st *Stats) {
	st.Open += c.open.Load()
	st.Accepted += c.accepted.Load()
	st.Outbound += c.outbound.Load()
	st.Dialed += c.dialed.Load()
	st.BytesIn += c.bytesIn.Load()
	st.BytesOut += c.bytesOut.Load()
	st.MessagesIn += c.messagesIn.Load()
	st.MessagesOut += c.messagesOut.Load()
	st.BytesQueued += c.queued.Load()
	st.Paused += c.paused.Load()
	st.AcceptBackoffs += c.backoffs.Load()
	k := &c.closed
	st.Closed.Peer += k[kindPeer].Load()
	st.Closed.Handler += k[kindHandler].Load()
	st.Closed.Idle += k[kindIdle].Load()
	st.Closed.ReadTimeout += k[kindReadTimeout].Load()
	st.Closed.WriteTimeout += k[kindWriteTimeout].Load()
	st.Closed.SlowConsumer += k[kindSlowConsumer].Load()
	st.Closed.Protocol += k[kindProtocol].Load()
	st.Closed.Panic += k[kindPanic].Load()
	st.Closed.Shutdown += k[kindShutdown].Load()
	st.Closed.Limit += k[kindLimit].Load()
	st.Closed.Error += k[kindError].Load()
	st.Closed.Detached += k[kindDetached].Load()
	st.Closed.Dial += k[kindDial].Load()
	st.Closed.Proxy += k[kindProxy].Load()
}
