package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Unit tests of the response parser, fed the way a connection feeds it:
// the bytes it did not use are offered again with the next read after
// them.

const testDate = "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"

// plainResp is a correct response to GET /plaintext, with extra header
// lines before the end of the header.
func plainResp(extra string) string {
	return "HTTP/1.1 200 OK\r\n" + testDate + "Server: t\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		extra + "Content-Length: 13\r\n\r\nHello, World!"
}

// chunkedResp is a correct chunked response with the given body chunks
// (after the header) for a POST /echo of "Hello, World!".
func chunkedResp(chunks string) string {
	return "HTTP/1.1 200 OK\r\n" + testDate + "Server: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
}

type parseCase struct {
	name  string
	resp  string
	head  bool   // parse as the response to HEAD
	plain bool   // require text/plain
	prime string // a correct response for the parser to parse first, so that its memo holds lines
}

// parseIn runs a fresh parser over pieces, in order, expecting a body
// of "Hello, World!". It returns the parser, the bytes after the response
// (nil if it did not end) and the error, if any.
func parseIn(c parseCase, pieces ...[]byte) (*respParser, []byte, error) {
	p := &respParser{}
	if c.prime != "" {
		p.reset([]byte(httpPlainBody), c.head, c.plain)
		if _, done, err := p.feed([]byte(c.prime)); !done || err != nil || p.problem != "" {
			return p, nil, fmt.Errorf("primer %q: done %v, err %v, problem %q", c.prime, done, err, p.problem)
		}
	}
	p.reset([]byte(httpPlainBody), c.head, c.plain)
	var pending []byte
	for i, piece := range pieces {
		pending = append(pending, piece...)
		n, done, err := p.feed(pending)
		if n < 0 || n > len(pending) {
			return p, nil, errors.New("feed used more bytes than it was given")
		}
		pending = pending[n:]
		if err != nil {
			return p, nil, err
		}
		if done {
			for _, rest := range pieces[i+1:] {
				pending = append(pending, rest...)
			}
			return p, append([]byte{}, pending...), nil
		}
	}
	return p, nil, nil
}

var validCases = []parseCase{
	{name: "content-length", resp: plainResp(""), plain: true},
	{name: "lower-case names, optional whitespace", plain: true,
		resp: "HTTP/1.1 200 OK\r\ndate:Mon, 02 Jan 2006 15:04:05 GMT  \r\nSERVER: \tt\r\ncontent-type: TEXT/PLAIN\r\ncontent-length:13\t\r\nX-Empty:\r\n\r\nHello, World!"},
	{name: "no reason phrase", resp: strings.Replace(plainResp(""), "200 OK", "200 ", 1)},
	{name: "no space after status", resp: strings.Replace(plainResp(""), "200 OK", "200", 1)},
	{name: "repeated equal content-length", resp: plainResp("Content-Length: 13\r\n")},
	{name: "keep-alive", resp: plainResp("Connection: keep-alive\r\n")},
	{name: "chunked", resp: chunkedResp("5\r\nHello\r\n8\r\n, World!\r\n0\r\n\r\n")},
	{name: "chunked, one chunk, upper-case hex", resp: chunkedResp("D\r\nHello, World!\r\n0\r\n\r\n")},
	{name: "chunked, extensions and trailers",
		resp: chunkedResp("1;a=b\r\nH\r\n00c ; name=\"v\"\r\nello, World!\r\n000\r\nX-Checksum: 1\r\nX-Other: two\r\n\r\n")},
	{name: "chunked, single bytes", resp: chunkedResp("1\r\nH\r\n1\r\ne\r\n1\r\nl\r\n1\r\nl\r\n1\r\no\r\n8\r\n, World!\r\n0\r\n\r\n")},
	{name: "chunked transfer-encoding in capitals",
		resp: strings.Replace(chunkedResp("D\r\nHello, World!\r\n0\r\n\r\n"), "chunked", "Chunked", 1)},
	{name: "head", head: true, plain: true, resp: strings.TrimSuffix(plainResp(""), httpPlainBody)},
	{name: "interim 100 Continue first", resp: "HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\n" + plainResp("")},
}

// Every valid response parses with no problem however it is cut, and
// leaves the next response's bytes alone.
func TestParseValid(t *testing.T) {
	next := []byte("HTTP/1.1 200 OK\r\n...the next response")
	var cases []parseCase
	for _, c := range validCases {
		cases = append(cases, c)
		c.name, c.prime = c.name+"/primed", c.resp
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := []byte(c.resp)
			check := func(how string, p *respParser, rest []byte, err error) {
				t.Helper()
				switch {
				case err != nil:
					t.Fatalf("%s: %v", how, err)
				case rest == nil:
					t.Fatalf("%s: response did not end", how)
				case !bytes.Equal(rest, next):
					t.Fatalf("%s: left %q, want the next response %q", how, rest, next)
				case p.problem != "":
					t.Fatalf("%s: problem %q", how, p.problem)
				case p.status != 200 || p.close:
					t.Fatalf("%s: status %d close %v", how, p.status, p.close)
				}
			}
			all := append(append([]byte{}, resp...), next...)
			p, rest, err := parseIn(c, all)
			check("whole", p, rest, err)
			// Cut at every offset of the response (and its first byte after).
			for cut := 0; cut <= len(resp)+1; cut++ {
				p, rest, err := parseIn(c, all[:cut], all[cut:])
				check("cut at "+strconv.Itoa(cut), p, rest, err)
			}
			// Cut at every pair of offsets, for the short ones.
			if len(resp) <= 200 {
				for i := 0; i <= len(resp); i++ {
					for j := i; j <= len(resp); j++ {
						p, rest, err := parseIn(c, all[:i], all[i:j], all[j:])
						check("cut at "+strconv.Itoa(i)+" and "+strconv.Itoa(j), p, rest, err)
					}
				}
			}
			// A byte at a time.
			pieces := make([][]byte, len(all))
			for i := range all {
				pieces[i] = all[i : i+1]
			}
			p, rest, err = parseIn(c, pieces...)
			check("bytewise", p, rest, err)
		})
	}
}

func TestParseConnectionClose(t *testing.T) {
	for _, v := range []string{"close", "Close", "keep-alive, close", " CLOSE ,x"} {
		p, rest, err := parseIn(parseCase{}, []byte(plainResp("Connection: "+v+"\r\n")))
		if err != nil || rest == nil || !p.close || p.problem != "" {
			t.Errorf("Connection: %s: close %v, problem %q, err %v", v, p.close, p.problem, err)
		}
	}
	p, _, _ := parseIn(parseCase{}, []byte(plainResp("Connection: closed, keep-alive\r\n")))
	if p.close {
		t.Errorf("Connection: closed taken for close")
	}
}

// A response that differs from the expected one but can be followed is a
// mismatch, described, and the parser ends where the response ends.
func TestParseMismatch(t *testing.T) {
	cases := []struct {
		name, resp, want string
		plain            bool
	}{
		{"status", strings.Replace(plainResp(""), "200 OK", "404 Not Found", 1), `status 404, want 200 (status line "HTTP/1.1 404 Not Found")`, false},
		{"body byte", strings.Replace(plainResp(""), "World", "Wxrld", 1), `body byte 8 differs: got "`, false},
		{"content-length", strings.Replace(plainResp(""), "13\r\n\r\nHello, World!", "12\r\n\r\nHello, World", 1), "Content-Length 12, want 13", false},
		{"content-length zero", strings.Replace(plainResp(""), "13\r\n\r\nHello, World!", "0\r\n\r\n", 1), "Content-Length 0, want 13", false},
		{"no date", strings.Replace(plainResp(""), testDate, "", 1), "no Date header", false},
		{"bad date", strings.Replace(plainResp(""), testDate, "Date: yesterday\r\n", 1), `Date "yesterday" is not an IMF-fixdate`, false},
		{"no server", strings.Replace(plainResp(""), "Server: t\r\n", "", 1), "no Server header", false},
		{"empty server", strings.Replace(plainResp(""), "Server: t\r\n", "Server:\r\n", 1), "no Server header", false},
		{"content-type", strings.Replace(plainResp(""), "text/plain; charset=utf-8", "text/plainer", 1), `Content-Type "text/plainer", want text/plain`, true},
		{"no content-type", strings.Replace(plainResp(""), "Content-Type: text/plain; charset=utf-8\r\n", "", 1), "no Content-Type header", true},
		{"chunked short", chunkedResp("5\r\nHello\r\n0\r\n\r\n"), "body is 5 bytes, want 13", false},
		{"chunked long", chunkedResp("D\r\nHello, World!\r\n2\r\n!!\r\n0\r\n\r\n"), `body longer than the 13 bytes expected: more bytes "!`, false},
		{"chunked long in one chunk", chunkedResp("F\r\nHello, World!!!\r\n0\r\n\r\n"), `body longer than the 13 bytes expected: more bytes "!`, false},
		{"chunked byte", chunkedResp("5\r\nHello\r\n8\r\n, World?\r\n0\r\n\r\n"), `body byte 12 differs`, false},
		{"204", "HTTP/1.1 204 No Content\r\n" + testDate + "Server: t\r\n\r\n", "status 204, want 200", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := []byte(c.resp)
			for _, prime := range primers(c.plain) {
				for cut := 0; cut <= len(resp); cut++ {
					p, rest, err := parseIn(parseCase{plain: c.plain, prime: prime}, resp[:cut], resp[cut:])
					if err != nil || rest == nil || len(rest) != 0 {
						t.Fatalf("primer %q cut %d: err %v, rest %q; want a complete response", prime, cut, err, rest)
					}
					if !strings.Contains(p.problem, c.want) {
						t.Fatalf("primer %q cut %d: problem %q, want %q", prime, cut, p.problem, c.want)
					}
				}
			}
		})
	}
}

// primers are the correct responses a parser may have seen before, so
// that its memo holds their lines: none, or one of the usual ones.
func primers(plain bool) []string {
	if plain {
		return []string{"", plainResp("")}
	}
	return []string{"", plainResp(""), chunkedResp("D\r\nHello, World!\r\n0\r\n\r\n")}
}

// What cannot be followed is a protocol error, however it is cut.
func TestParseProtocolErrors(t *testing.T) {
	cases := []struct{ name, resp, want string }{
		{"http/1.0", strings.Replace(plainResp(""), "HTTP/1.1", "HTTP/1.0", 1), "not HTTP/1.1"},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", "not HTTP/1.1"},
		{"four-digit status", strings.Replace(plainResp(""), "200 OK", "2000 OK", 1), "no space after the status code"},
		{"letters in status", strings.Replace(plainResp(""), "200", "2x0", 1), "no 3-digit status code"},
		{"short status line", "HTTP/1.1 20\r\n\r\n", "not HTTP/1.1"},
		{"bare LF", strings.Replace(plainResp(""), "Server: t\r\n", "Server: t\n", 1), "not ended by CRLF"},
		{"bare LF status", "HTTP/1.1 200 OK\n", "not ended by CRLF"},
		{"no colon", plainResp("Broken header\r\n"), "has no colon"},
		{"empty name", plainResp(": x\r\n"), "empty field name"},
		{"space before colon", strings.Replace(plainResp(""), "Content-Length:", "Content-Length :", 1), "invalid field name"},
		{"obsolete folding", plainResp("X-A: b\r\n c\r\n"), "obsolete line folding"},
		{"control character", plainResp("X-A: b\x01c\r\n"), "control character"},
		{"cr in value", plainResp("X-A: b\rc\r\n"), "control character"},
		{"bad content-length", strings.Replace(plainResp(""), "Length: 13", "Length: 13x", 1), `invalid Content-Length "13x"`},
		{"signed content-length", strings.Replace(plainResp(""), "Length: 13", "Length: +13", 1), "invalid Content-Length"},
		{"empty content-length", strings.Replace(plainResp(""), "Length: 13", "Length: ", 1), "invalid Content-Length"},
		{"huge content-length", strings.Replace(plainResp(""), "Length: 13", "Length: 1234567890123456789", 1), "invalid Content-Length"},
		{"conflicting content-length", plainResp("Content-Length: 14\r\n"), "conflicting Content-Length headers 14 and 13"},
		{"both framings", plainResp("Transfer-Encoding: chunked\r\n"), "both Content-Length and Transfer-Encoding"},
		{"gzip", strings.Replace(chunkedResp("0\r\n\r\n"), "chunked", "gzip, chunked", 1), "unsupported Transfer-Encoding"},
		{"twice chunked", strings.Replace(chunkedResp("0\r\n\r\n"), "chunked", "chunked\r\nTransfer-Encoding: chunked", 1), "Transfer-Encoding: chunked twice"},
		{"no framing", "HTTP/1.1 200 OK\r\n" + testDate + "Server: t\r\n\r\nHello, World!", "neither Content-Length nor chunked"},
		{"bad chunk size", chunkedResp("zz\r\nHello\r\n0\r\n\r\n"), "invalid chunk-size line"},
		{"chunk size junk", chunkedResp("5 x\r\nHello\r\n0\r\n\r\n"), "invalid chunk-size line"},
		{"negative chunk size", chunkedResp("-5\r\nHello\r\n0\r\n\r\n"), "invalid chunk-size line"},
		{"huge chunk size", chunkedResp("1000000000000000\r\n"), "too large"},
		{"chunk longer than its size", chunkedResp("5\r\nHelloX\r\n0\r\n\r\n"), "chunk data longer than its size"},
		{"chunk without CRLF", chunkedResp("5\r\nHello\n0\r\n\r\n"), "not ended by CRLF"},
		{"bad trailer", chunkedResp("0\r\nnot a field\r\n\r\n"), "has no colon"},
		{"switching protocols", "HTTP/1.1 101 Switching Protocols\r\n\r\n", "101 Switching Protocols"},
		{"header too long", plainResp("X-Long: " + strings.Repeat("x", maxHeaderBytes) + "\r\n"), "response header longer than"},
		{"header line endless", "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("x", maxHeaderBytes), "response header longer than"},
		{"chunk line endless", chunkedResp("5;" + strings.Repeat("x", maxChunkLine)), "chunk-size line longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := []byte(c.resp)
			step := max(1, len(resp)/300) // every offset of the short ones
			for _, prime := range primers(false) {
				for cut := 0; cut <= len(resp); cut += step {
					_, _, err := parseIn(parseCase{prime: prime}, resp[:cut], resp[cut:])
					if !errors.Is(err, errProtocol) || !strings.Contains(err.Error(), c.want) {
						t.Fatalf("primer %q cut %d: error %v, want a protocol error with %q", prime, cut, err, c.want)
					}
				}
			}
		})
	}
}

// An incomplete response is neither done nor an error: the parser waits.
func TestParseIncomplete(t *testing.T) {
	for _, c := range validCases {
		resp := []byte(c.resp)
		for cut := range len(resp) {
			p := &respParser{}
			p.reset([]byte(httpPlainBody), c.head, c.plain)
			n, done, err := p.feed(resp[:cut])
			if done || err != nil || n > cut {
				t.Fatalf("%s cut %d: used %d done %v err %v; want to wait", c.name, cut, n, done, err)
			}
		}
	}
}

// The parser allocates nothing for a correct response.
func TestParseNoAllocs(t *testing.T) {
	for _, c := range validCases {
		resp := []byte(c.resp)
		p := &respParser{}
		want := []byte(httpPlainBody)
		allocs := testing.AllocsPerRun(100, func() {
			p.reset(want, c.head, c.plain)
			if _, done, err := p.feed(resp); !done || err != nil {
				t.Fatalf("%s: done %v err %v", c.name, done, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per response", c.name, allocs)
		}
	}
}

// validValue, a word at a time, agrees with the byte-by-byte rule for
// every byte at every position of a word and of the tail.
func TestValidValue(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c < ' ' && c != '\t' || c == 0x7f {
				return false
			}
		}
		return true
	}
	base := []byte("text/plain; charset=utf-8 \xff\x80")
	for i := range base {
		for c := range 256 {
			b := append([]byte{}, base...)
			b[i] = byte(c)
			for _, v := range [][]byte{b, b[:i+1], b[i:]} {
				if validValue(v) != naive(v) {
					t.Fatalf("validValue(%q) = %v", v, validValue(v))
				}
			}
		}
	}
}

// Header lines are remembered, and a remembered line means what it meant,
// wherever it comes again; lines that differ are parsed afresh.
func TestParseMemo(t *testing.T) {
	want := []byte(httpPlainBody)
	parse := func(p *respParser, plain bool, resp string) error {
		t.Helper()
		p.reset(want, false, plain)
		_, done, err := p.feed([]byte(resp))
		if err == nil && !done {
			t.Fatalf("%q did not end", resp)
		}
		return err
	}
	p := &respParser{}
	for range 3 {
		if err := parse(p, true, plainResp("")); err != nil || p.problem != "" {
			t.Fatalf("err %v problem %q", err, p.problem)
		}
	}
	if p.memo == nil || p.memo[0].n == 0 || p.memo[3].n == 0 || p.memo[4].n != 0 {
		t.Fatalf("memo %+v; want the 4 header lines", p.memo)
	}
	// A new Date replaces the old one; a malformed one is a mismatch
	// however often it comes, and is not remembered.
	if err := parse(p, true, strings.Replace(plainResp(""), "05 GMT", "06 GMT", 1)); err != nil || p.problem != "" {
		t.Fatalf("new date: err %v problem %q", err, p.problem)
	}
	for range 2 {
		if err := parse(p, true, strings.Replace(plainResp(""), "05 GMT", "05 UTC", 1)); err != nil || !strings.Contains(p.problem, "not an IMF-fixdate") {
			t.Fatalf("bad date: err %v problem %q", err, p.problem)
		}
	}
	// Remembered lines in other places, and conflicts between them.
	cl := "HTTP/1.1 200 OK\r\n" + testDate + "Server: t\r\n%s\r\nHello, World!"
	if err := parse(p, false, fmt.Sprintf(cl, "Content-Length: 13\r\nContent-Length: 13\r\n")); err != nil || p.problem != "" {
		t.Fatalf("repeated content-length: err %v problem %q", err, p.problem)
	}
	for _, lines := range []string{"Content-Length: 13\r\nContent-Length: 14\r\n", "Content-Length: 14\r\nContent-Length: 13\r\n"} {
		if err := parse(p, false, fmt.Sprintf(cl, lines)); err == nil || !strings.Contains(err.Error(), "conflicting Content-Length") {
			t.Fatalf("%q: err %v", lines, err)
		}
	}
	te := "HTTP/1.1 200 OK\r\n" + testDate + "Server: t\r\n%s\r\nD\r\nHello, World!\r\n0\r\n\r\n"
	if err := parse(p, false, fmt.Sprintf(te, "Transfer-Encoding: chunked\r\n")); err != nil || p.problem != "" {
		t.Fatalf("chunked: err %v problem %q", err, p.problem)
	}
	for _, lines := range []string{"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 13\r\n"} {
		if err := parse(p, false, fmt.Sprintf(te, lines)); err == nil {
			t.Fatalf("%q: no error", lines)
		}
	}
	// What is fine without plain is remembered without it: with plain the
	// lines are looked at again.
	html := strings.Replace(plainResp(""), "text/plain; charset=utf-8", "text/html", 1)
	if err := parse(p, false, html); err != nil || p.problem != "" {
		t.Fatalf("html, not plain: err %v problem %q", err, p.problem)
	}
	if err := parse(p, true, html); err != nil || !strings.Contains(p.problem, `Content-Type "text/html", want text/plain`) {
		t.Fatalf("html, plain: err %v problem %q", err, p.problem)
	}
	// A missing line is missed even when the memo has it.
	if err := parse(p, true, strings.Replace(plainResp(""), "Server: t\r\n", "", 1)); err != nil || p.problem != "no Server header" {
		t.Fatalf("no server: err %v problem %q", err, p.problem)
	}
}

func TestChunkSizes(t *testing.T) {
	for n := 1; n <= 300; n++ {
		for count := 1; count <= 4; count++ {
			sizes := chunkSizes(n, count)
			sum := 0
			for i, s := range sizes {
				if s < 1 || i > 0 && s < sizes[i-1] {
					t.Fatalf("chunkSizes(%d, %d) = %v", n, count, sizes)
				}
				sum += s
			}
			if sum != n || len(sizes) != min(n, count) {
				t.Fatalf("chunkSizes(%d, %d) = %v", n, count, sizes)
			}
		}
	}
	if got := chunkSizes(100, 4); len(got) != 4 || got[0] == got[3] {
		t.Errorf("chunkSizes(100, 4) = %v; want 4 chunks of varied size", got)
	}
}

// The request bytes, exactly.
func TestHTTPRequests(t *testing.T) {
	body := []byte("0123456789")
	cases := []struct {
		body   []byte
		chunks int
		close  bool
		want   string
	}{
		{nil, 0, false, "GET /plaintext HTTP/1.1\r\nHost: h:1\r\n\r\n"},
		{nil, 0, true, "GET /plaintext HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\r\n"},
		{body, 0, false, "POST /echo HTTP/1.1\r\nHost: h:1\r\nContent-Length: 10\r\n\r\n0123456789"},
		{body, 1, true, "POST /echo HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"},
		{body, 3, false, "POST /echo HTTP/1.1\r\nHost: h:1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n01\r\n3\r\n234\r\n5\r\n56789\r\n0\r\n\r\n"},
	}
	for _, c := range cases {
		if got := string(appendHTTPRequest(nil, "h:1", c.body, c.chunks, c.close)); got != c.want {
			t.Errorf("request\n got %q\nwant %q", got, c.want)
		}
	}
	if httpHost("unix:/tmp/s") != "localhost" || httpHost("127.0.0.1:80") != "127.0.0.1:80" {
		t.Error("httpHost")
	}
	w, err := newHTTPWire("h:1", generatePayloads(splitLines(builtinText), 100, generatedPayloads), true)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i, f := range w.frames {
		seen[bytes.Count(f, []byte("\r\n"))] = true
		if !bytes.Equal(w.replies[i], generatePayloads(splitLines(builtinText), 100, generatedPayloads)[i]) {
			t.Fatalf("reply %d is not the payload", i)
		}
	}
	if len(seen) != 4 {
		t.Errorf("chunked frames have %d different shapes, want 4 (1 to 4 chunks)", len(seen))
	}
}

func benchParse(b *testing.B, resp, want []byte, plain bool) {
	p := &respParser{}
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		p.reset(want, false, plain)
		if _, done, err := p.feed(resp); !done || err != nil || p.problem != "" {
			b.Fatalf("done %v err %v problem %q", done, err, p.problem)
		}
	}
}

// BenchmarkParseResponse: the parser on typical responses. It must report
// 0 allocs/op.
func BenchmarkParseResponse(b *testing.B) {
	b.Run("plaintext", func(b *testing.B) {
		// What a typical server sends for GET /plaintext.
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain; charset=utf-8\r\n" +
			"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\nServer: simple-server\r\n\r\nHello, World!")
		benchParse(b, resp, []byte(httpPlainBody), true)
	})
	body := generatePayloads(splitLines(builtinText), 4096, 1)[0]
	b.Run("echo-4KiB", func(b *testing.B) {
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nContent-Type: application/octet-stream\r\n" +
			"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\nServer: simple-server\r\n\r\n" + string(body))
		benchParse(b, resp, body, false)
	})
	b.Run("echo-4KiB-chunked", func(b *testing.B) {
		resp := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n" +
			"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\nServer: simple-server\r\n\r\n" +
			"800\r\n" + string(body[:2048]) + "\r\n800\r\n" + string(body[2048:]) + "\r\n0\r\n\r\n")
		benchParse(b, resp, body, false)
	})
}
