package parse

import "bytes"

// parseTarget checks the request-target (RFC 9112 §3.2) and sets h.Path. It
// refuses what net/http refuses, which is what url.ParseRequestURI refuses
// for the target as net/http passes it (a CONNECT target not starting with
// "/" is parsed as "http://" + target); hard is such an error. deliberate
// is a target net/http accepts and this parser refuses (see the package
// documentation); the caller reports it only after the checks net/http
// makes later, so that a request both refuse gets net/http's status.
//
// authority is the host[:port] of an absolute-form or authority-form
// target, as received (percent-escapes are not decoded; net/http's req.Host
// has them decoded).
func (h *Head) parseTarget(t []byte, connect bool) (authority []byte, deliberate, hard *Error) {
	if len(t) == 0 {
		if connect {
			// "http://" is a valid URL to net/url: net/http accepts an
			// empty CONNECT target, with no host at all.
			return nil, errAuthorityForm, nil
		}
		return nil, nil, errTarget
	}
	for _, b := range t {
		if isCTL(b) {
			return nil, nil, errTargetCTL
		}
	}
	if connect && t[0] != '/' {
		return parseAuthorityForm(t)
	}
	if len(t) == 1 && t[0] == '*' {
		h.Path = t // asterisk-form, RFC 9112 §3.2.4
		return nil, nil, nil
	}

	// net/url's getScheme: a scheme is ALPHA *( ALPHA / DIGIT / "+" / "-"
	// / "." ) followed by ":" (RFC 3986 §3.1); a ":" first is an error.
	scheme := 0
scan:
	for i, c := range t {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				break scan
			}
		case c == ':':
			if i == 0 {
				return nil, nil, errTarget
			}
			scheme = i
			break scan
		default:
			break scan
		}
	}

	rest := t
	if scheme > 0 {
		rest = t[scheme+1:]
	}
	// The query is not checked (net/url keeps it raw); the path is
	// everything before the first "?".
	path := rest
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		path = rest[:q]
	}

	if scheme == 0 {
		// origin-form, RFC 9112 §3.2.1: an absolute path. net/url refuses
		// a relative reference in a request ("invalid URI for request").
		if len(path) == 0 || path[0] != '/' {
			return nil, nil, errTarget
		}
		if !validEscapes(path) {
			return nil, nil, errTargetEscape
		}
		h.Path = t
		return nil, nil, nil
	}

	// absolute-form, RFC 9112 §3.2.2.
	if len(path) < 2 || path[0] != '/' || path[1] != '/' {
		// "scheme:opaque" and "scheme:/path" are absolute URIs that net/url
		// accepts (with an empty host, so net/http falls back to the Host
		// field). An http(s) URI has an authority (RFC 9110 §4.2.1), and a
		// proxy or origin server has no use for the others: refused.
		if len(path) > 0 && path[0] == '/' && !validEscapes(path) {
			return nil, nil, errTargetEscape
		}
		return nil, errNoAuthority, nil
	}
	auth := path[2:]
	pathStart := scheme + 1 + 2 + len(auth)
	if slash := bytes.IndexByte(auth, '/'); slash >= 0 {
		auth = auth[:slash]
		pathStart = scheme + 1 + 2 + slash
	}
	host, userinfo, hard := checkAuthority(auth, isHTTPScheme(t[:scheme]))
	if hard != nil {
		return nil, nil, hard
	}
	if !validEscapes(path[2+len(auth):]) {
		return nil, nil, errTargetEscape
	}
	if userinfo {
		// RFC 9110 §4.2.4: userinfo is deprecated, and a recipient SHOULD
		// treat it as an error: it is how a URI hides its real host from a
		// reader ("http://good.example@evil.example/").
		return nil, errUserinfo, nil
	}
	if name, _ := splitHostPort(host); len(name) == 0 {
		// RFC 9110 §4.2.1: a recipient MUST reject an http URI with an
		// empty host as invalid. net/url accepts "http:///x" and
		// "http://:80/".
		return nil, errNoAuthority, nil
	}

	// Path is the origin-form equivalent: RFC 9112 §3.2.1 has a client
	// send "/" for an empty path, and so we report it.
	switch {
	case pathStart == len(t):
		h.scratch = append(h.scratch[:0], '/')
		h.Path = h.scratch
	case t[pathStart] == '?':
		h.scratch = append(append(h.scratch[:0], '/'), t[pathStart:]...)
		h.Path = h.scratch
	default:
		h.Path = t[pathStart:]
	}
	return host, nil, nil
}

// parseAuthorityForm checks a CONNECT target that does not start with "/"
// (net/rpc's "CONNECT /path" is origin-form). net/http parses it as
// "http://" + t, which lets through a path, a query, userinfo, no port or
// an empty host; RFC 9112 §3.2.3 allows exactly uri-host ":" port, and so
// does this parser.
func parseAuthorityForm(t []byte) (authority []byte, deliberate, hard *Error) {
	auth := t
	if q := bytes.IndexByte(auth, '?'); q >= 0 {
		auth = auth[:q]
	}
	path := auth[len(auth):]
	if slash := bytes.IndexByte(auth, '/'); slash >= 0 {
		auth, path = auth[:slash], auth[slash:]
	}
	host, userinfo, hard := checkAuthority(auth, true)
	if hard != nil {
		return nil, nil, hard
	}
	if !validEscapes(path) {
		return nil, nil, errTargetEscape
	}
	if len(host) != len(t) || userinfo {
		return nil, errAuthorityForm, nil
	}
	if name, port := splitHostPort(host); len(name) == 0 || len(port) < 2 {
		return nil, errAuthorityForm, nil
	}
	return host, nil, nil
}

func isHTTPScheme(s []byte) bool { return equalFold(s, "http") || equalFold(s, "https") }

// checkAuthority checks an authority (RFC 3986 §3.2) as net/url's
// parseAuthority does and returns its host[:port].
func checkAuthority(auth []byte, strictColons bool) (host []byte, userinfo bool, hard *Error) {
	host = auth
	at := bytes.LastIndexByte(auth, '@')
	if at >= 0 {
		host = auth[at+1:]
	}
	if !validURLHost(host, strictColons) {
		return nil, false, errTargetHost
	}
	if at >= 0 {
		if !validUserinfo(auth[:at]) {
			return nil, false, errTargetHost
		}
		userinfo = true
	}
	return host, userinfo, nil
}

// validURLHost is net/url's parseHost: an IP-literal in brackets with an
// optional port, or a reg-name or IPv4 address with an optional port, the
// bytes of both checked as its unescape in encodeHost mode does.
// strictColons is for http and https, where net/url (since Go 1.26,
// urlstrictcolons) refuses a colon in the host ("a:b:80").
func validURLHost(host []byte, strictColons bool) bool {
	if lb := bytes.LastIndexByte(host, '['); lb > 0 {
		return false
	} else if lb == 0 {
		rb := bytes.LastIndexByte(host, ']')
		if rb < 0 {
			return false
		}
		return validOptionalPort(host[rb+1:]) && validIPLiteral(host[1:rb])
	}
	if i := bytes.IndexByte(host, ':'); i >= 0 {
		if last := bytes.LastIndexByte(host, ':'); !strictColons {
			i = last
		}
		if !validOptionalPort(host[i:]) {
			return false
		}
	}
	return validHostEscapes(host, false)
}

// splitHostPort splits a host validated by validURLHost at its port, which
// keeps its ":".
func splitHostPort(host []byte) (name, port []byte) {
	i := bytes.LastIndexByte(host, ':')
	if i < 0 || bytes.LastIndexByte(host, ']') > i {
		return host, nil
	}
	return host[:i], host[i:]
}

// validOptionalPort is net/url's: empty, or ":" followed by digits.
func validOptionalPort(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if p[0] != ':' {
		return false
	}
	for _, b := range p[1:] {
		if b < '0' || b > '9' {
			return false
		}
	}
	return true
}

// validEscapes reports whether every "%" in s starts a pct-encoded triplet
// (RFC 3986 §2.1), as net/url's unescape requires of a path and of
// userinfo.
func validEscapes(s []byte) bool {
	for i := bytes.IndexByte(s, '%'); i >= 0; i = bytes.IndexByte(s, '%') {
		if i+2 >= len(s) || charClass[s[i+1]]&cHex == 0 || charClass[s[i+2]]&cHex == 0 {
			return false
		}
		s = s[i+3:]
	}
	return true
}

// validHostEscapes is net/url's unescape in encodeHost mode (zone false)
// or encodeZone mode (zone true), without the unescaping. In a host, "%"
// may only encode a non-ASCII byte (RFC 3986 §3.2.2) or be "%25" (RFC 6874
// uses it before a zone); in a zone, it may encode what could have been
// written unescaped, or a space.
func validHostEscapes(s []byte, zone bool) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b != '%' {
			if b < 0x80 && charClass[b]&cURLHost == 0 {
				return false
			}
			continue
		}
		if i+2 >= len(s) || charClass[s[i+1]]&cHex == 0 || charClass[s[i+2]]&cHex == 0 {
			return false
		}
		v := unhex(s[i+1])<<4 | unhex(s[i+2])
		pct25 := s[i+1] == '2' && s[i+2] == '5'
		if !zone && v < 0x80 && !pct25 {
			return false
		}
		if zone && !pct25 && v != ' ' && (v >= 0x80 || charClass[v]&cURLHost == 0) {
			return false
		}
		i += 2
	}
	return true
}

// validUserinfo is net/url's check of userinfo (RFC 3986 §3.2.1, plus "@"
// as net/url allows): unreserved, sub-delims, ":" and pct-encoded.
func validUserinfo(s []byte) bool {
	for _, b := range s {
		switch {
		case 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9':
		case indexOf("-._:~!$&'()*+,;=%@", b):
		default:
			return false
		}
	}
	return validEscapes(s)
}

// validIPLiteral checks what is between the brackets of an IP-literal as
// net/url does: an IPv6 address (netip.ParseAddr, not an IPv4 one),
// optionally followed by "%25" and a non-empty zone (RFC 6874).
func validIPLiteral(s []byte) bool {
	addr, zone, hasZone := s, []byte(nil), false
	if z := bytes.Index(s, []byte("%25")); z >= 0 {
		addr, zone, hasZone = s[:z], s[z+3:], true
	}
	// Any other escape before the zone decodes to a non-ASCII byte (or is
	// invalid), which no IP address holds.
	if bytes.IndexByte(addr, '%') >= 0 {
		return false
	}
	// netip.ParseAddr takes the string for IPv4 if a "." comes before any
	// ":", and net/url refuses an IPv4 address in brackets.
	if i := bytes.IndexAny(addr, ".:"); i < 0 || addr[i] == '.' {
		return false
	}
	if !validIPv6(addr) {
		return false
	}
	return !hasZone || len(zone) > 0 && validHostEscapes(zone, true)
}
