// Package relay is a TCP relay (a layer-4 proxy) on simpleserver's loops:
// each accepted connection is paired with an outbound connection to an
// upstream, dialed on the same loop, and bytes flow both ways through the
// loop with nothing in between but what a slow side leaves queued.
//
// What it guarantees:
//   - Backpressure both ways: when one side's queued output reaches
//     Server.WriteHighWater, the other side is not read until it drains to
//     WriteLowWater, so memory stays bounded however fast one side sends
//     and however slowly the other reads.
//   - Half-closes pass through: one side's EOF becomes a shutdown of the
//     other side's sending half after what was queued, and the other
//     direction goes on; a reset, an error or a timeout on one side closes
//     the other.
//   - The client is not read until its upstream is connected, so an
//     upstream that refuses, or does not answer within ConnectTimeout, is
//     retried on the next one with nothing lost; a failed upstream is
//     skipped for Backoff (passive health checking). When none is left,
//     the client is closed.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/simple-server/simpleserver"
)

// Defaults for Relay's zero fields.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultBackoff        = 2 * time.Second
)

// Balance chooses the upstream of a new connection.
type Balance int

const (
	// RoundRobin takes the upstreams in turn.
	RoundRobin Balance = iota
	// LeastConns takes the upstream with the fewest relayed connections.
	LeastConns
)

// Relay relays a Server's connections to Upstreams. Set its fields, then
// call Configure once, before the server starts.
type Relay struct {
	// Upstreams are the addresses relayed to, host:port (a name is
	// resolved at each dial, off the loop). At least one.
	Upstreams []string
	// Balance chooses among the upstreams that are not backing off.
	Balance Balance
	// ConnectTimeout bounds each connect to an upstream; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Backoff is how long an upstream that failed a connect is skipped;
	// 0 means DefaultBackoff.
	Backoff time.Duration

	srv    *simpleserver.Server
	ups    []*upstream
	rr     atomic.Uint64
	dialer simpleserver.Dialer
	log    *slog.Logger
}

// upstream is one address and its health. Its counters are atomic: each
// loop relays to every upstream.
type upstream struct {
	addr      string
	active    atomic.Int64 // connections relayed to it now
	downUntil atomic.Int64 // UnixNano until which it is skipped
}

// pair is one relayed connection: the accepted side and its upstream.
// Both live on one loop, which alone touches a pair.
type pair struct {
	client, up *simpleserver.Conn
	upstream   *upstream
	tried      int  // upstreams tried for this client
	connected  bool // up is established
	closed     bool // client has closed
}

// Configure makes srv a relay: it sets srv's Handler, OnOpen, OnClose,
// OnEOF and OnBackpressure (which must be unset, as must Codec, Stream
// and Workers: relaying runs on the loops). Any goroutine, before
// srv.Start.
func (r *Relay) Configure(srv *simpleserver.Server) error {
	switch {
	case len(r.Upstreams) == 0:
		return errors.New("relay: no upstream")
	case srv.Handler != nil || srv.Codec != nil || srv.Stream != nil || srv.OnOpen != nil ||
		srv.OnClose != nil || srv.OnEOF != nil || srv.OnBackpressure != nil:
		return errors.New("relay: the Server's handlers and callbacks must be unset")
	case srv.Workers != 0:
		return errors.New("relay: relaying runs on the loops; Server.Workers must be 0")
	case r.Balance != RoundRobin && r.Balance != LeastConns:
		return fmt.Errorf("relay: unknown Balance %d", r.Balance)
	case r.ConnectTimeout < 0 || r.Backoff < 0:
		return errors.New("relay: ConnectTimeout and Backoff must be >= 0")
	}
	r.srv = srv
	r.log = srv.Logger
	if r.log == nil {
		r.log = slog.Default()
	}
	for _, a := range r.Upstreams {
		r.ups = append(r.ups, &upstream{addr: a})
	}
	timeout := r.ConnectTimeout
	if timeout == 0 {
		timeout = DefaultConnectTimeout
	}
	// One Dialer for every pair: its callbacks find the pair in the
	// connection's value.
	r.dialer = simpleserver.Dialer{
		Handler:        simpleserver.HandlerFunc(toClient),
		OnOpen:         r.upOpen,
		OnClose:        r.upClose,
		OnEOF:          func(up *simpleserver.Conn) { pairOf(up).client.CloseWrite() },
		OnBackpressure: func(up *simpleserver.Conn, paused bool) { pause(pairOf(up).client, paused) },
		Timeout:        timeout,
	}
	srv.Handler = simpleserver.HandlerFunc(toUpstream)
	srv.OnOpen = r.clientOpen
	srv.OnClose = clientClose
	srv.OnEOF = func(c *simpleserver.Conn) { pairOf(c).up.CloseWrite() }
	srv.OnBackpressure = func(c *simpleserver.Conn, paused bool) { pause(pairOf(c).up, paused) }
	return nil
}

func pairOf(c *simpleserver.Conn) *pair { return c.Value().(*pair) }

// toUpstream and toClient pass each read's bytes on, straight from the
// loop's read buffer to the other socket (both ends share the loop). On
// the loop.
func toUpstream(c *simpleserver.Conn, msg []byte) { pairOf(c).up.WriteDirect(msg) }
func toClient(c *simpleserver.Conn, msg []byte)   { pairOf(c).client.WriteDirect(msg) }

// pause stops or resumes reading c because its partner's output crossed a
// watermark. On the loop.
func pause(c *simpleserver.Conn, paused bool) {
	if paused {
		c.PauseReading()
	} else {
		c.ResumeReading()
	}
}

// clientOpen holds the new client's input until its upstream is
// connected, and dials one. On the loop.
func (r *Relay) clientOpen(c *simpleserver.Conn) {
	c.PauseReading()
	p := &pair{client: c}
	c.SetValue(p)
	r.dialNext(p)
}

// dialNext dials the next upstream for p's client, or closes the client
// when every upstream was tried or is backing off. On the loop.
func (r *Relay) dialNext(p *pair) {
	u := r.pick(p)
	if u == nil {
		r.log.Debug("relay: no upstream available; closing the client", "remote", p.client.RemoteAddr().String())
		p.client.Close()
		return
	}
	p.tried++
	d := r.dialer
	d.Near = p.client
	up, err := r.srv.DialAsync(context.Background(), "tcp", u.addr, &d)
	if err != nil {
		p.client.Close() // the server is stopping
		return
	}
	p.up, p.upstream = up, u
	up.SetValue(p)
}

// pick returns an upstream for p, or nil. Upstreams backing off are
// skipped; each client tries each upstream at most once.
func (r *Relay) pick(p *pair) *upstream {
	if p.tried >= len(r.ups) {
		return nil
	}
	now := time.Now().UnixNano()
	var best *upstream
	start := int(r.rr.Add(1))
	for i := range r.ups {
		u := r.ups[(start+i)%len(r.ups)]
		if u.downUntil.Load() > now || u == p.upstream {
			continue
		}
		if r.Balance == RoundRobin {
			return u
		}
		if best == nil || u.active.Load() < best.active.Load() {
			best = u
		}
	}
	return best
}

// upOpen starts relaying: the client's input flows from now on. On the
// loop.
func (r *Relay) upOpen(up *simpleserver.Conn) {
	p := pairOf(up)
	p.connected = true
	p.upstream.active.Add(1)
	p.client.ResumeReading()
}

// upClose ends the pair, or retries a connect that failed before
// anything was relayed. On the loop.
func (r *Relay) upClose(up *simpleserver.Conn, err error) {
	p := pairOf(up)
	if p.connected || p.closed {
		if p.connected {
			p.upstream.active.Add(-1)
		}
		p.client.Close()
		return
	}
	if errors.Is(err, simpleserver.ErrServerClosed) {
		p.client.Close()
		return
	}
	p.upstream.downUntil.Store(time.Now().Add(r.backoff()).UnixNano())
	r.log.Debug("relay: upstream connect failed; trying the next", "upstream", p.upstream.addr, "err", err)
	r.dialNext(p)
}

func (r *Relay) backoff() time.Duration {
	if r.Backoff == 0 {
		return DefaultBackoff
	}
	return r.Backoff
}

// clientClose closes the upstream side with the client. On the loop.
func clientClose(c *simpleserver.Conn, _ error) {
	p := pairOf(c)
	p.closed = true
	if p.up != nil {
		p.up.Close()
	}
}
