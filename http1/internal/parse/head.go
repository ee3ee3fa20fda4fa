package parse

import "bytes"

// Expect values.
const (
	ExpectNone  = iota // no Expect field, or only empty ones
	Expect100          // "Expect: 100-continue" (RFC 9110 §10.1.1), case-insensitive
	ExpectOther        // any other expectation: the server answers 417
)

// Head is a parsed request head. Reuse one Head for many requests: Parse
// resets it and keeps Fields' capacity.
type Head struct {
	Method []byte
	// Target is the request-target as received.
	Target []byte
	// Path is, for origin-form and absolute-form, the path and query
	// ("/a?b"); for absolute-form without scheme and authority ("/" when the
	// absolute URI has an empty path); "*" for asterisk-form; nil for
	// authority-form (CONNECT host:port). It is the only slice that may
	// not point into the head: for an absolute URI with an empty path,
	// "/" and any query are written to memory h owns (and reuses).
	Path []byte
	// Minor is the x of HTTP/1.x; HTTP/1.2..1.9 are accepted and reported
	// as 1 (RFC 9110 §2.5: treat as the highest minor version supported),
	// as net/http serves any 1.x.
	Minor  int
	Fields []Field
	// Host is the effective host: the authority of an absolute-form or
	// authority-form target (RFC 9112 §3.2.2: then the Host field is
	// ignored), else the Host field's value (may be empty: "Host:" is
	// allowed, as by net/http). Percent-escapes are not decoded.
	Host []byte
	// HasHost reports that a Host field was present.
	HasHost bool
	// ContentLength is -1 when there is no Content-Length field.
	ContentLength int64
	// Chunked is Transfer-Encoding: chunked, the only transfer coding
	// accepted.
	Chunked bool
	// Close reports that the client wants the connection closed after this
	// request: "Connection: close" (any version), or HTTP/1.0 without
	// "Connection: keep-alive" (RFC 9112 §9.3).
	Close bool
	// Upgrade reports that a Connection field lists "upgrade".
	Upgrade bool
	// Expect is ExpectNone, Expect100 or ExpectOther.
	Expect int

	scratch []byte // Path when it is not in the head
}

// Parse parses head, which ScanHead found complete (head = buf[:end]).
// Every returned slice points into head (but see Path). The error, if any,
// is an *Error. Parse checks every byte again, so it is safe on input
// ScanHead has not seen; bytes after the head's final empty line are
// ignored.
//
// Checks run in the order net/http's server makes them, so that a request
// both refuse gets the status net/http would send: the request line, the
// field lines, Host count, Transfer-Encoding (501), Content-Length,
// Trailer, the version (505), Host presence and bytes, then the field
// names net/http lets through its reader. The refusals net/http does not
// make come last, except those that stop the parse (obsolete line folding).
func (h *Head) Parse(head []byte, lim *Limits) error {
	maxTarget, maxHead, maxFields := lim.values()
	*h = Head{Fields: h.Fields[:0], scratch: h.scratch[:0], ContentLength: -1}
	if len(head) > maxHead {
		return errTooLargeHead
	}

	p := 0
	for p < len(head) {
		if head[p] == '\n' {
			p++
		} else if head[p] == '\r' && p+1 < len(head) && head[p+1] == '\n' {
			p += 2
		} else {
			break
		}
	}
	line, next, ok := nextLine(head, p)
	if next-p > requestLineMax(maxTarget) {
		return errTooLongTarget // as ScanHead would
	}
	if !ok {
		return errIncomplete
	}
	p = next

	// RFC 9112 §3: method SP request-target SP HTTP-version, one SP each.
	// net/http splits at the first two spaces, so a doubled space makes an
	// empty target and a trailing one a malformed version.
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return errRequestLine
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 0 {
		return errRequestLine
	}
	sp2 += sp1 + 1
	h.Method, h.Target = line[:sp1], line[sp1+1:sp2]
	if !isToken(h.Method) {
		return errMethod
	}
	major, minor, ok := parseVersion(line[sp2+1:])
	if !ok {
		return errVersion
	}
	if len(h.Target) > maxTarget {
		return errTooLongTarget
	}
	connect := string(h.Method) == "CONNECT" // case-sensitive, RFC 9110 §9.1
	authority, deliberate, hard := h.parseTarget(h.Target, connect)
	if hard != nil {
		return hard
	}

	var (
		hostCount, clCount, teCount int
		host, cl, te                []byte
		clDiffer, hasTrailer        bool
		hasClose, hasKeepAlive      bool
		badName                     *Error
	)
	for first := true; ; first = false {
		line, next, ok := nextLine(head, p)
		if !ok {
			return errIncomplete
		}
		p = next
		if len(line) == 0 {
			break
		}
		if isOWS(line[0]) {
			if first {
				// net/http #22464: a first field line starting with
				// whitespace could be taken for a continuation of the
				// request line.
				return errLeadingSpace
			}
			// obs-fold, RFC 9112 §5.2: net/http joins the lines; a
			// recipient may instead reject the message, which is what we
			// do, since a proxy that does not unfold sees other fields.
			return errObsFold
		}
		if len(h.Fields) == maxFields {
			return errTooManyFields
		}
		name, value, spaceInName, err := splitField(line)
		if err != nil {
			return err
		}
		h.Fields = append(h.Fields, Field{Name: name, Value: value})
		if spaceInName {
			// Not a field net/http would recognise ("Host " is not
			// "Host"); refused after the checks it makes first.
			if badName == nil {
				badName = errFieldName
			}
			continue
		}
		switch len(name) {
		case len("host"):
			if equalFold(name, "host") {
				if hostCount == 0 {
					host = value
				}
				hostCount++
			}
		case len("content-length"):
			if equalFold(name, "content-length") {
				if clCount == 0 {
					cl = value
				} else if !bytes.Equal(value, cl) {
					clDiffer = true
				}
				clCount++
			}
		case len("transfer-encoding"):
			if equalFold(name, "transfer-encoding") {
				te = value
				teCount++
			}
		case len("connection"):
			if equalFold(name, "connection") {
				hasClose = hasClose || listHas(value, "close")
				hasKeepAlive = hasKeepAlive || listHas(value, "keep-alive")
				h.Upgrade = h.Upgrade || listHas(value, "upgrade")
			}
		case len("expect"):
			if equalFold(name, "expect") {
				h.Expect = max(h.Expect, expectation(value))
			}
		case len("trailer"):
			hasTrailer = hasTrailer || equalFold(name, "trailer")
		}
	}

	// RFC 9112 §3.2: a server MUST respond 400 to a request with more than
	// one Host field line.
	if hostCount > 1 {
		return errHostMany
	}
	atLeast11 := major > 1 || major == 1 && minor >= 1
	// net/http's readTransfer reads a zero version (HTTP/0.0) as 1.1, so
	// its Transfer-Encoding check, and 501, come before the 505.
	if teCount > 0 && (atLeast11 || major == 0 && minor == 0) {
		// RFC 9112 §6.1: chunked is the only coding we decode, and it must
		// be the final one; like nginx and net/http we accept exactly one
		// field saying "chunked", since any other list is where proxies
		// disagree (request smuggling). RFC 9112 §6.1: 501 for a coding
		// the server does not understand.
		if teCount != 1 || !equalFold(te, "chunked") {
			return errTransferCoding
		}
		h.Chunked = true
	}
	if clCount > 0 {
		// RFC 9110 §8.6: identical repeated values may be taken as one;
		// differing ones are an unrecoverable framing error (RFC 9112
		// §6.3), as are invalid ones, whatever Transfer-Encoding says.
		if clDiffer {
			return errContentLengths
		}
		n, ok := parseContentLength(cl)
		if !ok {
			return errContentLength
		}
		h.ContentLength = n
	}
	if h.Chunked && hasTrailer && h.trailerListsFraming() {
		// RFC 9110 §6.5.1: framing fields must not be trailers; net/http
		// refuses their announcement.
		return errTrailerDeclared
	}
	pri := major == 2 && minor == 0 && string(h.Method) == "PRI" && string(h.Target) == "*"
	if major != 1 && !pri {
		return errVersionMajor // HTTP/0.9, HTTP/2.0, HTTP/3.0...
	}
	// net/http lets "PRI * HTTP/2.0" with no fields at all through without
	// a Host field, for handlers that upgrade to h2c themselves.
	h2Preface := pri && len(h.Fields) == 0
	if atLeast11 && hostCount == 0 && !connect && !h2Preface {
		return errHostMissing // RFC 9112 §3.2: MUST respond 400
	}
	if hostCount == 1 && !validHostField(host) {
		return errHostInvalid
	}
	if badName != nil {
		return badName
	}

	// What net/http accepts and we do not.
	if deliberate != nil {
		return deliberate
	}
	if pri {
		// The HTTP/2 connection preface (RFC 9113 §3.4) is not an HTTP/1
		// request: 505 (RFC 9110 §15.6.6).
		return errH2Preface
	}
	if teCount > 0 && !atLeast11 {
		// RFC 9112 §6.1: a server MAY treat Transfer-Encoding in an
		// HTTP/1.0 request as faulty framing and close the connection;
		// net/http ignores the field, which a proxy may not (fasthttp
		// #2330 rejects it too).
		return errTEInHTTP10
	}
	if h.Chunked && clCount > 0 {
		// RFC 9112 §6.1: Transfer-Encoding overrides Content-Length, and a
		// server MAY reject such a message instead: it is the classic
		// request smuggling vector (RFC 9112 §11.2). net/http processes it
		// as chunked.
		return errTEWithCL
	}

	if major == 1 && minor > 0 {
		h.Minor = 1
	}
	h.HasHost = hostCount == 1
	h.Host = authority
	if len(authority) == 0 {
		h.Host = host
	}
	h.Close = hasClose || h.Minor == 0 && !hasKeepAlive
	return nil
}

// nextLine returns the line starting at head[p], without its line end
// (CRLF or LF, RFC 9112 §2.2), and where the next one starts. ok is false
// when head has no LF after p: then next is len(head).
func nextLine(head []byte, p int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(head[p:], '\n')
	if i < 0 {
		return nil, len(head), false
	}
	line = head[p : p+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, p + i + 1, true
}

// parseVersion parses HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112
// §2.3), case-sensitively and exactly, as net/http's ParseHTTPVersion.
func parseVersion(v []byte) (major, minor int, ok bool) {
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// expectation classifies one Expect field value (RFC 9110 §10.1.1:
// Expect = #expectation). net/http looks for a "100-continue" token in the
// first field only and answers 417 to a value without one; we answer 417
// (ExpectOther) to any member other than 100-continue, as the RFC lets a
// server do.
func expectation(v []byte) int {
	e := ExpectNone
	for more := true; more; {
		var m []byte
		m, v, more = nextMember(v)
		switch {
		case len(m) == 0:
		case equalFold(m, "100-continue"):
			e = max(e, Expect100)
		default:
			return ExpectOther
		}
	}
	return e
}

// trailerListsFraming reports whether a Trailer field announces
// Transfer-Encoding, Content-Length or Trailer, as net/http's fixTrailer
// refuses.
func (h *Head) trailerListsFraming() bool {
	for _, f := range h.Fields {
		if !equalFold(f.Name, "trailer") {
			continue
		}
		for v, more := f.Value, true; more; {
			var m []byte
			m, v, more = nextMember(v)
			if equalFold(m, "transfer-encoding") || equalFold(m, "content-length") || equalFold(m, "trailer") {
				return true
			}
		}
	}
	return false
}

// Field returns the value of the first field named name (case-insensitive
// ASCII), or nil.
func (h *Head) Field(name string) []byte {
	for _, f := range h.Fields {
		if len(f.Name) == len(name) && foldEqual(f.Name, name) {
			return f.Value
		}
	}
	return nil
}

// foldEqual is equalFold for a name of any case.
func foldEqual(a []byte, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
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
