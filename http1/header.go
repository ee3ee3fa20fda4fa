package http1

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// statusLines holds the status lines of the common codes, ready to copy.
var statusLines = func() map[int]string {
	m := make(map[int]string)
	for _, code := range []int{100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
		400, 401, 403, 404, 405, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 422, 429, 431,
		500, 501, 502, 503, 504, 505} {
		m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n"
	}
	return m
}()

// appendStatusLine appends "HTTP/1.1 code reason\r\n". Responses say 1.1
// to 1.0 clients too, as net/http does: it is the server's version
// (RFC 9110 §6.2), and nothing a 1.0 client cannot read is sent.
func appendStatusLine(b []byte, code int) []byte {
	if line, ok := statusLines[code]; ok {
		return append(b, line...)
	}
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	b = append(b, text...)
	return append(b, "\r\n"...)
}

// exclusion is a small set of header keys not to send.
type exclusion []string

var (
	excludedNone   exclusion
	excludedNoBody = exclusion{"Content-Length", "Transfer-Encoding"}
	excluded304    = exclusion{"Content-Type", "Content-Length", "Transfer-Encoding"}
)

// with returns e plus key (a trailing ':' excludes the keys with that
// prefix, http.TrailerPrefix's).
func (e exclusion) with(key string) exclusion {
	return append(e[:len(e):len(e)], key)
}

func (e exclusion) has(key string) bool {
	for _, k := range e {
		if k == key || strings.HasSuffix(k, ":") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// appendHeader appends h's fields in key order, as net/http does, leaving
// out excluded keys and names that are not tokens, and turning CR and LF
// in values into spaces so that no value can start a field of its own
// (response splitting).
func appendHeader(b []byte, h http.Header, exclude exclusion) []byte {
	for _, k := range sortedKeys(h) {
		if exclude.has(k) || !validFieldName(k) {
			continue
		}
		for _, v := range h[k] {
			b = appendField(b, k, v)
		}
	}
	return b
}

// appendField appends "name: value\r\n", the value trimmed of OWS and with
// CR and LF replaced by spaces.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\r', '\n':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return append(b, "\r\n"...)
}

// validFieldName reports whether name is an RFC 9110 token.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// extraHeaders are the fields the server adds to a Handler's response.
type extraHeaders struct {
	contentType      string
	contentLength    []byte
	clBuf            [20]byte
	connection       string
	transferEncoding bool
	date             bool
}

func (e *extraHeaders) append(b []byte, serverName string, h http.Header) []byte {
	if e.contentType != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, e.contentType...)
		b = append(b, "\r\n"...)
	}
	if e.contentLength != nil {
		b = append(b, "Content-Length: "...)
		b = append(b, e.contentLength...)
		b = append(b, "\r\n"...)
	}
	if e.connection != "" {
		b = append(b, "Connection: "...)
		b = append(b, e.connection...)
		b = append(b, "\r\n"...)
	}
	if e.transferEncoding {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if e.date {
		b = appendDate(b)
	}
	if _, ok := h["Server"]; !ok && serverName != "" {
		b = append(b, "Server: "...)
		b = append(b, serverName...)
		b = append(b, "\r\n"...)
	}
	return b
}

// dateCache holds the Date field, "Date: <IMF-fixdate>\r\n", formatted
// once a second rather than per response. A response does not even read
// the clock: the first one after a second began formats the line and arms
// a timer for the next second's start, which empties the cache. An idle
// server so formats nothing and keeps no timer armed, and no goroutine.
var dateCache atomic.Pointer[[]byte]

// appendDate appends the current Date field (RFC 9110 §6.6.1). Any
// goroutine.
func appendDate(b []byte) []byte {
	if d := dateCache.Load(); d != nil {
		return append(b, *d...)
	}
	now := time.Now()
	line := append([]byte("Date: "), now.UTC().AppendFormat(nil, http.TimeFormat)...)
	line = append(line, "\r\n"...)
	if dateCache.CompareAndSwap(nil, &line) {
		// One timer per second at most: only the goroutine that filled
		// the cache arms it.
		next := now.Truncate(time.Second).Add(time.Second)
		time.AfterFunc(next.Sub(now), func() { dateCache.Store(nil) })
	}
	return append(b, line...)
}
