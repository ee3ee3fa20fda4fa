package http1_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/http1"
)

// Keep-alive follows each version's rules: HTTP/1.1 keeps the connection
// unless asked not to; HTTP/1.0 closes it unless the request says
// keep-alive (and the response then says so too).
func TestKeepAliveRules(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		_, addr := serve(t, a.make(), nil)

		rs, _, br := exchange(t, addr, "GET / HTTP/1.0\r\n\r\n", "GET")
		checkPlaintext(t, rs[0], false)
		expectEOF(t, br)

		rs, c, br := exchange(t, addr, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET")
		checkPlaintext(t, rs[0], false)
		if got := rs[0].header.Get("Connection"); got != "keep-alive" {
			t.Fatalf("HTTP/1.0 keep-alive response says Connection %q", got)
		}
		io.WriteString(c, "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		r, err := readResponse(br, "GET")
		if err != nil {
			t.Fatalf("second HTTP/1.0 request on a kept connection: %v", err)
		}
		checkPlaintext(t, r, false)

		rs, _, br = exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"+get("/"), "GET")
		checkPlaintext(t, rs[0], false)
		if rs[0].header.Get("Connection") != "close" {
			t.Fatalf("Connection: close request answered with %v", rs[0].header)
		}
		expectEOF(t, br) // and the request after it is not answered
	})
}

// MaxRequestsPerConn: the last allowed response says Connection: close.
func TestMaxRequestsPerConn(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		p := a.make()
		p.MaxRequestsPerConn = 3
		_, addr := serve(t, p, nil)
		rs, _, br := exchange(t, addr, get("/")+get("/")+get("/")+get("/"), "GET", "GET", "GET")
		for i, r := range rs {
			checkPlaintext(t, r, false)
			if closing := r.header.Get("Connection") == "close"; closing != (i == 2) {
				t.Fatalf("response %d: Connection %q", i+1, r.header.Get("Connection"))
			}
		}
		expectEOF(t, br)
	})
}

// Expect: 100-continue gets "100 Continue" only when the body is wanted:
// the Handler reads it (or, for Fast, whose bodies arrive whole, at once).
// A Handler that answers without reading sends no 100 and closes the
// connection after its response.
func TestExpectContinue(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		_, addr := serve(t, a.make(), nil)
		c := dial(t, addr)
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("interim response %q, %v", line, err)
		}
		if blank, _ := br.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("after 100 Continue: %q", blank)
		}
		io.WriteString(c, "hello")
		r, err := readResponse(br, "POST")
		if err != nil || string(r.body) != "hello" {
			t.Fatalf("echo after 100: %v %v", err, r)
		}
	})

	// A Handler that never reads the body.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "no thanks") })
	_, addr := serve(t, &http1.Protocol{Handler: h}, nil)
	rs, _, br := exchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n", "POST")
	if rs[0].status != 200 || string(rs[0].body) != "no thanks" || rs[0].header.Get("Connection") != "close" {
		t.Fatalf("unread body: %d %q %v", rs[0].status, rs[0].body, rs[0].header)
	}
	expectEOF(t, br)
}

// Date is an IMF-fixdate of now, the same for responses within a second.
func TestDateHeader(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		_, addr := serve(t, a.make(), nil)
		rs, _, _ := exchange(t, addr, get("/")+get("/"), "GET", "GET")
		d0, err := http.ParseTime(rs[0].header.Get("Date"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(rs[0].header.Get("Date"), " GMT") {
			t.Fatalf("Date %q is not IMF-fixdate", rs[0].header.Get("Date"))
		}
		if since := time.Since(d0); since < -time.Second || since > 2*time.Second {
			t.Fatalf("Date %v is %v away from now", d0, since)
		}
	})
}

// A panicking Handler: a 500 if nothing was sent, the connection closed
// if something was; either way the server and other connections go on.
func TestHandlerPanic(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) { panic("before any byte") })
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 5000)))
		w.(http.Flusher).Flush()
		panic("after the head")
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	_, addr := serve(t, &http1.Protocol{Handler: mux}, nil)

	rs, _, br := exchange(t, addr, get("/early")+get("/ok"), "GET")
	if rs[0].status != 500 || rs[0].header.Get("Connection") != "close" {
		t.Fatalf("early panic: %d %v", rs[0].status, rs[0].header)
	}
	expectEOF(t, br)

	c := dial(t, addr)
	io.WriteString(c, get("/late"))
	_, err := readResponse(bufio.NewReader(c), "GET")
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("late panic: want a response cut short, got %v", err)
	}

	rs, _, _ = exchange(t, addr, get("/ok"), "GET")
	if string(rs[0].body) != "ok" {
		t.Fatalf("after panics: %q", rs[0].body)
	}

	// The same for Fast, on the loop.
	fast := http1.FastHandlerFunc(func(x *http1.Exchange) {
		if string(x.Path()) == "/boom" {
			panic("on the loop")
		}
		x.WriteString("ok")
	})
	_, addr = serve(t, &http1.Protocol{Fast: fast}, nil)
	rs, _, br = exchange(t, addr, get("/boom")+get("/ok"), "GET")
	if rs[0].status != 500 {
		t.Fatalf("fast panic: %d", rs[0].status)
	}
	expectEOF(t, br)
	rs, _, _ = exchange(t, addr, get("/ok"), "GET")
	if string(rs[0].body) != "ok" {
		t.Fatalf("after a fast panic: %q", rs[0].body)
	}
}

// Request fields a Handler sees are filled as net/http fills them.
func TestRequestFields(t *testing.T) {
	got := make(chan *http.Request, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		got <- r
	})
	_, addr := serve(t, &http1.Protocol{Handler: h}, nil)
	raw := "POST http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: ignored\r\nX-Multi: 1\r\nx-multi: 2\r\n" +
		"Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n"
	exchange(t, addr, raw, "POST")
	r := <-got
	switch {
	case r.Method != "POST", r.RequestURI != "http://example.com:8080/a/b?c=d", r.URL.Path != "/a/b", r.URL.RawQuery != "c=d":
		t.Fatalf("method %q uri %q url %v", r.Method, r.RequestURI, r.URL)
	case r.Host != "example.com:8080":
		t.Fatalf("Host %q: an absolute target's authority wins", r.Host)
	case r.Header.Get("Host") != "":
		t.Fatalf("Host left in Header")
	case strings.Join(r.Header["X-Multi"], ",") != "1,2":
		t.Fatalf("X-Multi %q", r.Header["X-Multi"])
	case r.ContentLength != -1 || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked":
		t.Fatalf("ContentLength %d TransferEncoding %v", r.ContentLength, r.TransferEncoding)
	case r.Trailer.Get("X-Sum") != "42":
		t.Fatalf("Trailer %v", r.Trailer)
	case r.TLS != nil, r.Proto != "HTTP/1.1", r.ProtoMinor != 1:
		t.Fatalf("TLS %v Proto %q", r.TLS, r.Proto)
	case !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:"):
		t.Fatalf("RemoteAddr %q", r.RemoteAddr)
	case r.Context().Value(http.LocalAddrContextKey) == nil:
		t.Fatalf("no LocalAddrContextKey")
	}
	select {
	case <-r.Context().Done():
	case <-time.After(testDeadline):
		t.Fatal("the request's context did not end after its handler returned")
	}
}

// The client going away cancels the request's context: mid-body, and
// while the Handler waits with the body complete.
func TestContextCancelledOnDisconnect(t *testing.T) {
	cancelled := make(chan string, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("/body", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		<-r.Context().Done()
		cancelled <- "body: " + errString(err)
	})
	mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		cancelled <- "wait"
	})
	_, addr := serve(t, &http1.Protocol{Handler: mux}, nil)

	c := dial(t, addr)
	io.WriteString(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it")
	c.Close()
	c = dial(t, addr)
	io.WriteString(c, get("/wait"))
	c.Close()
	want := map[string]bool{"body: http1: connection closed before the request body was read": true, "body: unexpected EOF": true, "wait": true}
	for range 2 {
		select {
		case got := <-cancelled:
			if !want[got] {
				t.Fatalf("cancelled with %q", got)
			}
		case <-time.After(testDeadline):
			t.Fatal("a disconnect did not cancel the request context")
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// Shutdown: a request in progress finishes, its response says
// Connection: close; idle keep-alive connections close at once.
func TestShutdownDrains(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	// One loop: once the idle connection closed, the drain has reached
	// the busy one too.
	srv, addr := serve(t, &http1.Protocol{Handler: mux}, func(s *simpleserver.Server) { s.Loops = 1 })

	idle := dial(t, addr)
	io.WriteString(idle, get("/nothing"))
	idleBR := bufio.NewReader(idle)
	if _, err := readResponse(idleBR, "GET"); err != nil {
		t.Fatal(err)
	}
	busy := dial(t, addr)
	io.WriteString(busy, get("/slow"))
	<-started

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	expectEOF(t, idleBR) // the idle one closes at once
	close(release)
	r, err := readResponse(bufio.NewReader(busy), "GET")
	if err != nil || string(r.body) != "finished" || r.header.Get("Connection") != "close" {
		t.Fatalf("in-flight request during drain: %v %v", err, r)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if st := srv.Stats(); st.Open != 0 || st.Closed.Shutdown != 2 {
		t.Fatalf("after Shutdown: %+v", st)
	}
}

// Shutdown under load: clients pipeline without pause; every request a
// handler took is answered, completely and in order, and nothing else is;
// Shutdown returns nil once all is done.
func TestShutdownUnderLoad(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		var handled atomic.Int64
		p := a.make()
		if p.Handler != nil {
			p.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				handled.Add(1)
				time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond) // a blocking handler
				io.WriteString(w, r.URL.Path)
			})
		} else {
			p.Fast = http1.FastHandlerFunc(func(x *http1.Exchange) {
				handled.Add(1)
				x.Write(x.Path())
			})
		}
		srv, addr := serve(t, p, nil)
		const conns = 20
		var answered atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		busy := make(chan struct{}, conns)
		for id := range conns {
			c := dial(t, addr)
			// At most 16 requests in flight, as a pipelining client keeps.
			window := make(chan struct{}, 16)
			readerDone := make(chan struct{})
			wg.Go(func() { // the writer: requests until the server stops taking them
				for i := 0; ; i++ {
					select {
					case window <- struct{}{}:
					case <-readerDone:
						return
					}
					if _, err := io.WriteString(c, get(fmt.Sprintf("/c%d/r%d", id, i))); err != nil {
						return
					}
				}
			})
			wg.Go(func() { // the reader: each response complete, in order
				defer close(readerDone)
				defer c.Close() // as a client does at the server's EOF
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					if _, err := br.Peek(1); err != nil {
						// Closed between responses: the clean end.
						if i == 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
							errs <- fmt.Errorf("conn %d before response %d: %v", id, i, err)
						}
						return
					}
					r, err := readResponse(br, "GET")
					if err != nil {
						errs <- fmt.Errorf("conn %d response %d: %v", id, i, err)
						return
					}
					if want := fmt.Sprintf("/c%d/r%d", id, i); string(r.body) != want {
						errs <- fmt.Errorf("conn %d response %d: %q, want %q", id, i, r.body, want)
						return
					}
					answered.Add(1)
					<-window
					if i == 10 {
						busy <- struct{}{}
					}
				}
			})
		}
		for range conns {
			<-busy // every connection is in full flow
		}
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v (%+v)", err, srv.Stats())
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if answered.Load() != handled.Load() {
			t.Fatalf("%d requests handled, %d answered", handled.Load(), answered.Load())
		}
	})
}

// A client that pipelines requests and then ends its side (half-close)
// gets every response, in order, then the close, however slowly the
// handlers run.
func TestPipelinedThenHalfClose(t *testing.T) {
	eachAPI(t, func(t *testing.T, a api) {
		p := a.make()
		if p.Handler != nil {
			mux := p.Handler
			p.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(5 * time.Millisecond) // a slow handler: the EOF arrives while it runs
				mux.ServeHTTP(w, r)
			})
		}
		_, addr := serve(t, p, nil)
		c := dial(t, addr)
		io.WriteString(c, get("/")+post("/echo", "two")+get("/plaintext"))
		c.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(c)
		for i, m := range []string{"GET", "POST", "GET"} {
			r, err := readResponse(br, m)
			if err != nil {
				t.Fatalf("response %d after the half-close: %v", i+1, err)
			}
			if i == 1 && string(r.body) != "two" {
				t.Fatalf("echo %q", r.body)
			}
		}
		expectEOF(t, br)
	})
}
