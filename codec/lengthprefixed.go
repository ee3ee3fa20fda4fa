package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// LengthPrefixed frames each message as an unsigned length header of Width
// bytes followed by that many bytes of payload.
//
// The zero value is usable: a 4-byte header in network byte order
// (big-endian, as in Netty's LengthFieldBasedFrameDecoder and most wire
// protocols) and a 1 MiB limit. A little-endian protocol says so; the seed
// protocol's requests are
//
//	codec.LengthPrefixed{Width: 4, ByteOrder: binary.LittleEndian, MaxFrame: 1 << 20, ZeroLengthCloses: true}
//
// A LengthPrefixed is used by value, holds no state and is safe for
// concurrent use. Call Validate once before serving; Decode and Append on an
// invalid configuration return Validate's error rather than panic.
type LengthPrefixed struct {
	// Width is the header size in bytes: 1, 2, 4 or 8. Zero means 4.
	Width int

	// ByteOrder reads and writes the header. Nil means binary.BigEndian
	// (network byte order). It is not consulted for Width 1.
	ByteOrder binary.ByteOrder

	// MaxFrame is the largest payload, in bytes, that Decode accepts and
	// Append writes; the header is not counted. Zero means 1 MiB, or the
	// largest length Width can express when that is less (255 for Width 1,
	// 65535 for Width 2), so that the zero value of every other field is
	// valid. An explicit MaxFrame larger than Width can express is a
	// configuration error rather than silently lowered: it almost certainly
	// means the Width is not the one the protocol uses.
	MaxFrame int

	// ZeroLengthCloses makes a zero-length frame the peer's request to
	// close: Decode returns ErrCloseRequest with n = Width, and Append
	// refuses an empty message (it would be read as a close); send the
	// close with AppendClose.
	ZeroLengthCloses bool
}

var (
	_ Codec     = LengthPrefixed{}
	_ Validator = LengthPrefixed{}
)

// defaultMaxFrame is MaxFrame's default, capped to what Width can express.
const defaultMaxFrame = 1 << 20

var errEmptyIsClose = errors.New("codec: LengthPrefixed with ZeroLengthCloses can not frame an empty message (it would be a close request); use AppendClose")

// config returns the configuration with defaults applied, or the reason it
// is invalid. It allocates only when it fails, so Decode stays
// allocation-free; max is at most math.MaxInt, which is what lets Decode
// convert a length that passed the limit check to int.
func (l LengthPrefixed) config() (width int, order binary.ByteOrder, max int, err error) {
	width = l.Width
	if width == 0 {
		width = 4
	}
	var widthMax uint64
	switch width {
	case 1, 2, 4:
		widthMax = 1<<(8*width) - 1
	case 8:
		widthMax = math.MaxUint64
	default:
		return 0, nil, 0, fmt.Errorf("codec: LengthPrefixed.Width is %d; want 1, 2, 4 or 8 (0 means 4)", l.Width)
	}
	switch {
	case l.MaxFrame < 0:
		return 0, nil, 0, fmt.Errorf("codec: LengthPrefixed.MaxFrame is %d; want a positive limit (0 means %d)", l.MaxFrame, defaultMaxFrame)
	case l.MaxFrame == 0:
		// widthMax < defaultMaxFrame only for widths 1 and 2, so the
		// conversion back to int can not overflow.
		max = int(min(defaultMaxFrame, widthMax))
	case uint64(l.MaxFrame) > widthMax:
		return 0, nil, 0, fmt.Errorf("codec: LengthPrefixed.MaxFrame is %d, more than a %d-byte header can express (%d)", l.MaxFrame, width, widthMax)
	default:
		max = l.MaxFrame
	}
	order = l.ByteOrder
	if order == nil {
		order = binary.BigEndian
	}
	return width, order, max, nil
}

// Validate reports whether l is a usable configuration.
func (l LengthPrefixed) Validate() error {
	_, _, _, err := l.config()
	return err
}

// Decode implements Codec. The header alone decides whether a frame is too
// large, so ErrFrameTooLarge comes as soon as Width bytes have arrived and
// the payload is never waited for. msg's capacity is its length, so
// appending to it can not overwrite the bytes that follow it in buf.
func (l LengthPrefixed) Decode(buf []byte) (msg []byte, n int, err error) {
	width, order, max, err := l.config()
	if err != nil {
		return nil, 0, err
	}
	if len(buf) < width {
		return nil, 0, nil
	}
	// The length stays uint64 until it has passed the limit: a header of
	// 2^64-1 (or 2^32-1 on a 32-bit platform) does not fit in an int.
	size := readLength(order, buf[:width])
	if size > uint64(max) {
		return nil, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, max)
	}
	if size == 0 && l.ZeroLengthCloses {
		return nil, width, ErrCloseRequest
	}
	// size <= max <= math.MaxInt, but width+size may still overflow when
	// max is near math.MaxInt, so compare against what is left instead.
	if len(buf)-width < int(size) {
		return nil, 0, nil
	}
	n = width + int(size)
	return buf[width:n:n], n, nil
}

// Append implements Codec. An empty msg is an error when ZeroLengthCloses is
// set, because the peer would read it as a close request.
func (l LengthPrefixed) Append(dst, msg []byte) ([]byte, error) {
	width, order, max, err := l.config()
	if err != nil {
		return dst, err
	}
	if len(msg) > max {
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(msg), max)
	}
	if len(msg) == 0 && l.ZeroLengthCloses {
		return dst, errEmptyIsClose
	}
	dst = appendLength(dst, order, width, uint64(len(msg)))
	return append(dst, msg...), nil
}

// AppendClose appends the zero-length frame (Width zero bytes), which a peer
// decoding with ZeroLengthCloses reads as ErrCloseRequest. It has no error
// to report, so if l is invalid (see Validate) it returns dst unchanged.
func (l LengthPrefixed) AppendClose(dst []byte) []byte {
	width, _, _, err := l.config()
	if err != nil {
		return dst
	}
	return append(dst, make([]byte, width)...)
}

// readLength reads a header of len(b) bytes, which config has checked is 1,
// 2, 4 or 8.
func readLength(order binary.ByteOrder, b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	default:
		return order.Uint64(b)
	}
}

// appendLength appends v as a header of width bytes. It grows dst first and
// writes the header in place, rather than through a local array, so that a
// ByteOrder implementation outside encoding/binary (which the compiler can
// not see into) does not force an allocation.
func appendLength(dst []byte, order binary.ByteOrder, width int, v uint64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, width)...)
	h := dst[start:]
	switch width {
	case 1:
		h[0] = byte(v)
	case 2:
		order.PutUint16(h, uint16(v))
	case 4:
		order.PutUint32(h, uint32(v))
	default:
		order.PutUint64(h, v)
	}
	return dst
}
