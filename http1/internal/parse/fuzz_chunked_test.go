package parse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// chunkedSeeds is every chunked body of the tests but the long ones,
// which only slow the fuzzer's mutation and minimization down.
func chunkedSeeds() []string {
	var s []string
	for _, tt := range chunkedTests {
		if len(tt.body) <= 1024 {
			s = append(s, tt.body)
		}
	}
	for _, r := range bodyTests {
		if i := strings.Index(r, "\r\n\r\n"); i >= 0 && strings.Contains(r[:i], "chunked") {
			s = append(s, r[i+4:])
		}
	}
	return s
}

// FuzzChunked compares Chunked.Decode with net/http: its chunked reader
// (httputil.NewChunkedReader) for the chunks, then what its body reader
// does with the trailer section. Both must accept the same bodies, with the
// same data and trailers, but for the deliberate differences; and Decode
// must give the same answer however the body is split into reads.
func FuzzChunked(f *testing.F) {
	for _, s := range chunkedSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(chunkedDifferential)
}

func chunkedDifferential(t *testing.T, data []byte) {
	{
		c := Chunked{MaxExt: 1 << 20, MaxTrailer: 4096, MaxTrailers: 1 << 20}
		whole := decodeReads(&c, data, func(int) int { return len(data) })
		for _, reads := range []func(int) int{
			func(have int) int { return max(1, len(data)/3) },
			func(have int) int { return 1 + have%7 },
		} {
			c := Chunked{MaxExt: 1 << 20, MaxTrailer: 4096, MaxTrailers: 1 << 20}
			if got := decodeReads(&c, data, reads); got != whole {
				t.Fatalf("%q: split %v, whole %v", data, got, whole)
			}
		}

		c = Chunked{MaxExt: 1 << 20, MaxTrailer: 4096, MaxTrailers: 1 << 20}
		body, trailers, err := decodeAll(&c, data)
		ours := err == nil && c.Done()

		br := bufio.NewReader(bytes.NewReader(data))
		refBody, refErr := io.ReadAll(httputil.NewChunkedReader(br))
		var refTrailer http.Header
		if refErr == nil {
			refTrailer, refErr = refReadTrailer(br)
		}

		switch {
		case ours && refErr == nil:
			if !bytes.Equal(body, refBody) {
				t.Fatalf("%q: data %q, net/http %q", data, body, refBody)
			}
			var tr http.Header
			for _, f := range trailers {
				if tr == nil {
					tr = http.Header{}
				}
				k := http.CanonicalHeaderKey(string(f.Name))
				tr[k] = append(tr[k], string(f.Value))
			}
			if len(tr) != len(refTrailer) || len(tr) > 0 && !reflect.DeepEqual(tr, refTrailer) {
				t.Fatalf("%q: trailers %v, net/http %v", data, tr, refTrailer)
			}
		case ours:
			t.Fatalf("%q: we accept, net/http refuses: %v", data, refErr)
		case refErr == nil:
			if err == nil {
				t.Fatalf("%q: we wait for more, net/http accepts", data)
			}
			switch err {
			case errChunkSizeRange, errChunkExt, errChunkSpace, errTrailerLF, errTrailerName, errObsFold:
			default:
				t.Fatalf("%q: we refuse (%v), net/http accepts", data, err)
			}
		}
	}
}

// refReadTrailer is what net/http's body.readTrailer does after the last
// chunk: a CRLF ends the body; otherwise it wants a CRLFCRLF within its
// buffer, then reads the trailer with textproto.
func refReadTrailer(br *bufio.Reader) (http.Header, error) {
	buf, err := br.Peek(2)
	if bytes.Equal(buf, []byte("\r\n")) {
		br.Discard(2)
		return nil, nil
	}
	if len(buf) < 2 {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	found := false
	for n := 4; ; n++ {
		buf, err := br.Peek(n)
		if bytes.HasSuffix(buf, []byte("\r\n\r\n")) {
			found = true
			break
		}
		if err != nil {
			break
		}
	}
	if !found {
		return nil, errors.New("suspiciously long trailer after chunked body")
	}
	hdr, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	return http.Header(hdr), nil
}
