package parse

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// crlf turns the "\n" line ends of a readable literal into CRLF and adds
// the empty line that ends a head.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") + "\r\n" }

// parseAll scans and parses a head given whole, as a server does after one
// read; the head must be all of raw.
func parseAll(t testing.TB, raw string, lim *Limits) (*Head, error) {
	t.Helper()
	buf := []byte(raw)
	end, _, err := ScanHead(buf, 0, lim)
	if err != nil {
		return nil, err
	}
	if end == 0 {
		t.Fatalf("ScanHead(%q): incomplete", raw)
	}
	if end != len(buf) {
		t.Fatalf("ScanHead(%q): end = %d, want %d", raw, end, len(buf))
	}
	h := new(Head)
	return h, h.Parse(buf[:end], lim)
}

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

// rejectTests holds one row per rejection rule; want is the status, and
// where net/http refuses the request too, the status its server sends.
var rejectTests = []struct {
	name string
	raw  string
	want int
	lim  *Limits
}{
	// Request line, RFC 9112 §3.
	{"doubled space: empty target", crlf("GET  / HTTP/1.1\nHost: a\n"), 400, nil},
	{"trailing space: bad version", crlf("GET / HTTP/1.1 \nHost: a\n"), 400, nil},
	{"space in target", crlf("GET /a b HTTP/1.1\nHost: a\n"), 400, nil},
	{"no version", crlf("GET /\nHost: a\n"), 400, nil},
	{"method only", crlf("GET\nHost: a\n"), 400, nil},
	{"empty method", crlf(" / HTTP/1.1\nHost: a\n"), 400, nil},
	{"method not a token (TestServerValidatesMethod)", crlf("GE(T / HTTP/1.1\nHost: foo.example\n"), 400, nil},
	{"method with obs-text", crlf("G\xc9T / HTTP/1.1\nHost: a\n"), 400, nil},
	{"lower-case HTTP", crlf("GET / http/1.1\nHost: a\n"), 400, nil},
	{"version without minor", crlf("GET / HTTP/1\nHost: a\n"), 400, nil},
	{"two-digit minor", crlf("GET / HTTP/1.10\nHost: a\n"), 400, nil},
	{"leading zero major", crlf("GET / HTTP/01.1\nHost: a\n"), 400, nil},
	{"letter minor", crlf("GET / HTTP/1.x\nHost: a\n"), 400, nil},
	{"HTTP/0.9 (TestServerValidatesHostHeader)", crlf("GET / HTTP/0.9\n"), 505, nil},
	{"HTTP/2.0", crlf("GET / HTTP/2.0\n"), 505, nil},
	{"HTTP/3.0", crlf("GET / HTTP/3.0\n"), 505, nil},
	{"PRI / HTTP/2.0", crlf("PRI / HTTP/2.0\n"), 505, nil},
	{"HTTP/2 preface (deliberate)", "PRI * HTTP/2.0\r\n\r\n", 505, nil},
	{"HTTP/2 preface with a Host (deliberate)", crlf("PRI * HTTP/2.0\nHost: a\n"), 505, nil},
	{"HTTP/2.0 and a bad coding: 501 first, as net/http", crlf("GET / HTTP/2.0\nTransfer-Encoding: gzip\n"), 501, nil},
	{"HTTP/2.0 and a spaced name: 505 first, as net/http", crlf("GET / HTTP/2.0\nFoo : x\n"), 505, nil},

	// Request-target, RFC 9112 §3.2, as url.ParseRequestURI.
	{"relative path", crlf("GET foo HTTP/1.1\nHost: a\n"), 400, nil},
	{"query only", crlf("GET ?x HTTP/1.1\nHost: a\n"), 400, nil},
	{"colon first", crlf("GET :x HTTP/1.1\nHost: a\n"), 400, nil},
	{"bad escape", crlf("GET /a%zz HTTP/1.1\nHost: a\n"), 400, nil},
	{"truncated escape", crlf("GET /a%2 HTTP/1.1\nHost: a\n"), 400, nil},
	{"bare percent", crlf("GET /a% HTTP/1.1\nHost: a\n"), 400, nil},
	{"DEL in target", crlf("GET /\x7f HTTP/1.1\nHost: a\n"), 400, nil},
	{"CTL in target", crlf("GET /\x01 HTTP/1.1\nHost: a\n"), 400, nil},
	{"HTAB in target", crlf("GET /a\tb HTTP/1.1\nHost: a\n"), 400, nil},
	{"star prefix", crlf("GET *a HTTP/1.1\nHost: a\n"), 400, nil},
	{"bad byte in URL host", crlf("GET http://a{b}/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"non-digit port", crlf("GET http://a:b/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"two colons in an http host", crlf("GET http://a:1:2/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"unclosed IP-literal", crlf("GET http://[::1/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"IPv4 in brackets", crlf("GET http://[1.2.3.4]/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"bracket inside host", crlf("GET http://x[::1]/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"escaped ASCII in host", crlf("GET http://%41/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"bad escape in absolute path", crlf("GET http://a/%zz HTTP/1.1\nHost: a\n"), 400, nil},
	{"bad userinfo", crlf("GET http://u^@a/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"opaque absolute URI (deliberate)", crlf("GET http:foo HTTP/1.1\nHost: a\n"), 400, nil},
	{"host:port as a GET target (deliberate)", crlf("GET localhost:8080 HTTP/1.1\nHost: a\n"), 400, nil},
	{"scheme and path, no authority (deliberate)", crlf("GET http:/foo HTTP/1.1\nHost: a\n"), 400, nil},
	{"empty authority (deliberate)", crlf("GET http:///foo HTTP/1.1\nHost: a\n"), 400, nil},
	{"port without host (deliberate)", crlf("GET http://:80/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"userinfo (deliberate)", crlf("GET http://user:pw@a/ HTTP/1.1\nHost: a\n"), 400, nil},
	{"target too long", crlf("GET /" + strings.Repeat("a", 100) + " HTTP/1.1\nHost: a\n"), 414, &Limits{MaxTarget: 100}},

	// CONNECT, RFC 9112 §3.2.3.
	{"bad CONNECT host (badRequestTests)", crlf("CONNECT []%20%48%54%54%50%2f%31%2e%31%0a%4d%79%48%65%61%64%65%72%3a%20%31%32%33%0a%0a HTTP/1.0\n"), 400, nil},
	{"CONNECT without a port (deliberate)", crlf("CONNECT a.example HTTP/1.1\n"), 400, nil},
	{"CONNECT with an empty port (deliberate)", crlf("CONNECT a.example: HTTP/1.1\n"), 400, nil},
	{"CONNECT without a host (deliberate)", crlf("CONNECT :443 HTTP/1.1\n"), 400, nil},
	{"CONNECT with a path (deliberate)", crlf("CONNECT a.example:443/x HTTP/1.1\n"), 400, nil},
	{"CONNECT with a query (deliberate)", crlf("CONNECT a.example:443?x HTTP/1.1\n"), 400, nil},
	{"CONNECT with userinfo (deliberate)", crlf("CONNECT u@a.example:443 HTTP/1.1\n"), 400, nil},
	{"CONNECT with an empty target (deliberate)", crlf("CONNECT  HTTP/1.1\n"), 400, nil},
	{"CONNECT star (deliberate)", crlf("CONNECT * HTTP/1.1\n"), 400, nil},

	// Field lines, RFC 9112 §5 (TestServerValidatesHeaders, badRequestTests).
	{"leading space before the first field", crlf("GET / HTTP/1.1\n Host: foo\n"), 400, nil},
	{"leading tab before the first field", crlf("GET / HTTP/1.1\n\tHost: foo\n"), 400, nil},
	{"obs-fold (deliberate)", crlf("GET / HTTP/1.1\nHost: foo\nX: a\n b\n"), 400, nil},
	{"obs-fold with a tab (deliberate)", crlf("GET / HTTP/1.1\nHost: foo\nX: a\n\tb\n"), 400, nil},
	{"space in name", crlf("GET / HTTP/1.1\nHost: foo\nA space: foo\n"), 400, nil},
	{"space before colon", crlf("GET / HTTP/1.1\nHost: foo\nFoo : bar\n"), 400, nil},
	{"tab before colon", crlf("GET / HTTP/1.1\nHost: foo\nFoo\t: bar\n"), 400, nil},
	{"Transfer-Encoding with space before colon (CVE-2019-16276)", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding : chunked\n"), 400, nil},
	{"empty name", crlf("GET / HTTP/1.1\nHost: foo\n: empty key\n"), 400, nil},
	{"no colon", crlf("GET / HTTP/1.1\nHost: foo\nNoColon\n"), 400, nil},
	{"binary in name", crlf("GET / HTTP/1.1\nHost: foo\nfoo\xffbar: foo\n"), 400, nil},
	{"NUL in name", crlf("GET / HTTP/1.1\nHost: foo\nfoo\x00bar: foo\n"), 400, nil},
	{"separator in name", crlf("GET / HTTP/1.1\nHost: foo\nfoo@bar: foo\n"), 400, nil},
	{"NUL in value", crlf("GET / HTTP/1.1\nHost: foo\nfoo: foo\x00foo\n"), 400, nil},
	{"DEL in value", crlf("GET / HTTP/1.1\nHost: foo\nfoo: foo\x7ffoo\n"), 400, nil},
	{"CTL in value", crlf("GET / HTTP/1.1\nHost: foo\nfoo: a\x01b\n"), 400, nil},
	{"VT in value", crlf("GET / HTTP/1.1\nHost: foo\nfoo: a\x0bb\n"), 400, nil},
	{"too many fields", crlf("GET / HTTP/1.1\nHost: foo\nA: 1\nB: 2\n"), 431, &Limits{MaxFields: 2}},
	{"head too large", crlf("GET / HTTP/1.1\nHost: foo\nA: " + strings.Repeat("x", 200) + "\n"), 431, &Limits{MaxHead: 200}},

	// ScanHead's byte checks.
	{"bare CR in a value", crlf("GET / HTTP/1.1\nHost: foo\nfoo: a\rb\n"), 400, nil},
	{"bare CR in the request line", crlf("GET /\r HTTP/1.1\nHost: foo\n"), 400, nil},
	{"bare CR before the request line", crlf("\rGET / HTTP/1.1\nHost: foo\n"), 400, nil},
	{"CR CR LF line end", "GET / HTTP/1.1\r\r\nHost: foo\r\n\r\n", 400, nil},
	{"NUL in the request line", crlf("GET /\x00 HTTP/1.1\nHost: foo\n"), 400, nil},

	// Host, RFC 9112 §3.2 (TestServerValidatesHostHeader).
	{"HTTP/1.1 without Host", crlf("GET / HTTP/1.1\n"), 400, nil},
	{"absolute-form without Host", crlf("GET http://a/ HTTP/1.1\n"), 400, nil},
	{"Host CTL", crlf("GET / HTTP/1.1\nHost: \x06\n"), 400, nil},
	{"Host obs-text", crlf("GET / HTTP/1.1\nHost: \xff\n"), 400, nil},
	{"Host {", crlf("GET / HTTP/1.1\nHost: {\n"), 400, nil},
	{"Host }", crlf("GET / HTTP/1.1\nHost: }\n"), 400, nil},
	{"Host with space", crlf("GET / HTTP/1.1\nHost: a b\n"), 400, nil},
	{"two Host fields", crlf("GET / HTTP/1.1\nHost: first\nHost: second\n"), 400, nil},
	{"two Host fields in HTTP/1.0", crlf("GET / HTTP/1.0\nHost: first\nHost: second\n"), 400, nil},
	{"bad Host in HTTP/1.0", crlf("GET / HTTP/1.0\nHost: \xff\n"), 400, nil},
	{"two Host fields with absolute-form", crlf("GET http://a/ HTTP/1.1\nHost: a\nHost: a\n"), 400, nil},

	// Content-Length, RFC 9110 §8.6 (TestParseContentLength, badRequestTests).
	{"not digits", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: notdigits\n"), 400, nil},
	{"not digits, with chunked", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: notdigits\nTransfer-Encoding: chunked\n"), 400, nil},
	{"empty (golang/go#61679)", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length:\n"), 400, nil},
	{"plus sign", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: +3\n"), 400, nil},
	{"minus sign", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: -3\n"), 400, nil},
	{"2^63", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: 9223372036854775808\n"), 400, nil},
	{"inner space", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: 1 2\n"), 400, nil},
	{"comma list", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: 3, 3\n"), 400, nil},
	{"two differing (smuggle_two_contentlen)", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: 3\nContent-Length: 4\n"), 400, nil},
	{"two differing on HEAD", crlf("HEAD / HTTP/1.1\nHost: foo\nContent-Length: 4\nContent-Length: 5\n"), 400, nil},
	{"same number, different text", crlf("POST / HTTP/1.1\nHost: foo\nContent-Length: 3\nContent-Length: 03\n"), 400, nil},

	// Transfer-Encoding, RFC 9112 §6.1 (TestParseTransferEncoding).
	{"unknown coding", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: fugazi\n"), 501, nil},
	{"gzip", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: gzip\n"), 501, nil},
	{"identity", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: identity\n"), 501, nil},
	{"chunked twice in one field", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked, chunked\n"), 501, nil},
	{"chunked then identity", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked, identity\n"), 501, nil},
	{"empty coding", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding:\n"), 501, nil},
	{"two fields", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked\nTransfer-Encoding: identity\n"), 501, nil},
	{"two chunked fields", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n"), 501, nil},
	{"xchunked", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: xchunked\n"), 501, nil},
	{"chunked with a parameter", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked;q=1\n"), 501, nil},
	// TestParseTransferEncoding refuses "\vchunked" as a coding; on the wire
	// the VT is already an invalid field value, and net/http's server
	// answers 400.
	{"VT before chunked", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: \x0bchunked\n"), 400, nil},
	{"chunked and Content-Length (deliberate)", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked\nContent-Length: 5\n"), 400, nil},
	{"Transfer-Encoding in HTTP/1.0 (deliberate)", crlf("POST / HTTP/1.0\nTransfer-Encoding: chunked\n"), 400, nil},
	{"Trailer announcing Content-Length", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked\nTrailer: Content-Length\n"), 400, nil},
	{"Trailer announcing transfer-encoding in a list", crlf("POST / HTTP/1.1\nHost: foo\nTransfer-Encoding: chunked\nTrailer: foo, transfer-encoding\n"), 400, nil},
	{"Trailer announcing Trailer", crlf("POST / HTTP/1.1\nHost: foo\nTrailer: x\nTransfer-Encoding: chunked\nTrailer: TRAILER\n"), 400, nil},
}

func TestReject(t *testing.T) {
	for _, tt := range rejectTests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseAll(t, tt.raw, tt.lim)
			if got := status(err); got != tt.want {
				t.Errorf("%q: status %d (%v), want %d; head %+v", tt.raw, got, err, tt.want, h)
			}
		})
	}
}

type acceptTest struct {
	name string
	raw  string
	want Head // Fields nil means: not compared
}

func fields(kv ...string) []Field {
	f := []Field{}
	for i := 0; i < len(kv); i += 2 {
		f = append(f, Field{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return f
}

func b(s string) []byte { return []byte(s) }

var acceptTests = []acceptTest{
	{"simple GET", crlf("GET / HTTP/1.1\nHost: foo.com\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", "foo.com"),
		Host: b("foo.com"), HasHost: true, ContentLength: -1}},
	{"HTTP/1.0 without Host", crlf("GET /x?y HTTP/1.0\n"), Head{
		Method: b("GET"), Target: b("/x?y"), Path: b("/x?y"), Minor: 0, Fields: fields(),
		ContentLength: -1, Close: true}},
	{"HTTP/1.0 keep-alive", crlf("GET / HTTP/1.0\nConnection: Keep-Alive\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Fields: fields("Connection", "Keep-Alive"), ContentLength: -1}},
	{"HTTP/1.0 keep-alive and close", crlf("GET / HTTP/1.0\nConnection: keep-alive\nConnection: close\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Fields: fields("Connection", "keep-alive", "Connection", "close"),
		ContentLength: -1, Close: true}},
	{"HTTP/1.9 is 1.1", crlf("GET / HTTP/1.9\nHost: a\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", "a"), Host: b("a"), HasHost: true, ContentLength: -1}},
	{"LF line ends and leading empty lines", "\r\n\n\r\nPOST /p HTTP/1.1\nhost: h\ncontent-length: 0\n\n", Head{
		Method: b("POST"), Target: b("/p"), Path: b("/p"), Minor: 1, Fields: fields("host", "h", "content-length", "0"),
		Host: b("h"), HasHost: true, ContentLength: 0}},
	{"empty Host", crlf("GET / HTTP/1.1\nHost:\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", ""), Host: b(""), HasHost: true, ContentLength: -1}},
	{"OWS around the value", crlf("GET / HTTP/1.1\nHost: \t foo \t\nX-Foo:bar  \n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", "foo", "X-Foo", "bar"),
		Host: b("foo"), HasHost: true, ContentLength: -1}},
	{"values with SP, HTAB and obs-text", crlf("GET / HTTP/1.1\nHost: a\nfoo: foo foo\nbar: foo\tfoo\nbaz: foo\xfffoo\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1,
		Fields: fields("Host", "a", "foo", "foo foo", "bar", "foo\tfoo", "baz", "foo\xfffoo"),
		Host:   b("a"), HasHost: true, ContentLength: -1}},
	{"Host IPv6 with zone", crlf("GET / HTTP/1.1\nHost: [::1%25en0]:80\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", "[::1%25en0]:80"),
		Host: b("[::1%25en0]:80"), HasHost: true, ContentLength: -1}},
	{"Host ::1 unbracketed", crlf("GET / HTTP/1.1\nHost: ::1\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", "::1"),
		Host: b("::1"), HasHost: true, ContentLength: -1}},
	{"Host with underscore", crlf("GET / HTTP/1.1\nHost: foo-bar_baz.com\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Fields: fields("Host", "foo-bar_baz.com"),
		Host: b("foo-bar_baz.com"), HasHost: true, ContentLength: -1}},
	{"Content-Length", crlf("PUT /up HTTP/1.1\nHost: a\nContent-Length: 12\n"), Head{
		Method: b("PUT"), Target: b("/up"), Path: b("/up"), Minor: 1, Fields: fields("Host", "a", "Content-Length", "12"),
		Host: b("a"), HasHost: true, ContentLength: 12}},
	{"Content-Length max int64", crlf("PUT / HTTP/1.1\nHost: a\nContent-Length: 9223372036854775807\n"), Head{
		Method: b("PUT"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: 1<<63 - 1}},
	{"identical Content-Lengths", crlf("PUT / HTTP/1.1\nHost: a\nContent-Length: 007\ncontent-length:007\n"), Head{
		Method: b("PUT"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: 7}},
	{"chunked", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nTrailer: Expires, X-Sum\n"), Head{
		Method: b("POST"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1, Chunked: true}},
	{"chunked any case", crlf("POST / HTTP/1.1\nHost: a\ntransfer-encoding: ChUnKeD \n"), Head{
		Method: b("POST"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1, Chunked: true}},
	{"Trailer framing names without chunked are not checked", crlf("POST / HTTP/1.1\nHost: a\nTrailer: Content-Length\n"), Head{
		Method: b("POST"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1}},
	{"Connection list", crlf("GET / HTTP/1.1\nHost: a\nConnection: keep-alive ,Upgrade\nUpgrade: websocket\nConnection: \tCLOSE\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1, Close: true, Upgrade: true}},
	{"Connection token must be whole", crlf("GET / HTTP/1.1\nHost: a\nConnection: closed, xupgrade\n"), Head{
		Method: b("GET"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1}},
	{"Expect 100-continue", crlf("PUT / HTTP/1.1\nHost: a\nExpect: 100-Continue\nContent-Length: 1\n"), Head{
		Method: b("PUT"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: 1, Expect: Expect100}},
	{"Expect other", crlf("PUT / HTTP/1.1\nHost: a\nExpect: 100-continue, x\n"), Head{
		Method: b("PUT"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1, Expect: ExpectOther}},
	{"Expect empty", crlf("PUT / HTTP/1.1\nHost: a\nExpect:\n"), Head{
		Method: b("PUT"), Target: b("/"), Path: b("/"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1}},
	{"asterisk-form", crlf("OPTIONS * HTTP/1.1\nHost: a\n"), Head{
		Method: b("OPTIONS"), Target: b("*"), Path: b("*"), Minor: 1, Host: b("a"), HasHost: true, ContentLength: -1}},
	{"absolute-form", crlf("GET http://Example.COM:8080/a/b?c=d HTTP/1.1\nHost: ignored\n"), Head{
		Method: b("GET"), Target: b("http://Example.COM:8080/a/b?c=d"), Path: b("/a/b?c=d"), Minor: 1,
		Host: b("Example.COM:8080"), HasHost: true, ContentLength: -1}},
	{"absolute-form, empty path", crlf("GET HTTPS://a.example HTTP/1.1\nHost: a.example\n"), Head{
		Method: b("GET"), Target: b("HTTPS://a.example"), Path: b("/"), Minor: 1,
		Host: b("a.example"), HasHost: true, ContentLength: -1}},
	{"absolute-form, empty path and a query", crlf("GET http://a.example?q HTTP/1.1\nHost: a.example\n"), Head{
		Method: b("GET"), Target: b("http://a.example?q"), Path: b("/?q"), Minor: 1,
		Host: b("a.example"), HasHost: true, ContentLength: -1}},
	{"absolute-form, IPv6 and zone", crlf("GET http://[fe80::1%25en0]:80/x HTTP/1.1\nHost: h\n"), Head{
		Method: b("GET"), Target: b("http://[fe80::1%25en0]:80/x"), Path: b("/x"), Minor: 1,
		Host: b("[fe80::1%25en0]:80"), HasHost: true, ContentLength: -1}},
	{"absolute-form, other scheme with colons", crlf("GET foo://a:b:1/ HTTP/1.1\nHost: h\n"), Head{
		Method: b("GET"), Target: b("foo://a:b:1/"), Path: b("/"), Minor: 1,
		Host: b("a:b:1"), HasHost: true, ContentLength: -1}},
	{"absolute-form, escaped non-ASCII host", crlf("GET http://%C3%A9.example/ HTTP/1.1\nHost: h\n"), Head{
		Method: b("GET"), Target: b("http://%C3%A9.example/"), Path: b("/"), Minor: 1,
		Host: b("%C3%A9.example"), HasHost: true, ContentLength: -1}},
	{"origin-form with // and escapes", crlf("GET //a/%2F%41?%zz HTTP/1.1\nHost: h\n"), Head{
		Method: b("GET"), Target: b("//a/%2F%41?%zz"), Path: b("//a/%2F%41?%zz"), Minor: 1,
		Host: b("h"), HasHost: true, ContentLength: -1}},
	{"CONNECT authority-form without Host", crlf("CONNECT golang.org:443 HTTP/1.1\n"), Head{
		Method: b("CONNECT"), Target: b("golang.org:443"), Minor: 1, Host: b("golang.org:443"), ContentLength: -1}},
	{"CONNECT IPv6", crlf("CONNECT [2001:db8::1]:443 HTTP/1.1\nHost: [2001:db8::1]:443\n"), Head{
		Method: b("CONNECT"), Target: b("[2001:db8::1]:443"), Minor: 1, Host: b("[2001:db8::1]:443"), HasHost: true, ContentLength: -1}},
	{"CONNECT origin-form (net/rpc)", crlf("CONNECT /_goRPC_ HTTP/1.0\n"), Head{
		Method: b("CONNECT"), Target: b("/_goRPC_"), Path: b("/_goRPC_"), ContentLength: -1, Close: true}},
	{"extension method", crlf("M-SEARCH * HTTP/1.1\nHost: 239.255.255.250:1900\n"), Head{
		Method: b("M-SEARCH"), Target: b("*"), Path: b("*"), Minor: 1, Host: b("239.255.255.250:1900"), HasHost: true, ContentLength: -1}},
	{"target with obs-text and a fragment", crlf("GET /\xc3\xa9#frag HTTP/1.1\nHost: h\n"), Head{
		Method: b("GET"), Target: b("/\xc3\xa9#frag"), Path: b("/\xc3\xa9#frag"), Minor: 1, Host: b("h"), HasHost: true, ContentLength: -1}},
}

func TestAccept(t *testing.T) {
	for _, tt := range acceptTests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseAll(t, tt.raw, nil)
			if err != nil {
				t.Fatalf("%q: %v", tt.raw, err)
			}
			checkHead(t, tt.raw, h, &tt.want)
		})
	}
}

func checkHead(t *testing.T, raw string, got, want *Head) {
	t.Helper()
	g, w := *got, *want
	g.scratch = nil
	if w.Fields == nil {
		g.Fields = nil
	} else if len(g.Fields) == 0 && len(w.Fields) == 0 {
		g.Fields, w.Fields = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%q:\n got  %s\n want %s", raw, fmtHead(&g), fmtHead(&w))
	}
}

func fmtHead(h *Head) string {
	var s strings.Builder
	fmt.Fprintf(&s, "{Method:%s Target:%s Path:%s Host:%s Fields:[", q(h.Method), q(h.Target), q(h.Path), q(h.Host))
	for _, f := range h.Fields {
		fmt.Fprintf(&s, "%s:%s ", q(f.Name), q(f.Value))
	}
	fmt.Fprintf(&s, "] Minor:%d HasHost:%t CL:%d Chunked:%t Close:%t Upgrade:%t Expect:%d}",
		h.Minor, h.HasHost, h.ContentLength, h.Chunked, h.Close, h.Upgrade, h.Expect)
	return s.String()
}

func q(b []byte) string {
	if b == nil {
		return "nil"
	}
	return strconv.Quote(string(b))
}

func TestField(t *testing.T) {
	h, err := parseAll(t, crlf("GET / HTTP/1.1\nHost: a\nX-Empty:\nx-twice: 1\nX-Twice: 2\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want []byte
	}{
		{"HOST", b("a")},
		{"x-empty", b("")},
		{"X-TWICE", b("1")},
		{"X-Other", nil},
		{"Hos", nil},
	} {
		got := h.Field(tt.name)
		if string(got) != string(tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("Field(%q) = %s, want %s", tt.name, q(got), q(tt.want))
		}
	}
	_, err = parseAll(t, crlf("GET / HTTP/1.1\n"), nil)
	if err == nil || err.Error() != "http: missing required Host header" {
		t.Errorf("error text: %v", err)
	}
}
