package parse

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// bodyTests are whole requests with bodies, for the split, fuzz and
// reference tests.
var bodyTests = []string{
	"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
		"3\r\nabc\r\nA\r\n0123456789\r\n000\r\nX-Sum: 42\r\nX-Other:  v v \r\n\r\n",
	"PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a;b=\"q \\\" s\"\r\nZ\r\n0;last\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",                     // bare LF after data
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",                     // bare LF after size
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",                  // trailing space
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ;x\r\nhello\r\n0\r\n\r\n",                // space before ;
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\n\r\n",                           // bare LF trailer
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA b: c\r\n\r\n",                       // bad trailer name
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n0\r\n\r\n",                             // empty size
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",                     // 17 digits
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n",                      // > 2^63-1
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",                     // no CRLF after data
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\x00\r\nhello\r\n0\r\n\r\n",              // NUL in an extension
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n",                   // folded trailer
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\nHost: b\r\n\r\n", // framing names as trailers are just fields
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",       // body cut short
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", // trailer cut short
}

// seeds is every request of the tests.
func seeds() []string {
	var s []string
	for _, tt := range rejectTests {
		s = append(s, tt.raw)
	}
	for _, tt := range acceptTests {
		s = append(s, tt.raw)
	}
	return append(s, bodyTests...)
}

// FuzzRequest compares this package with net/http's server on any input.
// Where both accept, they must agree on every part of the request; where
// one accepts, the other's refusal must be one of the package's deliberate
// differences (and the input must show the feature it is about); where
// both refuse a head, they must send the same status.
func FuzzRequest(f *testing.F) {
	for _, s := range seeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		differential(t, data)
	})
}

func differential(t *testing.T, data []byte) {
	t.Helper()
	// However the head is split into reads, ScanHead gives one answer.
	if whole, split := scanWhole(data, fuzzLimits), scanReads(t, data, fuzzLimits, func(have int) int { return 1 + have%5 }); whole != split {
		t.Fatalf("%q: ScanHead split %+v, whole %+v", data, split, whole)
	}
	// Parse does not rely on ScanHead: what ScanHead refuses, Parse
	// refuses too (and it never panics on raw input).
	if _, _, err := ScanHead(data, 0, fuzzLimits); err != nil {
		var h Head
		if h.Parse(data, fuzzLimits) == nil {
			t.Fatalf("%q: ScanHead refuses (%v), Parse accepts", data, err)
		}
	}
	ours := ourRequest(data)
	ref := refRequest(stripLeadingEmptyLines(data))
	switch {
	case ours.ok && ref.ok:
		compareAccepted(t, data, &ours, &ref)
	case ours.ok:
		t.Fatalf("%q: we accept, net/http refuses (status %d): %v", data, ref.status, ref.err)
	case ref.ok || ref.req != nil && ref.status == 0 && !ours.headDone && !ours.incomplete:
		// net/http accepts the request, or at least its head.
		if ours.incomplete {
			t.Fatalf("%q: we wait for more input, net/http accepts", data)
		}
		if why := deliberate(ours.err, data, &ref); why != "" {
			t.Fatalf("%q: we refuse (%v), net/http accepts: %s", data, ours.err, why)
		}
	default:
		// Both refuse. A head both refuse must get net/http's status,
		// unless ours is a deliberate refusal (which comes last).
		var e *Error
		if !ours.headDone && errors.As(ours.err, &e) && ref.status != 0 && deliberate(ours.err, data, &ref) != "" && e.Status != ref.status {
			t.Fatalf("%q: status %d (%v), net/http %d (%v)", data, e.Status, ours.err, ref.status, ref.err)
		}
	}
}

// deliberate returns "" when err is one of the documented deliberate
// refusals and the input shows what it is about, else why not.
func deliberate(err error, data []byte, ref *refView) string {
	r := ref.req
	chunked := r != nil && len(r.TransferEncoding) > 0
	has := func(s string) bool { return bytes.Contains(data, []byte(s)) }
	var ok bool
	switch err {
	case errObsFold:
		ok = has("\n ") || has("\n\t")
	case errTEWithCL:
		ok = r != nil && ref.raw["Transfer-Encoding"] != nil && ref.raw["Content-Length"] != nil
	case errTEInHTTP10:
		ok = r != nil && r.ProtoMinor == 0 && ref.raw["Transfer-Encoding"] != nil
	case errH2Preface:
		ok = r != nil && r.Method == "PRI" && r.Proto == "HTTP/2.0"
	case errNoAuthority:
		ok = r != nil && r.URL.Scheme != "" && (r.URL.Opaque != "" || r.URL.Host == "" || strings.HasPrefix(r.URL.Host, ":"))
	case errUserinfo:
		ok = r != nil && r.URL.User != nil
	case errAuthorityForm:
		ok = r != nil && r.Method == "CONNECT" && !strings.HasPrefix(r.RequestURI, "/")
	case errChunkSizeRange:
		ok = chunked
	case errChunkExt:
		ok = chunked && has(";")
	case errChunkSpace:
		ok = chunked && (has(" \r\n") || has("\t\r\n"))
	case errTrailerLF:
		ok = chunked
	case errTrailerName:
		ok = chunked && ref.ok && func() bool {
			for k := range ref.trailer {
				if strings.Contains(k, " ") {
					return true
				}
			}
			return false
		}()
	default:
		return "not a deliberate difference"
	}
	if !ok {
		return "a deliberate refusal, but the input does not show why"
	}
	return ""
}

func compareAccepted(t *testing.T, data []byte, ours *ourView, ref *refView) {
	t.Helper()
	h, r := &ours.head, ref.req
	fail := func(what string, got, want any) {
		t.Helper()
		t.Fatalf("%q: %s = %#v, net/http %#v\nhead %s", data, what, got, want, fmtHead(h))
	}
	if string(h.Method) != r.Method {
		fail("Method", string(h.Method), r.Method)
	}
	if string(h.Target) != r.RequestURI {
		fail("Target", string(h.Target), r.RequestURI)
	}
	if r.ProtoMajor != 1 || h.Minor != min(r.ProtoMinor, 1) {
		fail("Minor", h.Minor, r.Proto)
	}

	want := http.Header{}
	for _, f := range h.Fields {
		k := http.CanonicalHeaderKey(string(f.Name))
		want[k] = append(want[k], string(f.Value))
	}
	// net/http's ReadRequest moves Host to req.Host, drops
	// Transfer-Encoding (and Trailer when chunked), merges identical
	// Content-Lengths, and adds Cache-Control for "Pragma: no-cache".
	delete(want, "Host")
	delete(want, "Transfer-Encoding")
	if h.Chunked {
		delete(want, "Trailer")
	}
	if cl := want["Content-Length"]; len(cl) > 1 {
		want["Content-Length"] = cl[:1]
	}
	if p := want["Pragma"]; len(p) > 0 && p[0] == "no-cache" && want["Cache-Control"] == nil {
		want["Cache-Control"] = []string{"no-cache"}
	}
	if !reflect.DeepEqual(want, r.Header) {
		fail("header", want, r.Header)
	}

	host := string(h.Host)
	if r.URL.Host != "" {
		// net/url decodes the percent-escapes of a URL's host.
		var err error
		if host, err = url.PathUnescape(host); err != nil {
			fail("Host escapes", string(h.Host), err)
		}
	}
	if host != r.Host {
		fail("Host", string(h.Host), r.Host)
	}
	if h.HasHost != (len(ref.raw["Host"]) > 0) {
		fail("HasHost", h.HasHost, ref.raw["Host"])
	}
	if h.Chunked != (len(r.TransferEncoding) > 0) {
		fail("Chunked", h.Chunked, r.TransferEncoding)
	}
	if h.Chunked && (h.ContentLength != -1 || r.ContentLength != -1) || !h.Chunked && max(h.ContentLength, 0) != r.ContentLength {
		fail("ContentLength", h.ContentLength, r.ContentLength)
	}
	if h.Close != r.Close {
		fail("Close", h.Close, r.Close)
	}
	if up := refHeaderHasToken(ref.raw["Connection"], "upgrade"); h.Upgrade != up {
		fail("Upgrade", h.Upgrade, up)
	}
	if e := refExpect(ref.raw["Expect"]); h.Expect != e {
		fail("Expect", h.Expect, e)
	}

	u := r.URL
	switch {
	case h.Path == nil:
		if r.Method != "CONNECT" || strings.HasPrefix(r.RequestURI, "/") {
			fail("Path", h.Path, u)
		}
	case string(h.Path) == "*":
		if u.Path != "*" {
			fail("Path", string(h.Path), u.Path)
		}
	default:
		p, query, hasQuery := strings.Cut(string(h.Path), "?")
		up, err := url.PathUnescape(p)
		wantPath := u.Path
		if wantPath == "" {
			wantPath = "/"
		}
		if err != nil || up != wantPath || query != u.RawQuery || hasQuery != (u.RawQuery != "" || u.ForceQuery) {
			fail("Path", string(h.Path), u)
		}
	}

	if !bytes.Equal(ours.body, ref.body) {
		fail("body", string(ours.body), string(ref.body))
	}
	var tr http.Header
	for _, f := range ours.trailers {
		if tr == nil {
			tr = http.Header{}
		}
		k := http.CanonicalHeaderKey(string(f.Name))
		tr[k] = append(tr[k], string(f.Value))
	}
	if len(tr) != len(ref.trailer) || len(tr) > 0 && !reflect.DeepEqual(tr, ref.trailer) {
		fail("trailers", tr, ref.trailer)
	}
}

// refExpect restates RFC 9110 §10.1.1 as Head.Expect reads it: any member
// other than 100-continue, across all Expect fields, is an expectation the
// server cannot meet. (net/http looks only at the first field, for a
// 100-continue token; it agrees on a single one-member field, which
// TestExpectMatchesNetHTTP checks.)
func refExpect(values []string) int {
	e := ExpectNone
	for _, v := range values {
		for _, m := range strings.Split(v, ",") {
			switch m = strings.Trim(m, " \t"); {
			case m == "":
			case strings.EqualFold(m, "100-continue") && len(m) == len("100-continue"):
				e = max(e, Expect100)
			default:
				return ExpectOther
			}
		}
	}
	return e
}

// TestDifferential runs the fuzz comparison on every test request.
func TestDifferential(t *testing.T) {
	for _, s := range seeds() {
		t.Run("", func(t *testing.T) { differential(t, []byte(s)) })
	}
}
