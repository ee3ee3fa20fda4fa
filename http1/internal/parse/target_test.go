package parse

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestCharClasses checks the byte tables against the standard library
// where it has the same rule.
func TestCharClasses(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		s := string([]byte{b})
		if got, want := charClass[b]&cToken != 0, refValidFieldName(s); got != want {
			t.Errorf("%q: token %t, httpguts %t", b, got, want)
		}
		if got, want := charClass[b]&cValue != 0, refValidFieldValue(s); got != want && b != '\r' && b != '\n' {
			t.Errorf("%q: value %t, httpguts %t", b, got, want)
		}
		if got, want := charClass[b]&cHostField != 0, refValidHostHeader(s); got != want {
			t.Errorf("%q: Host %t, httpguts %t", b, got, want)
		}
		// net/url: a byte in a URL host, alone and next to a letter.
		if b != '%' && b != '/' && b != '?' && b != '@' && b != '[' && b != ']' && b != ':' && !isCTL(b) {
			_, err := url.ParseRequestURI("http://a" + s + "b/")
			if got := charClass[b]&cURLHost != 0; got != (err == nil) {
				t.Errorf("%q: URL host %t, net/url %v", b, got, err)
			}
		}
	}
}

// TestIPv6 compares validIPv6 with netip.ParseAddr on addresses and
// near-misses.
func TestIPv6(t *testing.T) {
	in := []string{
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7", "1::2::3", ":1::", "1:::2", "12345::", "fFfF::", "g::", "::ffff:1.2.3.4",
		"::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1.2.3.4", "::01.2.3.4", "::1.2.3",
		"::256.1.1.1", "::1.2.3.4.5", "::1..2.3", "1:2:3:4:5::1.2.3.4", "", ":", "1:", "::1:", "::1.2.3.4:5",
		"1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7", "::1:2:3:4:5:6:7:8", "0:0:0:0:0:0:0:0", "::0.0.0.0",
		"1::1.2.3.4", "a:b", "1:2:3:4:5:6:7:.", "::.1.2.3", "::1.2.3.",
	}
	for _, s := range in {
		_, err := netip.ParseAddr(s)
		want := err == nil && strings.Contains(s, ":")
		if got := validIPv6([]byte(s)); got != want {
			t.Errorf("%q: %t, netip %v", s, got, err)
		}
	}
}

// FuzzTarget compares parseTarget with url.ParseRequestURI, called as
// net/http calls it: a target this package refuses outright ("hard") must
// be refused by net/url, and one net/url refuses must be refused here.
func FuzzTarget(f *testing.F) {
	for _, s := range []string{
		"/", "*", "/a?b", "http://a/b", "http://[fe80::1%25en0]:80/x", "https://%C3%A9:1?q", "foo://a:b:1/",
		"http://u:p@a/", "http:foo", "a.example:443", "[::1]:443", "u@a:1", "http://a%2/", "//x", "/%zz",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, target string, connect bool) {
		var h Head
		authority, deliberate, hard := h.parseTarget([]byte(target), connect)
		raw := target
		if connect && !strings.HasPrefix(target, "/") {
			raw = "http://" + target
		}
		u, err := url.ParseRequestURI(raw)
		switch {
		case hard != nil && err == nil:
			t.Fatalf("%q (CONNECT %t): we refuse (%v), net/url accepts", target, connect, hard)
		case hard == nil && err != nil:
			t.Fatalf("%q (CONNECT %t): we accept, net/url refuses: %v", target, connect, err)
		case err != nil || deliberate != nil:
			return
		}
		host, err := url.PathUnescape(string(authority))
		if err != nil || host != u.Host {
			t.Fatalf("%q: authority %q, net/url host %q", target, authority, u.Host)
		}
		if h.Path == nil && !connect {
			t.Fatalf("%q: no path", target)
		}
	})
}
