// Package parse is the HTTP/1.1 request parser: the request head
// (ScanHead finds its end, Head.Parse reads it) and the chunked body
// (Chunked). It is pure: no I/O, no goroutines, no allocation in steady
// state, and every []byte it returns points into the caller's buffer
// (trailer fields are copied; see Head.Path for its one exception).
//
// The reference is Go's net/http server, the strictest widely used HTTP/1
// parser: whatever it refuses, this package refuses, with the status it
// sends (400, 501, 505; 431 for its size limit), and the checks run in its
// order so that a request both refuse gets the same status. FuzzRequest
// and FuzzChunked hold the package to that, and TestReferenceMatchesServer
// holds their model of net/http to a real http.Server.
//
// On top of net/http, this package refuses what lets two parsers frame
// the same bytes differently (request smuggling), and what RFC 9110 and
// RFC 9112 let a server refuse. These are the deliberate differences, each
// explained where it is made:
//
//   - Obsolete line folding (a field line starting with SP or HTAB) is
//     refused with 400 (RFC 9112 §5.2 allows it); net/http joins the lines.
//   - Transfer-Encoding with Content-Length is refused with 400 (RFC 9112
//     §6.1 allows it); net/http takes the body as chunked.
//   - Transfer-Encoding in an HTTP/1.0 request is refused with 400 (RFC
//     9112 §6.1: faulty framing); net/http ignores the field.
//   - The HTTP/2 preface "PRI * HTTP/2.0" is refused with 505; net/http
//     passes it to handlers that do their own h2c upgrade.
//   - An absolute-form target must have a non-empty host after "//" (RFC
//     9110 §4.2.1), and no userinfo (RFC 9110 §4.2.4); net/url accepts
//     "http:x", "http:/x", "http:///x", "http://:80/x" and
//     "http://user@host/".
//   - A CONNECT target must be exactly host ":" port (RFC 9112 §3.2.3);
//     net/http also accepts a path, a query, userinfo, no port and an
//     empty target.
//   - A chunk size above 2^63-1 is refused; net/http takes up to 2^64-1.
//   - Chunk extensions must match RFC 9112 §7.1.1, with no whitespace
//     before the CRLF, and are bounded by Chunked.MaxExt; net/http skips
//     anything up to the CRLF and trims trailing whitespace.
//   - Trailer lines must end in CRLF and trailer names must be tokens;
//     net/http takes a bare LF there (golang/go#81143) and does not check
//     trailer names.
//
// And, without refusing anything net/http accepts: leading empty lines
// before the request line are skipped (RFC 9112 §2.2; net/http skips at
// most four CR or LF bytes, after a POST only); a target over
// Limits.MaxTarget gets 414, where net/http only has its 1 MiB header
// limit (431), and Limits.MaxFields bounds the field count; HTTP/1.2 to
// HTTP/1.9 are reported as Minor 1; and an Expect list with any member
// other than 100-continue is ExpectOther (417), where net/http looks for a
// 100-continue token in the first Expect field only.
package parse
