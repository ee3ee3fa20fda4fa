package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// shares is each connection's quota of an -n run.
func shares(cfg Config) []int64 {
	q := make([]int64, cfg.Conns)
	for i := range q {
		q[i] = cfg.N / int64(cfg.Conns)
		if int64(i) < cfg.N%int64(cfg.Conns) {
			q[i]++
		}
	}
	return q
}

// socketsFor is how many sockets connections with these quotas use when
// each carries at most per requests.
func socketsFor(quotas []int64, per int64) (n uint64) {
	for _, q := range quotas {
		n += uint64((q + per - 1) / per)
	}
	return n
}

// -churn closes each connection after exactly N replies and dials anew;
// every request is still answered once, exactly, byte for byte.
func TestChurn(t *testing.T) {
	for _, pipeline := range []int{1, 4} {
		t.Run(fmt.Sprint("pipeline=", pipeline), func(t *testing.T) {
			srv := startHello(t, helloOpts{})
			cfg := testCfg(srv.addr())
			cfg.Pipeline, cfg.Churn = pipeline, 7
			res := runT(t, cfg)
			checkClean(t, cfg, res)
			want := socketsFor(shares(cfg), 7)
			if res.Dials != want || uint64(srv.accepted.Load()) != want || res.DialErrors != 0 || res.Retried != 0 {
				t.Errorf("dials %d, server accepted %d, dial errors %d, retried %d; want %d, %d, 0, 0",
					res.Dials, srv.accepted.Load(), res.DialErrors, res.Retried, want, want)
			}
			if got := srv.requests.Load(); got != cfg.N {
				t.Errorf("server answered %d requests, want %d", got, cfg.N)
			}
		})
	}
}

// -retry carries a run across a server that closes connections without
// reading what was sent after its last reply: the request that crossed
// the close is resent on a new connection, once, and counted.
func TestRetryAfterServerClose(t *testing.T) {
	srv := startHello(t, helloOpts{closeAfter: 5})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Retry = 3, 100, true
	res := runT(t, cfg)
	if !res.OK || res.Requests != 100 || res.Sent != 100 || res.Mismatches != 0 || res.Errors != (Errors{}) {
		t.Fatalf("result %+v; want 100 clean replies", res)
	}
	// Pipeline 1: each socket answers 5, and the 6th request meets the
	// close and is retried, except on a connection's last socket.
	sockets := socketsFor(shares(cfg), 5)
	if res.Dials != sockets || uint64(srv.accepted.Load()) != sockets || res.Retried != sockets-uint64(cfg.Conns) || res.DialErrors != 0 {
		t.Errorf("dials %d, accepted %d, retried %d, dial errors %d; want %d, %d, %d, 0",
			res.Dials, srv.accepted.Load(), res.Retried, res.DialErrors, sockets, sockets, sockets-uint64(cfg.Conns))
	}
	if got := srv.requests.Load(); got != 100 {
		t.Errorf("server answered %d requests, want 100 (a retried request was read once)", got)
	}
	var text strings.Builder
	if err := res.writeText(&text); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("reconnects   dials %d  dial errors 0  retried %d  (churn 0, retry true)\n", sockets, sockets-3); !strings.Contains(text.String(), want) {
		t.Errorf("text result lacks %q:\n%s", want, text.String())
	}
}

// Deep pipelines cross the close with several requests in flight; the
// replies the server sent before it closed are taken, the rest resent.
func TestRetryPipelined(t *testing.T) {
	srv := startHello(t, helloOpts{closeAfter: 5})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Pipeline, cfg.Retry = 3, 300, 4, true
	res := runT(t, cfg)
	if !res.OK || res.Requests != 300 || res.Mismatches != 0 || res.Errors != (Errors{}) || res.DialErrors != 0 {
		t.Fatalf("result %+v; want 300 clean replies", res)
	}
	if res.Retried == 0 || res.Dials != uint64(srv.accepted.Load()) {
		t.Errorf("retried %d, dials %d, accepted %d; want retries, and a dial per accept", res.Retried, res.Dials, srv.accepted.Load())
	}
	if got := srv.requests.Load(); got < 300 {
		t.Errorf("server answered %d requests, want at least 300", got)
	}
}

// A connection that ends after part of a reply is not retried: that reply
// was lost, and the run fails.
func TestRetryNotAfterPartialReply(t *testing.T) {
	srv := serve(t, listenTCP(t), func(s *testServer, c net.Conn) {
		br := bufio.NewReader(c)
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(br, make([]byte, binary.LittleEndian.Uint32(hdr[:]))); err != nil {
			return
		}
		c.Write([]byte("Hi the")) // and close
	})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Retry = 2, 10, true
	res := runT(t, cfg)
	if res.OK || res.Errors.EOF != 2 || res.Errors.Total != 2 || res.Retried != 0 || res.Requests != 0 {
		t.Errorf("result %+v; want 2 eof failures, nothing retried", res)
	}
}

// closingListener closes itself once it has accepted left connections, so
// that the next dial is refused.
type closingListener struct {
	net.Listener
	left atomic.Int32
}

func (l *closingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.left.Add(-1) == 0 {
		l.Listener.Close()
	}
	return c, err
}

// A refused redial is a dial error: counted, and the run fails.
func TestChurnDialRefused(t *testing.T) {
	ln := &closingListener{Listener: listenTCP(t)}
	ln.left.Store(2)
	srv := serveHello(t, ln, helloOpts{})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Churn, cfg.Retry = 1, 20, 5, true
	res := runT(t, cfg)
	if res.OK || res.ExitCode() != 1 || res.DialErrors != 1 || res.Errors.Dial != 1 || res.Dials != 2 || res.Requests != 10 {
		t.Errorf("result %+v; want 10 replies, 2 dials, then 1 dial error failing the run", res)
	}
	if !strings.Contains(res.FirstError, "refused") {
		t.Errorf("first error %q does not say refused", res.FirstError)
	}
}

func TestChurnFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-churn", "-1"}, "-churn must not be negative"},
		{[]string{"-churn", "5", "-proto", "http"}, "-churn: only for -proto hello or echo"},
		{[]string{"-retry", "-rate", "100"}, "-retry: not with -rate or -hold"},
		{[]string{"-churn", "2", "-retry", "-hold"}, "-churn and -retry: not with -rate or -hold"},
		{[]string{"-retry", "-pipeline", "1000"}, "-retry: -pipeline 1000 of these payloads is over"},
	} {
		code, out, errOut := realMainT(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}
