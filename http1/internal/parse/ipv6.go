package parse

// validIPv6 reports whether s is an IPv6 address without a zone as
// netip.ParseAddr accepts it (RFC 4291 §2.2: up to eight groups of one to
// four hex digits, one "::" standing for at least one zero group, and an
// optional dotted IPv4 address in the last 32 bits). net/url uses
// netip.ParseAddr for an IP-literal; this is the same grammar over a
// []byte, so that a bracketed host costs no string conversion.
// TestIPv6 and FuzzIPv6 compare it with netip.ParseAddr.
func validIPv6(s []byte) bool {
	ellipsis := -1 // where the "::" is, in bytes of the address
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return true
		}
	}
	i := 0 // bytes of the address filled
	for i < 16 {
		off := 0
		for ; off < len(s) && charClass[s[off]]&cHex != 0; off++ {
			if off > 3 {
				return false
			}
		}
		if off == 0 {
			return false
		}
		if off < len(s) && s[off] == '.' {
			// An embedded IPv4 address replaces the last two groups.
			if ellipsis < 0 && i != 12 || i+4 > 16 {
				return false
			}
			if !validIPv4(s) {
				return false
			}
			s = s[len(s):]
			i += 4
			break
		}
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return false
	}
	if i < 16 {
		return ellipsis >= 0
	}
	// "::" must stand for at least one group.
	return ellipsis < 0
}

// validIPv4 is netip's dotted-decimal grammar: four fields of 0-255, no
// leading zeros (which some parsers read as octal).
func validIPv4(s []byte) bool {
	fields, val, digits := 0, 0, 0
	for i, c := range s {
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 {
				return false
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return false
			}
		case c == '.':
			if i == 0 || i == len(s)-1 || s[i-1] == '.' || fields == 3 {
				return false
			}
			fields++
			val, digits = 0, 0
		default:
			return false
		}
	}
	return fields == 3
}
