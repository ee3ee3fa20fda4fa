package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// -churn and -retry: a connection of the run is a sequence of sockets.
//
// Why -retry is honest: a server that shuts down gracefully (simple-server
// on SIGTERM, or the old process of a zero-downtime restart) answers every
// request it has read and closes idle connections at once. A request that
// crosses that close on the wire was never read, so the connection ends
// (a FIN, or a reset for the unread bytes) before a single byte of its
// reply: resending it on a new connection is what HTTP clients do for
// idempotent requests (RFC 9112 §9.3.1). A connection that ends after part
// of a reply, or with an error other than EOF or a reset, still fails the
// run, and so does every failed dial: a refused connection is what a
// restart must never cause.

// maxRetries bounds retries in a row that bring no reply: a server that
// closes every connection without answering fails the run instead of
// being retried forever.
const maxRetries = 5

// noReplyByte marks a read error that came before any byte of the reply.
type noReplyByte struct{ err error }

func (e noReplyByte) Error() string { return e.err.Error() }
func (e noReplyByte) Unwrap() error { return e.err }

// validateChurn rejects -churn and -retry where the connection loop that
// implements them does not run: the single-goroutine window loop of hello
// and echo, closed loop.
func (c *Config) validateChurn(w *wire) error {
	flags := ""
	switch {
	case c.Churn > 0 && c.Retry:
		flags = "-churn and -retry"
	case c.Churn > 0:
		flags = "-churn"
	case c.Retry:
		flags = "-retry"
	default:
		return nil
	}
	switch {
	case c.Proto == "http":
		return fmt.Errorf("%s: only for -proto hello or echo", flags)
	case c.Rate > 0 || c.Hold:
		return fmt.Errorf("%s: not with -rate or -hold", flags)
	case c.forceSplit || !windowFits(c.Pipeline, w.maxFrame, w.maxReply):
		return fmt.Errorf("%s: -pipeline %d of these payloads is over %d requests or %d bytes in flight", flags, c.Pipeline, windowMaxRequests, windowMaxBytes)
	}
	return nil
}

// retryable reports whether -retry resends after the read error err.
func (c *conn) retryable(err error) bool {
	var nb noReplyByte
	return c.r.cfg.Retry && errors.As(err, &nb) && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

// brokenBy reports whether the write error err only means, with -retry,
// that the server's socket is gone: the requests are then queued as if
// written, and reading the replies tells whether the server answered any
// before it closed (they arrive before the end) or none (a retry).
func (c *conn) brokenBy(err error) bool {
	if c.r.cfg.Retry && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
		c.broken = true
	}
	return c.broken
}

// redial replaces the connection's socket with a new one. A failed dial
// fails the connection (and the run).
func (c *conn) redial() bool {
	c.nc.Close()
	nc, err := c.r.dial(context.Background())
	if err != nil {
		c.dialErrors++
		c.fail(kindDial, err)
		return false
	}
	c.dials++
	c.nc = nc
	c.br.Reset(nc)
	c.rdl, c.wdl = 0, 0
	c.onConn, c.broken = 0, false
	return true
}

// retry resends every outstanding request, oldest first, on a new
// connection, after cause ended the old one before any byte of the oldest
// reply. Each keeps its start time, so the latency includes the retry.
func (c *conn) retry(cause error) bool {
	if c.retries++; c.retries > maxRetries {
		c.fail(classify("read", cause), fmt.Errorf("%w (and %d retries in a row got no reply)", cause, maxRetries))
		return false
	}
	if !c.redial() {
		return false
	}
	c.retried += uint64(c.n)
	frames := c.r.w.frames
	buf := c.wbuf[:0]
	for j := range c.n {
		buf = append(buf, frames[c.ring[(c.head+j)%len(c.ring)].idx]...)
	}
	t := c.r.now()
	if err := c.writeBytes(buf, t, c.n); err != nil {
		c.fail(classify("write", err), err)
		return false
	}
	for j := range c.n {
		c.ring[(c.head+j)%len(c.ring)].sent = t
	}
	return true
}
