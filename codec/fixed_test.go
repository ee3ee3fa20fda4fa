package codec

import (
	"errors"
	"math"
	"testing"
)

func TestFixedStream(t *testing.T) {
	tests := []struct {
		name   string
		c      Fixed
		stream string
		want   outcome
	}{
		{
			name:   "size 3 with a partial frame",
			c:      Fixed{Size: 3},
			stream: "abc" + "\x00\x00\x00" + "\r\n\n" + "jk",
			want:   outcome{frames: []frame{{"abc", 3}, {"\x00\x00\x00", 3}, {"\r\n\n", 3}}, rest: 2},
		},
		{
			name:   "size 1",
			c:      Fixed{Size: 1},
			stream: "ab\x00",
			want:   outcome{frames: []frame{{"a", 1}, {"b", 1}, {"\x00", 1}}},
		},
		{
			name:   "larger than the stream",
			c:      Fixed{Size: math.MaxInt},
			stream: "abc",
			want:   outcome{rest: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testStream(t, tt.c, tt.stream, tt.want) })
	}
}

func TestFixedInvalid(t *testing.T) {
	testInvalid(t, Fixed{}, "codec: Fixed.Size is 0; want a positive size")
	testInvalid(t, Fixed{Size: -1}, "codec: Fixed.Size is -1; want a positive size")
	testInvalid(t, Fixed{Size: math.MinInt}, "")
}

func TestFixedAppend(t *testing.T) {
	c := Fixed{Size: 3}
	if got, err := c.Append([]byte("pre"), []byte("abc")); err != nil || string(got) != "preabc" {
		t.Errorf("Append(abc) = %q, %v", got, err)
	}
	roundTrip(t, c, []byte("a\x00c"), true)
	if got, err := c.Append([]byte("pre"), []byte("abcd")); !errors.Is(err, ErrFrameTooLarge) || string(got) != "pre" {
		t.Errorf("Append(abcd) = %q, %v; want ErrFrameTooLarge", got, err)
	}
	for _, short := range []string{"", "ab"} {
		if got, err := c.Append([]byte("pre"), []byte(short)); err == nil || errors.Is(err, ErrFrameTooLarge) || string(got) != "pre" {
			t.Errorf("Append(%q) = %q, %v; want an error", short, got, err)
		}
	}
}

func FuzzFixed(f *testing.F) {
	f.Add([]byte("abcdefgh"), 4, 3)
	f.Add([]byte("a"), 0, 1)
	f.Add([]byte("abc"), 1, math.MaxInt)
	f.Add([]byte("abc"), 1, 0)
	f.Add([]byte("abc"), 1, -3)
	f.Fuzz(func(t *testing.T, data []byte, cut int, size int) {
		fuzzCodec(t, Fixed{Size: size}, data, cut, size)
	})
}

func BenchmarkFixedDecode(b *testing.B) {
	c := Fixed{Size: 64}
	buf := make([]byte, 64)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		c.Decode(buf)
	}
}
