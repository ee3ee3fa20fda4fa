package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/nettest"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
)

const testDeadline = 20 * time.Second

// serve runs h through http1's net/http path on a fresh loopback port.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &simpleserver.Server{
		Stream:  &http1.Protocol{Handler: h},
		Loops:   2,
		Workers: 8,
		Logger:  slog.New(slog.DiscardHandler),
	}
	return start(t, srv)
}

// The net.Conn a Handler gets from Hijack passes x/net/nettest's
// conformance suite: blocking reads and writes, concurrent use, close
// semantics, and deadlines that wake blocked calls with
// os.ErrDeadlineExceeded.
func TestHijackedConnConformance(t *testing.T) {
	hijacked := make(chan net.Conn, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		if n := brw.Reader.Buffered(); n != 0 {
			t.Errorf("%d bytes buffered after a request with nothing behind it", n)
		}
		hijacked <- nc
	}))
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		client, err := net.DialTimeout("tcp", addr, testDeadline)
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := io.WriteString(client, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			client.Close()
			return nil, nil, nil, err
		}
		select {
		case server := <-hijacked:
			return server, client, func() { server.Close(); client.Close() }, nil
		case <-time.After(testDeadline):
			client.Close()
			return nil, nil, nil, errors.New("the handler did not hijack")
		}
	})
}

// Bytes the client sent right behind the request (a new protocol's first
// message, before the server answered) come out of Hijack's reader, in
// order, ahead of what arrives later.
func TestHijackKeepsBytesBehindRequest(t *testing.T) {
	got := make(chan string, 1)
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			got <- "Hijack: " + err.Error()
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(testDeadline))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			got <- "read: " + err.Error()
			return
		}
		rest, err := brw.ReadString('\n')
		if err != nil {
			got <- "read: " + err.Error()
			return
		}
		got <- line + rest
	}))
	c, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testDeadline))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nearly bytes\n")
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != 101 {
		t.Fatalf("upgrade response: %v %v", err, r)
	}
	io.WriteString(c, "later bytes\n")
	if s := <-got; s != "early bytes\nlater bytes\n" {
		t.Fatalf("the hijacker read %q", s)
	}
}

// A WebSocket echo with github.com/coder/websocket, which takes the
// connection over through net/http's Hijacker, works unchanged.
func TestWebSocketEcho(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := context.Background()
		for {
			typ, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if err := ws.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for i := range 100 {
		msg := fmt.Sprintf("message %d %s", i, make([]byte, i*100))
		if err := ws.Write(ctx, websocket.MessageBinary, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageBinary || string(got) != msg {
			t.Fatalf("echo %d: %v %v %d bytes", i, err, typ, len(got))
		}
	}
	if err := ws.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
}
