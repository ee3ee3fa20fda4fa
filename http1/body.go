package http1

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/simple-server/simpleserver/http1/internal/parse"
	"github.com/simple-server/simpleserver/internal/buffer"
)

// pipeSize is how much of a request body may wait for its Handler before
// the loop stops reading the connection. The loop may overshoot it by one
// read's worth, which is what bounds a body's memory.
const pipeSize = 64 << 10

// errBodyTooLarge fails the body reads of a request whose chunked body
// grew past MaxBodyBytes; its text is http.MaxBytesReader's.
var errBodyTooLarge = &http.MaxBytesError{}

// continueLine is the interim response to "Expect: 100-continue".
var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// pipe carries a request body from the loop, which writes what arrives,
// to the Handler's goroutine, which reads it as Request.Body. The loop
// never blocks on it; the reader blocks while it is empty.
type pipe struct {
	ex *call

	mu        sync.Mutex
	cond      sync.Cond
	buf       []byte // pooled; buf[r:] is unread
	r         int
	total     int64 // bytes written since the body began
	readN     int64 // bytes the Handler read
	expect    bool  // the request carried "Expect: 100-continue"
	discarded int64 // bytes dropped after the Handler closed the body
	done      bool  // the whole body has arrived
	err       error // the body cannot arrive whole: reads fail once buf is drained
	closed    bool  // the Handler closed the body, or returned
	paused    bool  // the loop stopped reading because the pipe is full
	sawEOF    bool  // a read returned io.EOF
	trailers  []parse.Field
	// wantContinue: the client sent "Expect: 100-continue" and waits for
	// it before sending the body; it is sent on the first read that would
	// block, and never once the response has begun (RFC 9110 §10.1.1).
	wantContinue bool
	deadline     time.Time
	timer        *time.Timer
	timedOut     bool
}

func newPipe(ex *call, expectContinue bool) *pipe {
	p := &pipe{ex: ex, wantContinue: expectContinue, expect: expectContinue}
	p.cond.L = &p.mu
	return p
}

// write appends body data, or drops it once the Handler closed the body.
// It returns the body's bytes so far and the bytes dropped so far. On the
// loop.
func (p *pipe) write(data []byte) (total, discarded int64) {
	p.mu.Lock()
	p.total += int64(len(data))
	if p.closed {
		p.discarded += int64(len(data))
	} else {
		if p.buf == nil {
			p.buf = buffer.Get(max(len(data), pipeSize))
		} else if p.r > 0 && len(p.buf)+len(data) > cap(p.buf) {
			p.buf = p.buf[:copy(p.buf, p.buf[p.r:])]
			p.r = 0
		}
		p.buf = buffer.Append(p.buf, data)
	}
	total, discarded = p.total, p.discarded
	p.mu.Unlock()
	p.cond.Signal()
	return total, discarded
}

// written is how much of the body arrived so far. On the loop, which
// alone writes it.
func (p *pipe) written() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// full reports whether the loop should stop reading until the Handler
// catches up, and if so remembers that it did. On the loop.
func (p *pipe) full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && len(p.buf)-p.r >= pipeSize {
		p.paused = true
	}
	return p.paused
}

// finish marks the body complete. On the loop.
func (p *pipe) finish(trailers []parse.Field) {
	p.mu.Lock()
	p.done = true
	if len(trailers) > 0 {
		p.trailers = append([]parse.Field(nil), trailers...)
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// fail ends the body with err: reads return it once the data already
// arrived is read. The first error wins. Any goroutine.
func (p *pipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil && !p.done {
		p.err = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// complete reports whether the whole body arrived and was read or
// dropped: then the connection can carry another request. Any goroutine.
func (p *pipe) complete() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done && (p.closed || len(p.buf) == p.r)
}

// unread returns a copy of the body data that arrived but was not read.
// Any goroutine.
func (p *pipe) unread() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.buf[p.r:]...)
}

// readCount is how much of the body the Handler read. Any goroutine.
func (p *pipe) readCount() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readN
}

// close is Body.Close, and what the server does when the Handler
// returns: further data is dropped (and counted), resuming the loop if it
// waited for room. Any goroutine.
func (p *pipe) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.wantContinue = false
	p.releaseLocked()
	resume := p.paused
	p.paused = false
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.cond.Broadcast()
	if resume {
		p.ex.h.c.ResumeReading()
	}
}

func (p *pipe) releaseLocked() {
	if p.buf != nil {
		buffer.Put(p.buf)
		p.buf, p.r = nil, 0
	}
}

// noContinue is called when the response begins: a client still waiting
// for "100 Continue" will not get it. Any goroutine.
func (p *pipe) noContinue() {
	p.mu.Lock()
	p.wantContinue = false
	p.mu.Unlock()
}

// read is Body.Read, on the Handler's goroutine.
func (p *pipe) read(b []byte) (int, error) {
	p.mu.Lock()
	for len(p.buf) == p.r && !p.done && p.err == nil && !p.closed && !p.timedOut {
		if p.wantContinue {
			// Asked for by reading: the Handler wants the body.
			p.wantContinue = false
			p.mu.Unlock()
			p.ex.h.c.Write(continueLine)
			p.mu.Lock()
			continue
		}
		p.cond.Wait()
	}
	switch {
	case p.closed:
		p.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	case len(p.buf) == p.r && p.timedOut:
		p.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, p.buf[p.r:])
	p.r += n
	p.readN += int64(n)
	resume := false
	if p.paused && len(p.buf)-p.r <= pipeSize/2 {
		p.paused, resume = false, true
	}
	var err error
	if len(p.buf) == p.r {
		switch {
		case p.done:
			err = io.EOF
			p.releaseLocked()
			if !p.sawEOF {
				p.sawEOF = true
				p.ex.mergeTrailers(p.trailers)
			}
		case p.err != nil:
			err = p.err
			p.releaseLocked()
		}
	}
	p.mu.Unlock()
	if resume {
		p.ex.h.c.ResumeReading()
	}
	return n, err
}

// setDeadline is ResponseController.SetReadDeadline: a read blocked at t
// or later fails with os.ErrDeadlineExceeded. Any goroutine.
func (p *pipe) setDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline, p.timedOut = t, false
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if t.IsZero() {
		return
	}
	d := time.Until(t)
	if d <= 0 {
		p.timedOut = true
		p.cond.Broadcast()
		return
	}
	p.timer = time.AfterFunc(d, func() {
		p.mu.Lock()
		if p.deadline.Equal(t) {
			p.timedOut = true
		}
		p.mu.Unlock()
		p.cond.Broadcast()
	})
}

// body is a request's Body for a Handler.
type body struct{ p *pipe }

func (b body) Read(p []byte) (int, error) { return b.p.read(p) }

// Close stops the body: unread data is dropped, and the server discards
// what is still to come (up to a bound, past which it closes the
// connection after the response).
func (b body) Close() error {
	b.p.close()
	return nil
}

// errClientGone fails the body reads of a request whose connection closed.
var errClientGone = errors.New("http1: connection closed before the request body was read")
