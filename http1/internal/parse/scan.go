package parse

import "bytes"

// Limits bound what a request head may hold. A zero field (or a nil
// *Limits) means its default: MaxTarget 8 KiB (as nginx and Apache),
// MaxHead 64 KiB, MaxFields 100 (as Apache's LimitRequestFields).
type Limits struct {
	MaxTarget int // request-target bytes; longer -> 414
	MaxHead   int // bytes of the whole head: leading empty lines, request line, fields, final empty line; more -> 431
	MaxFields int // header fields; more -> 431
}

const (
	defaultMaxTarget = 8 << 10
	defaultMaxHead   = 64 << 10
	defaultMaxFields = 100

	// requestLineSlack is what a request line may hold besides its target:
	// len("GET ") + len(" HTTP/1.1\r\n") and room for a longer method
	// (the registered ones reach 16 bytes, "BASELINE-CONTROL").
	requestLineSlack = len("GET ") + len(" HTTP/1.1\r\n") + 32
)

func (l *Limits) values() (maxTarget, maxHead, maxFields int) {
	maxTarget, maxHead, maxFields = defaultMaxTarget, defaultMaxHead, defaultMaxFields
	if l != nil {
		if l.MaxTarget > 0 {
			maxTarget = l.MaxTarget
		}
		if l.MaxHead > 0 {
			maxHead = l.MaxHead
		}
		if l.MaxFields > 0 {
			maxFields = l.MaxFields
		}
	}
	// A request line longer than the whole head can never be accepted, so
	// the bound never needs to exceed MaxHead; capping it keeps the
	// arithmetic below from overflowing for huge limits.
	maxTarget = min(maxTarget, maxHead)
	return maxTarget, maxHead, maxFields
}

// requestLineMax is the longest request line (line end included) a head may
// have: past it, ScanHead answers 414 without waiting for the line end, and
// Parse agrees, so that the outcome never depends on how the bytes were
// split into reads.
func requestLineMax(maxTarget int) int { return maxTarget + requestLineSlack }

// ScanHead looks for the end of a request head at the start of buf.
//
// from is the value ScanHead returned as scanned on the previous call for
// the same head (0 the first time): buf is the same bytes grown by new
// input, so only bytes from there on are examined again. ScanHead keeps no
// other state, so the resume point must say where it stands: scanned is
// always the start of a line, or a position inside a header field line.
// While the request line is incomplete, scanned stays at its start and
// each call re-examines it (with bytes.IndexByte, at most MaxTarget+47
// bytes); from the first field line on, a call costs O(new bytes).
//
// It returns end > 0, the length of the head including its final empty
// line, once buf holds a whole head; end == 0 when it does not yet (then
// scanned is the resume point). err != nil (an *Error) as soon as the bytes
// prove the head can never be accepted: the request line (the first
// non-empty line) reaching MaxTarget + len("GET ") + len(" HTTP/1.1\r\n")
// + a method allowance of 32 without a line end -> 414; the head reaching
// MaxHead without its end -> 431; a bare CR (not followed by LF) anywhere
// -> 400; a NUL byte -> 400. Errors are reported in the order of the bytes
// that prove them, so the outcome does not depend on how the head was split
// into reads.
//
// Leading empty lines ("\r\n" or "\n") before the request line are allowed
// (RFC 9112 §2.2 says a server SHOULD ignore at least one); they count
// towards MaxHead. Lines may end in CRLF or bare LF (RFC 9112 §2.2 MAY;
// net/http's textproto accepts LF too).
func ScanHead(buf []byte, from int, lim *Limits) (end, scanned int, err error) {
	maxTarget, maxHead, _ := lim.values()
	limit := min(len(buf), maxHead)
	// wait is the answer when the bytes up to limit hold no verdict: more
	// input may complete the head, unless buf already reaches MaxHead.
	wait := func(at int) (int, int, error) {
		if limit == maxHead {
			return 0, 0, errTooLargeHead
		}
		return 0, at, nil
	}

	p := from
	if p < 0 || p > limit {
		p = 0
	}
	inFields, midLine := false, false
	if p > 0 {
		switch buf[p-1] {
		case '\n':
			// At a line start. The line before is empty only among the
			// leading empty lines: in the field section an empty line would
			// have ended the head.
			inFields = !emptyLineEndsAt(buf, p)
		case '\r':
			// Never returned (a pending CR is resumed at the CR itself).
			p = 0
		default:
			// Inside a line: ScanHead returns such a position only within a
			// field line.
			inFields, midLine = true, true
		}
	}

	if !inFields {
		for {
			if p >= limit {
				return wait(p)
			}
			c := buf[p]
			if c == '\n' {
				p++
				continue
			}
			if c != '\r' {
				break
			}
			if p+1 >= limit {
				return wait(p)
			}
			if buf[p+1] != '\n' {
				return 0, 0, errBareCR
			}
			p += 2
		}
		// The request line starts at p.
		bound := p + requestLineMax(maxTarget)
		seg := buf[p:min(limit, bound)]
		i := bytes.IndexByte(seg, '\n')
		if err := checkLineBytes(seg, i); err != nil {
			return 0, 0, err
		}
		if i < 0 {
			if p+len(seg) == bound {
				return 0, 0, errTooLongTarget
			}
			// Resume at the request line's start: see the doc comment.
			return wait(p)
		}
		p += i + 1
	}

	for {
		if p >= limit {
			return wait(p)
		}
		if !midLine {
			switch buf[p] {
			case '\n':
				return p + 1, p + 1, nil
			case '\r':
				if p+1 >= limit {
					return wait(p)
				}
				if buf[p+1] != '\n' {
					return 0, 0, errBareCR
				}
				return p + 2, p + 2, nil
			}
		}
		midLine = false
		seg := buf[p:limit]
		i := bytes.IndexByte(seg, '\n')
		if err := checkLineBytes(seg, i); err != nil {
			return 0, 0, err
		}
		if i < 0 {
			if seg[len(seg)-1] == '\r' {
				return wait(limit - 1)
			}
			return wait(limit)
		}
		p += i + 1
	}
}

// checkLineBytes refuses a NUL or a bare CR in seg[:lf] (all of seg when lf
// < 0, where a CR as the last byte may still be followed by LF).
// Everything else is left to Parse's grammar.
func checkLineBytes(seg []byte, lf int) error {
	line := seg
	if lf >= 0 {
		line = seg[:lf]
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return errNUL
	}
	if k := bytes.IndexByte(line, '\r'); k >= 0 && k != len(line)-1 {
		return errBareCR
	}
	return nil
}

// emptyLineEndsAt reports whether the line that ends with the LF at
// buf[p-1] is empty ("\n" or "\r\n").
func emptyLineEndsAt(buf []byte, p int) bool {
	if p == 1 || buf[p-2] == '\n' {
		return true
	}
	return buf[p-2] == '\r' && (p == 2 || buf[p-3] == '\n')
}
