package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDelimiterStream(t *testing.T) {
	crlf := Delimiter{Delim: []byte("\r\n"), MaxLength: 10}
	tests := []struct {
		name   string
		c      Delimiter
		stream string
		want   outcome
	}{
		{
			name:   "CRLF with empty, prefix-of-delimiter and exactly-max payloads",
			c:      crlf,
			stream: "abc\r\n" + "\r\n" + "a\rb\r\r\n" + "\n\r\n" + "0123456789\r\n" + "x\r",
			want: outcome{
				frames: []frame{{"abc", 5}, {"", 2}, {"a\rb\r", 6}, {"\n", 3}, {"0123456789", 12}},
				rest:   2,
			},
		},
		{
			name:   "exactly max, then too large",
			c:      crlf,
			stream: "0123456789\r\n" + "0123456789a\r\n",
			want:   outcome{frames: []frame{{"0123456789", 12}}, err: ErrFrameTooLarge},
		},
		{
			name:   "max then only the first byte of the delimiter",
			c:      crlf,
			stream: "0123456789\r",
			want:   outcome{rest: 11},
		},
		{
			name:   "max then a false start of the delimiter",
			c:      crlf,
			stream: "0123456789\rx\r\n",
			want:   outcome{err: ErrFrameTooLarge},
		},
		{
			name:   "self-overlapping delimiter",
			c:      Delimiter{Delim: []byte("aba"), MaxLength: 8},
			stream: "xxaba" + "aba" + "cababa" + "ab",
			want:   outcome{frames: []frame{{"xx", 5}, {"", 3}, {"c", 4}}, rest: 4},
		},
		{
			name:   "long delimiter split across the limit",
			c:      Delimiter{Delim: []byte("END!"), MaxLength: 3},
			stream: "abcEND!" + "EN" + "ENDEND!" + "END",
			want:   outcome{frames: []frame{{"abc", 7}}, err: ErrFrameTooLarge},
		},
		{
			name:   "long delimiter, payloads up to the limit",
			c:      Delimiter{Delim: []byte("END!"), MaxLength: 3},
			stream: "abcEND!" + "EN!END!" + "END!" + "ENDEND",
			want:   outcome{frames: []frame{{"abc", 7}, {"EN!", 7}, {"", 4}}, rest: 6},
		},
		{
			name:   "single byte delimiter, no delimiter within the limit",
			c:      Delimiter{Delim: []byte{0}, MaxLength: 4},
			stream: "abcd\x00" + "\x00" + "abcde",
			want:   outcome{frames: []frame{{"abcd", 5}, {"", 1}}, err: ErrFrameTooLarge},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testStream(t, tt.c, tt.stream, tt.want)
		})
	}
}

// TestDelimiterLimit decodes single buffers around MaxLength: the error
// must come as soon as the scanned prefix proves it, and not before.
func TestDelimiterLimit(t *testing.T) {
	tests := []struct {
		c       Delimiter
		buf     string
		wantMsg string
		wantN   int
		wantErr bool
	}{
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "\r\n", "", 2, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "a\r\n", "a", 3, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abc\r\n", "abc", 5, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcd\r\n", "abcd", 6, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcd", "", 0, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcd\r", "", 0, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcde", "", 0, true},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcd\rx", "", 0, true},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcde\r\n", "", 0, true},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abc\r\r\n", "abc\r", 6, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 4}, "abcd\r\r\n", "", 0, true},
		{Delimiter{Delim: []byte("\n"), MaxLength: 4}, "abcd", "", 0, false},
		{Delimiter{Delim: []byte("\n"), MaxLength: 4}, "abcd\n", "abcd", 5, false},
		{Delimiter{Delim: []byte("\n"), MaxLength: 4}, "abcde", "", 0, true},
		{Delimiter{Delim: []byte("\n"), MaxLength: 4}, "abcd\r\n", "", 0, true},
		{Delimiter{Delim: []byte("aab"), MaxLength: 2}, "xxaa", "", 0, false},
		{Delimiter{Delim: []byte("aab"), MaxLength: 2}, "xxa", "", 0, false},
		{Delimiter{Delim: []byte("aab"), MaxLength: 2}, "xaaab", "xa", 5, false},
		{Delimiter{Delim: []byte("aab"), MaxLength: 2}, "xxaaab", "", 0, true},
		{Delimiter{Delim: []byte("|")}, strings.Repeat("x", 64<<10) + "|", strings.Repeat("x", 64<<10), 64<<10 + 1, false},
		{Delimiter{Delim: []byte("|")}, strings.Repeat("x", 64<<10+1), "", 0, true},
		{Delimiter{Delim: []byte("aab"), MaxLength: 2}, "xxxaab", "", 0, true},
		{Delimiter{Delim: []byte("\n"), MaxLength: math.MaxInt}, "abc", "", 0, false},
		{Delimiter{Delim: []byte("\n"), MaxLength: math.MaxInt}, "abc\n", "abc", 4, false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: math.MaxInt - 1}, "abc\r", "", 0, false},
	}
	for _, tt := range tests {
		msg, n, err := tt.c.Decode([]byte(tt.buf))
		if tt.wantErr {
			if !errors.Is(err, ErrFrameTooLarge) || n != 0 || msg != nil {
				t.Errorf("%q, max %d: Decode(%q) = %q, %d, %v; want ErrFrameTooLarge", tt.c.Delim, tt.c.MaxLength, tt.buf, msg, n, err)
			}
			continue
		}
		if err != nil || n != tt.wantN || string(msg) != tt.wantMsg {
			t.Errorf("%q, max %d: Decode(%q) = %q, %d, %v; want %q, %d, nil", tt.c.Delim, tt.c.MaxLength, tt.buf, msg, n, err, tt.wantMsg, tt.wantN)
		}
	}
	_, _, err := Delimiter{Delim: []byte("\r\n"), MaxLength: 4}.Decode([]byte("abcde"))
	if want := `codec: frame too large: more than 4 bytes before delimiter "\r\n"`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestDelimiterInvalid(t *testing.T) {
	testInvalid(t, Delimiter{}, "codec: Delimiter.Delim is empty")
	testInvalid(t, Delimiter{Delim: []byte{}, MaxLength: 10}, "codec: Delimiter.Delim is empty")
	testInvalid(t, Delimiter{Delim: []byte("\n"), MaxLength: -1}, "codec: Delimiter.MaxLength is -1; want a positive limit (0 means 65536)")
	testInvalid(t, Delimiter{Delim: []byte("\n"), MaxLength: math.MinInt}, "")
}

func TestDelimiterAppend(t *testing.T) {
	tests := []struct {
		c       Delimiter
		msg     string
		want    string // after "pre"; "" means an error
		tooMany bool   // the error is ErrFrameTooLarge
	}{
		{Delimiter{Delim: []byte("\r\n")}, "hello", "hello\r\n", false},
		{Delimiter{Delim: []byte("\r\n")}, "", "\r\n", false},
		{Delimiter{Delim: []byte("\r\n")}, "a\rb\n\r", "a\rb\n\r\r\n", false},
		{Delimiter{Delim: []byte("\r\n")}, "a\r", "a\r\r\n", false},
		{Delimiter{Delim: []byte("\r\n")}, "a\r\nb", "", false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 3}, "abc", "abc\r\n", false},
		{Delimiter{Delim: []byte("\r\n"), MaxLength: 3}, "abcd", "", true},
		{Delimiter{Delim: []byte("aba")}, "xx", "xxaba", false},
		{Delimiter{Delim: []byte("aba")}, "xab", "", false}, // "xababa" decodes as "x"
		{Delimiter{Delim: []byte("aba")}, "xa", "xaaba", false},
		{Delimiter{Delim: []byte("aab")}, "xa", "xaaab", false},
		{Delimiter{Delim: []byte("abab")}, "xab", "", false}, // "xabab" + "ab": found at 1
		{Delimiter{Delim: []byte("aaa")}, "a", "", false},
		{Delimiter{Delim: []byte("aaa")}, "b", "baaa", false},
	}
	for _, tt := range tests {
		got, err := tt.c.Append([]byte("pre"), []byte(tt.msg))
		if tt.want == "" {
			if err == nil || string(got) != "pre" || errors.Is(err, ErrFrameTooLarge) != tt.tooMany {
				t.Errorf("%q: Append(%q) = %q, %v; want an error (too large: %t)", tt.c.Delim, tt.msg, got, err, tt.tooMany)
			}
			// Framing it anyway must indeed not decode back to msg.
			if !tt.tooMany {
				if m, _, _ := tt.c.Decode([]byte(tt.msg + string(tt.c.Delim))); string(m) == tt.msg {
					t.Errorf("%q: Append refused %q, which would have round-tripped", tt.c.Delim, tt.msg)
				}
			}
			continue
		}
		if err != nil || string(got) != "pre"+tt.want {
			t.Errorf("%q: Append(%q) = %q, %v; want %q", tt.c.Delim, tt.msg, got, err, "pre"+tt.want)
		}
		roundTrip(t, tt.c, []byte(tt.msg), true)
	}
}

func FuzzDelimiter(f *testing.F) {
	f.Add([]byte("abc\r\n\r\n0123456789\r\nx\r"), 3, []byte("\r\n"), 10)
	f.Add([]byte("0123456789\r"), 11, []byte("\r\n"), 10)
	f.Add([]byte("0123456789\rx"), 11, []byte("\r\n"), 10)
	f.Add([]byte("xxabaabacababa"), 5, []byte("aba"), 2)
	f.Add([]byte("aaaaaaaaab"), 4, []byte("aab"), 3)
	f.Add([]byte("abcEN"), 4, []byte("END!"), 3)
	f.Add([]byte("abc\n"), 1, []byte("\n"), math.MaxInt)
	f.Add([]byte("abc\n"), 1, []byte{}, 0)
	f.Add([]byte("abc\n"), 1, []byte("\n"), -1)
	f.Fuzz(func(t *testing.T, data []byte, cut int, delim []byte, maxLength int) {
		c := Delimiter{Delim: delim, MaxLength: maxLength}
		limit, _ := c.config()
		fuzzCodec(t, c, data, cut, limit)
	})
}

func BenchmarkDelimiterDecode(b *testing.B) {
	c := Delimiter{Delim: []byte("\r\n")}
	buf := []byte(strings.Repeat("x", 64) + "\r\n")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		c.Decode(buf)
	}
}

// BenchmarkDelimiterDecodePartial measures the worst case of a stateless
// codec: a server calling again on a full-limit buffer that still has no
// delimiter, which is rescanned from the start.
func BenchmarkDelimiterDecodePartial(b *testing.B) {
	c := Delimiter{Delim: []byte("\r\n")}
	buf := []byte(strings.Repeat("x", 64<<10-1) + "\r")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		c.Decode(buf)
	}
}
