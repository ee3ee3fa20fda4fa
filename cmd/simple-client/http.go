package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// -proto http: HTTP/1.1 with keep-alive. The requests are built once per
// payload, like the other protocols' frames; the responses, whose length is
// not known in advance (the Date header alone changes), go through a
// small strict parser that works on the connection's read buffer in place
// and verifies as it goes: no map, string or allocation per response.
// Header lines a connection has seen before, at the same place, are
// recognised by comparing bytes rather than parsed again (see
// respParser.field): servers repeat them response after response.
//
// Without payloads every request is GET /plaintext, answered by 200 with
// the body "Hello, World!"; with payloads (-size) each is POST /echo with
// the payload as its body (Content-Length, or with -chunked Transfer-Encoding:
// chunked in 1 to 4 chunks), answered by 200 with the same body.

const (
	httpPlainBody = "Hello, World!"

	// httpMinResponse is a lower bound on a response's size beyond its
	// body: the status line and the empty line that ends the header. The
	// window loop waits for at least that much before parsing a reply it
	// did not block for.
	httpMinResponse = len("HTTP/1.1 200 \r\n\r\n")

	// httpReplyOverhead estimates a response's header and chunk framing,
	// for sizing buffers and choosing the connection loop; a real header
	// may be bigger, which only costs a second read.
	httpReplyOverhead = 256

	// maxHeaderBytes bounds a response's status line, header and trailer
	// fields together; maxChunkLine bounds a chunk-size line. Beyond them
	// the server is not speaking HTTP as we know it.
	maxHeaderBytes = 64 << 10
	maxChunkLine   = 1 << 10
	maxChunkSize   = 1 << 40
)

// errProtocol marks a response that cannot be parsed, or that breaks the
// keep-alive contract (Connection: close unasked): the stream can no
// longer be followed, so the connection ends with a protocol error.
var errProtocol = errors.New("protocol error")

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// httpWire is what -proto http adds to a wire: frames holds the requests,
// replies the bodies their responses must have.
type httpWire struct {
	closeFrames [][]byte // the same requests with Connection: close
	plain       bool     // GET /plaintext: the response must be text/plain
}

// httpHost is the Host header for addr: the address itself, or
// "localhost" for a Unix socket.
func httpHost(addr string) string {
	if strings.HasPrefix(addr, "unix:") {
		return "localhost"
	}
	return addr
}

func newHTTPWire(host string, payloads [][]byte, chunked bool) (*wire, error) {
	if len(payloads) == 0 {
		if chunked {
			return nil, errors.New("-chunked needs request bodies: give -size")
		}
		get := func(closing bool) []byte { return appendHTTPRequest(nil, host, nil, 0, closing) }
		w := &wire{
			frames:  [][]byte{get(false)},
			replies: [][]byte{[]byte(httpPlainBody)},
			http:    &httpWire{closeFrames: [][]byte{get(true)}, plain: true},
		}
		w.maxFrame = len(w.http.closeFrames[0])
		w.maxReply = len(httpPlainBody) + httpReplyOverhead
		return w, nil
	}
	w := &wire{
		frames:  make([][]byte, len(payloads)),
		replies: make([][]byte, len(payloads)),
		http:    &httpWire{closeFrames: make([][]byte, len(payloads))},
	}
	for i, p := range payloads {
		switch {
		case len(p) == 0:
			return nil, errors.New("payloads must not be empty")
		case len(p) > maxEchoSize:
			return nil, fmt.Errorf("payload of %d bytes exceeds the http echo limit of %d", len(p), maxEchoSize)
		}
		chunks := 0
		if chunked {
			chunks = 1 + i%4 // 1 to 4 chunks, differing from payload to payload
		}
		w.frames[i] = appendHTTPRequest(nil, host, p, chunks, false)
		w.http.closeFrames[i] = appendHTTPRequest(nil, host, p, chunks, true)
		w.replies[i] = p
		w.maxFrame = max(w.maxFrame, len(w.http.closeFrames[i]))
		// A chunked response carries about 10 bytes of framing per chunk;
		// servers seldom make chunks smaller than 512 bytes.
		w.maxReply = max(w.maxReply, len(p)+httpReplyOverhead+len(p)/50)
	}
	return w, nil
}

// appendHTTPRequest appends a request to b: GET /plaintext without a body,
// POST /echo with one, its length in Content-Length, or with chunks > 0 in
// Transfer-Encoding: chunked as that many chunks of varied size.
func appendHTTPRequest(b []byte, host string, body []byte, chunks int, closing bool) []byte {
	if body == nil {
		b = append(b, "GET /plaintext HTTP/1.1\r\nHost: "...)
	} else {
		b = append(b, "POST /echo HTTP/1.1\r\nHost: "...)
	}
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	if body == nil {
		return append(b, "\r\n"...)
	}
	if chunks == 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n\r\n"...)
		return append(b, body...)
	}
	b = append(b, "Transfer-Encoding: chunked\r\n\r\n"...)
	for _, n := range chunkSizes(len(body), chunks) {
		b = strconv.AppendInt(b, int64(n), 16)
		b = append(b, "\r\n"...)
		b = append(b, body[:n]...)
		b = append(b, "\r\n"...)
		body = body[n:]
	}
	return append(b, "0\r\n\r\n"...)
}

// chunkSizes splits n (> 0) bytes into min(count, n) chunks of at least one
// byte each, growing in size (roughly 1:2:3:4), so a server sees chunks of
// several sizes and chunk boundaries at several offsets.
func chunkSizes(n, count int) []int {
	count = max(min(count, n), 1)
	sizes := make([]int, count)
	rest, weights := n-count, count*(count+1)/2
	used := 0
	for k := range sizes {
		extra := rest * (k + 1) / weights
		if k == count-1 {
			extra = rest - used
		}
		used += extra
		sizes[k] = 1 + extra
	}
	return sizes
}

// The response parser.

type parseState uint8

const (
	stStatus    parseState = iota // the status line
	stHeader                      // header fields, until the empty line
	stBody                        // a Content-Length body
	stChunkSize                   // a chunk-size line
	stChunkData                   // a chunk's data
	stChunkEnd                    // the CRLF after a chunk's data
	stTrailer                     // trailer fields after the last chunk
	stDone
)

// respParser parses one HTTP/1.1 response at a time, incrementally, and
// checks it against the expected one. It is strict where framing is
// concerned (CRLF line ends, no obsolete line folding, token field names,
// exactly one of Content-Length and chunked Transfer-Encoding, well-formed
// chunks): anything it cannot follow is a protocol error, because the
// bytes after it could not be trusted to start the next response. Where
// the stream stays in step (a wrong status, body, Content-Length, a missing
// Date or Server header), it records the first difference as a mismatch.
//
// Interim 1xx responses (other than 101) are skipped, as a client must.
type respParser struct {
	want  []byte // the body the response must have
	head  bool   // the response to a HEAD request: no body, whatever the header says
	plain bool   // the response must say Content-Type: text/plain

	st      parseState
	status  int
	clen    int64 // Content-Length; -1 if absent
	chunked bool  // Transfer-Encoding: chunked
	close   bool  // Connection: close
	date    bool  // a Date header was present
	server  bool  // a non-empty Server header was present
	ctype   bool  // a Content-Type header was present
	body    int64 // body bytes so far
	left    int64 // bytes left of the Content-Length body or of the current chunk
	headLen int   // bytes of the status line, header and trailer fields so far
	fields  int   // header lines so far

	// problem is the first way the response differs from the expected
	// one; empty if none (so far).
	problem string

	// memo remembers header lines and what they meant, across responses
	// (see field); nil until the first is remembered. The lines depend on
	// plain, which reset keeps the same, or else forgets them.
	memo *[memoLines]memoLine
}

// reset prepares p for the next response, which must be a 200 with body
// want (see respParser for head and plain).
func (p *respParser) reset(want []byte, head, plain bool) {
	memo := p.memo
	if plain != p.plain {
		memo = nil
	}
	*p = respParser{want: want, head: head, plain: plain, clen: -1, memo: memo}
}

// mismatch records a difference unless an earlier one was recorded. The
// message is formatted only if it is kept.
func (p *respParser) mismatch(format string, args ...any) {
	if p.problem == "" {
		p.problem = fmt.Sprintf(format, args...)
	}
}

// feed parses as much of b as it can and returns how many bytes it used,
// and done once the response is complete (the rest of b then belongs to
// the next one). Lines (status, fields, chunk sizes) are used only when
// whole: the caller keeps the unused tail and calls again with more bytes
// after it. Body bytes are used as they come. An error (errProtocol) means
// the stream is not a response p can follow.
func (p *respParser) feed(b []byte) (n int, done bool, err error) {
	for {
		switch p.st {
		case stDone:
			return n, true, nil
		case stBody, stChunkData:
			k := int(min(int64(len(b)-n), p.left))
			if k == 0 {
				return n, false, nil
			}
			p.compare(b[n : n+k])
			n += k
			p.left -= int64(k)
			if p.left == 0 {
				if p.st == stBody {
					p.finish()
				} else {
					p.st = stChunkEnd
				}
			}
			continue
		case stStatus:
			// Fast path: the usual status line.
			const ok = "HTTP/1.1 200 OK\r\n"
			if len(b)-n >= len(ok) && string(b[n:n+len(ok)]) == ok && p.headLen+len(ok) <= maxHeaderBytes {
				p.status, p.st = 200, stHeader
				p.headLen += len(ok)
				n += len(ok)
				continue
			}
		case stHeader:
			// Fast path: the line the memo holds for this place in the
			// header, whole, with its CRLF: what the slow path would find.
			if e := p.remembered(b[n:]); e != nil {
				p.fields++
				p.headLen += int(e.n) + 2
				n += int(e.n) + 2
				if err := p.apply(e.eff, e.clen); err != nil {
					return n, false, err
				}
				continue
			}
		}
		i := bytes.IndexByte(b[n:], '\n')
		inHead := p.st == stStatus || p.st == stHeader || p.st == stTrailer
		limit := maxChunkLine
		if inHead {
			limit = maxHeaderBytes - p.headLen
		}
		if i < 0 {
			if len(b)-n > limit {
				return n, false, p.tooLong()
			}
			return n, false, nil
		}
		if i+1 > limit {
			return n, false, p.tooLong()
		}
		line := b[n : n+i]
		if i == 0 || line[i-1] != '\r' {
			return n, false, protocolErrorf("line not ended by CRLF: %s", quote(b[n:n+i+1]))
		}
		if inHead {
			p.headLen += i + 1
		}
		n += i + 1
		if err := p.line(line[:i-1]); err != nil {
			return n, false, err
		}
	}
}

func (p *respParser) tooLong() error {
	if p.st == stChunkSize || p.st == stChunkEnd {
		return protocolErrorf("chunk-size line longer than %d bytes", maxChunkLine)
	}
	return protocolErrorf("response header longer than %d bytes", maxHeaderBytes)
}

// line handles one whole line, without its CRLF.
func (p *respParser) line(line []byte) error {
	switch p.st {
	case stStatus:
		return p.statusLine(line)
	case stHeader:
		if len(line) == 0 {
			return p.endHeader()
		}
		return p.field(line, false)
	case stChunkSize:
		return p.chunkSize(line)
	case stChunkEnd:
		if len(line) != 0 {
			return protocolErrorf("chunk data longer than its size: %s", quote(line))
		}
		p.st = stChunkSize
		return nil
	case stTrailer:
		if len(line) == 0 {
			p.finish()
			return nil
		}
		return p.field(line, true)
	}
	return nil
}

// statusLine parses "HTTP/1.1 NNN reason".
func (p *respParser) statusLine(line []byte) error {
	const version = "HTTP/1.1 "
	if len(line) < len(version)+3 || string(line[:len(version)]) != version {
		return protocolErrorf("status line %s is not HTTP/1.1 NNN reason", quote(line))
	}
	code := line[len(version) : len(version)+3]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return protocolErrorf("status line %s has no 3-digit status code", quote(line))
	}
	rest := line[len(version)+3:]
	if len(rest) > 0 && rest[0] != ' ' {
		return protocolErrorf("status line %s has no space after the status code", quote(line))
	}
	if !validValue(rest) {
		return protocolErrorf("status line %s has a control character", quote(line))
	}
	p.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	switch {
	case p.status == 101:
		return protocolErrorf("101 Switching Protocols, unasked: %s", quote(line))
	case p.status != 200 && p.status >= 200:
		p.mismatch("status %d, want 200 (status line %s)", p.status, quote(line))
	}
	p.st = stHeader
	return nil
}

// field handles a header or trailer field line "name: value". Trailer
// fields are checked for syntax only. A header line without a problem is
// remembered, so that when the same bytes come again at the same place in
// a later response, feed need not parse them again (see remembered): what
// a line means depends on its bytes alone (and on plain).
func (p *respParser) field(line []byte, trailer bool) error {
	if trailer {
		_, _, err := splitField(line)
		return err
	}
	i := p.fields
	p.fields++
	eff, clen, err := p.parseField(line)
	if err != nil {
		return err
	}
	if p.problem == "" && i < memoLines && len(line) <= memoLineMax {
		// Remembered only when it raised no problem (a mismatch is
		// described once, in words the memo does not keep).
		if p.memo == nil {
			p.memo = new([memoLines]memoLine) // once per connection
		}
		e := &p.memo[i]
		e.n, e.eff, e.clen = uint8(copy(e.b[:], line)), eff, clen
	}
	return p.apply(eff, clen)
}

// remembered returns the memo's line for the next header line if b
// starts with it and its CRLF, and the header has room for it; else nil.
// A remembered line holds no CR or LF, so the slow path would have found
// the same line.
func (p *respParser) remembered(b []byte) *memoLine {
	m := p.memo
	if m == nil || p.fields >= memoLines {
		return nil
	}
	e := &m[p.fields]
	k := int(e.n)
	if k == 0 || len(b) < k+2 || b[k] != '\r' || b[k+1] != '\n' || string(b[:k]) != string(e.b[:k]) || p.headLen+k+2 > maxHeaderBytes {
		return nil
	}
	return e
}

// Header lines remembered per connection: the first memoLines of a
// response, up to memoLineMax bytes each. A server sends the same lines
// response after response, but for Date, which changes once a second.
const (
	memoLines   = 8
	memoLineMax = 80
)

type memoLine struct {
	n    uint8 // length of the line in b; 0: empty
	eff  fieldEffect
	clen int64
	b    [memoLineMax]byte
}

// fieldEffect is what a header line means for the parser.
type fieldEffect uint8

const (
	effDate          fieldEffect = 1 << iota // a well-formed Date
	effServer                                // a non-empty Server
	effClose                                 // Connection: close
	effContentType                           // a Content-Type (text/plain if required)
	effContentLength                         // Content-Length: clen
	effChunked                               // Transfer-Encoding: chunked
)

// splitField checks a field line's syntax and splits it.
func splitField(line []byte) (name, value []byte, err error) {
	// The name: token characters up to the colon (one scan for both; field
	// names are short).
	colon := 0
	for colon < len(line) && tokenChar[line[colon]] {
		colon++
	}
	if colon == len(line) || line[colon] != ':' || colon == 0 {
		switch {
		case isOWS(line[0]):
			return nil, nil, protocolErrorf("header line %s: obsolete line folding", quote(line))
		case bytes.IndexByte(line, ':') < 0:
			return nil, nil, protocolErrorf("header line %s has no colon", quote(line))
		case colon == 0 && line[0] == ':':
			return nil, nil, protocolErrorf("header line %s has an empty field name", quote(line))
		}
		// Whitespace before the colon, or a byte no name may hold.
		return nil, nil, protocolErrorf("header line %s: invalid field name", quote(line))
	}
	name, value = line[:colon], trimOWS(line[colon+1:])
	if !validValue(value) {
		return nil, nil, protocolErrorf("header line %s has a control character", quote(line))
	}
	return name, value, nil
}

// parseField parses a header line and says what it means. It records a
// mismatch for a malformed Date, or a Content-Type other than the one
// required; it depends on nothing but the line and p.plain.
func (p *respParser) parseField(line []byte) (eff fieldEffect, clen int64, err error) {
	name, value, err := splitField(line)
	if err != nil {
		return 0, 0, err
	}
	switch len(name) {
	case len("date"):
		if foldEqual(name, "date") {
			if !validIMFDate(value) {
				p.mismatch("Date %s is not an IMF-fixdate", quote(value))
			}
			eff = effDate
		}
	case len("server"):
		if foldEqual(name, "server") && len(value) > 0 {
			eff = effServer
		}
	case len("connection"):
		if foldEqual(name, "connection") && hasToken(value, "close") {
			eff = effClose
		}
	case len("content-type"):
		if foldEqual(name, "content-type") {
			if p.plain && !isTextPlain(value) {
				p.mismatch("Content-Type %s, want text/plain", quote(value))
			}
			eff = effContentType
		}
	case len("content-length"):
		if foldEqual(name, "content-length") {
			n, ok := parseDecimal(value)
			if !ok {
				return 0, 0, protocolErrorf("invalid Content-Length %s", quote(value))
			}
			eff, clen = effContentLength, n
		}
	case len("transfer-encoding"):
		if foldEqual(name, "transfer-encoding") {
			if !foldEqual(value, "chunked") {
				return 0, 0, protocolErrorf("unsupported Transfer-Encoding %s (only a single chunked is)", quote(value))
			}
			eff = effChunked
		}
	}
	return eff, clen, nil
}

// apply adds what a header line means to the response so far.
func (p *respParser) apply(eff fieldEffect, clen int64) error {
	if eff == 0 {
		return nil
	}
	switch {
	case eff&effContentLength != 0:
		if p.clen >= 0 && p.clen != clen {
			return protocolErrorf("conflicting Content-Length headers %d and %d", p.clen, clen)
		}
		p.clen = clen
	case eff&effChunked != 0:
		if p.chunked {
			return protocolErrorf("Transfer-Encoding: chunked twice")
		}
		p.chunked = true
	}
	p.date = p.date || eff&effDate != 0
	p.server = p.server || eff&effServer != 0
	p.close = p.close || eff&effClose != 0
	p.ctype = p.ctype || eff&effContentType != 0
	return nil
}

// endHeader decides, at the empty line, how the body is framed.
func (p *respParser) endHeader() error {
	if p.status < 200 {
		// An interim response: the real one follows.
		*p = respParser{want: p.want, head: p.head, plain: p.plain, clen: -1, headLen: p.headLen, memo: p.memo}
		return nil
	}
	if p.chunked && p.clen >= 0 {
		return protocolErrorf("both Content-Length and Transfer-Encoding: chunked")
	}
	if !p.date {
		p.mismatch("no Date header")
	}
	if !p.server {
		p.mismatch("no Server header")
	}
	if p.plain && !p.ctype {
		p.mismatch("no Content-Type header")
	}
	if p.clen >= 0 && p.clen != int64(len(p.want)) {
		p.mismatch("Content-Length %d, want %d", p.clen, len(p.want))
	}
	switch {
	case p.head || p.status == 204 || p.status == 304:
		p.finish()
	case p.chunked:
		p.st = stChunkSize
	case p.clen > 0:
		p.left, p.st = p.clen, stBody
	case p.clen == 0:
		p.finish()
	default:
		return protocolErrorf("status %d response with neither Content-Length nor chunked Transfer-Encoding (a body until close, on a keep-alive connection)", p.status)
	}
	return nil
}

// chunkSize parses "hex-size [; extensions]".
func (p *respParser) chunkSize(line []byte) error {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := hexValue(line[i])
		if d < 0 {
			break
		}
		if size >= 1<<59 {
			break // too large, below
		}
		size = size<<4 | int64(d)
	}
	if size > maxChunkSize {
		return protocolErrorf("chunk size %s too large", quote(line))
	}
	if i == 0 {
		return protocolErrorf("invalid chunk-size line %s", quote(line))
	}
	if ext := bytes.TrimLeft(line[i:], " \t"); len(ext) > 0 && (ext[0] != ';' || !validValue(ext)) {
		return protocolErrorf("invalid chunk-size line %s", quote(line))
	}
	if size == 0 {
		p.st = stTrailer
	} else {
		p.left, p.st = size, stChunkData
	}
	return nil
}

// compare checks body bytes b, which follow the p.body bytes before them.
func (p *respParser) compare(b []byte) {
	off := p.body
	p.body += int64(len(b))
	if p.problem != "" {
		return
	}
	if off >= int64(len(p.want)) {
		p.mismatch("body longer than the %d bytes expected: more bytes %s", len(p.want), quote(b[:min(len(b), 16)]))
		return
	}
	want := p.want[off:min(int64(len(p.want)), off+int64(len(b)))]
	if !bytes.Equal(b[:len(want)], want) {
		p.problem = "body " + describeMismatch(b[:len(want)], want, int(off))
		return
	}
	if len(b) > len(want) {
		p.mismatch("body longer than the %d bytes expected: more bytes %s", len(p.want), quote(b[len(want):min(len(b), len(want)+16)]))
	}
}

// finish ends a response: a body shorter than expected is a mismatch
// (a longer one was reported by compare).
func (p *respParser) finish() {
	if !p.head && p.body < int64(len(p.want)) {
		p.mismatch("body is %d bytes, want %d", p.body, len(p.want))
	}
	p.st = stDone
}

// Byte-level helpers, all on []byte without conversion to string.

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// foldEqual reports whether b equals s in any case. s must be lower-case
// letters, '-' and '/', and b a field name (token characters) or a
// field value (no control characters): then setting bit 0x20 lowers a
// letter of b and can make nothing else equal to a byte of s (it maps
// only control characters to '-' and '/').
func foldEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// ctlChar marks the bytes a field value or reason phrase must not hold:
// control characters other than tab.
var ctlChar = func() (t [256]bool) {
	for c := range ' ' {
		t[c] = c != '\t'
	}
	t[0x7f] = true
	return t
}()

// validValue reports whether b has no control characters but tab. It
// looks at 8 bytes at a time, and at single bytes only in a word that has
// a byte below 0x20 or equal to 0x7f (a tab, or the error).
func validValue(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		below := (x - 0x20*ones) &^ x & highs // a byte < 0x20
		y := x ^ 0x7f*ones
		del := (y - ones) &^ y & highs // a byte == 0x7f
		if below|del != 0 && !validBytes(b[:8]) {
			return false
		}
		b = b[8:]
	}
	return validBytes(b)
}

func validBytes(b []byte) bool {
	for _, c := range b {
		if ctlChar[c] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token tok
// (lower case), in any case.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if foldEqual(trimOWS(item), tok) {
			return true
		}
	}
	return false
}

// isTextPlain reports whether a Content-Type value is text/plain, with or
// without parameters.
func isTextPlain(v []byte) bool {
	const tp = "text/plain"
	if len(v) < len(tp) || !foldEqual(v[:len(tp)], tp) {
		return false
	}
	rest := trimOWS(v[len(tp):])
	return len(rest) == 0 || rest[0] == ';'
}

// parseDecimal parses a Content-Length: digits only, at most 18 of them.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// imfShape is an IMF-fixdate: 0 a digit, A an upper-case letter, a a
// lower-case one.
const imfShape = "Aaa, 00 Aaa 0000 00:00:00 GMT"

// validIMFDate checks the shape of an IMF-fixdate, the one Date format a
// server may send: "Sun, 06 Nov 1994 08:49:37 GMT".
func validIMFDate(v []byte) bool {
	if len(v) != len(imfShape) || string(v[len(v)-4:]) != " GMT" {
		return false
	}
	for i := range len(imfShape) - 4 {
		c, s := v[i], imfShape[i]
		switch s {
		case '0':
			c -= '0'
			s = 9
		case 'A':
			c -= 'A'
			s = 'Z' - 'A'
		case 'a':
			c -= 'a'
			s = 'z' - 'a'
		default:
			c ^= s // 0 if equal
			s = 0
		}
		if c > s {
			return false
		}
	}
	return true
}

// quote renders some bytes of the stream for a message, cut at 64.
func quote(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%q...", b[:64])
	}
	return fmt.Sprintf("%q", b)
}

// The connection's side.

// recvHTTP reads the response to rec from the read buffer, parsing it in
// place and verifying it as it goes. A mismatch is counted, not fatal (the
// stream is still in step); a response that cannot be parsed, one that
// says Connection: close when the request did not, or the connection
// closing mid-response, is.
func (c *conn) recvHTTP(rec inflight) error {
	w := c.r.w
	if need := rec.sent + c.r.timeout; c.rdl < need {
		c.rdl = need + c.r.slack
		if err := c.nc.SetReadDeadline(c.r.at(c.rdl)); err != nil {
			return err
		}
	}
	p := c.hp
	p.reset(w.replies[rec.idx], false, w.http.plain)
	seen := 0
	for {
		buf, _ := c.br.Peek(c.br.Buffered()) // cannot fail: no more than is buffered
		n, done, err := p.feed(buf)
		c.br.Discard(n) // n <= Buffered(): cannot fail
		c.bytesIn += uint64(n)
		seen += n
		if err != nil {
			return fmt.Errorf("reply %d: %w", c.replies+1, err)
		}
		if done {
			break
		}
		// What is left buffered is an incomplete line (or nothing): read more.
		if c.br.Buffered() == c.br.Size() {
			return protocolErrorf("reply %d: a line longer than the %d-byte read buffer", c.replies+1, c.br.Size())
		}
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			if errors.Is(err, io.EOF) {
				if got := seen + c.br.Buffered(); got > 0 {
					return fmt.Errorf("%w: connection closed %d bytes into reply %d", io.ErrUnexpectedEOF, got, c.replies+1)
				}
				return fmt.Errorf("%w: connection closed with reply %d owed", io.EOF, c.replies+1)
			}
			return err
		}
	}
	lat := c.r.now() - rec.start
	c.hist.record(uint64(max(lat, 0)))
	c.replies++
	c.progress.Add(1)
	if p.problem != "" {
		c.mismatches++
		if c.firstMismatch == "" {
			c.firstMismatch = fmt.Sprintf("conn %d reply %d (payload %d): %s", c.id, c.replies, rec.idx, p.problem)
		}
	}
	if p.close && !rec.close {
		return protocolErrorf("reply %d came with Connection: close, which the request did not ask for", c.replies)
	}
	return nil
}

// closeHTTP ends an http connection with -close. Its last request carried
// Connection: close; or, if the run ended by time rather than by -n, one
// more request with it is sent now, and its response is verified and
// counted like any other. Either way the server must then close without
// sending anything more. A connection whose -n share is zero has sent no
// request to carry it, and is simply closed.
func (c *conn) closeHTTP() {
	c.wmu.Lock() // -rate: the scheduler may still look at sent
	final := !c.closeSent && (c.quota < 0 || int64(c.sent) < c.quota)
	if !c.closeSent && !final {
		c.wmu.Unlock()
		return
	}
	var rec inflight
	if final {
		idx := c.next
		t := c.r.now()
		err := c.nc.SetWriteDeadline(c.r.at(t + c.r.timeout))
		if err == nil {
			var m int
			m, err = c.nc.Write(c.r.w.http.closeFrames[idx])
			c.bytesOut += uint64(m)
		}
		if err != nil {
			c.wmu.Unlock()
			c.fail(classify("write", err), err)
			return
		}
		c.sent++
		c.closeSent = true
		c.next = (idx + 1) % len(c.r.w.frames)
		rec = inflight{idx: int32(idx), close: true, sent: t, start: t}
	}
	c.wmu.Unlock()
	if final {
		if err := c.recv(rec); err != nil {
			c.fail(classify("read", err), err)
			return
		}
	}
	if err := c.nc.SetReadDeadline(c.r.at(c.r.now() + c.r.timeout)); err != nil {
		c.fail(kindRead, err)
		return
	}
	c.expectEOF("the response to Connection: close")
}
