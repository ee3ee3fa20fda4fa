package http1

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync/atomic"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1/internal/parse"
)

// call is one request of a Handler and its response: made on the
// loop, run on a worker.
type call struct {
	h      *conn
	req    *http.Request
	cancel context.CancelFunc
	pipe   *pipe // nil without a body
	w      response

	// closeAfter is the worker's decision that the connection ends with
	// this response; the loop reads it only after seeing flagHandlerDone.
	closeAfter bool
	hijacked   atomic.Bool
}

// start begins a Handler's request whose head hd (parsed from head) is
// complete. On the loop.
func (h *conn) start(hd *parse.Head, head []byte) (int, bool) {
	p := h.p
	switch {
	case hd.Expect == parse.ExpectOther:
		// RFC 9110 §10.1.1: an expectation we cannot meet.
		h.rejectStatus(http.StatusExpectationFailed, "unsupported Expect")
		return len(head), false
	case p.maxBody > 0 && hd.ContentLength > p.maxBody:
		h.rejectStatus(http.StatusRequestEntityTooLarge, "request body too large")
		return len(head), false
	}
	h.c.StopReadTimeout()
	ex := &call{h: h}
	hasBody := hd.Chunked || hd.ContentLength > 0
	if hasBody {
		ex.pipe = newPipe(ex, hd.Expect == parse.Expect100)
	}
	req, err := h.newRequest(hd, ex)
	if err != nil {
		h.reject(err)
		return len(head), false
	}
	ex.req = req
	if h.peerGone {
		ex.cancel()
	}
	ex.w.init(ex, hd, h.lastRequest())
	h.ex = ex
	h.flags.And(flagDraining)
	switch {
	case hd.Chunked:
		if h.chunks == nil {
			h.chunks = &parse.Chunked{MaxExt: p.maxExt}
		}
		h.chunks.Reset()
		h.state = sBody
	case hd.ContentLength > 0:
		h.left = hd.ContentLength
		h.state = sBody
	default:
		h.state = sWait
	}
	// A client that sent "Expect: 100-continue" waits for the interim
	// response, which only the Handler's first read sends: its silence
	// until then is no stall, so the body's timeout waits for its bytes.
	h.expecting = hd.Expect == parse.Expect100
	h.c.Offload(ex.run)
	return len(head), true
}

// run serves the request on a worker, then finishes its response and
// hands the connection back to the loop.
func (ex *call) run() {
	defer ex.done()
	defer func() {
		if r := recover(); r != nil {
			ex.panicked(r)
		}
	}()
	ex.h.p.Handler.ServeHTTP(&ex.w, ex.req)
}

// panicked answers 500 if nothing of the response was sent, and otherwise
// can only end the connection, which cuts the response short so the
// client sees the failure. http.ErrAbortHandler is a deliberate abort,
// not logged (as net/http).
func (ex *call) panicked(r any) {
	if r != http.ErrAbortHandler {
		ex.h.p.log().Error("http1: handler panicked; closing its connection",
			"remote", ex.req.RemoteAddr, "method", ex.req.Method, "uri", ex.req.RequestURI,
			"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
	if ex.hijacked.Load() {
		return
	}
	ex.closeAfter = true
	if ex.w.committed || r == http.ErrAbortHandler {
		ex.w.aborted = true
		return
	}
	ex.w.reset(http.StatusInternalServerError)
}

// done completes the response after the Handler returned (or panicked)
// and hands the connection back to the loop: the next request is read,
// or the connection closes. On the worker.
func (ex *call) done() {
	defer ex.cancel()
	if ex.hijacked.Load() {
		if ex.pipe != nil {
			ex.pipe.close()
		}
		return
	}
	h := ex.h
	if !ex.w.aborted {
		ex.w.finish()
	}
	if ex.pipe != nil {
		// What of the body is still to come is the loop's to discard.
		ex.pipe.close()
	}
	ex.closeAfter = ex.closeAfter || ex.w.closeAfter
	old := h.flags.Or(flagHandlerDone)
	if ex.closeAfter || old&(flagDraining|flagCloseAfter) != 0 {
		h.c.Close()
		return
	}
	// The loop may hold the next pipelined request, read while this one
	// ran: serve it now rather than when more input arrives.
	h.c.ResumeReading()
}

// connClosed is CloseStream for a request in progress: its context ends
// (the client is gone, or the server closed) and its body reads fail. A
// hijacked connection is the Handler's now: its context ends when the
// Handler returns, as with net/http. On the loop.
func (ex *call) connClosed(err error) {
	if err == simpleserver.ErrDetached {
		return
	}
	ex.cancel()
	if ex.pipe != nil {
		ex.pipe.fail(errClientGone)
	}
}

// mergeTrailers fills Request.Trailer with the trailer fields that arrived,
// on the Handler's goroutine as net/http does: at the body's io.EOF.
func (ex *call) mergeTrailers(fields []parse.Field) {
	if len(fields) == 0 {
		return
	}
	if ex.req.Trailer == nil {
		ex.req.Trailer = make(http.Header, len(fields))
	}
	for _, f := range fields {
		k := canonicalKey(f.Name)
		ex.req.Trailer[k] = append(ex.req.Trailer[k], string(f.Value))
	}
}
