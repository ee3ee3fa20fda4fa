package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
)

// v2 builds a version 2 header: command (0 LOCAL, 1 PROXY), family byte,
// address block and TLVs.
func v2(cmd, fam byte, addrs []byte, tlvs ...[]byte) []byte {
	body := append([]byte(nil), addrs...)
	for _, t := range tlvs {
		body = append(body, t...)
	}
	b := append([]byte(nil), v2Signature...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func tlv(t byte, v string) []byte {
	b := []byte{t}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

var ipv4Block = []byte{192, 0, 2, 1, 198, 51, 100, 7, 0x30, 0x39, 0x01, 0xbb} // 192.0.2.1:12345 -> 198.51.100.7:443

func TestParseValid(t *testing.T) {
	ipv6 := make([]byte, 36)
	copy(ipv6, net.ParseIP("2001:db8::1"))
	copy(ipv6[16:], net.ParseIP("2001:db8::2"))
	binary.BigEndian.PutUint16(ipv6[32:], 1)
	binary.BigEndian.PutUint16(ipv6[34:], 65535)
	unixBlock := make([]byte, 216)
	copy(unixBlock, "/run/client.sock")
	copy(unixBlock[108:], "/run/server.sock")

	for _, tc := range []struct {
		name, in        string
		local           bool
		version         int
		src, dst        string
		authority, alpn string
	}{
		{name: "v1 TCP4", in: "PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n", version: 1, src: "192.0.2.1:12345", dst: "198.51.100.7:443"},
		{name: "v1 TCP6", in: "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", version: 1, src: "[2001:db8::1]:1", dst: "[2001:db8::2]:65535"},
		{name: "v1 port 0", in: "PROXY TCP4 192.0.2.1 198.51.100.7 0 0\r\n", version: 1, src: "192.0.2.1:0", dst: "198.51.100.7:0"},
		{name: "v1 UNKNOWN", in: "PROXY UNKNOWN\r\n", version: 1, local: true},
		{name: "v1 UNKNOWN with addresses", in: "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", version: 1, local: true},
		{name: "v2 TCP4", in: string(v2(1, 0x11, ipv4Block)), version: 2, src: "192.0.2.1:12345", dst: "198.51.100.7:443"},
		{name: "v2 TCP6", in: string(v2(1, 0x21, ipv6)), version: 2, src: "[2001:db8::1]:1", dst: "[2001:db8::2]:65535"},
		{name: "v2 UNIX", in: string(v2(1, 0x31, unixBlock)), version: 2, src: "/run/client.sock", dst: "/run/server.sock"},
		{name: "v2 LOCAL (a health check)", in: string(v2(0, 0x11, ipv4Block)), version: 2, local: true},
		{name: "v2 LOCAL, no addresses", in: string(v2(0, 0x00, nil)), version: 2, local: true},
		{name: "v2 UNSPEC", in: string(v2(1, 0x00, []byte("whatever"))), version: 2, local: true},
		{name: "v2 UDP is not ours: real addresses", in: string(v2(1, 0x12, ipv4Block)), version: 2, local: true},
		{name: "v2 TLVs: authority, ALPN, others skipped", in: string(v2(1, 0x11, ipv4Block,
			tlv(0x04, "noop padding"), tlv(tlvAuthority, "example.com"), tlv(0x20, "\x01ssl"), tlv(tlvALPN, "h2"), tlv(0xe0, ""))),
			version: 2, src: "192.0.2.1:12345", dst: "198.51.100.7:443", authority: "example.com", alpn: "h2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in + "GET / HTTP/1.1\r\n") // what follows is not the header's
			h, n, err := Parse(in, 4096)
			if err != nil || n != len(tc.in) {
				t.Fatalf("Parse = n %d, %v; want n %d, nil", n, err, len(tc.in))
			}
			if h.Version != tc.version || h.Local != tc.local || h.Authority != tc.authority || h.ALPN != tc.alpn {
				t.Errorf("header %+v", h)
			}
			if tc.local {
				if h.Source != nil || h.Destination != nil {
					t.Errorf("a local header has addresses %v %v", h.Source, h.Destination)
				}
				return
			}
			if h.Source.String() != tc.src || h.Destination.String() != tc.dst {
				t.Errorf("addresses %v -> %v, want %s -> %s", h.Source, h.Destination, tc.src, tc.dst)
			}
			// Every prefix is incomplete, not an error: headers arrive
			// cut anywhere.
			for i := range len(tc.in) {
				if _, n, err := Parse(in[:i], 4096); n != 0 || err != nil {
					t.Fatalf("prefix of %d bytes: n %d, %v; want 0, nil", i, n, err)
				}
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	long := "PROXY TCP6 " + string(bytes.Repeat([]byte("f"), 100)) + "\r\n"
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"no header: HTTP", "GET / HTTP/1.1\r\n", ErrNoHeader},
		{"no header: lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrNoHeader},
		{"no header: a CR that is no signature", "\r\nHELLO\r\n\r\n\r\n", ErrNoHeader},
		{"v1 too long", long, ErrTooLarge},
		{"v1 no CRLF within 107 bytes", "PROXY TCP4 " + string(bytes.Repeat([]byte(" "), 120)), ErrTooLarge},
		{"v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ErrMalformed},
		{"v1 unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 family mismatch", "PROXY TCP4 ::1 ::2 1 2\r\n", ErrMalformed},
		{"v1 family mismatch 6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 port out of range", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", ErrMalformed},
		{"v1 port with leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", ErrMalformed},
		{"v1 port with sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", ErrMalformed},
		{"v1 double space", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", ErrMalformed},
		{"v1 missing field", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", ErrMalformed},
		{"v1 extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", ErrMalformed},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n", ErrMalformed},
		{"v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", ErrMalformed},
		{"v2 version 1", string(append(append([]byte(nil), v2Signature...), 0x11, 0x11, 0, 0)), ErrBadVersion},
		{"v2 command 2", string(append(append([]byte(nil), v2Signature...), 0x22, 0x11, 0, 0)), ErrBadVersion},
		{"v2 short address block", string(v2(1, 0x11, ipv4Block[:11])), ErrMalformed},
		{"v2 TLV past the end", string(v2(1, 0x11, ipv4Block, []byte{0x02, 0x00, 0x09, 'a'})), ErrMalformed},
		{"v2 truncated TLV header", string(v2(1, 0x11, ipv4Block, []byte{0x02, 0x00})), ErrMalformed},
		{"v2 over the limit", string(v2(1, 0x11, ipv4Block, tlv(0x04, string(make([]byte, 5000))))), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := Parse([]byte(tc.in), 4096)
			if !errors.Is(err, tc.want) || n != 0 {
				t.Errorf("Parse(%q) = n %d, %v; want %v", tc.in, n, err, tc.want)
			}
		})
	}
}

// FuzzParse: Parse never panics, never claims more bytes than it was
// given or than the limit, is consistent under a longer input, and what it
// accepts has the shape the spec requires.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 12345 443\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\nrest"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x11, ipv4Block, tlv(tlvAuthority, "example.com")))
	f.Add(v2(0, 0x00, nil))
	f.Add(v2(1, 0x31, make([]byte, 216)))
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1024
		h, n, err := Parse(b, limit)
		switch {
		case err != nil:
			if n != 0 {
				t.Fatalf("error %v with n %d", err, n)
			}
			return
		case n == 0:
			// Incomplete: it must stay so or resolve, never be a
			// header already.
			if len(b) >= limit+v2Fixed {
				t.Fatalf("%d bytes still incomplete under a %d-byte limit", len(b), limit)
			}
			return
		}
		if n > len(b) || n > max(limit, MaxV1) {
			t.Fatalf("n %d of %d bytes (limit %d)", n, len(b), limit)
		}
		if h.Version == 1 && n > MaxV1 || h.Version != 1 && h.Version != 2 {
			t.Fatalf("version %d header of %d bytes", h.Version, n)
		}
		if h.Local != (h.Source == nil) || (h.Source == nil) != (h.Destination == nil) {
			t.Fatalf("local %v with addresses %v %v", h.Local, h.Source, h.Destination)
		}
		// The same header followed by anything parses the same.
		h2, n2, err2 := Parse(append(b[:n:n], "trailing bytes"...), limit)
		if err2 != nil || n2 != n || h2.Version != h.Version || h2.Local != h.Local || h2.Authority != h.Authority {
			t.Fatalf("with trailing bytes: %+v %d %v; alone %+v %d", h2, n2, err2, h, n)
		}
	})
}
