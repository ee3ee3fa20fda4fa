package http1

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/simple-server/simpleserver/http1/internal/parse"
	"github.com/simple-server/simpleserver/internal/buffer"
)

// reject answers a request that cannot be served with err's status (an
// *parse.Error; anything else is a 400) and closes the connection after
// it: once framing is in doubt nothing after the request can be trusted.
// Responses to earlier pipelined requests went out before, since they are
// written in order. On the loop.
func (h *conn) reject(err error) {
	var pe *parse.Error
	if !errors.As(err, &pe) {
		pe = &parse.Error{Status: http.StatusBadRequest, Reason: err.Error()}
	}
	h.rejectStatus(pe.Status, pe.Reason)
}

// rejectStatus is reject with a status and a reason. On the loop.
func (h *conn) rejectStatus(status int, reason string) {
	h.p.log().Debug("http1: refusing request", "remote", h.remoteAddr(), "status", status, "reason", reason)
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	if reason != "" && status == http.StatusBadRequest {
		// net/http's wording: the reason follows the status.
		text += ": " + reason
	}
	b := appendStatusLine(buffer.Get(512), status)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)), 10)
	b = append(b, "\r\n"...)
	b = appendDate(b)
	if h.p.ServerName != "" {
		b = append(b, "Server: "...)
		b = append(b, h.p.ServerName...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, text...)
	h.c.Write(b)
	buffer.Put(b)
	h.c.StopReadTimeout()
	h.state = sDone
	h.c.Close()
}
