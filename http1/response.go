package http1

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/simple-server/simpleserver/http1/internal/parse"
	"github.com/simple-server/simpleserver/internal/buffer"
)

// bufferBeforeCommit is how much of a body the response holds before it
// sends its head (net/http's bufferBeforeChunkingSize): a Handler that
// returns having written no more gets a Content-Length, a longer or
// flushed body is chunked.
const bufferBeforeCommit = 2048

// writePiece bounds one write to the connection, so that WaitDrain runs
// between the pieces of a large body and it flows at the client's pace.
const writePiece = 64 << 10

// response is the http.ResponseWriter of a Handler, used on its goroutine
// only. It writes what net/http would write for the same calls.
type response struct {
	ex     *call
	header http.Header // the Handler's
	sent   http.Header // the header as of WriteHeader (the Handler may change its map afterwards)

	status        int
	contentLength int64 // from the Content-Length the Handler set; -1 none
	written       int64 // body bytes the Handler wrote
	sentBytes     int64 // bytes queued on the connection, head included
	buf           []byte
	err           error // the first write error; later writes return it too

	minor            int
	isHEAD           bool
	wantsClose       bool // the request asked for the connection to close
	wants10KeepAlive bool
	last             bool // MaxRequestsPerConn reached

	calledHeader bool
	wroteHeader  bool // WriteHeader was called, explicitly or not
	committed    bool // the head went to the connection
	chunked      bool
	closeAfter   bool // the connection ends with this response
	aborted      bool // a panic after the head went out: no more bytes
	fullDuplex   bool
	handlerDone  bool
	trailers     []string
	wdeadline    time.Time
}

func (w *response) init(ex *call, hd *parse.Head, last bool) {
	w.ex = ex
	w.header = make(http.Header)
	w.contentLength = -1
	w.minor = hd.Minor
	w.isHEAD = string(hd.Method) == http.MethodHead
	w.wantsClose = hd.Close && hd.Minor > 0
	w.wants10KeepAlive = hd.Minor == 0 && !hd.Close
	w.last = last
}

// reset replaces a response not committed yet with an error status (a
// Handler that panicked).
func (w *response) reset(status int) {
	w.releaseBuf()
	w.header = make(http.Header)
	w.header.Set("Content-Type", "text/plain; charset=utf-8")
	w.header.Set("Connection", "close")
	w.wroteHeader, w.calledHeader, w.written, w.contentLength = false, false, 0, -1
	w.WriteHeader(status)
	io.WriteString(w, strconv.Itoa(status)+" "+http.StatusText(status)+"\n")
}

// Header returns the header map the response will send.
func (w *response) Header() http.Header {
	w.calledHeader = true
	return w.header
}

// WriteHeader sends (at the first write or flush) the status code. As
// with net/http, 1xx codes other than 101 are sent at once as interim
// responses, a second call is ignored, and a code outside 100-999 panics.
func (w *response) WriteHeader(code int) {
	if w.ex.hijacked.Load() {
		w.ex.h.p.log().Warn("http1: WriteHeader on a hijacked connection")
		return
	}
	if w.wroteHeader {
		w.ex.h.p.log().Debug("http1: superfluous WriteHeader call", "code", code)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.noContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// RFC 8297: an interim response carries the header as it is now,
		// and the map is not cleared.
		b := appendStatusLine(buffer.Get(512), code)
		b = appendHeader(b, w.header, excludedNoBody)
		b = append(b, "\r\n"...)
		w.send(b)
		buffer.Put(b)
		return
	}
	w.wroteHeader = true
	w.status = code
	w.sent = w.header
	if w.calledHeader {
		w.sent = w.header.Clone()
	}
	if cl := w.sent.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.ex.h.p.log().Warn("http1: invalid Content-Length set by handler", "value", cl)
			w.sent.Del("Content-Length")
		}
	}
}

func (w *response) noContinue() {
	if p := w.ex.pipe; p != nil {
		p.noContinue()
	}
}

// Write sends body bytes: the first bufferBeforeCommit are held, so that
// a short body gets a Content-Length; the rest go out as they come
// (chunked, unless the Handler set a Content-Length), at the pace the
// client reads them.
func (w *response) Write(p []byte) (int, error) {
	if w.ex.hijacked.Load() {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.wdeadline.IsZero() && !time.Now().Before(w.wdeadline) {
		return 0, os.ErrDeadlineExceeded
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		if len(w.buf)+len(p) <= bufferBeforeCommit {
			if w.buf == nil {
				w.buf = buffer.Get(bufferBeforeCommit)
			}
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.commit(false, p)
		if w.err != nil {
			return 0, w.err
		}
	}
	if err := w.body(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// WriteString is Write for a string, as net/http's ResponseWriter has.
func (w *response) WriteString(s string) (int, error) {
	return w.Write([]byte(s))
}

// body sends body bytes after the head, framed as a chunk if chunked.
func (w *response) body(p []byte) error {
	if w.isHEAD || len(p) == 0 {
		return nil
	}
	if !w.chunked {
		return w.send(p)
	}
	var size [18]byte
	if err := w.send(strconv.AppendInt(size[:0], int64(len(p)), 16), crlf); err != nil {
		return err
	}
	if err := w.send(p); err != nil {
		return err
	}
	return w.send(crlf)
}

var crlf = []byte("\r\n")

// send queues bytes on the connection in pieces. Once the response has
// sent writePiece bytes, it waits between pieces while the client lags: a
// Handler writing gigabytes holds at most the connection's high watermark
// in memory, never MaxPendingBytes. A shorter response never waits, so a
// client that does not read cannot hold a worker with small responses:
// the loop pauses it at the watermark and starts no further request.
func (w *response) send(bufs ...[]byte) error {
	c := w.ex.h.c
	for _, b := range bufs {
		for len(b) > 0 {
			n := min(len(b), writePiece)
			if _, err := c.Write(b[:n]); err != nil {
				return w.fail(err)
			}
			b = b[n:]
			w.sentBytes += int64(n)
			if w.sentBytes < writePiece {
				continue
			}
			if err := c.WaitDrain(); err != nil {
				return w.fail(err)
			}
		}
	}
	return nil
}

func (w *response) fail(err error) error {
	if w.err == nil {
		w.err = err
		w.closeAfter = true
	}
	return w.err
}

// Flush sends the head and whatever body is held, now (http.Flusher).
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush that reports a write error (for
// http.ResponseController).
func (w *response) FlushError() error {
	if w.ex.hijacked.Load() {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false, nil)
	}
	return w.err
}

// EnableFullDuplex lets the Handler read the request body after it began
// the response without the server consuming the body first (for
// http.ResponseController). Bodies stream here either way.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// SetReadDeadline makes request body reads blocked past t fail with
// os.ErrDeadlineExceeded (for http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error {
	if p := w.ex.pipe; p != nil {
		p.setDeadline(t)
	}
	return nil
}

// SetWriteDeadline makes writes begun after t fail with
// os.ErrDeadlineExceeded (for http.ResponseController). A write already
// waiting for a slow client is bounded by Server.WriteTimeout, which
// counts from the client's last progress rather than from the request.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.wdeadline = t
	return nil
}

// finish completes the response once the Handler returned.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true, nil)
	} else if w.chunked && w.err == nil {
		b := append(buffer.Get(512), "0\r\n"...)
		b = w.appendTrailers(b)
		b = append(b, "\r\n"...)
		w.send(b)
		buffer.Put(b)
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowed(w.status) && w.written != w.contentLength {
		// The client still waits for bytes that will never come.
		w.closeAfter = true
	}
	w.releaseBuf()
}

func (w *response) releaseBuf() {
	if w.buf != nil {
		buffer.Put(w.buf)
		w.buf = nil
	}
}

// commit sends the head, followed by the held body and then first (the
// write that overflowed the held part, whose framing it decides). final
// means the Handler returned: the held body is all there is.
func (w *response) commit(final bool, first []byte) {
	w.committed = true
	w.noContinue()
	h := w.sent
	held := w.buf
	sniff := held
	if len(sniff) == 0 {
		sniff = first
	}
	te := h.Get("Transfer-Encoding")
	hasTE := te != ""
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.trailers = append(w.trailers, k)
		}
	}
	for _, v := range h["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	extra := extraHeaders{}

	if final && len(w.trailers) == 0 && !hasTE && bodyAllowed(w.status) && h.Get("Content-Length") == "" && (!w.isHEAD || len(held) > 0) {
		w.contentLength = int64(len(held))
		extra.contentLength = strconv.AppendInt(extra.clBuf[:0], int64(len(held)), 10)
	}
	hasCL := w.contentLength != -1
	if w.wants10KeepAlive && (w.isHEAD || hasCL || !bodyAllowed(w.status)) {
		if _, ok := h["Connection"]; !ok {
			extra.connection = "keep-alive"
		}
	} else if w.minor == 0 || w.wantsClose {
		w.closeAfter = true
	}
	if hasToken(h.Get("Connection"), "close") || w.last || w.ex.h.mustClose() {
		w.closeAfter = true
	}
	if p := w.ex.pipe; p != nil && p.expect && !p.complete() {
		// The client may still wait for "100 Continue", or be sending
		// a body no one reads: as net/http, do not reuse the connection.
		w.closeAfter = true
	}
	w.consumeBody()

	if bodyAllowed(w.status) {
		_, haveType := h["Content-Type"]
		if h.Get("Content-Encoding") == "" && !haveType && !hasTE && len(sniff) > 0 {
			extra.contentType = http.DetectContentType(sniff)
		}
	}
	exclude := excludedNone
	switch {
	case w.status == http.StatusNotModified:
		exclude = excluded304
	case !bodyAllowed(w.status):
		exclude = excludedNoBody
	}
	if _, ok := h["Date"]; !ok {
		extra.date = true
	}
	if hasCL && hasTE && te != "identity" {
		h.Del("Content-Length")
		hasCL = false
	}
	switch {
	case w.isHEAD || !bodyAllowed(w.status):
		exclude = exclude.with("Transfer-Encoding")
	case hasCL:
		exclude = exclude.with("Transfer-Encoding")
	case w.minor >= 1 && te == "identity":
		// A body ended by the close (Server-Sent Events' old advice).
		w.closeAfter = true
		exclude = exclude.with("Transfer-Encoding")
	case w.minor >= 1:
		w.chunked = true
		extra.transferEncoding = true
		exclude = exclude.with("Transfer-Encoding")
	default:
		// HTTP/1.0 knows no chunking: the close ends the body.
		w.closeAfter = true
		exclude = exclude.with("Transfer-Encoding")
	}
	if w.closeAfter && !hasToken(h.Get("Connection"), "close") {
		exclude = exclude.with("Connection")
		if w.minor >= 1 {
			extra.connection = "close"
		} else {
			extra.connection = ""
		}
	}
	if len(w.trailers) > 0 {
		exclude = exclude.with("Trailer:")
	}

	// The head, the held body and (when the Handler is done) the end of
	// a chunked body go out as one write.
	b := appendStatusLine(buffer.Get(1024+len(held)), w.status)
	b = appendHeader(b, h, exclude)
	b = extra.append(b, w.ex.h.p.ServerName, h)
	b = append(b, "\r\n"...)
	if len(held) > 0 && !w.isHEAD {
		if w.chunked {
			b = strconv.AppendInt(b, int64(len(held)), 16)
			b = append(b, "\r\n"...)
			b = append(b, held...)
			b = append(b, "\r\n"...)
		} else {
			b = append(b, held...)
		}
	}
	if final && w.chunked {
		b = append(b, "0\r\n"...)
		b = w.appendTrailers(b)
		b = append(b, "\r\n"...)
		w.chunked = false
	}
	w.send(b)
	buffer.Put(b)
	w.releaseBuf()
}

// consumeBody applies net/http's rule for a body the Handler has not read
// when the head goes out: up to maxPostHandlerDiscard of it is read and
// dropped (blocking this worker, not the loop), so that the connection can
// carry the next request; a larger one closes the connection after the
// response instead, which the head then says.
func (w *response) consumeBody() {
	p := w.ex.pipe
	if p == nil || w.closeAfter || w.fullDuplex {
		return
	}
	cl := w.ex.req.ContentLength
	if p.complete() {
		return
	}
	if cl > 0 && cl-p.readCount() >= maxPostHandlerDiscard {
		w.closeAfter = true
		return
	}
	n, err := io.CopyN(io.Discard, body{p}, maxPostHandlerDiscard+1)
	switch {
	case n > maxPostHandlerDiscard:
		w.closeAfter = true
	case errors.Is(err, io.EOF), errors.Is(err, http.ErrBodyReadAfterClose) && p.complete():
	default:
		w.closeAfter = true
	}
}

// appendTrailers appends the trailer fields the Handler declared and set.
func (w *response) appendTrailers(b []byte) []byte {
	for _, k := range w.trailers {
		name := strings.TrimPrefix(k, http.TrailerPrefix)
		for _, v := range w.header[k] {
			b = appendField(b, name, v)
		}
	}
	return b
}

func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199 || status == 204 || status == 304)
}

func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(f), token) {
			return true
		}
	}
	return false
}

// sortedKeys returns h's keys in order, so that heads come out as
// net/http's do.
func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
