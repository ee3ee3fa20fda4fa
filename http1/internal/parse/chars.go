package parse

// Byte classes, one bit each in charClass. net/http keeps these tables in
// golang.org/x/net/http/httpguts and net/url, which this package may not
// import; TestCharClasses checks each one against the standard library.
const (
	// tchar, RFC 9110 §5.6.2: the bytes of a token (method, field name,
	// transfer coding, chunk-ext-name).
	cToken = 1 << iota
	// field-vchar, SP and HTAB, RFC 9110 §5.5: the bytes allowed in a field
	// value. Every other CTL (including CR, LF and NUL) is refused, as by
	// httpguts.ValidHeaderFieldValue; a CR or LF in a value is how header
	// injection and response splitting get through.
	cValue
	// The bytes httpguts.ValidHostHeader allows in a Host field: RFC 3986
	// §3.2.2 reg-name, IP-literal and ":" port characters.
	cHostField
	// The bytes net/url accepts unescaped in the host of a URL (its
	// encodeHost mode): what RFC 3986 §3.2.2 allows, plus the few it adds
	// (< > " [ ]) and every byte >= 0x80.
	cURLHost
	// HEXDIG, RFC 5234 appendix B.1.
	cHex
	// qdtext, RFC 9110 §5.6.4: the bytes of a quoted-string other than
	// DQUOTE and the backslash of a quoted-pair.
	cQdtext
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
		if alnum || indexOf("!#$%&'*+-.^_`|~", b) {
			t[c] |= cToken
		}
		if 0x21 <= b && b <= 0x7e || b >= 0x80 || b == ' ' || b == '\t' {
			t[c] |= cValue
		}
		if alnum || indexOf("!$%&'()*+,-.:;=[]_~", b) {
			t[c] |= cHostField
		}
		if alnum || b >= 0x80 || indexOf("-_.~!$&'()*+,;=:[]<>\"", b) {
			t[c] |= cURLHost
		}
		if '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' {
			t[c] |= cHex
		}
		if b == '\t' || b == ' ' || b == 0x21 || 0x23 <= b && b <= 0x5b || 0x5d <= b && b <= 0x7e || b >= 0x80 {
			t[c] |= cQdtext
		}
	}
	return t
}()

func indexOf(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

func isOWS(b byte) bool { return b == ' ' || b == '\t' }

// isCTL reports the bytes net/url refuses anywhere in a URL (its
// stringContainsCTLByte): RFC 5234 CTL, 0x00-0x1f and DEL.
func isCTL(b byte) bool { return b < ' ' || b == 0x7f }

func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, b := range s {
		if charClass[b]&cToken == 0 {
			return false
		}
	}
	return true
}

func unhex(b byte) byte {
	switch {
	case b <= '9':
		return b - '0'
	case b >= 'a':
		return b - 'a' + 10
	default:
		return b - 'A' + 10
	}
}

// trimOWS removes the optional whitespace (SP and HTAB, RFC 9110 §5.6.3)
// around a field value or list member.
func trimOWS(s []byte) []byte {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// equalFold reports whether s equals the lower-case ASCII word lower, ignoring
// ASCII case only: field names and the tokens compared here are
// case-insensitive (RFC 9110 §5.1, §7.6.1, §10.1.1), but a non-ASCII byte
// must never fold onto a letter (net/http uses internal/ascii for this).
func equalFold(s []byte, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lower[i] {
			return false
		}
	}
	return true
}
