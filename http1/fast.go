package http1

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1/internal/parse"
	"github.com/simple-server/simpleserver/internal/buffer"
)

// FastHandler serves requests on the event loop itself: no goroutine hop
// and, in steady state, no allocation per request. ServeFast must not
// block: every other connection of its loop waits for it. The body is
// whole before it runs (up to MaxBodyBytes), and the response is sent
// when it returns: a status, header fields and a body appended to the
// Exchange.
type FastHandler interface {
	ServeFast(x *Exchange)
}

// FastHandlerFunc adapts a function to FastHandler.
type FastHandlerFunc func(x *Exchange)

// ServeFast calls f(x).
func (f FastHandlerFunc) ServeFast(x *Exchange) { f(x) }

// Field is a header field of a request, as received.
type Field = parse.Field

// Exchange is one request and its response, for a FastHandler. It is valid
// only during ServeFast, and only on the loop that called it: the []byte
// it returns point into the connection's input and are reused afterwards,
// so copy what must outlive the call.
type Exchange struct {
	h        *conn
	hd       *parse.Head
	body     []byte
	trailers []parse.Field

	status     int
	fields     []byte // response fields added with AddHeader
	out        []byte // the response body
	closeAfter bool
	hasServer  bool
	hasDate    bool
}

// Method returns the request method.
func (x *Exchange) Method() []byte { return x.hd.Method }

// Target returns the request-target as received ("/a/b?c=d").
func (x *Exchange) Target() []byte { return x.hd.Target }

// Path returns the target's path, without the query (for an absolute-form
// target, without scheme and authority too).
func (x *Exchange) Path() []byte {
	p := x.hd.Path
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// Query returns the target's query, without the '?', or nil.
func (x *Exchange) Query() []byte {
	if i := bytes.IndexByte(x.hd.Path, '?'); i >= 0 {
		return x.hd.Path[i+1:]
	}
	return nil
}

// Host returns the request's host: the authority of an absolute-form
// target, else the Host field.
func (x *Exchange) Host() []byte { return x.hd.Host }

// ProtoMinor returns the request's HTTP/1 minor version, 0 or 1.
func (x *Exchange) ProtoMinor() int { return x.hd.Minor }

// Header returns the value of the request's first field named name (ASCII
// case-insensitive), or nil.
func (x *Exchange) Header(name string) []byte { return x.hd.Field(name) }

// Headers returns the request's header fields, in the order received.
func (x *Exchange) Headers() []Field { return x.hd.Fields }

// Body returns the request body, whole (de-chunked if it came chunked).
func (x *Exchange) Body() []byte { return x.body }

// Trailers returns the trailer fields of a chunked request body.
func (x *Exchange) Trailers() []Field { return x.trailers }

// RemoteAddr returns the client's address.
func (x *Exchange) RemoteAddr() net.Addr { return x.h.c.RemoteAddr() }

// Conn returns the connection the request came on.
func (x *Exchange) Conn() *simpleserver.Conn { return x.h.c }

// SetStatus sets the response status code (default 200). A code outside
// 200-999 other than 1xx is allowed, as by net/http; 1xx is refused here,
// since the Fast API sends exactly one response per request.
func (x *Exchange) SetStatus(code int) {
	if code < 200 || code > 999 {
		panic(fmt.Sprintf("http1: invalid Fast status code %d", code))
	}
	x.status = code
}

// AddHeader adds a response header field. Content-Length and
// Transfer-Encoding are the server's to set (it always sends a
// Content-Length) and are ignored here; a name that is not a token is
// ignored; CR and LF in value become spaces, so no value can smuggle in a
// field of its own. Date and Server, when added, replace the server's.
// Connection is the server's too: adding one that says "close" makes the
// response the connection's last, as CloseAfter does.
func (x *Exchange) AddHeader(name, value string) {
	if !validFieldName(name) {
		return
	}
	// The length picks the one name a field can be before a comparison,
	// so the common field (none of these) costs no comparison at all.
	switch len(name) {
	case len("Content-Length"), len("Transfer-Encoding"):
		if strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "Transfer-Encoding") {
			return
		}
	case len("Date"):
		x.hasDate = x.hasDate || strings.EqualFold(name, "Date")
	case len("Server"):
		x.hasServer = x.hasServer || strings.EqualFold(name, "Server")
	case len("Connection"):
		if strings.EqualFold(name, "Connection") {
			// The server's to set, from what it will do; "close" is a
			// request to do it.
			x.closeAfter = x.closeAfter || hasToken(value, "close")
			return
		}
	}
	x.fields = appendField(x.fields, name, value)
}

// Write appends p to the response body. It never fails.
func (x *Exchange) Write(p []byte) (int, error) {
	x.out = append(x.out, p...)
	return len(p), nil
}

// WriteString appends s to the response body. It never fails.
func (x *Exchange) WriteString(s string) (int, error) {
	x.out = append(x.out, s...)
	return len(s), nil
}

// CloseAfter makes the response the connection's last: it carries
// "Connection: close", and the connection closes once it is written.
func (x *Exchange) CloseAfter() { x.closeAfter = true }

var exchanges = sync.Pool{New: func() any { return new(Exchange) }}

// maxKept bounds the response buffers an Exchange keeps for the next one.
const maxKept = 64 << 10

// fast serves a Fast request whose head hd (in[:end]) is complete, once
// its body is there too. On the loop.
func (h *conn) fast(hd *parse.Head, in []byte, end int) (int, bool) {
	p := h.p
	switch {
	case hd.Expect == parse.ExpectOther:
		h.rejectStatus(http.StatusExpectationFailed, "unsupported Expect")
		return len(in), false
	case hd.ContentLength > p.maxBody:
		h.rejectStatus(http.StatusRequestEntityTooLarge, "request body too large")
		return len(in), false
	case hd.Chunked:
		h.fbuf = append(buffer.Get(2*end), in[:end]...)
		h.fhead = end
		if h.chunks == nil {
			h.chunks = &parse.Chunked{MaxExt: p.maxExt}
		}
		h.chunks.Reset()
		h.state = sFastTE
		h.c.StartReadTimeout()
		if hd.Expect == parse.Expect100 && len(in) == end {
			h.c.Write(continueLine)
		}
		return end, true
	}
	total := end + int(max(hd.ContentLength, 0))
	if len(in) < total {
		// The body is still arriving: keep the whole request until it
		// is here, then parse its head once more.
		if hd.Expect == parse.Expect100 && len(in) == end {
			h.c.Write(continueLine)
		}
		h.need, h.state = total, sFastBody
		h.c.StartReadTimeout()
		return 0, false
	}
	h.c.StopReadTimeout()
	h.serveFast(hd, in[end:total], nil)
	return total, h.state == sHead
}

// fastChunked decodes a Fast request's chunked body into fbuf, after its
// head, and serves the request once the body is complete. On the loop.
func (h *conn) fastChunked(in []byte, eof bool) (int, bool) {
	off := 0
	for off < len(in) {
		data, n, err := h.chunks.Decode(in[off:])
		if err != nil {
			h.releaseFast()
			h.reject(err)
			return len(in), false
		}
		if n == 0 {
			break
		}
		off += n
		if int64(len(h.fbuf)-h.fhead+len(data)) > h.p.maxBody {
			h.releaseFast()
			h.rejectStatus(http.StatusRequestEntityTooLarge, "request body too large")
			return len(in), false
		}
		h.fbuf = buffer.Append(h.fbuf, data)
		if h.chunks.Done() {
			hd := getHead()
			if err := hd.Parse(h.fbuf[:h.fhead], &h.p.limits); err != nil {
				panic("http1: a head that parsed once failed to parse again: " + err.Error())
			}
			h.c.StopReadTimeout()
			h.state = sHead
			h.serveFast(hd, h.fbuf[h.fhead:], h.chunks.Trailers())
			putHead(hd)
			h.releaseFast()
			return off, h.state == sHead
		}
	}
	if eof {
		h.releaseFast()
	}
	return off, false
}

func (h *conn) releaseFast() {
	if h.fbuf != nil {
		buffer.Put(h.fbuf)
		h.fbuf = nil
	}
}

// serveFast runs the Fast handler for one complete request and queues its
// response. On the loop.
func (h *conn) serveFast(hd *parse.Head, body []byte, trailers []parse.Field) {
	x := exchanges.Get().(*Exchange)
	x.h, x.hd, x.body, x.trailers = h, hd, body, trailers
	x.status = http.StatusOK
	x.closeAfter = hd.Close || h.lastRequest() || h.mustClose()
	if h.callFast(x) {
		x.send()
	} else {
		h.rejectStatus(http.StatusInternalServerError, "")
	}
	if x.closeAfter && h.state != sDone {
		h.state = sDone
		h.c.Close()
	}
	x.reset()
	exchanges.Put(x)
}

// callFast runs the handler; a panic is logged with its stack and reported
// as false, so the client gets a 500 and the loop goes on.
func (h *conn) callFast(x *Exchange) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			h.p.log().Error("http1: fast handler panicked; closing its connection",
				"remote", h.remoteAddr(), "method", string(x.hd.Method), "target", string(x.hd.Target),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ok = false
		}
	}()
	h.p.Fast.ServeFast(x)
	return true
}

// send queues the response: head and body in one write call.
func (x *Exchange) send() {
	h := x.h
	b := appendStatusLine(buffer.Get(512), x.status)
	if !x.hasDate {
		b = appendDate(b)
	}
	if !x.hasServer && h.p.ServerName != "" {
		b = append(b, "Server: "...)
		b = append(b, h.p.ServerName...)
		b = append(b, "\r\n"...)
	}
	b = append(b, x.fields...)
	body := x.out
	if bodyAllowed(x.status) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	} else {
		body = nil
	}
	switch {
	case x.closeAfter:
		b = append(b, "Connection: close\r\n"...)
	case x.hd.Minor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	if bytes.Equal(x.hd.Method, []byte(http.MethodHead)) {
		body = nil
	}
	h.c.Writev(b, body)
	buffer.Put(b)
}

func (x *Exchange) reset() {
	fields, out := x.fields[:0], x.out[:0]
	if cap(fields) > maxKept {
		fields = nil
	}
	if cap(out) > maxKept {
		out = nil
	}
	*x = Exchange{fields: fields, out: out}
}

var heads = sync.Pool{New: func() any { return new(parse.Head) }}

func getHead() *parse.Head   { return heads.Get().(*parse.Head) }
func putHead(hd *parse.Head) { heads.Put(hd) }
