package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestLineStream(t *testing.T) {
	tests := []struct {
		name   string
		c      Line
		stream string
		want   outcome
	}{
		{
			name:   "LF, CRLF, empty lines, stray and doubled CR",
			c:      Line{MaxLength: 5},
			stream: "hello\n" + "hello\r\n" + "\n" + "\r\n" + "a\rb\n" + "x\r\r\n" + "\r\r\n" + "abc",
			want: outcome{
				frames: []frame{{"hello", 6}, {"hello", 7}, {"", 1}, {"", 2}, {"a\rb", 4}, {"x\r", 4}, {"\r", 3}},
				rest:   3,
			},
		},
		{
			name:   "max bytes then a partial CRLF",
			c:      Line{MaxLength: 5},
			stream: "hello\r",
			want:   outcome{rest: 6},
		},
		{
			name:   "max bytes then CR then not LF",
			c:      Line{MaxLength: 5},
			stream: "ok\n" + "hello\rx\n",
			want:   outcome{frames: []frame{{"ok", 3}}, err: ErrFrameTooLarge},
		},
		{
			name:   "one byte over",
			c:      Line{MaxLength: 5},
			stream: "ok\r\n" + "hello!\n",
			want:   outcome{frames: []frame{{"ok", 4}}, err: ErrFrameTooLarge},
		},
		{
			name:   "max with a CR inside",
			c:      Line{MaxLength: 5},
			stream: "hell\r\r\n" + "\r\r\r\r\r\n",
			want:   outcome{frames: []frame{{"hell\r", 7}, {"\r\r\r\r", 6}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testStream(t, tt.c, tt.stream, tt.want) })
	}
}

// TestLineLengths decodes lines of 0, 1, max-1, max and max+1 bytes with
// either ending, complete and with the ending still missing.
func TestLineLengths(t *testing.T) {
	const max = 8
	c := Line{MaxLength: max}
	for _, size := range []int{0, 1, max - 1, max, max + 1} {
		text := strings.Repeat("x", size)
		for _, end := range []string{"\n", "\r\n"} {
			msg, n, err := c.Decode([]byte(text + end))
			if size > max {
				if !errors.Is(err, ErrFrameTooLarge) || n != 0 || msg != nil {
					t.Errorf("%d bytes + %q: Decode = %q, %d, %v; want ErrFrameTooLarge", size, end, msg, n, err)
				}
			} else if err != nil || string(msg) != text || n != size+len(end) {
				t.Errorf("%d bytes + %q: Decode = %q, %d, %v; want %q, %d, nil", size, end, msg, n, err, text, size+len(end))
			}
		}
		// Without its ending, a line is too large as soon as it has more than
		// max bytes, except that byte max+1 may be the CR of a CRLF.
		for _, partial := range []string{text, text + "\r"} {
			msg, n, err := c.Decode([]byte(partial))
			if len(strings.TrimSuffix(partial, "\r")) > max {
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Errorf("Decode(%q) = %q, %d, %v; want ErrFrameTooLarge", partial, msg, n, err)
				}
			} else if err != nil || n != 0 || msg != nil {
				t.Errorf("Decode(%q) = %q, %d, %v; want nil, 0, nil", partial, msg, n, err)
			}
		}
	}

	_, _, err := Line{MaxLength: 4}.Decode([]byte("hello"))
	if want := `codec: frame too large: more than 4 bytes before delimiter "\n"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	if msg, n, err := (Line{}).Decode([]byte(strings.Repeat("x", 64<<10) + "\r\n")); err != nil || len(msg) != 64<<10 || n != 64<<10+2 {
		t.Errorf("default limit: Decode = %d bytes, %d, %v", len(msg), n, err)
	}
	if _, _, err := (Line{}).Decode([]byte(strings.Repeat("x", 64<<10+1))); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("default limit + 1: Decode error %v", err)
	}
	if msg, n, err := (Line{MaxLength: math.MaxInt}).Decode([]byte("abc\r\n")); err != nil || string(msg) != "abc" || n != 5 {
		t.Errorf("MaxLength MaxInt: Decode = %q, %d, %v", msg, n, err)
	}
}

func TestLineInvalid(t *testing.T) {
	testInvalid(t, Line{MaxLength: -1}, "codec: Line.MaxLength is -1; want a positive limit (0 means 65536)")
	testInvalid(t, Line{MaxLength: math.MinInt}, "")
}

func TestLineAppend(t *testing.T) {
	tests := []struct {
		c       Line
		msg     string
		want    string // after "pre"; "" means an error
		wantErr error
	}{
		{Line{}, "hello", "hello\n", nil},
		{Line{}, "", "\n", nil},
		{Line{}, "a\rb", "a\rb\n", nil},
		{Line{}, "a\r", "a\r\r\n", nil}, // a bare "a\r\n" would decode as "a"
		{Line{}, "\r", "\r\r\n", nil},
		{Line{MaxLength: 3}, "abc", "abc\n", nil},
		{Line{MaxLength: 3}, "ab\r", "ab\r\r\n", nil},
		{Line{MaxLength: 3}, "abcd", "", ErrFrameTooLarge},
		{Line{}, "a\nb", "", errNewlineInLine},
		{Line{}, "\n", "", errNewlineInLine},
	}
	for _, tt := range tests {
		got, err := tt.c.Append([]byte("pre"), []byte(tt.msg))
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || string(got) != "pre" {
				t.Errorf("Append(%q) = %q, %v; want dst unchanged, %v", tt.msg, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != "pre"+tt.want {
			t.Errorf("Append(%q) = %q, %v; want %q", tt.msg, got, err, "pre"+tt.want)
		}
		roundTrip(t, tt.c, []byte(tt.msg), true)
	}
}

func FuzzLine(f *testing.F) {
	f.Add([]byte("hello\nhello\r\n\n\r\nx\r\r\n"), 7, 5)
	f.Add([]byte("hello\r"), 5, 5)
	f.Add([]byte("hello\rx"), 6, 5)
	f.Add([]byte("hello!\n"), 6, 5)
	f.Add([]byte("\r\r\r\r\r\r\r\n"), 3, 5)
	f.Add([]byte("abc\r\n"), 4, math.MaxInt)
	f.Add([]byte("abc\r\n"), 4, 0)
	f.Add([]byte("abc\r\n"), 4, -1)
	f.Fuzz(func(t *testing.T, data []byte, cut int, max int) {
		c := Line{MaxLength: max}
		limit, _ := maxLength("Line", c.MaxLength)
		fuzzCodec(t, c, data, cut, limit)
	})
}

func BenchmarkLineDecode(b *testing.B) {
	var c Line
	buf := []byte(strings.Repeat("x", 64) + "\r\n")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		c.Decode(buf)
	}
}
