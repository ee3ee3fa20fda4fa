package parse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// refView is net/http's server view of a request: what http.ReadRequest
// and the checks of server.go's (*conn).readRequest make of it, and the
// body as its handler would read it.
type refView struct {
	ok bool
	// status is what net/http's server would answer a refused head, or 0
	// when it would wait for more input (the data ends first).
	status int
	// bodyErr is a body read error (the head was fine); bodyEOF that the
	// data ended in the body, which also covers a trailer section cut
	// short ("suspiciously long trailer": net/http cannot tell).
	bodyErr, bodyEOF bool
	err              error

	req     *http.Request
	raw     textproto.MIMEHeader // the header section before net/http's fix-ups
	body    []byte
	trailer http.Header // received trailers only
}

// refRequest runs net/http on data. The server would read data through a
// 4 KiB bufio.Reader, as here: that size bounds a chunk-size line and a
// trailer section.
func refRequest(data []byte) refView {
	br := bufio.NewReader(bytes.NewReader(data))
	req, err := http.ReadRequest(br)
	if err != nil {
		v := refView{err: err, status: 400}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			v.status = 0
		case strings.HasPrefix(err.Error(), "too many transfer encodings") ||
			strings.HasPrefix(err.Error(), "unsupported transfer encoding"):
			v.status = 501 // isUnsupportedTEError
		}
		return v
	}
	v := refView{req: req, raw: rawHeader(data)}

	// server.go: http1ServerSupportsRequest, then Host, then every field.
	if !(req.ProtoMajor == 1 || req.ProtoMajor == 2 && req.ProtoMinor == 0 && req.Method == "PRI" && req.RequestURI == "*") {
		v.status = 505
		return v
	}
	hosts, haveHost := v.raw["Host"]
	isH2Upgrade := req.Method == "PRI" && len(v.raw) == 0 && req.URL.Path == "*" && req.Proto == "HTTP/2.0"
	if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) && !isH2Upgrade && req.Method != "CONNECT" {
		v.status = 400
		return v
	}
	if len(hosts) == 1 && !refValidHostHeader(hosts[0]) {
		v.status = 400
		return v
	}
	for k, vv := range v.raw {
		if !refValidFieldName(k) {
			v.status = 400
			return v
		}
		for _, s := range vv {
			if !refValidFieldValue(s) {
				v.status = 400
				return v
			}
		}
	}

	body, err := io.ReadAll(req.Body)
	if err != nil {
		v.err = err
		v.bodyErr = true
		v.bodyEOF = errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected EOF") ||
			strings.Contains(err.Error(), "suspiciously long trailer")
		return v
	}
	v.ok, v.body = true, body
	if req.Trailer != nil {
		v.trailer = http.Header{}
		for k, vv := range req.Trailer {
			if vv != nil { // declared in a Trailer field but not received
				v.trailer[k] = vv
			}
		}
	}
	return v
}

// rawHeader is the header section as textproto reads it, before
// ReadRequest removes Host and Transfer-Encoding and merges
// Content-Length; only called once ReadRequest succeeded.
func rawHeader(data []byte) textproto.MIMEHeader {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
	if _, err := tp.ReadLine(); err != nil {
		panic(err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		panic(err)
	}
	return h
}

// The httpguts checks net/http's server makes, re-expressed (the vendored
// package cannot be imported).
func refValidFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(s[i])) && !refAlnum(s[i]) {
			return false
		}
	}
	return true
}

func refValidFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' || c == 0x7f) && c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

func refValidHostHeader(s string) bool {
	for i := 0; i < len(s); i++ {
		if !refAlnum(s[i]) && !strings.ContainsRune("!$%&'()*+,-.:;=[]_~", rune(s[i])) {
			return false
		}
	}
	return true
}

func refAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// refHeaderHasToken is httpguts.HeaderValuesContainsToken.
func refHeaderHasToken(values []string, token string) bool {
	for _, v := range values {
		for _, m := range strings.Split(v, ",") {
			m = strings.Trim(m, " \t")
			if len(m) == len(token) && asciiEqualFold(m, token) {
				return true
			}
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 0x80 || y >= 0x80 {
			return false
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ourView is what this package makes of data, read the way a server built
// on it would: ScanHead, Parse, then the body by Content-Length or
// Chunked. The limits are beyond any fuzz input, except the ones net/http
// has too (a chunk-size line and a trailer section within its 4 KiB
// buffer), so that only rules, not sizes, are compared.
type ourView struct {
	ok         bool
	incomplete bool // the data ended first (head or body)
	err        error
	head       Head
	headDone   bool
	body       []byte
	trailers   []Field
}

var fuzzLimits = &Limits{MaxTarget: 1 << 20, MaxHead: 1 << 21, MaxFields: 1 << 20}

func ourRequest(data []byte) ourView {
	var v ourView
	end, _, err := ScanHead(data, 0, fuzzLimits)
	if err != nil {
		v.err = err
		return v
	}
	if end == 0 {
		v.incomplete = true
		return v
	}
	if err := v.head.Parse(data[:end], fuzzLimits); err != nil {
		v.err = err
		return v
	}
	v.headDone = true
	rest := data[end:]
	switch {
	case v.head.Chunked:
		c := Chunked{MaxExt: 1 << 20, MaxTrailer: 4096, MaxTrailers: 1 << 20}
		body, trailers, err := decodeAll(&c, rest)
		if err != nil {
			v.err = err
			return v
		}
		if !c.Done() {
			v.incomplete = true
			return v
		}
		v.body, v.trailers = body, trailers
	case v.head.ContentLength > 0:
		if int64(len(rest)) < v.head.ContentLength {
			v.incomplete = true
			return v
		}
		v.body = rest[:v.head.ContentLength]
	}
	v.ok = true
	return v
}

// decodeAll runs the caller loop of Chunked.Decode's documentation over
// in, given whole.
func decodeAll(c *Chunked, in []byte) (body []byte, trailers []Field, err error) {
	body = []byte{}
	for !c.Done() {
		data, n, err := c.Decode(in)
		if err != nil {
			return body, nil, err
		}
		body = append(body, data...)
		in = in[n:]
		if n == 0 {
			break
		}
	}
	return body, c.Trailers(), nil
}

// stripLeadingEmptyLines removes the empty lines this package accepts
// before a request line and net/http does not (it skips at most 4 CR or LF
// bytes, and only after a POST).
func stripLeadingEmptyLines(data []byte) []byte {
	for {
		switch {
		case bytes.HasPrefix(data, []byte("\n")):
			data = data[1:]
		case bytes.HasPrefix(data, []byte("\r\n")):
			data = data[2:]
		default:
			return data
		}
	}
}
