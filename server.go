// Package simpleserver is an event-driven TCP (and Unix socket) server
// built directly on Linux epoll.
//
// Off Linux (macOS, the BSDs, Windows), and on Linux when built with the
// tag simpleserver_portable, the same API runs on a portable engine built
// on Go's net package: a reader goroutine per connection feeds the loops,
// which keep every guarantee documented here (see Server.Engine and the
// README's Platforms section). Production belongs on epoll; the portable
// engine is for development everywhere.
//
// A Server runs a few event loops, each a goroutine that owns an epoll
// instance and the connections assigned to it. A loop reads what arrives
// into one shared buffer, lets the Codec cut it into messages, calls the
// Handler (on the loop, or on a bounded worker pool when handlers block),
// and writes every reply produced in one turn with a single write or
// writev per connection. Idle connections hold no buffers.
//
// Which goroutine may call what is part of every exported method's
// documentation: "any goroutine", or "on the loop" (from a Handler or
// callback that runs on the connection's event loop).
package simpleserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/internal/sock"
	"github.com/simple-server/simpleserver/worker"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultAddr        = "127.0.0.1:19920"
	DefaultBacklog     = sock.DefaultBacklog
	DefaultDeferAccept = sock.DefaultDeferAccept
	DefaultWorkerQueue = 64
	// DefaultWriteHighWater and DefaultWriteLowWater bound the output a
	// connection may have stuck in the server before the loop stops
	// reading its requests, and where it resumes.
	DefaultWriteHighWater = 1 << 20
	DefaultWriteLowWater  = 256 << 10
	// DefaultMaxPendingBytes is the hard cap on a connection's queued
	// output: past it the connection is closed with ErrSlowConsumer.
	DefaultMaxPendingBytes = 16 << 20
)

// Balance chooses the event loop a new connection is assigned to.
type Balance int

const (
	// RoundRobin assigns connections to loops in turn.
	RoundRobin Balance = iota
	// LeastConns assigns a connection to the loop with the fewest open
	// connections, which evens out load when connections live for very
	// different times.
	LeastConns
)

// Server serves connections with a Codec and a Handler. Set its fields,
// then call ListenAndServe, Serve or Start; do not change them afterwards.
type Server struct {
	// Addr is the address to listen on (host:port for TCP, a path or
	// "@name" for Unix sockets). Empty means DefaultAddr.
	Addr string
	// Network is "tcp" (the default), "tcp4", "tcp6" or "unix".
	Network string

	// Handler handles each message. Required, unless Stream is set.
	Handler Handler
	// Codec cuts the inbound stream into messages. Nil means no framing:
	// every read's bytes are one message (an echo server, a proxy).
	Codec codec.Codec
	// Stream, if set, serves a protocol that frames itself (HTTP/1.1, in
	// package http1) instead of Codec and Handler, which must then be nil.
	// If it also implements StreamValidator, Start calls ValidateServer
	// first and fails with its error.
	Stream StreamHandler

	// OnOpen, if set, is called on the connection's loop when it is
	// registered, before any of its messages is handled.
	OnOpen func(c *Conn)
	// OnClose, if set, is called on the connection's loop exactly once,
	// after its socket is closed (for an orderly close of a peer that has
	// not ended its side: after the last reply went out and the socket
	// began its lingering close). err is nil for an orderly close (the
	// peer's EOF or close request, or Conn.Close), otherwise the reason:
	// ErrServerClosed, a *ProtocolError, ErrHandlerPanic, an error
	// wrapping ErrProxyHeader, or an I/O error. With ProxyProtocol it is
	// also called for a connection refused for its header, whose OnOpen
	// never ran.
	OnClose func(c *Conn, err error)
	// ProxyProtocol, if set, requires a PROXY protocol header at the
	// start of every accepted connection; see ProxyProtocol.
	ProxyProtocol *ProxyProtocol
	// OnEOF, if set, keeps a connection open after its peer ended its
	// sending side (a half-close): OnEOF is called on the loop once every
	// message before the EOF was handed to the Handler, and the
	// connection stays open for writing until the handler calls Close, or
	// CloseWrite to end its own side too (a proxy passes the EOF on this
	// way). Unset, the peer's EOF closes the connection once its replies
	// are written. Not with Stream, which learns of the EOF itself.
	OnEOF func(c *Conn)

	// Loops is the number of event loops; 0 means GOMAXPROCS.
	Loops int
	// Balance chooses the loop for each new connection. With ReusePort
	// the kernel does it instead.
	Balance Balance
	// Workers > 0 runs handlers on a pool of that many goroutines, each
	// connection's messages in order; 0 runs them on the event loops.
	Workers int
	// WorkerQueue is how many messages of one connection may wait for a
	// worker before the loop stops reading that connection (backpressure,
	// nothing is dropped). 0 means DefaultWorkerQueue.
	WorkerQueue int

	// ReusePort opens one listener per loop with SO_REUSEPORT and lets the
	// kernel spread connections. Only with ListenAndServe/Start(nil).
	// Linux's epoll engine only: the portable engine refuses it at Start
	// (other systems' SO_REUSEPORT does not balance).
	ReusePort bool
	// DeferAccept sets TCP_DEFER_ACCEPT on listeners the server creates:
	// a connection is accepted only once its first data arrived (or the
	// timeout passed), so a loop never wakes for a handshake alone. 0 means
	// DefaultDeferAccept; negative turns it off, which protocols where the
	// server speaks first must do. Linux only: the portable engine has no
	// equivalent and ignores it (connections are accepted at the
	// handshake).
	DeferAccept time.Duration
	// Backlog is the listen backlog; 0 means DefaultBacklog. It is capped
	// at net.core.somaxconn. The portable engine cannot set it and ignores
	// it: Go's net listens with the system's largest backlog.
	Backlog int
	// DisableNoDelay leaves Nagle's algorithm on for accepted sockets. By
	// default TCP_NODELAY is set: replies are batched by the loop already,
	// and Nagle would hold back a reply waiting for the previous one's ACK.
	DisableNoDelay bool
	// KeepAlive configures TCP keep-alive on each accepted socket; the zero
	// value leaves it off. Zero Idle, Interval and Count keep the system's
	// defaults on both engines (unlike net.Dialer, where zero means 15 s).
	KeepAlive net.KeepAliveConfig
	// ReadBuffer and WriteBuffer set SO_RCVBUF and SO_SNDBUF on accepted
	// sockets when positive; 0 keeps the kernel's autotuning.
	ReadBuffer, WriteBuffer int

	// IdleTimeout closes a connection (ErrIdleTimeout) that sent and
	// received nothing for this long while no work of it was in flight.
	// The seed's rule: clients close first, the server protects itself
	// with a timeout. 0 means none.
	IdleTimeout time.Duration
	// ReadTimeout closes a connection (ErrReadTimeout) that began a
	// message and did not complete it within this long: slowloris. 0
	// means none.
	ReadTimeout time.Duration
	// WriteTimeout closes a connection (ErrWriteTimeout) whose output
	// is stuck: queued, and not one byte taken by the kernel for this
	// long. 0 means none.
	WriteTimeout time.Duration

	// WriteHighWater: when this many bytes of a connection's output are
	// stuck in the server, the loop stops reading its requests (and calls
	// OnBackpressure) until the output drains to WriteLowWater. 0 means
	// DefaultWriteHighWater and DefaultWriteLowWater; negative turns the
	// watermarks off.
	WriteHighWater, WriteLowWater int
	// MaxPendingBytes caps a connection's queued output: a write that
	// would exceed it fails with ErrSlowConsumer and closes the
	// connection without flushing. 0 means DefaultMaxPendingBytes;
	// negative means no cap.
	MaxPendingBytes int
	// OnBackpressure, if set, is called on the connection's loop when the
	// loop stops reading it because its output crossed WriteHighWater
	// (paused true), and when it resumes (paused false).
	OnBackpressure func(c *Conn, paused bool)

	// MaxConns, if positive, caps open connections: above it new
	// connections are accepted and closed at once (counted in
	// Stats.Closed.Limit) instead of waiting in the backlog.
	MaxConns int

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger

	cb       callbacks // the fields above that serve each accepted connection
	mu       sync.Mutex
	started  bool
	stopping bool
	loops    []*loop
	pool     *worker.Pool
	connOpts sock.ConnOptions
	// Effective limits, resolved from the fields at Start.
	highWater, lowWater, maxPending, workerQueue int
	addrs                                        []net.Addr
	listening                                    atomic.Int32  // listeners not closed yet
	done                                         chan struct{} // closed when every loop has exited
	drained                                      chan struct{} // closed after done, once the workers have exited too
	acceptLocal                                  bool          // each loop keeps the connections it accepts (set before the loops run)
	dialRR                                       atomic.Uint64 // Dial's round-robin cursor
}

// ListenAndServe listens on s.Addr and serves until Shutdown or Close, then
// returns ErrServerClosed. Any goroutine may call it, once per Server.
func (s *Server) ListenAndServe() error { return s.Serve(nil) }

// Serve serves the listener ln (a *net.TCPListener or *net.UnixListener;
// nil means listen on s.Addr) until Shutdown or Close, then returns
// ErrServerClosed. The server takes ownership of ln and closes it when it
// stops. Listener-level options (backlog, SO_REUSEADDR, TCP_DEFER_ACCEPT)
// of a caller's listener are left as the caller set them: they belong to
// whoever created it, systemd's socket units included.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.Start(ln); err != nil {
		return err
	}
	<-s.done
	return ErrServerClosed
}

// Start is Serve without the wait, for any number of listeners: it
// returns once the server is accepting connections on all of them, or with
// the reason it can not. Any goroutine may call it, once per Server.
//
// With no listener, or a single nil one, the server listens on s.Addr
// itself (one listener, or one per loop with ReusePort). Otherwise it
// serves each of lns, which must be *net.TCPListener or *net.UnixListener
// values and not nil: the several sockets of a systemd socket unit, or
// one SO_REUSEPORT socket per loop that a program opened itself to hand
// them to its successor on restart. Listener i is accepted on by loop
// i % Loops, as the ReusePort listeners are. When every loop has a
// listener of its own, each loop keeps the connections it accepts (the
// kernel spreads an SO_REUSEPORT group's connections); with fewer
// listeners than loops, an accepting loop hands each connection to the
// loop Balance picks.
//
// The server takes ownership of every listener in lns, also when Start
// fails: it closes them when it stops (or at once, on failure). As with
// Serve, their listener-level options stay as their creator set them, and
// a *net.UnixListener's socket file is removed only if that listener
// would remove it on Close.
func (s *Server) Start(lns ...net.Listener) error {
	if len(lns) == 1 && lns[0] == nil {
		lns = nil
	}
	return s.start(lns, true)
}

// StartClient starts the server's loops with no listener, for a program
// that only dials out (Dial, DialAsync): Addr, Handler, Codec and Stream
// are then unused. Shutdown and Close stop it as they stop a server. Any
// goroutine may call it, once per Server, instead of Start.
func (s *Server) StartClient() error {
	return s.start(nil, false)
}

func (s *Server) start(given []net.Listener, listen bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(listen); err != nil {
		closeListeners(given)
		return err
	}
	if s.started || s.stopping {
		closeListeners(given)
		if s.stopping {
			return ErrServerClosed
		}
		return errors.New("simpleserver: server already started")
	}
	s.started = true
	s.done = make(chan struct{})
	s.drained = make(chan struct{})
	n := s.Loops
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	var lns []*listener
	var err error
	if listen {
		lns, err = s.listen(given, n)
	}
	if err != nil {
		close(s.done)
		close(s.drained)
		return err
	}
	if s.Workers > 0 {
		s.pool = worker.NewPool(s.Workers)
	}
	for range n {
		l, err := newLoop(s)
		if err != nil {
			for _, l := range s.loops {
				l.poller.Close()
			}
			for _, ln := range lns {
				ln.close()
			}
			if s.pool != nil {
				s.pool.Close()
			}
			s.loops = nil
			close(s.done)
			close(s.drained)
			return err
		}
		s.loops = append(s.loops, l)
	}
	// One listener: loop 0 accepts and hands connections out. With
	// ReusePort, or as many given listeners as loops, every loop accepts
	// on its own listener and keeps what it accepts.
	s.acceptLocal = s.ReusePort || len(lns) >= n
	for i, ln := range lns {
		l := s.loops[i%n]
		ln.loop = l
		s.listening.Add(1)
		l.listeners = append(l.listeners, ln)
		l.openReserve()
		if err := l.poller.Add(ln.fd, listenEvents); err != nil {
			s.logger().Error("register listener", "err", err)
		}
		s.addrs = append(s.addrs, ln.addr)
	}
	var wg sync.WaitGroup
	wg.Add(n)
	for _, l := range s.loops {
		go func() {
			defer wg.Done()
			l.run()
		}()
	}
	go func() {
		wg.Wait()
		close(s.done)
		if s.pool != nil {
			s.pool.Close()
		}
		close(s.drained)
	}()
	return nil
}

// check validates the configuration before anything is opened.
func (s *Server) check(listen bool) error {
	switch {
	case s.Stream != nil && (s.Handler != nil || s.Codec != nil):
		return errors.New("simpleserver: Server.Stream is set together with Handler or Codec")
	case listen && s.Stream == nil && s.Handler == nil:
		return errors.New("simpleserver: Server.Handler is nil")
	case s.Stream != nil && s.OnEOF != nil:
		return errors.New("simpleserver: Server.OnEOF is set together with Stream")
	}
	if s.ProxyProtocol != nil {
		if err := s.ProxyProtocol.check(); err != nil {
			return err
		}
	}
	s.cb = callbacks{codec: s.Codec, handler: s.Handler, stream: s.Stream,
		onOpen: s.OnOpen, onClose: s.OnClose, onBackpressure: s.OnBackpressure, onEOF: s.OnEOF}
	if v, ok := s.Stream.(StreamValidator); ok {
		if err := v.ValidateServer(s); err != nil {
			return err
		}
	}
	if v, ok := s.Codec.(codec.Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("simpleserver: invalid Codec: %w", err)
		}
	}
	switch {
	case s.Loops < 0:
		return fmt.Errorf("simpleserver: Loops = %d, want >= 0", s.Loops)
	case s.Workers < 0:
		return fmt.Errorf("simpleserver: Workers = %d, want >= 0", s.Workers)
	case s.WorkerQueue < 0:
		return fmt.Errorf("simpleserver: WorkerQueue = %d, want >= 0", s.WorkerQueue)
	case s.Backlog < 0:
		return fmt.Errorf("simpleserver: Backlog = %d, want >= 0", s.Backlog)
	case s.ReadBuffer < 0 || s.WriteBuffer < 0:
		return errors.New("simpleserver: ReadBuffer and WriteBuffer must be >= 0")
	case s.Balance != RoundRobin && s.Balance != LeastConns:
		return fmt.Errorf("simpleserver: unknown Balance %d", s.Balance)
	case s.IdleTimeout < 0 || s.ReadTimeout < 0 || s.WriteTimeout < 0:
		return errors.New("simpleserver: timeouts must be >= 0")
	case s.MaxConns < 0:
		return fmt.Errorf("simpleserver: MaxConns = %d, want >= 0", s.MaxConns)
	}
	s.highWater, s.lowWater = s.WriteHighWater, s.WriteLowWater
	if s.highWater == 0 {
		s.highWater, s.lowWater = DefaultWriteHighWater, DefaultWriteLowWater
	}
	s.workerQueue = s.WorkerQueue
	if s.workerQueue == 0 {
		s.workerQueue = DefaultWorkerQueue
	}
	s.maxPending = s.MaxPendingBytes
	if s.maxPending == 0 {
		s.maxPending = DefaultMaxPendingBytes
	}
	if s.highWater > 0 {
		switch {
		case s.lowWater < 0 || s.lowWater >= s.highWater:
			return fmt.Errorf("simpleserver: WriteLowWater = %d, want 0 <= low < WriteHighWater (%d)", s.lowWater, s.highWater)
		case s.maxPending > 0 && s.highWater > s.maxPending:
			return fmt.Errorf("simpleserver: WriteHighWater = %d is above MaxPendingBytes = %d", s.highWater, s.maxPending)
		}
	}
	s.connOpts = sock.ConnOptions{
		NoDelay:     !s.DisableNoDelay,
		KeepAlive:   s.KeepAlive,
		ReadBuffer:  s.ReadBuffer,
		WriteBuffer: s.WriteBuffer,
	}
	if err := s.connOpts.Validate(); err != nil {
		return fmt.Errorf("simpleserver: %w", err)
	}
	return nil
}

// Addrs returns the addresses the server listens on (one per listener),
// once Start has returned. Any goroutine may call it.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Shutdown stops the server gracefully: it closes the listeners, stops
// reading new requests, handles every message already received (including
// bytes waiting in the kernel's socket buffers), flushes the replies,
// closes each connection as soon as it has nothing left in flight (idle
// ones at once), and returns nil when all are closed and every goroutine
// of the server has exited. If ctx ends first, Shutdown closes what
// remains as Close does (so handlers still running are not waited for)
// and returns an error that wraps ctx's and says how many connections were
// cut off. Any goroutine may call it.
func (s *Server) Shutdown(ctx context.Context) error {
	running, first := s.stop()
	if !running {
		return nil
	}
	if first {
		for _, l := range s.loops {
			l.post(l.shutdown)
		}
	}
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
		cut := s.closeLoops()
		<-s.done
		return fmt.Errorf("simpleserver: shutdown cut off %d connections: %w", cut, ctx.Err())
	}
}

// Close stops the server at once: listeners and connections are closed
// without flushing (OnClose gets ErrServerClosed), and Close returns when
// the event loops have exited. Handlers still running on workers are not
// waited for (one may never return); their writes fail with ErrConnClosed,
// and the workers exit when they return. Any goroutine may call it.
func (s *Server) Close() error {
	if running, _ := s.stop(); !running {
		return nil
	}
	s.closeLoops()
	<-s.done
	return nil
}

// stop marks the server stopping. It reports whether loops are running
// (Start succeeded and they have not all exited) and whether this is the
// first stop request. A server stopped before it started never starts.
func (s *Server) stop() (running, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	first = !s.stopping
	s.stopping = true
	if !s.started || s.loops == nil {
		return false, first
	}
	select {
	case <-s.done:
		return false, first
	default:
		return true, first
	}
}

// closeLoops makes every loop close everything, and returns how many
// connections that cut off.
func (s *Server) closeLoops() int {
	var cut atomic.Int64
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		if !l.post(func() { cut.Add(int64(l.closeAll())); wg.Done() }) {
			wg.Done()
		}
	}
	wg.Wait()
	return int(cut.Load())
}

// openConns is the number of open connections, summed over the loops.
func (s *Server) openConns() int64 {
	var n int64
	for _, l := range s.loops {
		n += l.stats.open.Load()
	}
	return n
}

// pick returns the loop for a new connection accepted by the loop from.
// On from: each accepting loop keeps its own round-robin cursor, so that
// several of them (one per given listener) need no lock.
func (s *Server) pick(from *loop) *loop {
	if len(s.loops) == 1 {
		return s.loops[0]
	}
	if s.Balance == LeastConns {
		best := s.loops[0]
		for _, l := range s.loops[1:] {
			if l.stats.open.Load() < best.stats.open.Load() {
				best = l
			}
		}
		return best
	}
	from.rr++
	return s.loops[from.rr%uint64(len(s.loops))]
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
