package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// maxUint32 is a variable so that converting it to int compiles on 32-bit
// platforms, where the tests using it are skipped.
var maxUint32 uint64 = math.MaxUint32

// hello is the seed protocol's request codec.
var hello = LengthPrefixed{Width: 4, ByteOrder: binary.LittleEndian, MaxFrame: 1 << 20, ZeroLengthCloses: true}

func TestLengthPrefixedStream(t *testing.T) {
	tests := []struct {
		name   string
		c      LengthPrefixed
		stream string
		want   outcome
	}{
		{
			name:   "hello then close",
			c:      hello,
			stream: "\x05\x00\x00\x00hello" + "\x01\x00\x00\x00\x00" + "\x04\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00" + "\x03\x00\x00\x00ignored",
			want: outcome{
				frames: []frame{{"hello", 9}, {"\x00", 5}, {"\x00\x00\x00\x00", 8}},
				err:    ErrCloseRequest, errN: 4,
			},
		},
		{
			name:   "zero value (big-endian), empty payloads, trailing partial frame",
			c:      LengthPrefixed{},
			stream: "\x00\x00\x00\x00" + "\x00\x00\x00\x02ab" + "\x00\x00\x00\x00" + "\x00\x00\x00\x05abc",
			want:   outcome{frames: []frame{{"", 4}, {"ab", 6}, {"", 4}}, rest: 7},
		},
		{
			name:   "width 1",
			c:      LengthPrefixed{Width: 1},
			stream: "\x00" + "\x03abc" + "\x00" + "\x02\x00\x01" + "\xff",
			want:   outcome{frames: []frame{{"", 1}, {"abc", 4}, {"", 1}, {"\x00\x01", 3}}, rest: 1},
		},
		{
			name:   "width 2 big-endian",
			c:      LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian},
			stream: "\x00\x02hi" + "\x00\x00" + "\x00\x03\x00\x02x",
			want:   outcome{frames: []frame{{"hi", 4}, {"", 2}, {"\x00\x02x", 5}}},
		},
		{
			name:   "width 8 big-endian",
			c:      LengthPrefixed{Width: 8, ByteOrder: binary.BigEndian, MaxFrame: 16},
			stream: "\x00\x00\x00\x00\x00\x00\x00\x02hi" + "\x00\x00\x00\x00\x00\x00\x00\x10" + "0123456789abcdef",
			want:   outcome{frames: []frame{{"hi", 10}, {"0123456789abcdef", 24}}},
		},
		{
			name:   "too large from the header alone",
			c:      LengthPrefixed{MaxFrame: 10},
			stream: "\x00\x00\x00\x03abc" + "\x00\x00\x00\x0b",
			want:   outcome{frames: []frame{{"abc", 7}}, err: ErrFrameTooLarge},
		},
		{
			name:   "2^64-1 at width 8 little-endian",
			c:      LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian},
			stream: "\x01\x00\x00\x00\x00\x00\x00\x00!" + "\xff\xff\xff\xff\xff\xff\xff\xff",
			want:   outcome{frames: []frame{{"!", 9}}, err: ErrFrameTooLarge},
		},
		{
			name:   "2^32-1 at width 4",
			c:      hello,
			stream: "\x01\x00\x00\x00!" + "\xff\xff\xff\xff" + "more",
			want:   outcome{frames: []frame{{"!", 5}}, err: ErrFrameTooLarge},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testStream(t, tt.c, tt.stream, tt.want) })
	}
}

// TestLengthPrefixedZeroValueIsBigEndian pins the default byte order: a nil
// ByteOrder is network byte order, for decoding and encoding alike, at
// every width.
func TestLengthPrefixedZeroValueIsBigEndian(t *testing.T) {
	tests := []struct {
		c      LengthPrefixed
		header string // declaring 5 bytes
	}{
		{LengthPrefixed{}, "\x00\x00\x00\x05"},
		{LengthPrefixed{Width: 2}, "\x00\x05"},
		{LengthPrefixed{Width: 4}, "\x00\x00\x00\x05"},
		{LengthPrefixed{Width: 8}, "\x00\x00\x00\x00\x00\x00\x00\x05"},
	}
	for _, tt := range tests {
		frame := tt.header + "hello"
		msg, n, err := tt.c.Decode([]byte(frame + "more"))
		if err != nil || n != len(frame) || string(msg) != "hello" {
			t.Errorf("%#v: Decode(%q) = %q, %d, %v; want \"hello\", %d, nil", tt.c, frame+"more", msg, n, err, len(frame))
		}
		got, err := tt.c.Append(nil, []byte("hello"))
		if err != nil || string(got) != frame {
			t.Errorf("%#v: Append(\"hello\") = %q, %v; want %q", tt.c, got, err, frame)
		}
		// The same as asking for binary.BigEndian.
		explicit := tt.c
		explicit.ByteOrder = binary.BigEndian
		if want, _ := explicit.Append(nil, []byte("hello")); string(got) != string(want) {
			t.Errorf("%#v: Append = %q; binary.BigEndian gives %q", tt.c, got, want)
		}
	}
}

// TestLengthPrefixedLengths decodes one frame whose header declares a
// length around the interesting boundaries, with have bytes of payload
// present (usually all of them, none when the header alone must decide).
func TestLengthPrefixedLengths(t *testing.T) {
	type test struct {
		name    string
		c       LengthPrefixed
		header  string
		have    int
		wantN   int // 0: incomplete or error
		wantErr error
		errText string
	}
	tests := []test{
		{"w4 0", LengthPrefixed{}, "\x00\x00\x00\x00", 0, 4, nil, ""},
		{"w4 1", LengthPrefixed{}, "\x00\x00\x00\x01", 1, 5, nil, ""},
		{"w4 max-1", LengthPrefixed{}, "\x00\x0f\xff\xff", 1<<20 - 1, 4 + 1<<20 - 1, nil, ""},
		{"w4 max", LengthPrefixed{}, "\x00\x10\x00\x00", 1 << 20, 4 + 1<<20, nil, ""},
		{"w4 max short by one", LengthPrefixed{}, "\x00\x10\x00\x00", 1<<20 - 1, 0, nil, ""},
		{"w4 max+1", LengthPrefixed{}, "\x00\x10\x00\x01", 0, 0, ErrFrameTooLarge, "codec: frame too large: 1048577 bytes, limit 1048576"},
		{"w4 2^32-1", LengthPrefixed{}, "\xff\xff\xff\xff", 0, 0, ErrFrameTooLarge, "codec: frame too large: 4294967295 bytes, limit 1048576"},
		{"w4 header incomplete", LengthPrefixed{}, "\xff\xff\xff", 0, 0, nil, ""},
		{"w4 big-endian max", LengthPrefixed{ByteOrder: binary.BigEndian, MaxFrame: 5}, "\x00\x00\x00\x05", 5, 9, nil, ""},
		{"w4 big-endian max+1", LengthPrefixed{ByteOrder: binary.BigEndian, MaxFrame: 5}, "\x00\x00\x00\x06", 0, 0, ErrFrameTooLarge, "codec: frame too large: 6 bytes, limit 5"},
		{"w4 little-endian max", LengthPrefixed{ByteOrder: binary.LittleEndian, MaxFrame: 5}, "\x05\x00\x00\x00", 5, 9, nil, ""},
		{"w4 little-endian max+1", LengthPrefixed{ByteOrder: binary.LittleEndian, MaxFrame: 5}, "\x06\x00\x00\x00", 0, 0, ErrFrameTooLarge, "codec: frame too large: 6 bytes, limit 5"},

		{"w1 0", LengthPrefixed{Width: 1, MaxFrame: 10}, "\x00", 0, 1, nil, ""},
		{"w1 1", LengthPrefixed{Width: 1, MaxFrame: 10}, "\x01", 1, 2, nil, ""},
		{"w1 max-1", LengthPrefixed{Width: 1, MaxFrame: 10}, "\x09", 9, 10, nil, ""},
		{"w1 max", LengthPrefixed{Width: 1, MaxFrame: 10}, "\x0a", 10, 11, nil, ""},
		{"w1 max+1", LengthPrefixed{Width: 1, MaxFrame: 10}, "\x0b", 0, 0, ErrFrameTooLarge, "codec: frame too large: 11 bytes, limit 10"},
		{"w1 default max is 255", LengthPrefixed{Width: 1}, "\xff", 255, 256, nil, ""},

		{"w2 0", LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian, MaxFrame: 300}, "\x00\x00", 0, 2, nil, ""},
		{"w2 max-1", LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian, MaxFrame: 300}, "\x01\x2b", 299, 301, nil, ""},
		{"w2 max", LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian, MaxFrame: 300}, "\x01\x2c", 300, 302, nil, ""},
		{"w2 max+1", LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian, MaxFrame: 300}, "\x01\x2d", 0, 0, ErrFrameTooLarge, "codec: frame too large: 301 bytes, limit 300"},
		{"w2 2^16-1", LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian, MaxFrame: 300}, "\xff\xff", 0, 0, ErrFrameTooLarge, "codec: frame too large: 65535 bytes, limit 300"},
		{"w2 default max is 65535", LengthPrefixed{Width: 2}, "\xff\xff", 65535, 65537, nil, ""},

		{"w8 0", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\x00\x00\x00\x00\x00\x00\x00\x00", 0, 8, nil, ""},
		{"w8 1", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\x01\x00\x00\x00\x00\x00\x00\x00", 1, 9, nil, ""},
		{"w8 max-1", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\xe7\x03\x00\x00\x00\x00\x00\x00", 999, 1007, nil, ""},
		{"w8 max", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\xe8\x03\x00\x00\x00\x00\x00\x00", 1000, 1008, nil, ""},
		{"w8 max+1", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\xe9\x03\x00\x00\x00\x00\x00\x00", 0, 0, ErrFrameTooLarge, "codec: frame too large: 1001 bytes, limit 1000"},
		{"w8 2^63", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\x00\x00\x00\x00\x00\x00\x00\x80", 0, 0, ErrFrameTooLarge, "codec: frame too large: 9223372036854775808 bytes, limit 1000"},
		{"w8 2^64-1", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian, MaxFrame: 1000}, "\xff\xff\xff\xff\xff\xff\xff\xff", 0, 0, ErrFrameTooLarge, "codec: frame too large: 18446744073709551615 bytes, limit 1000"},
		{"w8 zero value max", LengthPrefixed{Width: 8, MaxFrame: 1000}, "\x00\x00\x00\x00\x00\x00\x03\xe8", 1000, 1008, nil, ""},
		{"w8 zero value max+1", LengthPrefixed{Width: 8, MaxFrame: 1000}, "\x00\x00\x00\x00\x00\x00\x03\xe9", 0, 0, ErrFrameTooLarge, "codec: frame too large: 1001 bytes, limit 1000"},
		{"w8 zero value 2^63", LengthPrefixed{Width: 8, MaxFrame: 1000}, "\x80\x00\x00\x00\x00\x00\x00\x00", 0, 0, ErrFrameTooLarge, "codec: frame too large: 9223372036854775808 bytes, limit 1000"},
		{"w8 big-endian 2^64-1", LengthPrefixed{Width: 8, ByteOrder: binary.BigEndian}, "\xff\xff\xff\xff\xff\xff\xff\xff", 0, 0, ErrFrameTooLarge, "codec: frame too large: 18446744073709551615 bytes, limit 1048576"},
	}
	// A limit of math.MaxInt: the largest allowed length must not overflow
	// width+length, and one more must not wrap to a negative int.
	huge := LengthPrefixed{Width: 8, MaxFrame: math.MaxInt}
	tests = append(tests,
		test{"w8 max=MaxInt, length MaxInt", huge, string(binary.BigEndian.AppendUint64(nil, math.MaxInt)), 3, 0, nil, ""},
		test{"w8 max=MaxInt, length MaxInt+1", huge, string(binary.BigEndian.AppendUint64(nil, math.MaxInt+1)), 0, 0, ErrFrameTooLarge, ""},
		test{"w8 max=MaxInt, 2^64-1", huge, "\xff\xff\xff\xff\xff\xff\xff\xff", 0, 0, ErrFrameTooLarge, ""},
	)
	if uint64(math.MaxInt) >= maxUint32 {
		// Only a 64-bit int can hold a width-4 limit of 2^32-1.
		max32 := LengthPrefixed{MaxFrame: int(maxUint32)}
		tests = append(tests, test{"w4 max=2^32-1, length 2^32-1", max32, "\xff\xff\xff\xff", 10, 0, nil, ""})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := strings.Repeat("p", tt.have)
			buf := []byte(tt.header + payload)
			msg, n, err := tt.c.Decode(buf)
			checkContract(t, buf, msg, n, err)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Decode: error %v, want %v", err, tt.wantErr)
			}
			if tt.errText != "" && err.Error() != tt.errText {
				t.Fatalf("Decode: error %q, want %q", err, tt.errText)
			}
			if n != tt.wantN {
				t.Fatalf("Decode: n = %d, want %d", n, tt.wantN)
			}
			if n > 0 && string(msg) != payload {
				t.Fatalf("Decode: msg of %d bytes, want %d", len(msg), len(payload))
			}
		})
	}
}

func TestLengthPrefixedZeroLengthClose(t *testing.T) {
	for _, width := range []int{0, 1, 2, 4, 8} {
		w := width
		if w == 0 {
			w = 4
		}
		// Bytes after the close frame must not matter.
		buf := []byte(strings.Repeat("\x00", w) + "\x01x")

		closes := LengthPrefixed{Width: width, ByteOrder: binary.BigEndian, ZeroLengthCloses: true}
		msg, n, err := closes.Decode(buf)
		if msg != nil || n != w || err != ErrCloseRequest {
			t.Errorf("width %d, ZeroLengthCloses: Decode = %q, %d, %v; want nil, %d, ErrCloseRequest", width, msg, n, err, w)
		}
		if got := closes.AppendClose([]byte("pre")); string(got) != "pre"+strings.Repeat("\x00", w) {
			t.Errorf("width %d: AppendClose = %q", width, got)
		}

		plain := LengthPrefixed{Width: width}
		msg, n, err = plain.Decode(buf)
		if msg == nil || len(msg) != 0 || n != w || err != nil {
			t.Errorf("width %d: Decode = %q (nil: %t), %d, %v; want empty msg, %d, nil", width, msg, msg == nil, n, err, w)
		}
	}
}

func TestLengthPrefixedInvalid(t *testing.T) {
	tests := []struct {
		c       LengthPrefixed
		errText string
	}{
		{LengthPrefixed{Width: 3}, "codec: LengthPrefixed.Width is 3; want 1, 2, 4 or 8 (0 means 4)"},
		{LengthPrefixed{Width: -1}, ""},
		{LengthPrefixed{Width: 16}, ""},
		{LengthPrefixed{MaxFrame: -1}, "codec: LengthPrefixed.MaxFrame is -1; want a positive limit (0 means 1048576)"},
		{LengthPrefixed{Width: 1, MaxFrame: 256}, "codec: LengthPrefixed.MaxFrame is 256, more than a 1-byte header can express (255)"},
		{LengthPrefixed{Width: 2, MaxFrame: 1 << 16}, "codec: LengthPrefixed.MaxFrame is 65536, more than a 2-byte header can express (65535)"},
		{LengthPrefixed{Width: 8, MaxFrame: math.MinInt}, ""},
	}
	if uint64(math.MaxInt) > maxUint32 {
		tests = append(tests, struct {
			c       LengthPrefixed
			errText string
		}{LengthPrefixed{MaxFrame: int(maxUint32 + 1)}, "codec: LengthPrefixed.MaxFrame is 4294967296, more than a 4-byte header can express (4294967295)"})
	}
	for _, tt := range tests {
		testInvalid(t, tt.c, tt.errText)
		if got := tt.c.AppendClose([]byte("pre")); string(got) != "pre" {
			t.Errorf("%#v: AppendClose = %q, want dst unchanged", tt.c, got)
		}
	}

	for _, c := range []LengthPrefixed{
		{}, {Width: 1, MaxFrame: 255}, {Width: 2, MaxFrame: 65535}, {Width: 8, MaxFrame: math.MaxInt},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%#v: Validate: %v", c, err)
		}
	}
}

// testInvalid checks that an invalid configuration is reported by
// Validate, and by Decode and Append whatever the input, without a panic.
// errText, if not empty, is Validate's exact message.
func testInvalid(t *testing.T, c Codec, errText string) {
	t.Helper()
	err := c.(Validator).Validate()
	if err == nil {
		t.Errorf("%#v: Validate succeeded", c)
		return
	}
	if errText != "" && err.Error() != errText {
		t.Errorf("%#v: Validate = %q, want %q", c, err, errText)
	}
	for _, in := range []string{"", "\x00", "\n", "\x01\x00\x00\x00x\n", strings.Repeat("\x01", 20)} {
		if msg, n, derr := c.Decode([]byte(in)); derr == nil || n != 0 || msg != nil {
			t.Errorf("%#v: Decode(%q) = %q, %d, %v; want an error", c, in, msg, n, derr)
		}
		if got, aerr := c.Append([]byte("pre"), []byte(in)); aerr == nil || string(got) != "pre" {
			t.Errorf("%#v: Append(%q) = %q, %v; want an error and dst unchanged", c, in, got, aerr)
		}
	}
}

// otherOrder is a ByteOrder from outside encoding/binary, which lacks the
// Append methods.
type otherOrder struct{ binary.ByteOrder }

func TestLengthPrefixedAppend(t *testing.T) {
	tests := []struct {
		name    string
		c       LengthPrefixed
		msg     string
		want    string // after "pre", when wantErr is nil
		wantErr error  // ErrFrameTooLarge, errEmptyIsClose
	}{
		{"hello", hello, "hi", "\x02\x00\x00\x00hi", nil},
		{"zero value", LengthPrefixed{}, "", "\x00\x00\x00\x00", nil},
		{"width 1", LengthPrefixed{Width: 1}, "abc", "\x03abc", nil},
		{"width 1 max", LengthPrefixed{Width: 1}, strings.Repeat("x", 255), "\xff" + strings.Repeat("x", 255), nil},
		{"width 2 big-endian", LengthPrefixed{Width: 2, ByteOrder: binary.BigEndian}, "hi", "\x00\x02hi", nil},
		{"width 2 other order", LengthPrefixed{Width: 2, ByteOrder: otherOrder{binary.BigEndian}}, "hi", "\x00\x02hi", nil},
		{"width 4 big-endian", LengthPrefixed{ByteOrder: binary.BigEndian}, "hi", "\x00\x00\x00\x02hi", nil},
		{"zero value hi", LengthPrefixed{}, "hi", "\x00\x00\x00\x02hi", nil},
		{"width 2", LengthPrefixed{Width: 2}, "hi", "\x00\x02hi", nil},
		{"width 2 little-endian", LengthPrefixed{Width: 2, ByteOrder: binary.LittleEndian}, "hi", "\x02\x00hi", nil},
		{"width 8", LengthPrefixed{Width: 8}, "abc", "\x00\x00\x00\x00\x00\x00\x00\x03abc", nil},
		{"width 8 little-endian", LengthPrefixed{Width: 8, ByteOrder: binary.LittleEndian}, "abc", "\x03\x00\x00\x00\x00\x00\x00\x00abc", nil},
		{"width 8 big-endian", LengthPrefixed{Width: 8, ByteOrder: binary.BigEndian}, "abc", "\x00\x00\x00\x00\x00\x00\x00\x03abc", nil},
		{"at limit", LengthPrefixed{Width: 1, MaxFrame: 3}, "abc", "\x03abc", nil},
		{"over limit", LengthPrefixed{Width: 1, MaxFrame: 3}, "abcd", "", ErrFrameTooLarge},
		{"over width", LengthPrefixed{Width: 1}, strings.Repeat("x", 256), "", ErrFrameTooLarge},
		{"empty is close", hello, "", "", errEmptyIsClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Append([]byte("pre"), []byte(tt.msg))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || string(got) != "pre" {
					t.Fatalf("Append = %q, %v; want dst unchanged, %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != "pre"+tt.want {
				t.Fatalf("Append = %q, %v; want %q", got, err, "pre"+tt.want)
			}
			roundTrip(t, tt.c, []byte(tt.msg), true)
		})
	}
	if _, err := (LengthPrefixed{Width: 1, MaxFrame: 3}).Append(nil, []byte("abcd")); err.Error() != "codec: frame too large: 4 bytes, limit 3" {
		t.Errorf("Append over limit: %q", err)
	}
}

func FuzzLengthPrefixed(f *testing.F) {
	f.Add([]byte("\x05\x00\x00\x00hello\x00\x00\x00\x00"), 3, 4, 1<<20, false, true)
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00"), 1, 0, 0, false, false)
	f.Add([]byte("\xff\xff\xff\xff"), 2, 4, 0, false, false)
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), 7, 8, math.MaxInt, true, false)
	f.Add([]byte("\x7f\xff\xff\xff\xff\xff\xff\xffabc"), 9, 8, math.MaxInt, true, false)
	f.Add([]byte("\x00\x0aabcdefghij\x00\x0b"), 12, 2, 10, true, false)
	f.Add([]byte("\x03abc\x00\x01"), 0, 1, 3, false, true)
	f.Add([]byte("\x01\x00x"), 1, 3, 0, false, false)
	f.Add([]byte("\x01\x00x"), 1, 2, -1, false, false)
	f.Add([]byte("\x01x"), 1, 1, 256, false, false)
	f.Add([]byte{}, 0, 0, 0, false, false)
	f.Fuzz(func(t *testing.T, data []byte, cut, width, maxFrame int, bigEndian, closes bool) {
		// bigEndian leaves ByteOrder nil, the zero value's big-endian.
		c := LengthPrefixed{Width: width, MaxFrame: maxFrame, ZeroLengthCloses: closes}
		if !bigEndian {
			c.ByteOrder = binary.LittleEndian
		}
		_, _, limit, _ := c.config()
		fuzzCodec(t, c, data, cut, limit)
	})
}

func BenchmarkLengthPrefixedDecode(b *testing.B) {
	buf, _ := hello.Append(nil, make([]byte, 64))
	// Through the interface, as a server calls it.
	var c Codec = hello
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		c.Decode(buf)
	}
}

func BenchmarkLengthPrefixedAppend(b *testing.B) {
	msg := make([]byte, 64)
	dst := make([]byte, 0, 128)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		hello.Append(dst, msg)
	}
}
