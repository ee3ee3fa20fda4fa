package parse

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReferenceMatchesServer checks the fuzz test's model of net/http
// (refRequest) against a real http.Server: for every test request, the
// status the server sends must be the one the model predicts. The handler
// reads the whole body and answers 200, or 400 if the body is bad.
func TestReferenceMatchesServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an HTTP server")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(200)
	}))
	srv.Config.ErrorLog = nil
	srv.Start()
	defer srv.Close()

	for _, s := range seeds() {
		data := stripLeadingEmptyLines([]byte(s))
		ref := refRequest(data)
		want := ref.status
		switch {
		case ref.ok:
			want = 200
			if e := ref.req.Header.Get("Expect"); e != "" && !refHasToken(e, "100-continue") {
				want = 417 // the server answers before the handler runs
			}
		case ref.bodyErr:
			want = 400 // from the handler, whether the body is bad or cut short
		}
		if got := serverStatus(t, srv.Listener.Addr().String(), data); got != want {
			t.Errorf("%q: server sent %d, the model predicts %d (%v)", data, got, want, ref.err)
		}
	}
}

// serverStatus sends data and half-closes; 0 means the server closed the
// connection without answering (it saw the input end).
func serverStatus(t *testing.T, addr string, data []byte) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	all, _ := io.ReadAll(c)
	if len(all) == 0 {
		return 0
	}
	br := bufio.NewReader(bytes.NewReader(all))
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: response %q: %v", data, all, err)
		}
		if res.StatusCode != 100 {
			return res.StatusCode
		}
	}
}

// refHasToken is net/http's hasToken: token, ASCII case-insensitive,
// between SP, HTAB, comma or the ends of v.
func refHasToken(v, token string) bool {
	for _, m := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
		if asciiEqualFold(m, token) {
			return true
		}
	}
	return false
}
