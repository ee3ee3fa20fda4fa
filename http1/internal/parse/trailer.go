package parse

// trailerLine consumes one line of the trailer section (RFC 9112 §7.1.2:
// trailer-section = *( field-line CRLF ), then CRLF) and returns its
// length, or 0 if in holds only part of it. The final empty line sets
// stDone.
//
// A trailer field follows the header field rules, and three more:
//   - Every line must end in CRLF. net/http reads the trailer with
//     textproto, which also takes a bare LF, after making sure a CRLFCRLF
//     lies somewhere ahead (golang/go#81143: that let a trailer end where
//     another parser sees it continue).
//   - A name must be a token: net/http does not check trailer names the
//     way its server checks header names, so "Foo Bar" gets through.
//   - Obsolete line folding is refused, as in the header section.
//
// The size bound covers the section's lines and its final CRLF; as soon as
// the section cannot fit, 431.
func (c *Chunked) trailerLine(in []byte) (int, error) {
	maxSize, maxFields := c.MaxTrailer, c.MaxTrailers
	if maxSize <= 0 {
		maxSize = defaultMaxTrailer
	}
	if maxFields <= 0 {
		maxFields = defaultMaxTrailers
	}
	if len(in) == 0 || len(in) == 1 && in[0] == '\r' {
		return 0, nil
	}
	if in[0] == '\r' && in[1] == '\n' {
		if c.tsize+2 > maxSize {
			return 0, errTrailerLarge
		}
		c.tsize += 2
		c.state = stDone
		return 2, nil
	}
	line, ok := c.pendingLine(in)
	if !ok {
		// The line still needs its LF, and the section its final CRLF.
		if c.tsize+len(in)+1+2 > maxSize {
			return 0, errTrailerLarge
		}
		return 0, nil
	}
	consumed := len(line) + 1
	if c.tsize+consumed+2 > maxSize {
		return 0, errTrailerLarge
	}
	bareLF := len(line) == 0 || line[len(line)-1] != '\r'
	if !bareLF {
		line = line[:len(line)-1]
	}
	if len(line) > 0 && isOWS(line[0]) {
		if len(c.tspans) == 0 {
			return 0, errTrailerLine // textproto refuses it on a first line
		}
		return 0, errObsFold
	}
	if len(line) == 0 {
		return 0, errTrailerLF // "\n" as the final line
	}
	name, value, spaceInName, err := splitField(line)
	if err != nil {
		return 0, errTrailerLine
	}
	if spaceInName {
		return 0, errTrailerName
	}
	if bareLF {
		return 0, errTrailerLF
	}
	if len(c.tspans) == maxFields {
		return 0, errTrailerMany
	}
	s := trailerSpan{name: len(c.tbuf)}
	c.tbuf = append(c.tbuf, name...)
	s.value = len(c.tbuf)
	c.tbuf = append(c.tbuf, value...)
	s.end = len(c.tbuf)
	c.tspans = append(c.tspans, s)
	c.tsize += consumed
	return consumed, nil
}
