package parse

import "bytes"

// Chunked decodes a chunked request body (RFC 9112 §7.1) incrementally.
// The zero value is ready; Reset it for the next body.
type Chunked struct {
	MaxExt      int // bytes of chunk extensions allowed on one chunk line (they are ignored); more -> error 400. 0 means 1024.
	MaxTrailer  int // bytes of the trailer section; more -> error 431. 0 means 16 KiB.
	MaxTrailers int // trailer fields; 0 means 64.

	state  uint8
	left   uint64 // chunk data still to come
	scan   int    // bytes of the pending line already searched for LF
	excess int64  // framing bytes not paid for by data, as net/http counts
	tsize  int    // trailer section bytes consumed
	err    error

	tbuf    []byte // trailer names and values, copied
	tspans  []trailerSpan
	tfields []Field
}

type trailerSpan struct{ name, value, end int } // tbuf[name:value] is the name, tbuf[value:end] the value

const (
	stSize    = iota // at a chunk-size line
	stData           // inside chunk data
	stDataEnd        // at the CRLF after chunk data
	stTrailer        // in the trailer section
	stDone

	defaultMaxExt      = 1024
	defaultMaxTrailer  = 16 << 10
	defaultMaxTrailers = 64

	// maxChunkLine bounds a chunk-size line, CRLF included: net/http reads
	// it with bufio.Reader.ReadSlice on its 4 KiB buffer and fails past
	// that.
	maxChunkLine = 4096
	// maxSizeDigits is net/http's bound on chunk-size digits (it refuses a
	// 17th), which also keeps a size within uint64.
	maxSizeDigits = 16
	// maxExcess and excessPerChunk are net/http's guard against a sender
	// that sends little data in much framing (tiny chunks, long
	// extensions): framing beyond 16 bytes per chunk plus twice the chunk's
	// data may add up to 16 KiB, no more.
	maxExcess      = 16 << 10
	excessPerChunk = 16
)

// Reset prepares c for the next body; the limits are kept.
func (c *Chunked) Reset() {
	*c = Chunked{
		MaxExt: c.MaxExt, MaxTrailer: c.MaxTrailer, MaxTrailers: c.MaxTrailers,
		tbuf: c.tbuf[:0], tspans: c.tspans[:0], tfields: c.tfields[:0],
	}
}

// Done reports that the last chunk and the trailer section have been
// consumed.
func (c *Chunked) Done() bool { return c.state == stDone }

// Trailers returns the trailer fields received (copied; valid until
// Reset). They are never framing: a trailer named Content-Length or Host is
// just a field (RFC 9110 §6.5.1 lets a recipient ignore such fields; it
// must not merge them into the header section).
func (c *Chunked) Trailers() []Field {
	c.tfields = c.tfields[:0]
	for _, s := range c.tspans {
		c.tfields = append(c.tfields, Field{Name: c.tbuf[s.name:s.value:s.value], Value: c.tbuf[s.value:s.end:s.end]})
	}
	return c.tfields
}

// Decode consumes from in. It returns data, the next piece of body data (a
// subslice of in, possibly empty), and n, the bytes of in consumed
// (framing and data). n == 0 with err == nil means in does not hold enough
// to make progress (a partial chunk-size line, a partial CRLF, a partial
// trailer line): the caller keeps in and calls again when more bytes
// arrive, with in starting at the same bytes. Callers loop:
//
//	for !c.Done() {
//		data, n, err := c.Decode(in)
//		...
//		in = in[n:]
//		if n == 0 {
//			break
//		}
//	}
//
// A chunk's data is returned as soon as any of it is in in (it need not be
// complete). A chunk-size line longer than 4 KiB, or with more than MaxExt
// bytes of extensions, without a line end is an error at once, not a wait;
// so is a trailer section that cannot fit MaxTrailer. An error is an
// *Error, with n the bytes consumed before it; every later call returns it
// again, since the body's framing is lost.
func (c *Chunked) Decode(in []byte) (data []byte, n int, err error) {
	if c.err != nil {
		return nil, 0, c.err
	}
	for {
		rest := in[n:]
		switch c.state {
		case stSize:
			adv, err := c.sizeLine(rest)
			if err != nil {
				c.err = err
				return nil, n, err
			}
			if adv == 0 {
				return nil, n, nil
			}
			n += adv
		case stData:
			if len(rest) == 0 {
				return nil, n, nil
			}
			k := len(rest)
			if uint64(k) > c.left {
				k = int(c.left)
			}
			c.left -= uint64(k)
			n += k
			if c.left == 0 {
				c.state = stDataEnd
				// Take the CRLF too when it is here, so that a whole
				// chunk is one call.
				if len(rest) >= k+2 && rest[k] == '\r' && rest[k+1] == '\n' {
					n += 2
					c.state = stSize
				}
			}
			return rest[:k:k], n, nil
		case stDataEnd:
			// RFC 9112 §7.1: chunk-data CRLF. A bare LF here is
			// CVE-2025-22871: a proxy that accepts it and one that does not
			// frame the rest differently.
			if len(rest) == 0 || len(rest) == 1 && rest[0] == '\r' {
				return nil, n, nil
			}
			if rest[0] != '\r' || rest[1] != '\n' {
				c.err = errChunkCRLF
				return nil, n, c.err
			}
			n += 2
			c.state = stSize
		case stTrailer:
			adv, err := c.trailerLine(rest)
			if err != nil {
				c.err = err
				return nil, n, err
			}
			if adv == 0 {
				return nil, n, nil
			}
			n += adv
		default:
			return nil, n, nil
		}
	}
}

// pendingLine finds the LF ending the line at the start of in, searching
// only bytes not searched by an earlier call (the caller passes the same
// line again, grown). It returns the line without the LF, or ok false.
func (c *Chunked) pendingLine(in []byte) (line []byte, ok bool) {
	if c.scan > len(in) {
		c.scan = 0 // not the same bytes: search them all
	}
	i := bytes.IndexByte(in[c.scan:], '\n')
	if i < 0 {
		c.scan = len(in)
		return in, false
	}
	line = in[:c.scan+i]
	c.scan = 0
	return line, true
}

// sizeLine consumes a chunk-size line (RFC 9112 §7.1: chunk-size
// [ chunk-ext ] CRLF) and returns its length, or 0 if in holds only part of
// it.
//
// It refuses everything net/http's chunked reader refuses: a line end other
// than CRLF (RFC 9112 §7.1; a bare LF is refused since golang/go#71988), a
// CR inside the line, a line over 4 KiB, a size that is not 1 to 16 HEXDIG
// before the first ";" (so no whitespace before ";": fasthttp #2193; an
// empty size: golang/go#64517), and too much framing per data byte.
//
// On top, it takes the strict reading of RFC 9112 §7.1.1 for the
// extensions net/http skips unread: they must match the grammar (BWS ";"
// BWS token [ BWS "=" BWS ( token / quoted-string ) ]), with no trailing
// whitespace before CRLF, and be at most MaxExt bytes; and a size must fit
// in int64. Lenient extension parsing is how a bare LF or CR inside an
// extension became request smuggling in several servers (fasthttp #1899,
// CVE-2025-55315); the grammar leaves it nowhere to hide.
func (c *Chunked) sizeLine(in []byte) (int, error) {
	maxExt := c.MaxExt
	if maxExt <= 0 {
		maxExt = defaultMaxExt
	}
	line, ok := c.pendingLine(in)
	if !ok {
		if len(in) >= maxChunkLine {
			return 0, errChunkTooLong
		}
		// The extensions start within the first 17 bytes of a valid line.
		if semi := bytes.IndexByte(in[:min(len(in), maxSizeDigits+1)], ';'); semi >= 0 {
			ext := len(in) - semi
			if in[len(in)-1] == '\r' {
				ext-- // maybe the CR of the CRLF
			}
			if ext > maxExt {
				return 0, errChunkExtLong
			}
		}
		return 0, nil
	}
	consumed := len(line) + 1
	if consumed > maxChunkLine {
		return 0, errChunkTooLong
	}
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, errChunkBareLF
	}
	line = line[:len(line)-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return 0, errChunkLine
	}

	// net/http's reading: trailing SP/HTAB removed, cut at the first ";",
	// then 1*16 HEXDIG.
	trimmed := line
	for len(trimmed) > 0 && isOWS(trimmed[len(trimmed)-1]) {
		trimmed = trimmed[:len(trimmed)-1]
	}
	digits := bytes.IndexByte(trimmed, ';')
	if digits < 0 {
		digits = len(trimmed)
	}
	if digits == 0 || digits > maxSizeDigits {
		return 0, errChunkSize
	}
	var size uint64
	for _, b := range trimmed[:digits] {
		if charClass[b]&cHex == 0 {
			return 0, errChunkSize
		}
		size = size<<4 | uint64(unhex(b))
	}
	c.excess += int64(len(line)) + 2
	if size < 1<<61 {
		c.excess -= excessPerChunk + 2*int64(size)
	} else {
		c.excess = 0 // such a chunk pays for any framing
	}
	c.excess = max(c.excess, 0)
	if c.excess > maxExcess {
		return 0, errChunkOverhead
	}

	// Our stricter reading.
	if size > 1<<63-1 {
		return 0, errChunkSizeRange
	}
	if ext := line[digits:]; len(ext) > 0 {
		if len(ext) > maxExt {
			return 0, errChunkExtLong
		}
		if err := checkChunkExt(ext); err != nil {
			return 0, err
		}
	}
	if size == 0 {
		c.state = stTrailer // last-chunk = 1*("0") [ chunk-ext ] CRLF
	} else {
		c.state, c.left = stData, size
	}
	return consumed, nil
}

// checkChunkExt checks chunk-ext = *( BWS ";" BWS chunk-ext-name
// [ BWS "=" BWS chunk-ext-val ] ), chunk-ext-val = token / quoted-string
// (RFC 9112 §7.1.1). ext starts right after the size: whitespace there is
// refused by the size check above, so ext[0] is ";" or SP/HTAB before the
// line end.
func checkChunkExt(ext []byte) error {
	i := 0
	skipBWS := func() {
		for i < len(ext) && isOWS(ext[i]) {
			i++
		}
	}
	token := func() bool {
		start := i
		for i < len(ext) && charClass[ext[i]]&cToken != 0 {
			i++
		}
		return i > start
	}
	for i < len(ext) {
		if ext[i] != ';' {
			if isOWS(ext[i]) {
				skipBWS()
				if i == len(ext) {
					return errChunkSpace // trailing whitespace, not in the grammar
				}
				if ext[i] == ';' {
					continue
				}
			}
			return errChunkExt
		}
		i++
		skipBWS()
		if !token() {
			return errChunkExt
		}
		j := i
		skipBWS()
		if i == len(ext) {
			if i > j {
				return errChunkSpace
			}
			return nil
		}
		if ext[i] != '=' {
			i = j // BWS before the next ";", handled above
			continue
		}
		i++
		skipBWS()
		if i < len(ext) && ext[i] == '"' {
			if !quotedString(ext, &i) {
				return errChunkExt
			}
		} else if !token() {
			return errChunkExt
		}
	}
	return nil
}

// quotedString consumes a quoted-string (RFC 9110 §5.6.4) at s[*i].
func quotedString(s []byte, i *int) bool {
	for j := *i + 1; j < len(s); j++ {
		switch b := s[j]; {
		case b == '"':
			*i = j + 1
			return true
		case b == '\\':
			// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
			if j+1 == len(s) || charClass[s[j+1]]&cValue == 0 {
				return false
			}
			j++
		case charClass[b]&cQdtext == 0:
			return false
		}
	}
	return false
}
