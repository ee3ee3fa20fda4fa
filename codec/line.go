package codec

import (
	"bytes"
	"errors"
	"fmt"
)

// Line frames each message as a line of text ended by '\n'. A '\r' just
// before the '\n' is accepted and removed from msg, so clients that send
// CRLF (telnet, many others) work unchanged; it does not count towards
// MaxLength.
//
// The zero value is usable, with a 64 KiB limit; for short commands:
//
//	codec.Line{MaxLength: 1 << 10}
//
// A Line holds no state and is safe for concurrent use.
type Line struct {
	// MaxLength is the largest msg, in bytes, that Decode returns and Append
	// writes, excluding the line ending. Zero means 64 KiB.
	MaxLength int
}

var (
	_ Codec     = Line{}
	_ Validator = Line{}
)

var (
	newline   = []byte{'\n'}
	crNewline = []byte{'\r', '\n'}

	errNewlineInLine = errors.New("codec: Line message contains '\\n'")
)

// Validate reports whether l is a usable configuration.
func (l Line) Validate() error {
	_, err := maxLength("Line", l.MaxLength)
	return err
}

// Decode implements Codec. n counts the '\n' and any '\r' removed before
// it. Like Delimiter, it reports ErrFrameTooLarge as soon as buf proves the
// line is longer than MaxLength, and msg's capacity is its length.
func (l Line) Decode(buf []byte) (msg []byte, n int, err error) {
	max, err := maxLength("Line", l.MaxLength)
	if err != nil {
		return nil, 0, err
	}
	return splitDelimited(buf, newline, max, true)
}

// Append implements Codec: it appends msg and "\n". A msg that ends in '\r'
// gets "\r\n" instead, because Decode would remove a '\r' followed directly
// by '\n'; that way every msg Decode can return can be sent back unchanged.
// A msg containing '\n' is an error.
func (l Line) Append(dst, msg []byte) ([]byte, error) {
	max, err := maxLength("Line", l.MaxLength)
	if err != nil {
		return dst, err
	}
	if len(msg) > max {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(msg), max)
	}
	if bytes.IndexByte(msg, '\n') >= 0 {
		return dst, errNewlineInLine
	}
	dst = append(dst, msg...)
	if len(msg) > 0 && msg[len(msg)-1] == '\r' {
		return append(dst, crNewline...), nil
	}
	return append(dst, newline...), nil
}
