// Package proxyproto parses the PROXY protocol header (versions 1 and 2)
// that a load balancer such as HAProxy sends at the start of a connection
// to tell the server the client's address, as specified in HAProxy's
// proxy-protocol.txt.
//
// It is pure: Parse looks at bytes and allocates only what the Header
// holds, so the event loop can run it on what it has read, however the
// header was cut into reads, and fuzzing covers it whole. What is not
// here belongs to the caller: the timeout for the header, whether a
// header is required (the spec forbids guessing), and which peers may
// send one.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Limits of the two versions' headers.
const (
	// MaxV1 is the longest version 1 header, CRLF included.
	MaxV1 = 107
	// v2Fixed is the part of a version 2 header before its addresses.
	v2Fixed = 16
)

// v2Signature starts every version 2 header. It cannot be mistaken for
// the start of a version 1 header, nor of any sane protocol's first bytes.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

var v1Prefix = []byte("PROXY ")

// Errors Parse returns. Each means the connection cannot be served: the
// header is malformed, or not a header at all.
var (
	ErrNoHeader   = errors.New("proxyproto: no PROXY protocol header")
	ErrMalformed  = errors.New("proxyproto: malformed header")
	ErrTooLarge   = errors.New("proxyproto: header larger than allowed")
	ErrBadVersion = errors.New("proxyproto: unsupported version or command")
)

// Header is a parsed PROXY protocol header.
type Header struct {
	// Version is 1 or 2.
	Version int
	// Local is set for a header that carries no client address: a
	// version 2 LOCAL command (a health check by the proxy itself), an
	// AF_UNSPEC or unknown transport, or version 1's UNKNOWN. The
	// connection's own addresses are then the real ones.
	Local bool
	// Source and Destination are the client's address and the address
	// it connected to: *net.TCPAddr, or *net.UnixAddr for version 2's
	// AF_UNIX. Nil when Local.
	Source, Destination net.Addr
	// Authority is version 2's PP2_TYPE_AUTHORITY TLV (the host name the
	// client asked for, SNI), ALPN its PP2_TYPE_ALPN; empty when absent.
	// Other TLVs are skipped.
	Authority string
	ALPN      string
}

// TLV types read from version 2 headers.
const (
	tlvALPN      = 0x01
	tlvAuthority = 0x02
)

// Parse parses the header at the start of b. A header longer than limit
// bytes is refused with ErrTooLarge (a limit below MaxV1 counts as MaxV1;
// a version 2 header can be up to 16+65535 bytes). It returns the header
// and its length; or n == 0 and a nil error when b is a prefix of a header
// that may still become valid (read more, then call again with all of
// it); or an error, after which the connection is to be closed.
func Parse(b []byte, limit int) (h Header, n int, err error) {
	limit = max(limit, MaxV1)
	switch {
	case len(b) == 0:
		return Header{}, 0, nil
	case b[0] == v2Signature[0]:
		if !bytes.HasPrefix(v2Signature, b[:min(len(b), len(v2Signature))]) {
			return Header{}, 0, ErrNoHeader
		}
		return parseV2(b, limit)
	case b[0] == v1Prefix[0]:
		if !bytes.HasPrefix(v1Prefix, b[:min(len(b), len(v1Prefix))]) {
			return Header{}, 0, ErrNoHeader
		}
		return parseV1(b)
	}
	return Header{}, 0, ErrNoHeader
}

// parseV1 parses "PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n".
func parseV1(b []byte) (Header, int, error) {
	end := bytes.Index(b[:min(len(b), MaxV1)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= MaxV1 {
			return Header{}, 0, ErrTooLarge
		}
		if bytes.IndexByte(b, '\n') >= 0 {
			return Header{}, 0, ErrMalformed // a bare LF
		}
		return Header{}, 0, nil
	}
	line, n := string(b[len(v1Prefix):end]), end+2
	h := Header{Version: 1}
	if rest, ok := strings.CutPrefix(line, "UNKNOWN"); ok {
		// The spec: whatever follows UNKNOWN is to be ignored.
		if rest != "" && rest[0] != ' ' {
			return Header{}, 0, ErrMalformed
		}
		h.Local = true
		return h, n, nil
	}
	f := split(line)
	if len(f) != 5 || f[0] != "TCP4" && f[0] != "TCP6" {
		return Header{}, 0, ErrMalformed
	}
	src, err1 := v1Addr(f[0], f[1], f[3])
	dst, err2 := v1Addr(f[0], f[2], f[4])
	if err1 != nil || err2 != nil {
		return Header{}, 0, ErrMalformed
	}
	h.Source, h.Destination = src, dst
	return h, n, nil
}

// split cuts s at single spaces; an empty field (two spaces in a row, a
// leading or trailing one) makes it fail.
func split(s string) []string {
	var f []string
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(f, s)
		}
		if i == 0 {
			return nil
		}
		f = append(f, s[:i])
		s = s[i+1:]
	}
}

// v1Addr parses one address and port of a version 1 header, strictly: the
// family must match, and the port is decimal with no sign or leading zero.
func v1Addr(family, ip, port string) (*net.TCPAddr, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" || family == "TCP4" != a.Is4() {
		return nil, ErrMalformed
	}
	if port == "" || len(port) > 5 || port[0] == '0' && port != "0" {
		return nil, ErrMalformed
	}
	for _, c := range []byte(port) {
		if c < '0' || c > '9' {
			return nil, ErrMalformed
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p > 65535 {
		return nil, ErrMalformed
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, uint16(p))), nil
}

// parseV2 parses the binary header.
func parseV2(b []byte, limit int) (Header, int, error) {
	if len(b) < v2Fixed {
		return Header{}, 0, nil
	}
	verCmd, fam := b[12], b[13]
	size := int(binary.BigEndian.Uint16(b[14:16]))
	n := v2Fixed + size
	switch {
	case verCmd>>4 != 2 || verCmd&0xf > 1:
		return Header{}, 0, ErrBadVersion
	case n > limit:
		return Header{}, 0, ErrTooLarge
	case len(b) < n:
		return Header{}, 0, nil
	}
	h := Header{Version: 2, Local: verCmd&0xf == 0}
	body := b[v2Fixed:n]
	var addrLen int
	switch fam {
	case 0x11: // TCP over IPv4
		addrLen = 12
	case 0x21: // TCP over IPv6
		addrLen = 36
	case 0x31: // AF_UNIX stream
		addrLen = 216
	default:
		// AF_UNSPEC, datagrams and unknown families: the spec says to
		// accept the connection and use its real addresses.
		addrLen = -1
	}
	if addrLen > len(body) {
		return Header{}, 0, ErrMalformed
	}
	if addrLen < 0 || h.Local {
		// The address block, whatever its length, is skipped; the TLVs
		// of such a header have no address to go with and are skipped
		// too.
		h.Local = true
		return h, n, nil
	}
	a := body[:addrLen]
	switch fam {
	case 0x11:
		h.Source = tcpAddr(a[0:4], a[8:10])
		h.Destination = tcpAddr(a[4:8], a[10:12])
	case 0x21:
		h.Source = tcpAddr(a[0:16], a[32:34])
		h.Destination = tcpAddr(a[16:32], a[34:36])
	case 0x31:
		h.Source = &net.UnixAddr{Name: cString(a[:108]), Net: "unix"}
		h.Destination = &net.UnixAddr{Name: cString(a[108:]), Net: "unix"}
	}
	if err := h.tlvs(body[addrLen:]); err != nil {
		return Header{}, 0, err
	}
	return h, n, nil
}

// tlvs reads the TLVs after the addresses: each must fit exactly.
func (h *Header) tlvs(b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return ErrMalformed
		}
		t, l := b[0], int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+l {
			return ErrMalformed
		}
		v := b[3 : 3+l]
		switch t {
		case tlvALPN:
			h.ALPN = string(v)
		case tlvAuthority:
			h.Authority = string(v)
		}
		b = b[3+l:]
	}
	return nil
}

func tcpAddr(ip, port []byte) *net.TCPAddr {
	a, _ := netip.AddrFromSlice(ip)
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, binary.BigEndian.Uint16(port)))
}

// cString is the NUL-terminated name in a fixed-size sun_path field.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
