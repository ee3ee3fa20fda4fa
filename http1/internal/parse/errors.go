package parse

// Error is a request the server must refuse: Status is the response code
// (400, 414, 431, 501, 505), Reason a short text for logs and the response
// body.
//
// The parser returns shared *Error values, so that refusing a request costs
// no allocation (a flood of bad requests must not become a flood of
// garbage); callers must not modify them.
type Error struct {
	Status int
	Reason string
}

// Error implements error.
func (e *Error) Error() string { return "http: " + e.Reason }

func badRequest(reason string) *Error { return &Error{Status: 400, Reason: reason} }

// Framing and syntax errors that net/http's server also refuses, with the
// status it sends.
var (
	errBareCR          = badRequest("CR not followed by LF")
	errNUL             = badRequest("NUL byte in request head")
	errRequestLine     = badRequest("malformed request line")
	errMethod          = badRequest("invalid method")
	errVersion         = badRequest("malformed HTTP version")
	errTarget          = badRequest("invalid request-target")
	errTargetCTL       = badRequest("control character in request-target")
	errTargetEscape    = badRequest("invalid percent-escape in request-target")
	errTargetHost      = badRequest("invalid host in request-target")
	errLeadingSpace    = badRequest("whitespace before the first header field")
	errFieldColon      = badRequest("header field line without a colon")
	errFieldName       = badRequest("invalid header field name")
	errFieldValue      = badRequest("invalid header field value")
	errHostMissing     = badRequest("missing required Host header")
	errHostMany        = badRequest("too many Host headers")
	errHostInvalid     = badRequest("malformed Host header")
	errContentLength   = badRequest("invalid Content-Length")
	errContentLengths  = badRequest("differing Content-Length values")
	errTrailerDeclared = badRequest("Trailer lists a framing field")
	errIncomplete      = badRequest("request head without its final empty line")

	errTooLongTarget = &Error{Status: 414, Reason: "request-target too long"}
	errTooLargeHead  = &Error{Status: 431, Reason: "request head too large"}
	errTooManyFields = &Error{Status: 431, Reason: "too many header fields"}

	errTransferCoding = &Error{Status: 501, Reason: "unsupported transfer encoding"}
	errVersionMajor   = &Error{Status: 505, Reason: "unsupported protocol version"}
)

// Chunked body errors. net/http reports them to the handler as read errors;
// a server built on this package refuses the request instead.
var (
	errChunkLine     = badRequest("malformed chunk-size line")
	errChunkBareLF   = badRequest("chunked line ends with bare LF")
	errChunkSize     = badRequest("invalid chunk size")
	errChunkTooLong  = badRequest("chunk-size line too long")
	errChunkExtLong  = badRequest("chunk extension too long") // Chunked.MaxExt, a limit net/http does not have
	errChunkCRLF     = badRequest("chunk data not followed by CRLF")
	errChunkOverhead = badRequest("chunked encoding contains too much non-data")
	errTrailerLine   = badRequest("malformed trailer field")
	errTrailerLarge  = &Error{Status: 431, Reason: "trailer section too large"}
	errTrailerMany   = &Error{Status: 431, Reason: "too many trailer fields"}
)

// Deliberate differences from net/http: requests it accepts and this parser
// refuses (see the package documentation for the reasoning of each). They
// are separate values so that the differential fuzz test can tell them from
// unintended strictness.
var (
	errObsFold        = badRequest("obsolete line folding in header field")
	errTEWithCL       = badRequest("both Transfer-Encoding and Content-Length")
	errTEInHTTP10     = badRequest("Transfer-Encoding in an HTTP/1.0 request")
	errH2Preface      = &Error{Status: 505, Reason: "HTTP/2 connection preface on an HTTP/1 connection"}
	errNoAuthority    = badRequest("absolute-form request-target without an authority")
	errUserinfo       = badRequest("userinfo in request-target")
	errAuthorityForm  = badRequest("CONNECT request-target is not host:port")
	errChunkSizeRange = badRequest("chunk size above 2^63-1")
	errChunkExt       = badRequest("malformed chunk extension")
	errChunkSpace     = badRequest("whitespace in chunk-size line")
	errTrailerLF      = badRequest("trailer line ends with bare LF")
	errTrailerName    = badRequest("invalid trailer field name")
)
