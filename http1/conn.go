package http1

import (
	"io"
	"sync/atomic"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1/internal/parse"
)

// Where a connection is in its stream of requests. Owned by the loop.
const (
	sHead     uint8 = iota // waiting for (the rest of) a request head
	sBody                  // a Handler runs; its body arrives into the pipe
	sWait                  // a Handler runs; its body is complete, later input waits
	sFastBody              // Fast: the head is complete, its body is not
	sFastTE                // Fast: a chunked body is being decoded into fbuf
	sDone                  // no request follows: the connection is closing
)

// Bits of conn.flags, which the loop and the worker of a Handler share.
//
// A Handler's worker and the loop each may decide that the connection
// closes after the response; whichever of them learns of the other's
// decision last closes it. Each sets its bit with one atomic Or and looks
// at the bits that were set before, so one of them always sees both.
const (
	flagDraining    uint32 = 1 << iota // the server began a graceful shutdown
	flagCloseAfter                     // the loop: nothing after this request can be read
	flagHandlerDone                    // the worker: the Handler returned
)

// conn is the HTTP state of one connection, kept in its Conn.Value. Its
// fields are owned by the loop, except flags and what ex shares with its
// worker. It stays small: an idle keep-alive connection keeps it.
type conn struct {
	p     *Protocol
	c     *simpleserver.Conn
	flags atomic.Uint32

	state     uint8
	expecting bool  // sBody: the client waits for "100 Continue"
	peerGone  bool  // the client's EOF arrived
	scanned   int   // parse.ScanHead's resume point in the kept input
	served    int   // requests begun on this connection
	need      int   // sFastBody: bytes of the whole request, head and body
	left      int64 // sBody with Content-Length: body bytes still to come

	ex     *call          // sBody, sWait: the Handler's request
	chunks *parse.Chunked // sBody, sFastTE with a chunked body
	fbuf   []byte         // sFastTE: the head, then the decoded body
	fhead  int            // sFastTE: the head's length in fbuf
	remote string         // the peer's address as text, made once
}

// serve is ServeStream: it runs the state machine over in until it needs
// more input or must wait, and returns what it consumed. On the loop.
func (h *conn) serve(in []byte, eof bool) int {
	off := 0
	for {
		var n int
		var more bool
		switch h.state {
		case sHead:
			n, more = h.head(in[off:])
		case sBody:
			n, more = h.body(in[off:], eof)
		case sWait:
			n, more = h.wait(in[off:], eof)
		case sFastBody:
			if len(in)-off < h.need {
				return off
			}
			h.state, more = sHead, true
		case sFastTE:
			n, more = h.fastChunked(in[off:], eof)
		case sDone:
			return len(in)
		}
		off += n
		if !more {
			return off
		}
	}
}

// head parses the next request head once it is complete and starts the
// request. On the loop.
func (h *conn) head(in []byte) (int, bool) {
	if len(in) == 0 {
		return 0, false
	}
	lim := &h.p.limits
	end, scanned, err := parse.ScanHead(in, h.scanned, lim)
	if err != nil {
		h.reject(err)
		return len(in), false
	}
	if end == 0 {
		// A request has begun: ReadTimeout bounds the rest of its head.
		h.scanned = scanned
		h.c.StartReadTimeout()
		return 0, false
	}
	h.scanned = 0
	hd := getHead()
	defer putHead(hd)
	if err := hd.Parse(in[:end], lim); err != nil {
		h.reject(err)
		return len(in), false
	}
	if h.p.Fast != nil {
		return h.fast(hd, in, end)
	}
	return h.start(hd, in[:end])
}

// wait holds input that arrives while a Handler runs, its body complete:
// net/http reads one request at a time, and so do we, which also keeps
// the bytes after a request unconsumed for a Hijacker. Once the Handler
// returned, the next request is served. On the loop.
func (h *conn) wait(in []byte, eof bool) (int, bool) {
	if h.flags.Load()&flagHandlerDone != 0 {
		h.next()
		return 0, true
	}
	if eof {
		// The client ended its side: as net/http, take it for gone and
		// end the context of this request and of those it pipelined
		// (which are still answered, in case it reads on).
		h.ex.cancel()
		h.peerGone = true
	}
	if len(in) > h.p.limits.MaxHead {
		// A client pipelining far ahead waits in the kernel, not here.
		h.c.PauseReading()
	}
	return 0, false
}

// next moves on from a request whose Handler returned. On the loop.
func (h *conn) next() {
	ex := h.ex
	h.ex, h.chunks = nil, nil
	if ex.closeAfter || h.flags.Load()&flagCloseAfter != 0 {
		h.state = sDone // the worker closed the connection
		return
	}
	h.flags.And(flagDraining)
	h.state = sHead
}

// body passes a Handler's request body to it as it arrives, and discards
// what the Handler left unread once it returned (up to a bound, to keep
// the connection). On the loop.
func (h *conn) body(in []byte, eof bool) (int, bool) {
	ex := h.ex
	// Called with new bytes, or to resume once the Handler made room:
	// either way the client has ReadTimeout from now to send more.
	if len(in) > 0 {
		h.expecting = false
	}
	if !h.expecting {
		h.c.RestartReadTimeout()
	}
	off := 0
	for off < len(in) && h.state == sBody {
		var data []byte
		var n int
		if h.chunks != nil {
			var err error
			data, n, err = h.chunks.Decode(in[off:])
			if err != nil {
				h.bodyFailed(err)
				return len(in), false
			}
			if n == 0 {
				break
			}
		} else {
			n = int(min(h.left, int64(len(in)-off)))
			data = in[off : off+n]
			h.left -= int64(n)
		}
		off += n
		if len(data) > 0 && !h.accept(ex, data) {
			return len(in), false
		}
		if (h.chunks != nil && h.chunks.Done()) || (h.chunks == nil && h.left == 0) {
			h.c.StopReadTimeout()
			var trailers []parse.Field
			if h.chunks != nil {
				trailers = h.chunks.Trailers()
			}
			ex.pipe.finish(trailers)
			h.state = sWait
			return off, true
		}
		if ex.pipe.full() {
			// The Handler reads slower than the client sends: stop
			// reading until it catches up (the pipe resumes us), and
			// do not blame the client meanwhile.
			h.c.StopReadTimeout()
			h.c.PauseReading()
			return off, false
		}
	}
	if eof && h.state == sBody {
		// The client is gone (as net/http sees it) with the body cut
		// short: the Handler's reads fail and its context ends.
		h.bodyFailed(io.ErrUnexpectedEOF)
		ex.cancel()
	}
	return off, false
}

// accept hands body data to the pipe, counting it against MaxBodyBytes
// and, once the Handler returned, against the discard bound. It reports
// false when the connection cannot go on. On the loop.
func (h *conn) accept(ex *call, data []byte) bool {
	max := h.p.maxBody
	over := max > 0 && ex.pipe.written()+int64(len(data)) > max
	if over {
		// As http.MaxBytesReader: the Handler reads up to the limit,
		// then the error.
		data = data[:max-ex.pipe.written()]
	}
	_, discarded := ex.pipe.write(data)
	if over {
		h.bodyFailed(errBodyTooLarge)
		return false
	}
	if discarded > maxPostHandlerDiscard {
		// The Handler returned long ago and the body goes on: the
		// response is out, so end here rather than read it all.
		h.state = sDone
		h.c.Close()
		return false
	}
	return true
}

// bodyFailed ends a request body that cannot be read to its end: the
// Handler's reads fail with err, and the connection closes after the
// response, since nothing after it can be framed. On the loop.
func (h *conn) bodyFailed(err error) {
	h.c.StopReadTimeout()
	h.state = sDone
	// The flag before the failure: the failed read wakes the Handler,
	// and the response it then writes must see that it is the last.
	old := h.flags.Or(flagCloseAfter)
	h.ex.pipe.fail(err)
	if old&flagHandlerDone != 0 {
		h.c.Close()
	}
}

// drain is DrainStream. On the loop.
func (h *conn) drain() {
	old := h.flags.Or(flagDraining)
	switch h.state {
	case sHead:
		// Between requests, or a head not complete yet, which no one
		// has promised to answer.
		h.state = sDone
		h.c.Close()
	case sBody, sWait:
		if old&flagHandlerDone != 0 {
			h.state = sDone
			h.c.Close()
		}
		// Otherwise the worker closes it after the response.
	}
	// sFastBody and sFastTE: a Fast request whose body still arrives is
	// answered (with "Connection: close") and then closed.
}

// closed is CloseStream. On the loop.
func (h *conn) closed(err error) {
	if ex := h.ex; ex != nil {
		ex.connClosed(err)
		h.ex = nil
	}
	h.releaseFast()
	h.state = sDone
}

// mustClose reports whether the response now being written must be the
// connection's last because the server drains or the loop can read no
// further request. Any goroutine.
func (h *conn) mustClose() bool {
	return h.flags.Load()&(flagDraining|flagCloseAfter) != 0
}

// lastRequest reports whether the request now starting is the last one
// MaxRequestsPerConn allows. On the loop.
func (h *conn) lastRequest() bool {
	h.served++
	max := h.p.MaxRequestsPerConn
	return max > 0 && h.served >= max
}
