// Package plaintext is what simple-server serves with -proto http: the
// TechEmpower "plaintext" response and an echo, over HTTP/1.1, as a
// net/http handler (Mux, for http1.Protocol.Handler) and as a Fast handler
// (Fast, for http1.Protocol.Fast). Both answer the same bytes:
//
//	GET or HEAD / and /plaintext  200, "Hello, World!", text/plain
//	POST /echo                    200, the request body, byte for byte
//	anything else                 404
package plaintext

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/simple-server/simpleserver/http1"
)

// Body is the plaintext response body.
const Body = "Hello, World!"

// ContentType is the plaintext response's Content-Type.
const ContentType = "text/plain; charset=utf-8"

// Mux returns the net/http form: a ServeMux, as a net/http user would
// write it.
func Mux() *http.ServeMux {
	mux := http.NewServeMux()
	hello := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(Body)))
		io.WriteString(w, Body)
	}
	mux.HandleFunc("GET /{$}", hello)
	mux.HandleFunc("GET /plaintext", hello)
	mux.HandleFunc("POST /echo", echo)
	return mux
}

// echo streams the body back as it arrives. Full duplex, because by
// default an HTTP/1 server consumes the rest of a request body when the
// response begins (net/http does, and so does http1).
func echo(w http.ResponseWriter, r *http.Request) {
	http.NewResponseController(w).EnableFullDuplex()
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
	}
	cw := &countingWriter{w: w}
	if _, err := io.Copy(cw, r.Body); err != nil && cw.n == 0 {
		// Nothing echoed yet, so the status can still say why.
		status := http.StatusBadRequest
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		w.Header().Del("Content-Length")
		http.Error(w, http.StatusText(status), status)
	}
}

// countingWriter counts what the echo wrote, to know whether an error
// can still be a status.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var (
	body        = []byte(Body)
	pathRoot    = []byte("/")
	pathPlain   = []byte("/plaintext")
	pathEcho    = []byte("/echo")
	methodGet   = []byte(http.MethodGet)
	methodHead  = []byte(http.MethodHead)
	methodPost  = []byte(http.MethodPost)
	notFoundMsg = []byte("404 page not found\n")
	notAllowMsg = []byte("Method Not Allowed\n")
)

// notAllowed answers as ServeMux does for a known path and another method.
func notAllowed(x *http1.Exchange, allow string) {
	x.SetStatus(http.StatusMethodNotAllowed)
	x.AddHeader("Allow", allow)
	x.AddHeader("Content-Type", ContentType)
	x.AddHeader("X-Content-Type-Options", "nosniff")
	x.Write(notAllowMsg)
}

// Fast is the Fast form, answering on the event loop without allocating.
var Fast = http1.FastHandlerFunc(func(x *http1.Exchange) {
	path, m := x.Path(), x.Method()
	switch {
	case (string(path) == string(pathRoot) || string(path) == string(pathPlain)) &&
		(string(m) == string(methodGet) || string(m) == string(methodHead)):
		x.AddHeader("Content-Type", ContentType)
		x.Write(body)
	case string(path) == string(pathEcho) && string(m) == string(methodPost):
		x.AddHeader("Content-Type", "application/octet-stream")
		x.Write(x.Body())
	case string(path) == string(pathRoot) || string(path) == string(pathPlain):
		notAllowed(x, "GET, HEAD")
	case string(path) == string(pathEcho):
		notAllowed(x, "POST")
	default:
		x.SetStatus(http.StatusNotFound)
		x.AddHeader("Content-Type", ContentType)
		x.AddHeader("X-Content-Type-Options", "nosniff")
		x.Write(notFoundMsg)
	}
})
