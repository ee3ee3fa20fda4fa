package codec_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/simple-server/simpleserver/codec"
)

// How a server uses any Codec: bytes arrive in pieces cut wherever the
// kernel chose; it decodes every complete frame at the start of what it
// has buffered, keeps the rest, and decodes again when more arrives.
func ExampleCodec() {
	var c codec.Codec = codec.Line{}
	var buf []byte
	for _, read := range []string{"first li", "ne\nsecond line\nthi", "rd line\n"} {
		buf = append(buf, read...)
		for {
			msg, n, err := c.Decode(buf)
			if err != nil {
				fmt.Println("close the connection:", err)
				return
			}
			if n == 0 {
				break // an incomplete frame: wait for more
			}
			fmt.Printf("%q\n", msg)
			buf = buf[n:]
		}
	}
	fmt.Printf("left over: %d bytes\n", len(buf))
	// Output:
	// "first line"
	// "second line"
	// "third line"
	// left over: 0 bytes
}

// The zero ByteOrder is network byte order (big-endian). Decode waits for
// the whole frame, and refuses one above MaxFrame from its header alone.
func ExampleLengthPrefixed() {
	c := codec.LengthPrefixed{Width: 2, MaxFrame: 100}

	frame, _ := c.Append(nil, []byte("hello"))
	fmt.Printf("% x\n", frame)

	msg, n, err := c.Decode(frame[:4]) // the header and 2 of 5 bytes
	fmt.Printf("%q %d %v\n", msg, n, err)
	msg, n, err = c.Decode(frame)
	fmt.Printf("%q %d %v\n", msg, n, err)

	_, _, err = c.Decode([]byte{0x01, 0x00}) // declares 256 bytes
	fmt.Println(err, errors.Is(err, codec.ErrFrameTooLarge))
	// Output:
	// 00 05 68 65 6c 6c 6f
	// "" 0 <nil>
	// "hello" 7 <nil>
	// codec: frame too large: 256 bytes, limit 100 true
}

// A little-endian protocol says so: this is the seed protocol's request
// codec (package protocol/hello), where an empty frame asks the server to
// close the connection.
func ExampleLengthPrefixed_littleEndian() {
	c := codec.LengthPrefixed{Width: 4, ByteOrder: binary.LittleEndian, MaxFrame: 1 << 20, ZeroLengthCloses: true}

	stream, _ := c.Append(nil, []byte("hi"))
	stream = c.AppendClose(stream)
	fmt.Printf("% x\n", stream)

	for len(stream) > 0 {
		msg, n, err := c.Decode(stream)
		if errors.Is(err, codec.ErrCloseRequest) {
			fmt.Println("close requested")
			break
		}
		fmt.Printf("%q\n", msg)
		stream = stream[n:]
	}
	// Output:
	// 02 00 00 00 68 69 00 00 00 00
	// "hi"
	// close requested
}

// Line reads text lines ended by "\n" or "\r\n"; msg never includes the
// line ending.
func ExampleLine() {
	c := codec.Line{MaxLength: 1 << 10}

	stream := []byte("HELO example.org\r\nQUIT\n")
	for {
		msg, n, _ := c.Decode(stream)
		if n == 0 {
			break
		}
		fmt.Printf("%q\n", msg)
		stream = stream[n:]
	}

	out, _ := c.Append(nil, []byte("250 OK"))
	fmt.Printf("%q\n", out)
	_, err := c.Append(nil, []byte("two\nlines"))
	fmt.Println(err)
	// Output:
	// "HELO example.org"
	// "QUIT"
	// "250 OK\n"
	// codec: Line message contains '\n'
}

// Delimiter ends every frame with a delimiter of any length.
func ExampleDelimiter() {
	c := codec.Delimiter{Delim: []byte("\r\n\r\n"), MaxLength: 4 << 10}

	stream := []byte("first\r\nblock\r\n\r\nsecond\r\n")
	msg, n, _ := c.Decode(stream)
	fmt.Printf("%q %d\n", msg, n)
	msg, n, _ = c.Decode(stream[n:]) // the second delimiter has not arrived
	fmt.Printf("%q %d\n", msg, n)

	out, _ := c.Append(nil, []byte("reply"))
	fmt.Printf("%q\n", out)
	// Output:
	// "first\r\nblock" 16
	// "" 0
	// "reply\r\n\r\n"
}

// Fixed cuts the stream into records of one size, with no header.
func ExampleFixed() {
	c := codec.Fixed{Size: 4}

	stream := []byte("abcdefghij")
	for {
		msg, n, _ := c.Decode(stream)
		if n == 0 {
			break
		}
		fmt.Printf("%q\n", msg)
		stream = stream[n:]
	}
	fmt.Printf("waiting for %d more bytes\n", c.Size-len(stream))

	_, err := c.Append(nil, []byte("abc"))
	fmt.Println(err)
	// Output:
	// "abcd"
	// "efgh"
	// waiting for 2 more bytes
	// codec: Fixed message is 3 bytes; want exactly 4
}
