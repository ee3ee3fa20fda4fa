// Package hello is the seed protocol: a request is a 4-byte little-endian
// length N followed by N bytes of payload; the reply is the 25 ASCII bytes
// of Prefix followed by the payload, not length-prefixed; a request with
// N = 0 asks the server to close the connection.
//
// Because a client knows each reply's length (ReplyLen), it can pipeline.
package hello

import (
	"encoding/binary"

	"github.com/simple-server/simpleserver/codec"
)

// Prefix starts every reply.
const Prefix = "Hi there, you just said: "

// DefaultMaxFrame is the largest request payload the server accepts unless
// configured otherwise; a larger one is a protocol error that closes the
// connection.
const DefaultMaxFrame = 1 << 20

// HeaderLen is the size of a request's length prefix.
const HeaderLen = 4

// Codec returns the request codec with the given payload limit (0 means
// DefaultMaxFrame). A zero-length request decodes as codec.ErrCloseRequest.
func Codec(maxFrame int) codec.LengthPrefixed {
	if maxFrame == 0 {
		maxFrame = DefaultMaxFrame
	}
	return codec.LengthPrefixed{Width: HeaderLen, ByteOrder: binary.LittleEndian, MaxFrame: maxFrame, ZeroLengthCloses: true}
}

// AppendRequest appends a request carrying payload to dst. It is meant for
// clients; payload must not be empty (an empty request means close).
func AppendRequest(dst, payload []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// ReplyLen is the length of the reply to a request of n payload bytes.
func ReplyLen(n int) int { return len(Prefix) + n }
