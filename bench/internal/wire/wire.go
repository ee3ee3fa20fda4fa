// Package wire is what the benchmark servers share: their two flags and
// the hello protocol's framing, written once so that every buffer-based
// peer parses requests with the same code.
//
// hello: a request is a 4-byte little-endian length N and N bytes of
// payload; the reply is Prefix followed by the payload; N = 0 asks the
// server to close; N > MaxFrame is a protocol error that closes the
// connection. echo: every byte received is sent back.
package wire

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
)

// Prefix starts every hello reply.
const Prefix = "Hi there, you just said: "

// HeaderLen is the size of a hello request's length prefix.
const HeaderLen = 4

// MaxFrame is the largest hello payload accepted (1 MiB, as simple-server).
const MaxFrame = 1 << 20

// ErrTooLarge reports a frame above MaxFrame.
var ErrTooLarge = errors.New("hello: frame above 1 MiB")

// Config is what every benchmark server is told on its command line.
type Config struct {
	Proto string // "hello" or "echo"
	Addr  string // host:port
}

// Flags parses -proto and -addr (and any extra flags the caller defined
// on flag.CommandLine before calling it), exiting with status 2 on a bad
// value.
func Flags(defaultAddr string) Config {
	var c Config
	flag.StringVar(&c.Proto, "proto", "hello", "protocol: hello or echo")
	flag.StringVar(&c.Addr, "addr", defaultAddr, "listen address host:port")
	flag.Parse()
	if c.Proto != "hello" && c.Proto != "echo" {
		fmt.Fprintf(os.Stderr, "unknown -proto %q (want hello or echo)\n", c.Proto)
		os.Exit(2)
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	return c
}

// AppendReplies parses every complete hello request in in and appends
// their replies to dst. It returns the extended dst, how many bytes of in
// it consumed (the rest is the start of an incomplete frame, to be kept
// until more arrives), and whether the connection must close after dst is
// written: closing is true for a close request (with err nil) and for a
// frame above MaxFrame (with err ErrTooLarge). Requests after a close
// request are not answered.
func AppendReplies(dst, in []byte) (out []byte, consumed int, closing bool, err error) {
	for len(in)-consumed >= HeaderLen {
		n := binary.LittleEndian.Uint32(in[consumed:])
		switch {
		case n == 0:
			return dst, consumed + HeaderLen, true, nil
		case n > MaxFrame:
			return dst, consumed, true, ErrTooLarge
		}
		end := consumed + HeaderLen + int(n)
		if end > len(in) {
			break
		}
		dst = append(dst, Prefix...)
		dst = append(dst, in[consumed+HeaderLen:end]...)
		consumed = end
	}
	return dst, consumed, false, nil
}

// Need returns how many bytes the incomplete frame at the start of in
// needs in total (header included), or 0 if not even the header is there.
func Need(in []byte) int {
	if len(in) < HeaderLen {
		return 0
	}
	return HeaderLen + int(binary.LittleEndian.Uint32(in))
}
