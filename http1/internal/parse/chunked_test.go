package parse

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

type decodeResult struct {
	body     string
	trailers string
	done     bool
	status   int
}

func (r decodeResult) String() string {
	return fmt.Sprintf("{body %.40q (%d bytes) trailers %q done %t status %d}", r.body, len(r.body), r.trailers, r.done, r.status)
}

func fmtFields(f []Field) string {
	var s strings.Builder
	for _, x := range f {
		fmt.Fprintf(&s, "%s=%s;", x.Name, x.Value)
	}
	return s.String()
}

// decodeReads decodes body as a server does: each read appends bytes to
// what is still pending, and the documented loop runs on it.
func decodeReads(c *Chunked, body []byte, reads func(have int) int) decodeResult {
	var out []byte
	pending := []byte{}
	for have := 0; have < len(body) && !c.Done(); {
		n := min(len(body), have+reads(have)) - have
		pending = append(pending, body[have:have+n]...)
		have += n
		for !c.Done() {
			data, n, err := c.Decode(pending)
			if err != nil {
				return decodeResult{string(out), "", false, status(err)}
			}
			out = append(out, data...)
			pending = pending[n:]
			if n == 0 {
				break
			}
		}
	}
	return decodeResult{string(out), fmtFields(c.Trailers()), c.Done(), 0}
}

var chunkedTests = []struct {
	name string
	body string
	c    Chunked
	want decodeResult
}{
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"hello", "", true, 0}},
	{"several chunks, upper-case hex", "3\r\nabc\r\nA\r\n0123456789\r\n1a\r\n" + strings.Repeat("z", 26) + "\r\n0\r\n\r\n", Chunked{},
		decodeResult{"abc0123456789" + strings.Repeat("z", 26), "", true, 0}},
	{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", Chunked{}, decodeResult{"hello", "", true, 0}},
	{"16 digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"hello", "", true, 0}},
	{"extensions", "5;a\r\nhello\r\n5;a=b;c=\"d;e\\\"f\" ; g = h\r\nworld\r\n0;end\r\n\r\n", Chunked{}, decodeResult{"helloworld", "", true, 0}},
	{"trailers", "1\r\nx\r\n0\r\nX-Sum: 1 2 \r\nexpires:\tnever\r\n\r\n", Chunked{}, decodeResult{"x", "X-Sum=1 2;expires=never;", true, 0}},
	{"framing names as trailers", "0\r\nContent-Length: 9\r\n\r\n", Chunked{}, decodeResult{"", "Content-Length=9;", true, 0}},
	{"data after the end is left", "0\r\n\r\nGET / HTTP/1.1\r\n", Chunked{}, decodeResult{"", "", true, 0}},

	{"empty size (golang/go#64517)", "\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"above 2^63-1 (deliberate)", "8000000000000000\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"sign", "+5\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"0x", "0x5\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"leading space", " 5\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"space inside", "5 0\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"space before ; (fasthttp #2193)", "5 ;a\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"tab before ;", "5\t;a\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailing space (deliberate)", "5 \r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailing space after an extension (deliberate)", "5;a \r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"bare LF after the size (CVE-2025-22871)", "5\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"bare LF in an extension", "5;a\nb\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"bare LF after the data (CVE-2025-22871)", "5\r\nhello\n0\r\n\r\n", Chunked{}, decodeResult{"hello", "", false, 400}},
	{"no CRLF after the data", "5\r\nhelloXY0\r\n\r\n", Chunked{}, decodeResult{"hello", "", false, 400}},
	{"empty extension (deliberate)", "5;\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"NUL in an extension (deliberate)", "5;a\x00\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"extension without a name (deliberate)", "5;=b\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"unterminated quoted extension (deliberate)", "5;a=\"b\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"quoted-pair with a CTL (deliberate)", "5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"CTL in a quoted value (deliberate)", "5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"backslash ending the line (deliberate)", "5;a=\"\\\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"quoted value with obs-text and a pair", "5;a=\"\xe9 \\\" \\\xe9\"\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"hello", "", true, 0}},
	{"space inside an extension value (deliberate)", "5;a=b c\r\nhello\r\n0\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"extension too long", "5;" + strings.Repeat("a", 11) + "\r\nhello\r\n0\r\n\r\n", Chunked{MaxExt: 11}, decodeResult{"", "", false, 400}},
	{"extension at MaxExt", "5;" + strings.Repeat("a", 10) + "\r\nhello\r\n0\r\n\r\n", Chunked{MaxExt: 11}, decodeResult{"hello", "", true, 0}},
	{"line too long", "5;a=" + strings.Repeat("b", 5000), Chunked{MaxExt: 1 << 20}, decodeResult{"", "", false, 400}},
	{"line at 4 KiB", "5;a=" + strings.Repeat("b", 4096-len("5;a=\r\n")) + "\r\nhello\r\n0\r\n\r\n", Chunked{MaxExt: 1 << 20}, decodeResult{"hello", "", true, 0}},
	{"too much framing", overhead, Chunked{}, decodeResult{strings.Repeat("x", overheadData), "", false, 400}},

	{"trailer without a colon", "0\r\nX\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailer with a bad value", "0\r\nX: a\x01b\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailer starting with a space", "0\r\n X: a\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"folded trailer (deliberate)", "0\r\nX: a\r\n b\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailer name with a space (deliberate)", "0\r\nX Y: a\r\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailer with bare LF (golang/go#81143)", "0\r\nX: a\n\r\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"bare LF ending the trailer (golang/go#81143)", "0\r\nX: a\r\n\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"bare LF as the only trailer line", "0\r\n\n", Chunked{}, decodeResult{"", "", false, 400}},
	{"trailer section at MaxTrailer", "0\r\nX: 12\r\n\r\n", Chunked{MaxTrailer: 9}, decodeResult{"", "X=12;", true, 0}},
	{"trailer section over MaxTrailer", "0\r\nX: 123\r\n\r\n", Chunked{MaxTrailer: 9}, decodeResult{"", "", false, 431}},
	{"trailer line that cannot fit", "0\r\nX: " + strings.Repeat("v", 20), Chunked{MaxTrailer: 9}, decodeResult{"", "", false, 431}},
	{"too many trailers", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", Chunked{MaxTrailers: 2}, decodeResult{"", "", false, 431}},
}

// overhead sends one byte per chunk with long extensions: net/http's
// chunked reader gives up after overheadData bytes, and so must we.
var (
	overhead     = strings.Repeat("1;"+strings.Repeat("e", 100)+"\r\nx\r\n", 200)
	overheadData = func() int {
		n, err := io.Copy(io.Discard, httputil.NewChunkedReader(strings.NewReader(overhead)))
		if err == nil || !strings.Contains(err.Error(), "too much non-data") {
			panic(err)
		}
		return int(n)
	}()
)

func TestChunked(t *testing.T) {
	for _, tt := range chunkedTests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if got := decodeReads(&c, []byte(tt.body), func(int) int { return len(tt.body) }); got != tt.want {
				t.Errorf("%.80q: %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

// TestChunkedSplit decodes every body byte by byte and split at every
// offset, and requires what it gets whole: the same data, trailers, end
// and error status.
func TestChunkedSplit(t *testing.T) {
	bodies := []struct {
		body string
		c    Chunked
	}{}
	for _, tt := range chunkedTests {
		bodies = append(bodies, struct {
			body string
			c    Chunked
		}{tt.body, tt.c})
	}
	for _, s := range bodyTests {
		if i := strings.Index(s, "\r\n\r\n"); i >= 0 && strings.Contains(s[:i], "chunked") {
			bodies = append(bodies, struct {
				body string
				c    Chunked
			}{s[i+4:], Chunked{}})
		}
	}
	for _, bt := range bodies {
		body := []byte(bt.body)
		c := bt.c
		want := decodeReads(&c, body, func(int) int { return len(body) })
		c = bt.c
		if got := decodeReads(&c, body, func(int) int { return 1 }); got != want {
			t.Errorf("%.80q byte by byte: %v, whole %v", body, got, want)
		}
		step := 1
		if len(body) > 2048 {
			step = 97 // long bodies: enough offsets, in reasonable time
		}
		for k := 1; k < len(body); k += step {
			c = bt.c
			got := decodeReads(&c, body, func(have int) int {
				if have == 0 {
					return k
				}
				return len(body)
			})
			if got != want {
				t.Errorf("%.80q split at %d: %v, whole %v", body, k, got, want)
			}
		}
	}
}

func TestChunkedReset(t *testing.T) {
	c := Chunked{MaxTrailers: 1}
	body, trailers, err := decodeAll(&c, []byte("2\r\nab\r\n0\r\nX: y\r\n\r\n"))
	if err != nil || string(body) != "ab" || fmtFields(trailers) != "X=y;" || !c.Done() {
		t.Fatalf("first body: %q %v %v %t", body, trailers, err, c.Done())
	}
	// Trailers are copies: they outlive the bytes they came from.
	in := []byte("0\r\nZ: 1\r\n\r\n")
	c.Reset()
	if c.MaxTrailers != 1 || c.Done() || len(c.Trailers()) != 0 {
		t.Fatalf("Reset kept state: %+v", c)
	}
	if _, _, err := decodeAll(&c, in); err != nil {
		t.Fatal(err)
	}
	copy(in, bytes.Repeat([]byte("#"), len(in)))
	if got := fmtFields(c.Trailers()); got != "Z=1;" {
		t.Fatalf("trailers after the input changed: %s", got)
	}
	// An error sticks.
	c.Reset()
	if _, _, err := c.Decode([]byte("x\r\n")); err == nil {
		t.Fatal("no error")
	}
	if _, n, err := c.Decode([]byte("0\r\n\r\n")); err == nil || n != 0 {
		t.Fatalf("after an error: %d, %v", n, err)
	}
	// After the end, nothing more is consumed.
	c.Reset()
	decodeAll(&c, []byte("0\r\n\r\n"))
	if data, n, err := c.Decode([]byte("5\r\nhello\r\n")); data != nil || n != 0 || err != nil {
		t.Fatalf("after the end: %q %d %v", data, n, err)
	}
}

// TestChunkedDataEarly: a chunk's data comes out as soon as any of it is
// there, and a whole chunk with its CRLF is consumed in one call.
func TestChunkedDataEarly(t *testing.T) {
	var c Chunked
	data, n, err := c.Decode([]byte("c\r\nhel"))
	if err != nil || string(data) != "hel" || n != 6 {
		t.Fatalf("partial chunk: %q %d %v", data, n, err)
	}
	data, n, err = c.Decode([]byte("lo, wor"))
	if err != nil || string(data) != "lo, wor" || n != 7 {
		t.Fatalf("more of the chunk: %q %d %v", data, n, err)
	}
	data, n, err = c.Decode([]byte("ld\r\n5"))
	if err != nil || string(data) != "ld" || n != 4 {
		t.Fatalf("end of the chunk and its CRLF: %q %d %v", data, n, err)
	}
	data, n, err = c.Decode([]byte("5"))
	if err != nil || data != nil || n != 0 {
		t.Fatalf("partial size line: %q %d %v", data, n, err)
	}
}
