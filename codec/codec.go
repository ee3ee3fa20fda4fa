// Package codec splits an inbound byte stream into messages and frames
// outbound messages.
//
// Every codec here is a pure function of the bytes it is given: it keeps no
// state between calls, never retains the slices it is passed, and never
// allocates while decoding. A server therefore may call Decode again from
// the start of whatever bytes are buffered, cut at any point the kernel
// chose, and get the same frames as if the stream had arrived whole.
package codec

import "errors"

// Codec splits a byte stream into messages.
//
// Decode looks for one complete frame at the start of buf. It returns the
// frame's payload msg (a subslice of buf, valid only as long as buf is) and n,
// the number of bytes of buf the whole frame occupies (header, payload and
// delimiter). n == 0 with a nil error means buf does not hold a complete
// frame yet: the caller keeps the bytes and calls again when more arrive.
// A non-nil error means the stream can not be decoded any further (for
// example ErrFrameTooLarge); the caller should close the connection. The
// error ErrCloseRequest is the peer's orderly request to close.
//
// Append appends msg, framed, to dst and returns the extended slice. It
// returns an error, and dst unchanged, when msg can not be framed (too large
// for the codec's limit or header width).
//
// Decode and Append must be safe to call from several goroutines at once.
type Codec interface {
	Decode(buf []byte) (msg []byte, n int, err error)
	Append(dst, msg []byte) ([]byte, error)
}

// Validator is implemented by codecs whose configuration can be invalid. A
// server calls Validate once, before it serves, so that a bad configuration
// is a clear error at start rather than a failure on the first message.
type Validator interface {
	Validate() error
}

// ErrFrameTooLarge is returned (wrapped, with the sizes) when a frame's
// declared or scanned length exceeds the codec's maximum. Decode reports it
// as soon as the header or the scanned prefix proves it, without waiting for
// (or buffering) the rest of the frame.
var ErrFrameTooLarge = errors.New("codec: frame too large")

// ErrCloseRequest is returned by codecs configured so that a particular
// frame (the seed protocol's zero-length request) asks the server to close
// the connection. n still reports the bytes that frame occupies.
var ErrCloseRequest = errors.New("codec: peer requested close")
