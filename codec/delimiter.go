package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// Delimiter frames each message by following it with Delim; the message
// itself (msg) excludes the delimiter and so can not contain it.
//
// For example, messages separated by CRLF, at most 4 KiB each:
//
//	codec.Delimiter{Delim: []byte("\r\n"), MaxLength: 4 << 10}
//
// (For '\n'-terminated text that tolerates CRLF, use Line.) Delim must be
// non-empty, so the zero value is not valid. A Delimiter holds no state and
// is safe for concurrent use as long as nobody modifies Delim.
type Delimiter struct {
	// Delim ends every frame. It is required and must not be empty.
	Delim []byte

	// MaxLength is the largest payload, in bytes and excluding Delim, that
	// Decode accepts and Append writes. Zero means 64 KiB.
	MaxLength int
}

var (
	_ Codec     = Delimiter{}
	_ Validator = Delimiter{}
)

// defaultMaxLength is MaxLength's default for Delimiter and Line.
const defaultMaxLength = 64 << 10

var errEmptyDelim = errors.New("codec: Delimiter.Delim is empty")

// maxLength returns a MaxLength with its default applied; typ names the
// codec in the error, since Line shares it.
func maxLength(typ string, n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("codec: %s.MaxLength is %d; want a positive limit (0 means %d)", typ, n, defaultMaxLength)
	case n == 0:
		return defaultMaxLength, nil
	}
	return n, nil
}

func (d Delimiter) config() (max int, err error) {
	if len(d.Delim) == 0 {
		return 0, errEmptyDelim
	}
	return maxLength("Delimiter", d.MaxLength)
}

// Validate reports whether d is a usable configuration.
func (d Delimiter) Validate() error {
	_, err := d.config()
	return err
}

// Decode implements Codec. It reports ErrFrameTooLarge as soon as buf proves
// that no delimiter can start within MaxLength bytes, which may be before
// the whole of a too-long frame has arrived. msg's capacity is its length,
// so appending to it can not overwrite the delimiter or what follows.
func (d Delimiter) Decode(buf []byte) (msg []byte, n int, err error) {
	max, err := d.config()
	if err != nil {
		return nil, 0, err
	}
	return splitDelimited(buf, d.Delim, max, false)
}

// Append implements Codec. It refuses a msg that contains Delim, or whose
// end would run into Delim to form an earlier one (with Delim "aba", "xab"
// framed as "xababa" would decode as "x"), since Decode could not return it.
func (d Delimiter) Append(dst, msg []byte) ([]byte, error) {
	max, err := d.config()
	if err != nil {
		return dst, err
	}
	if len(msg) > max {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(msg), max)
	}
	if !delimitable(msg, d.Delim) {
		return dst, fmt.Errorf("codec: message would contain the delimiter %q", d.Delim)
	}
	dst = append(dst, msg...)
	return append(dst, d.Delim...), nil
}

// splitDelimited decodes one frame of a delimited stream for Delimiter and
// Line: the payload is everything before the first occurrence of delim, and
// may be at most limit bytes. With cr set, a single '\r' just before delim
// belongs to the frame but not to msg, and so does not count towards limit.
func splitDelimited(buf, delim []byte, limit int, cr bool) (msg []byte, n int, err error) {
	slack := 0
	if cr {
		slack = 1
	}
	// Only a delimiter starting at or before limit+slack can end a legal
	// frame, so the search need go no further. That bounds the work per call
	// however much a peer sends, and once a delimiter is out of reach the
	// frame is too large. Written as a subtraction because limit+len(delim)
	// may overflow for a huge MaxLength.
	end := len(buf)
	if end-len(delim)-slack > limit {
		end = limit + slack + len(delim)
	}
	if i := bytes.Index(buf[:end], delim); i >= 0 {
		n = i + len(delim)
		if cr && i > 0 && buf[i-1] == '\r' {
			i--
		}
		// Only reachable with cr: a delimiter at limit+1 not preceded by
		// '\r' ends a payload one byte too long.
		if i > limit {
			return nil, 0, tooLong(limit, delim)
		}
		return buf[:i:i], n, nil
	}
	if len(buf) <= limit {
		return nil, 0, nil
	}
	// buf is already longer than a payload may be, yet the frame can still be
	// legal if a delimiter starting at or before limit(+slack) has only partly
	// arrived: "abcd\r" with limit 4 and delim "\r\n" must wait, not fail.
	// Any delimiter wholly inside buf was found above, so the candidates are
	// the last len(delim)-1 positions, plus len(buf) itself when nothing of the
	// delimiter has arrived.
	for p := max(0, len(buf)-len(delim)+1); p <= min(len(buf), limit+slack); p++ {
		if p > limit && buf[p-1] != '\r' {
			continue // past limit, only a stripped '\r' makes the payload fit
		}
		if bytes.HasPrefix(delim, buf[p:]) {
			return nil, 0, nil
		}
	}
	return nil, 0, tooLong(limit, delim)
}

// tooLong reports a frame too large for limit. It states the limit but not
// how many bytes had been scanned, which depends on how the stream happened
// to be split; this way the error is the same however the bytes arrived.
func tooLong(limit int, delim []byte) error {
	return fmt.Errorf("%w: more than %d bytes before delimiter %q", ErrFrameTooLarge, limit, delim)
}

// delimitable reports whether msg followed by delim decodes as msg: delim
// must not occur in msg, nor start inside msg and finish inside the
// appended delim, which is possible when delim overlaps itself ("aba").
func delimitable(msg, delim []byte) bool {
	if bytes.Contains(msg, delim) {
		return false
	}
	for s := 1; s < len(delim) && s <= len(msg); s++ {
		// An occurrence starting s bytes before the end of msg consists of
		// msg's last s bytes and then delim's first len(delim)-s bytes.
		if bytes.Equal(msg[len(msg)-s:], delim[:s]) && bytes.Equal(delim[s:], delim[:len(delim)-s]) {
			return false
		}
	}
	return true
}
