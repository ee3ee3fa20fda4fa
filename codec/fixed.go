package codec

import "fmt"

// Fixed frames every message as exactly Size bytes, with no header or
// delimiter: for record-oriented protocols where both ends know the size.
//
//	codec.Fixed{Size: 16}
//
// Size must be positive, so the zero value is not valid. A Fixed holds no
// state and is safe for concurrent use.
type Fixed struct {
	// Size is the length of every frame and message, in bytes.
	Size int
}

var (
	_ Codec     = Fixed{}
	_ Validator = Fixed{}
)

// Validate reports whether f is a usable configuration. Size 0 is rejected
// rather than read as a stream of empty messages, which would let Decode
// return n == 0 with a message and spin a server forever.
func (f Fixed) Validate() error {
	if f.Size <= 0 {
		return fmt.Errorf("codec: Fixed.Size is %d; want a positive size", f.Size)
	}
	return nil
}

// Decode implements Codec. msg's capacity is its length, so appending to it
// can not overwrite the next frame.
func (f Fixed) Decode(buf []byte) (msg []byte, n int, err error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	if len(buf) < f.Size {
		return nil, 0, nil
	}
	return buf[:f.Size:f.Size], f.Size, nil
}

// Append implements Codec. msg must be exactly Size bytes; a longer one is
// ErrFrameTooLarge. Fixed does not pad, since it can not know what padding
// the protocol expects.
func (f Fixed) Append(dst, msg []byte) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return dst, err
	}
	switch {
	case len(msg) > f.Size:
		return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, len(msg), f.Size)
	case len(msg) < f.Size:
		return dst, fmt.Errorf("codec: Fixed message is %d bytes; want exactly %d", len(msg), f.Size)
	}
	return append(dst, msg...), nil
}
