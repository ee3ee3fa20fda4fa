package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"unsafe"
)

// frame is one decoded message and the bytes its frame occupied.
type frame struct {
	msg string
	n   int
}

func (f frame) String() string { return fmt.Sprintf("{%q %d}", f.msg, f.n) }

// outcome is everything a server observes while decoding a stream.
type outcome struct {
	frames []frame
	err    error // the error that ended decoding, if any
	errN   int   // n returned with err (the close frame's size for ErrCloseRequest)
	rest   int   // bytes left buffered at the end; 0 after an error
}

// decodeChunks feeds chunks to c the way a server does: it appends each one
// to the bytes not yet consumed and decodes frames until c wants more or
// fails. Every Decode call is checked against the Codec contract.
func decodeChunks(t testing.TB, c Codec, chunks ...[]byte) outcome {
	t.Helper()
	var buf []byte
	var out outcome
	for _, chunk := range chunks {
		buf = append(buf, chunk...)
		for {
			msg, n, err := c.Decode(buf)
			checkContract(t, buf, msg, n, err)
			if err != nil {
				out.err, out.errN = err, n
				return out
			}
			if n == 0 {
				break
			}
			out.frames = append(out.frames, frame{string(msg), n})
			// Compact like a server that reuses one buffer: the bytes
			// after the frame move to the front, under msg.
			buf = buf[:copy(buf, buf[n:])]
		}
	}
	out.rest = len(buf)
	return out
}

// checkContract checks one Decode result against the Codec contract and
// the extra promises of this package's codecs (msg is a subslice of the
// frame with no spare capacity).
func checkContract(t testing.TB, buf, msg []byte, n int, err error) {
	t.Helper()
	switch {
	case n < 0 || n > len(buf):
		t.Fatalf("Decode(%q): n = %d, outside [0, %d]", buf, n, len(buf))
	case err != nil && msg != nil:
		t.Fatalf("Decode(%q): msg %q returned with error %v", buf, msg, err)
	case err != nil && n != 0 && !errors.Is(err, ErrCloseRequest):
		t.Fatalf("Decode(%q): n = %d with error %v", buf, n, err)
	case err == nil && n == 0 && msg != nil:
		t.Fatalf("Decode(%q): msg %q without a frame", buf, msg)
	case err == nil && n > 0 && msg == nil:
		t.Fatalf("Decode(%q): nil msg for a %d-byte frame", buf, n)
	case len(msg) > n:
		t.Fatalf("Decode(%q): msg of %d bytes in a %d-byte frame", buf, len(msg), n)
	case !within(msg, buf[:n]):
		t.Fatalf("Decode(%q): msg %q is not a subslice of the frame", buf, msg)
	case cap(msg) != len(msg):
		t.Fatalf("Decode(%q): cap(msg) = %d, want len(msg) = %d", buf, cap(msg), len(msg))
	}
}

// within reports whether msg's bytes lie inside buf's.
func within(msg, buf []byte) bool {
	if len(msg) == 0 {
		return true
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(msg)))
	return p >= lo && p-lo+uintptr(len(msg)) <= uintptr(len(buf))
}

// diff describes how got differs from want, or returns "". Errors match if
// they are identical strings and, when want.err is a sentinel or wraps one,
// errors.Is agrees.
func diff(got, want outcome) string {
	switch {
	case !slices.Equal(got.frames, want.frames):
		return fmt.Sprintf("frames %v, want %v", got.frames, want.frames)
	case (got.err == nil) != (want.err == nil):
		return fmt.Sprintf("error %v, want %v", got.err, want.err)
	case got.err != nil && !errors.Is(got.err, want.err) && got.err.Error() != want.err.Error():
		return fmt.Sprintf("error %v, want %v", got.err, want.err)
	case got.errN != want.errN:
		return fmt.Sprintf("n = %d with error %v, want %d", got.errN, got.err, want.errN)
	case got.rest != want.rest:
		return fmt.Sprintf("%d bytes left over, want %d", got.rest, want.rest)
	}
	return ""
}

// sameAs is diff for two runs over the same stream, which must agree
// exactly, error text included.
func sameAs(got, whole outcome) string {
	if d := diff(got, whole); d != "" {
		return d
	}
	if got.err != nil && got.err.Error() != whole.err.Error() {
		return fmt.Sprintf("error %q, want %q", got.err, whole.err)
	}
	return ""
}

// testStream checks that c decodes stream as want whether it arrives whole,
// cut in two at every offset, or one byte at a time.
func testStream(t *testing.T, c Codec, stream string, want outcome) {
	t.Helper()
	b := []byte(stream)
	whole := decodeChunks(t, c, b)
	if d := diff(whole, want); d != "" {
		t.Fatalf("whole stream %q: %s", stream, d)
	}
	for k := 0; k <= len(b); k++ {
		got := decodeChunks(t, c, b[:k], b[k:])
		if d := sameAs(got, whole); d != "" {
			t.Fatalf("stream %q split at %d: %s", stream, k, d)
		}
	}
	bytewise := make([][]byte, len(b))
	for i := range b {
		bytewise[i] = b[i : i+1]
	}
	if d := sameAs(decodeChunks(t, c, bytewise...), whole); d != "" {
		t.Fatalf("stream %q one byte at a time: %s", stream, d)
	}
}

// fuzzCodec checks the properties every codec must have on arbitrary input:
// a stream cut at any point decodes exactly as the whole does; nothing
// panics; messages are subslices of the input (checked by decodeChunks) no
// longer than limit; every decoded message and every message Append
// accepts round-trips; an invalid configuration fails cleanly.
func fuzzCodec(t *testing.T, c Codec, data []byte, cut int, limit int) {
	if err := c.(Validator).Validate(); err != nil {
		msg, n, derr := c.Decode(data)
		if derr == nil || n != 0 || msg != nil {
			t.Fatalf("invalid %#v (%v): Decode = %q, %d, %v; want an error", c, err, msg, n, derr)
		}
		dst := []byte("x")
		if got, aerr := c.Append(dst, data); aerr == nil || len(got) != 1 {
			t.Fatalf("invalid %#v (%v): Append = %q, %v; want an error", c, err, got, aerr)
		}
		return
	}

	whole := decodeChunks(t, c, data)
	k := int(uint(cut) % uint(len(data)+1))
	if d := sameAs(decodeChunks(t, c, data[:k], data[k:]), whole); d != "" {
		t.Fatalf("%#v: %q split at %d: %s", c, data, k, d)
	}
	for _, f := range whole.frames {
		if len(f.msg) > limit {
			t.Fatalf("%#v: message of %d bytes, limit %d", c, len(f.msg), limit)
		}
		roundTrip(t, c, []byte(f.msg), true)
	}
	roundTrip(t, c, data, false)
}

// roundTrip checks that Append(msg) either fails, leaving dst alone, or
// produces exactly one frame that decodes as msg. With mustFrame, msg came
// out of Decode and Append must accept it.
func roundTrip(t testing.TB, c Codec, msg []byte, mustFrame bool) {
	t.Helper()
	dst := []byte("prefix")
	enc, err := c.Append(dst, msg)
	if err != nil {
		if mustFrame {
			t.Fatalf("%#v: Append(%q) of a decoded message: %v", c, msg, err)
		}
		if string(enc) != "prefix" {
			t.Fatalf("%#v: failed Append(%q) changed dst to %q", c, msg, enc)
		}
		return
	}
	if string(enc[:len(dst)]) != "prefix" {
		t.Fatalf("%#v: Append(%q) overwrote dst: %q", c, msg, enc)
	}
	frame := enc[len(dst):]
	got, n, err := c.Decode(frame)
	if err != nil || n != len(frame) || string(got) != string(msg) {
		t.Fatalf("%#v: Decode(Append(%q) = %q) = %q, %d, %v; want the message, %d, nil", c, msg, frame, got, n, err, len(frame))
	}
}

// decodeLoop decodes every complete frame at the start of buf; it is the
// body measured by the allocation tests and benchmarks.
func decodeLoop(c Codec, buf []byte) {
	for {
		_, n, err := c.Decode(buf)
		if n == 0 || err != nil {
			return
		}
		buf = buf[n:]
	}
}

// TestDecodeDoesNotAllocate covers the success, close and need-more paths
// of every codec; only errors that end the stream (ErrFrameTooLarge, bad
// configuration) may allocate.
func TestDecodeDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name   string
		c      Codec
		stream string
	}{
		{"LengthPrefixed", LengthPrefixed{Width: 4, MaxFrame: 100, ZeroLengthCloses: true}, "\x00\x00\x00\x02hi\x00\x00\x00\x00"},
		{"LengthPrefixed/little-endian", LengthPrefixed{Width: 4, ByteOrder: binary.LittleEndian, MaxFrame: 100, ZeroLengthCloses: true}, "\x02\x00\x00\x00hi\x00\x00\x00\x00"},
		{"LengthPrefixed/partial", LengthPrefixed{Width: 8}, "\x00\x00\x00\x00\x00\x00\x00\x05hi"},
		{"LengthPrefixed/width1", LengthPrefixed{Width: 1}, "\x02hi\x00\x01!"},
		{"Delimiter", Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "hi\r\n\r\nabcd\r"},
		{"Line", Line{MaxLength: 4}, "hi\nyo\r\nabcd\r"},
		{"Fixed", Fixed{Size: 2}, "hiyo!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte(tt.stream)
			if allocs := testing.AllocsPerRun(100, func() { decodeLoop(tt.c, buf) }); allocs != 0 {
				t.Errorf("Decode allocates %v times per stream", allocs)
			}
		})
	}
}
