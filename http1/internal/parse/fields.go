package parse

import "bytes"

// Field is one header field, as received; Value has its leading and
// trailing SP/HTAB (OWS) removed.
type Field struct {
	Name, Value []byte
}

// splitField parses a field line (RFC 9112 §5: field-name ":" OWS
// field-value OWS), its line end already removed, for the header section
// and the trailer section alike. The caller has refused a line starting
// with SP or HTAB.
//
// spaceInName reports a name that is a token but for SP bytes, such as
// "Foo Bar" or "Foo " (whitespace before the colon). net/http's textproto
// lets such a name through and its server refuses it later
// (httpguts.ValidHeaderFieldName), after checks that answer 501 or 505;
// the caller keeps that order. Any other non-token byte in the name,
// HTAB included, is refused here, as textproto does.
func splitField(line []byte) (name, value []byte, spaceInName bool, err *Error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return nil, nil, false, errFieldColon
	}
	name = line[:colon]
	if len(name) == 0 {
		return nil, nil, false, errFieldName
	}
	for _, b := range name {
		if charClass[b]&cToken == 0 {
			// RFC 9112 §5.1: no whitespace is allowed between the field
			// name and colon; a server MUST reject such a request with 400,
			// since a proxy that strips the whitespace would see a
			// different field (CVE-2019-16276: "Transfer-Encoding : x").
			if b != ' ' {
				return nil, nil, false, errFieldName
			}
			spaceInName = true
		}
	}
	value = trimOWS(line[colon+1:])
	for _, b := range value {
		if charClass[b]&cValue == 0 {
			return nil, nil, false, errFieldValue
		}
	}
	return name, value, spaceInName, nil
}

// nextMember splits the first member off a comma-separated list (RFC 9110
// §5.6.1, #rule), trimmed of OWS; empty members are the caller's to skip,
// as the RFC requires a recipient to accept them. more is false after the
// last member.
func nextMember(list []byte) (member, rest []byte, more bool) {
	i := bytes.IndexByte(list, ',')
	if i < 0 {
		return trimOWS(list), nil, false
	}
	return trimOWS(list[:i]), list[i+1:], true
}

// listHas reports whether the comma-separated list holds token (lower
// case), ignoring ASCII case, as httpguts.HeaderValuesContainsToken.
func listHas(list []byte, token string) bool {
	for more := true; more; {
		var m []byte
		m, list, more = nextMember(list)
		if equalFold(m, token) {
			return true
		}
	}
	return false
}

// parseContentLength parses Content-Length = 1*DIGIT (RFC 9110 §8.6): no
// sign, no inner whitespace, not empty (net/http refuses an empty value
// since golang/go#61679), no comma list (RFC 9110 §8.6 lets a recipient
// accept "42, 42"; net/http does not, and neither do we), and it must fit
// in int64, as strconv.ParseUint(v, 10, 63) does in net/http.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		d := int64(b - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// validHostField is httpguts.ValidHostHeader: RFC 9112 §3.2 requires 400
// for a Host field with an invalid value, and net/http checks its bytes
// only (an empty value passes).
func validHostField(v []byte) bool {
	for _, b := range v {
		if charClass[b]&cHostField == 0 {
			return false
		}
	}
	return true
}
