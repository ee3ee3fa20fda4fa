package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
)

// Hijack hands the connection over to the Handler (http.Hijacker), as
// WebSocket libraries built on net/http need. What the response holds is
// written first; the returned net.Conn is then served by the Go runtime,
// with blocking reads and writes and deadlines; and the returned reader
// has buffered whatever the client sent after the request (the start of
// the new protocol), which the net.Conn will not return again. Request
// body data that arrived unread comes before it. The Handler owns the
// connection from then on and must close it; the request's context ends
// when the Handler returns.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	ex := w.ex
	if w.handlerDone {
		return nil, nil, errors.New("http1: Hijack called after the handler returned")
	}
	if ex.hijacked.Load() {
		return nil, nil, http.ErrHijacked
	}
	w.noContinue()
	if w.wroteHeader && !w.committed {
		w.commit(false, nil)
	}
	nc, kept, err := ex.h.c.Detach()
	if err != nil {
		return nil, nil, err
	}
	ex.hijacked.Store(true)
	w.releaseBuf()
	if ex.pipe != nil {
		kept = append(ex.pipe.unread(), kept...)
	}
	var r io.Reader = nc
	if len(kept) > 0 {
		r = io.MultiReader(bytes.NewReader(kept), nc)
	}
	br := bufio.NewReaderSize(r, max(4096, len(kept)))
	if len(kept) > 0 {
		// Buffered now, as net/http's reader has them: libraries look at
		// Buffered() to see what the client sent ahead.
		br.Peek(len(kept))
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriter(nc)), nil
}
