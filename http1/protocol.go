// Package http1 serves HTTP/1.0 and HTTP/1.1 on simpleserver's event loops:
// keep-alive, pipelining with responses in request order, streaming
// request and response bodies, and strict RFC 9112 parsing that never
// guesses at framing.
//
// A Protocol plugs into a simpleserver.Server as its Stream:
//
//	srv := &simpleserver.Server{
//		Addr:    ":8080",
//		Workers: 64,                              // Handler runs on these
//		Stream:  &http1.Protocol{Handler: mux},   // any net/http Handler
//	}
//
// It offers two handler APIs. Handler takes any net/http Handler
// (ServeMux, chi, gorilla/mux): it runs on the server's worker pool, one
// request of a connection at a time, with a real *http.Request whose Body
// streams while it arrives and whose Context ends when the client goes
// away, and a ResponseWriter with Flusher, Hijacker and
// http.ResponseController support. Fast takes a FastHandler that runs on
// the event loop itself: no goroutine hop and no allocation per request,
// for handlers that never block.
//
// The server's timeouts keep their meaning per connection: ReadTimeout
// bounds the arrival of a request's head (net/http's ReadHeaderTimeout)
// and a request body that stops making progress for that long;
// IdleTimeout bounds the wait between keep-alive requests; WriteTimeout
// closes a connection whose response makes no progress. No timer is
// created per request: they are the loops' shared timeout lists.
//
// Not supported: HTTP/2 (a "PRI * HTTP/2.0" preface gets 505), TLS, and
// request bodies with a transfer coding other than chunked (501).
package http1

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1/internal/parse"
)

// Defaults for the zero values of Protocol's limits.
const (
	// DefaultMaxHeaderBytes bounds a request head (request line and
	// fields). It is held in memory per connection while it arrives, so
	// it is 64 KiB rather than net/http's 1 MiB: ten thousand slow
	// clients then hold at most 640 MiB, not 10 GiB. nginx allows 32 KiB.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultMaxTargetBytes bounds the request-target (path and query);
	// RFC 9112 §3 asks servers to accept at least 8000 octets.
	DefaultMaxTargetBytes = 8 << 10
	// DefaultMaxHeaders bounds the number of header fields, as Apache's
	// LimitRequestFields does: a browser sends a dozen or two.
	DefaultMaxHeaders = 100
	// DefaultMaxFastBodyBytes bounds a request body for the Fast API,
	// which holds a body in memory whole before it calls the handler.
	DefaultMaxFastBodyBytes = 4 << 20
	// DefaultMaxChunkExtBytes bounds the extensions of one chunk of a
	// chunked body, which are ignored (RFC 9112 §7.1.1 asks for a limit).
	DefaultMaxChunkExtBytes = 1 << 10
)

// maxPostHandlerDiscard is how much of a request body a handler left
// unread the server reads and discards to keep the connection alive (as
// net/http does); past it, it closes the connection instead.
const maxPostHandlerDiscard = 256 << 10

// Protocol serves HTTP/1.x as a simpleserver.StreamHandler. Set its fields,
// then give it to one Server's Stream field; do not change them
// afterwards.
type Protocol struct {
	// Handler serves requests the net/http way, on the Server's workers
	// (Server.Workers must be positive): one request of a connection at a
	// time, in order; different connections in parallel.
	Handler http.Handler
	// Fast, if set instead of Handler, serves requests on the event loops.
	Fast FastHandler

	// ServerName, if not empty, is sent as the Server header of every
	// response that does not set one (net/http sends none).
	ServerName string

	// MaxHeaderBytes bounds a request's head: request line and header
	// fields. More gets 431. 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxTargetBytes bounds the request-target. Longer gets 414. 0 means
	// DefaultMaxTargetBytes.
	MaxTargetBytes int
	// MaxHeaders bounds the number of header fields. More gets 431. 0
	// means DefaultMaxHeaders.
	MaxHeaders int
	// MaxBodyBytes bounds a request body. A declared Content-Length above
	// it gets 413 at once; a chunked body that grows past it fails the
	// handler's reads with an error (as http.MaxBytesReader's) and the
	// connection closes after the response. 0 means no limit for
	// Handler, whose bodies stream through a bounded buffer as with
	// net/http, and DefaultMaxFastBodyBytes for Fast, which holds each
	// body in memory; negative means no limit for Handler (Fast refuses
	// it).
	MaxBodyBytes int64
	// MaxChunkExtBytes bounds the chunk extensions on one chunk line.
	// More gets 400. 0 means DefaultMaxChunkExtBytes.
	MaxChunkExtBytes int
	// MaxRequestsPerConn, if positive, closes a connection after that many
	// requests: the last response carries "Connection: close".
	MaxRequestsPerConn int

	// Logger receives the protocol's logs (bad requests at debug level,
	// handler panics at error level); nil means the Server's, or
	// slog.Default().
	Logger *slog.Logger

	// Resolved from the fields by ValidateServer.
	limits  parse.Limits
	maxBody int64
	maxExt  int
	logger  *slog.Logger
}

// ValidateServer checks p's configuration against the server it is given
// to; simpleserver calls it from Start.
func (p *Protocol) ValidateServer(s *simpleserver.Server) error {
	switch {
	case p.Handler == nil && p.Fast == nil:
		return errors.New("http1: Protocol needs a Handler or a Fast handler")
	case p.Handler != nil && p.Fast != nil:
		return errors.New("http1: Protocol has both a Handler and a Fast handler")
	case p.Handler != nil && s.Workers <= 0:
		return errors.New("http1: a net/http Handler blocks, so it runs on workers: set Server.Workers")
	case p.Fast != nil && p.MaxBodyBytes < 0:
		return errors.New("http1: the Fast API holds bodies in memory, so MaxBodyBytes must not be negative")
	case p.MaxHeaderBytes < 0 || p.MaxTargetBytes < 0 || p.MaxHeaders < 0 || p.MaxChunkExtBytes < 0 || p.MaxRequestsPerConn < 0:
		return errors.New("http1: limits must not be negative")
	}
	if p.Logger == nil && s.Logger != nil {
		p.logger = s.Logger
	}
	p.limits = parse.Limits{
		MaxTarget: or(p.MaxTargetBytes, DefaultMaxTargetBytes),
		MaxHead:   or(p.MaxHeaderBytes, DefaultMaxHeaderBytes),
		MaxFields: or(p.MaxHeaders, DefaultMaxHeaders),
	}
	p.maxBody = p.MaxBodyBytes
	if p.maxBody == 0 && p.Fast != nil {
		p.maxBody = DefaultMaxFastBodyBytes
	}
	p.maxExt = or(p.MaxChunkExtBytes, DefaultMaxChunkExtBytes)
	return nil
}

func or(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (p *Protocol) log() *slog.Logger {
	switch {
	case p.Logger != nil:
		return p.Logger
	case p.logger != nil:
		return p.logger
	}
	return slog.Default()
}

// ServeStream implements simpleserver.StreamHandler. On the loop.
func (p *Protocol) ServeStream(c *simpleserver.Conn, in []byte, eof bool) int {
	return p.conn(c).serve(in, eof)
}

// DrainStream implements simpleserver.StreamHandler: a connection between
// requests closes at once; one with a request in progress closes after its
// response, which carries "Connection: close". On the loop.
func (p *Protocol) DrainStream(c *simpleserver.Conn) {
	p.conn(c).drain()
}

// CloseStream implements simpleserver.StreamHandler: the request in
// progress, if any, has its Context cancelled and its body reads fail. On
// the loop.
func (p *Protocol) CloseStream(c *simpleserver.Conn, err error) {
	if h, ok := c.Value().(*conn); ok {
		h.closed(err)
	}
}

// conn returns c's HTTP state, made on first use.
func (p *Protocol) conn(c *simpleserver.Conn) *conn {
	if h, ok := c.Value().(*conn); ok {
		return h
	}
	h := &conn{p: p, c: c}
	c.SetValue(h)
	return h
}
