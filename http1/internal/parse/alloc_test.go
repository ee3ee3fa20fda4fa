package parse

import (
	"strings"
	"testing"
)

// curlGET is what curl and wrk send, with the fields browsers add.
const curlGET = "GET /api/v1/items?id=42&sort=desc HTTP/1.1\r\n" +
	"Host: example.com:8080\r\n" +
	"User-Agent: curl/8.5.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=0123456789abcdef; theme=dark\r\n" +
	"\r\n"

// TestZeroAllocs: ScanHead, Parse with a reused Head and Decode of data
// allocate nothing once warm, accepted or refused.
func TestZeroAllocs(t *testing.T) {
	heads := []string{
		curlGET,
		"GET http://[2001:db8::1]:8080/x?y HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http://a.example?q HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT [fe80::1%25en0]:443 HTTP/1.1\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nFoo : x\r\n\r\n",               // refused
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x\r\n\r\n", // refused
	}
	var h Head
	for _, s := range heads {
		buf := []byte(s)
		run := func() {
			end, scanned, err := ScanHead(buf[:len(buf)/2], 0, nil)
			if err != nil || end != 0 {
				t.Fatalf("%q: half: %d %v", s, end, err)
			}
			end, _, err = ScanHead(buf, scanned, nil)
			if err != nil || end != len(buf) {
				t.Fatalf("%q: %d %v", s, end, err)
			}
			h.Parse(buf[:end], nil)
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("%q: %v allocations per ScanHead+Parse", s, n)
		}
	}

	body := []byte("5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n" + strings.Repeat("3\r\nabc\r\n", 10) + "0\r\n\r\n")
	var c Chunked
	decode := func() {
		c.Reset()
		// Small reads, to go through every state: the window grows by
		// 7 bytes when Decode needs more, as a server's buffer does.
		in, w := body, 7
		for !c.Done() {
			_, n, err := c.Decode(in[:min(len(in), w)])
			if err != nil {
				t.Fatal(err)
			}
			in = in[n:]
			if n == 0 {
				w += 7
			} else {
				w = 7
			}
		}
	}
	decode()
	if n := testing.AllocsPerRun(100, decode); n != 0 {
		t.Errorf("%v allocations per chunked body", n)
	}
}

func BenchmarkParseHead(b *testing.B) {
	buf := []byte(curlGET)
	var h Head
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		end, _, err := ScanHead(buf, 0, nil)
		if err != nil || end != len(buf) {
			b.Fatal(end, err)
		}
		if err := h.Parse(buf[:end], nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChunked decodes a 64 KiB body sent in 4 KiB chunks, as a client
// streaming an upload does, read 16 KiB at a time.
func BenchmarkChunked(b *testing.B) {
	var body []byte
	chunk := strings.Repeat("x", 4096)
	for range 16 {
		body = append(body, "1000\r\n"+chunk+"\r\n"...)
	}
	body = append(body, "0\r\n\r\n"...)
	var c Chunked
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c.Reset()
		for in := body; !c.Done(); {
			_, n, err := c.Decode(in[:min(len(in), 16<<10)])
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
		}
	}
}

// BenchmarkChunkedSmall decodes many small chunks, where framing dominates.
func BenchmarkChunkedSmall(b *testing.B) {
	body := []byte(strings.Repeat("10\r\n0123456789abcdef\r\n", 64) + "0\r\n\r\n")
	var c Chunked
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c.Reset()
		for in := body; !c.Done(); {
			_, n, err := c.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
		}
	}
}
