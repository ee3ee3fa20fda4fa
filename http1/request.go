package http1

import (
	"bytes"
	"context"
	"net/http"
	"net/textproto"
	"net/url"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1/internal/parse"
)

// newRequest builds the *http.Request a Handler gets, filled as net/http
// fills it: RequestURI as received, URL parsed from it, Host from an
// absolute target or the Host field (which leaves Header), RemoteAddr,
// Close by the version's rules, ContentLength -1 for a chunked body, the
// announced Trailer keys, TLS nil. On the loop.
func (h *conn) newRequest(hd *parse.Head, ex *call) (*http.Request, error) {
	target := string(hd.Target)
	u, err := requestURL(hd, target)
	if err != nil {
		return nil, &parse.Error{Status: http.StatusBadRequest, Reason: "malformed request target"}
	}
	header := make(http.Header, len(hd.Fields))
	for _, f := range hd.Fields {
		k := canonicalKey(f.Name)
		if k == "Host" {
			continue
		}
		header[k] = append(header[k], string(f.Value))
	}
	// HTTP/1.0 caches know Pragma, not Cache-Control (RFC 9111 §5.4);
	// net/http adds the one for the other, so handlers see it too.
	if pragma, ok := header["Pragma"]; ok && len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	r := &http.Request{
		Method:     method(hd.Method),
		URL:        u,
		Proto:      proto(hd.Minor),
		ProtoMajor: 1,
		ProtoMinor: hd.Minor,
		Header:     header,
		Body:       http.NoBody,
		Close:      hd.Close,
		Host:       string(hd.Host),
		RemoteAddr: h.remoteAddr(),
		RequestURI: target,
	}
	switch {
	case hd.Chunked:
		r.ContentLength = -1
		r.TransferEncoding = []string{"chunked"}
		r.Body = body{ex.pipe}
		r.Trailer = announcedTrailers(header)
	case hd.ContentLength > 0:
		r.ContentLength = hd.ContentLength
		r.Body = body{ex.pipe}
	}
	ctx, cancel := context.WithCancel(connContext{Context: context.Background(), c: h.c})
	ex.cancel = cancel
	return r.WithContext(ctx), nil
}

// requestURL parses the request-target as net/http does: a CONNECT's
// authority-form is a URL with only a Host.
func requestURL(hd *parse.Head, target string) (*url.URL, error) {
	if hd.Path == nil && bytes.Equal(hd.Method, []byte("CONNECT")) {
		return &url.URL{Host: target}, nil
	}
	return url.ParseRequestURI(target)
}

// announcedTrailers returns the keys a chunked request's Trailer field
// announces, with no values yet (net/http fills them at the body's end).
func announcedTrailers(header http.Header) http.Header {
	names := header["Trailer"]
	if len(names) == 0 {
		return nil
	}
	t := make(http.Header)
	for _, v := range names {
		for _, name := range bytes.Split([]byte(v), []byte(",")) {
			if name = bytes.TrimSpace(name); len(name) > 0 {
				t[canonicalKey(name)] = nil
			}
		}
	}
	return t
}

// method returns the method as a string, without allocating for the
// common ones.
func method(b []byte) string {
	switch string(b) {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "HEAD":
		return http.MethodHead
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return string(b)
}

func proto(minor int) string {
	if minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// commonKeys interns the canonical form of the header names most requests
// carry, so that building a Header allocates only for the others.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Expect", "Host",
		"If-Modified-Since", "If-None-Match", "Origin", "Pragma", "Range", "Referer",
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Trailer", "Transfer-Encoding", "Upgrade",
		"User-Agent", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id",
	} {
		m[k] = k
	}
	return m
}()

// canonicalKey is textproto.CanonicalMIMEHeaderKey for a field name known
// to be a valid token.
func canonicalKey(name []byte) string {
	if k, ok := commonKeys[string(name)]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

// remoteAddr is RemoteAddr's text, made once per connection. On the loop.
func (h *conn) remoteAddr() string {
	if h.remote == "" {
		h.remote = h.c.RemoteAddr().String()
	}
	return h.remote
}

// connContext is a request context's root. It answers
// http.LocalAddrContextKey as net/http's does, asking the kernel only if a
// handler looks; it is never done, so contexts made from it start no
// goroutine.
type connContext struct {
	context.Context
	c *simpleserver.Conn
}

func (cc connContext) Value(key any) any {
	if key == http.LocalAddrContextKey {
		return cc.c.LocalAddr()
	}
	return nil
}
