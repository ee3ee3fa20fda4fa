package simpleserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// Shutdown while 100 connections have requests in flight (queued for
// slow workers, or still in the socket buffers): every request that
// reached the server gets its reply, then every connection is closed.
func TestShutdownAnswersEveryAcceptedRequest(t *testing.T) {
	const conns, perConn = 100, 50
	var handled atomic.Int64
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 4
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			handled.Add(1)
			time.Sleep(50 * time.Microsecond)
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	sent := make(chan struct{}, conns)
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	for id := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				c, err := net.DialTimeout("tcp", addr, testDeadline)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(testDeadline))
				var req []byte
				for i := range perConn {
					req = hello.AppendRequest(req, fmt.Appendf(nil, "%d/%d", id, i))
				}
				_, err = c.Write(req)
				sent <- struct{}{}
				if err != nil {
					return err
				}
				br := bufio.NewReader(c)
				for i := range perConn {
					want := hello.Prefix + fmt.Sprintf("%d/%d", id, i)
					got := make([]byte, len(want))
					if _, err := io.ReadFull(br, got); err != nil {
						return fmt.Errorf("conn %d: reply %d: %w", id, i, err)
					}
					if string(got) != want {
						return fmt.Errorf("conn %d: reply %q, want %q", id, got, want)
					}
				}
				if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					return fmt.Errorf("conn %d: after the replies: %d, %v; want EOF", id, n, err)
				}
				return nil
			}()
		}()
	}
	for range conns {
		<-sent
	}
	// Requests are written (in the server's socket buffers or queued for
	// the workers) and most are not handled yet.
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := handled.Load(); got != conns*perConn {
		t.Fatalf("handled %d requests, want %d", got, conns*perConn)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

// A Shutdown whose context ends first closes what remains and says so.
func TestShutdownDeadlineClosesTheRest(t *testing.T) {
	release := make(chan struct{})
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 1
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			<-release
		})
	})
	addr := start(t, srv)
	c := dial(t, addr)
	if _, err := c.Write(frame("stuck")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The handler is still blocked when the deadline passes: Shutdown
	// must give up on it rather than wait.
	err := srv.Shutdown(ctx)
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	expectEOF(t, c)
}

func TestServeReturnsErrServerClosed(t *testing.T) {
	srv := helloServer(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	if _, err := c.Write(frame("up")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, c, "up")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, simpleserver.ErrServerClosed) {
			t.Fatalf("Serve = %v", err)
		}
	case <-deadline():
		t.Fatal("Serve did not return")
	}
	expectEOF(t, c)
	if err := srv.Start(nil); err == nil {
		t.Fatal("a stopped server started again")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		srv  *simpleserver.Server
		want string
	}{
		{&simpleserver.Server{}, "Handler is nil"},
		{&simpleserver.Server{Handler: hello.Handler, Codec: hello.Codec(-1)}, "invalid Codec: codec: LengthPrefixed.MaxFrame is -1"},
		{&simpleserver.Server{Handler: hello.Handler, Loops: -1}, "Loops = -1"},
		{&simpleserver.Server{Handler: hello.Handler, Balance: 7}, "unknown Balance 7"},
		{&simpleserver.Server{Handler: hello.Handler, Network: "udp", Addr: "127.0.0.1:0"}, "unknown network udp"},
		{&simpleserver.Server{Handler: hello.Handler, Addr: "127.0.0.1:99999"}, "invalid port"},
		{&simpleserver.Server{Handler: hello.Handler, Network: "unix", Addr: "/tmp/x.sock", ReusePort: true}, "ReusePort needs a TCP network"},
	} {
		err := tc.srv.Start(nil)
		if err == nil {
			tc.srv.Close()
			t.Errorf("Start succeeded, want an error with %q", tc.want)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start = %q, want it to contain %q", err, tc.want)
		}
	}
}

// Every way of spreading connections over loops serves them correctly:
// round robin, least-connections, and one SO_REUSEPORT listener per loop.
func TestBalancing(t *testing.T) {
	for name, tweak := range map[string]func(*simpleserver.Server){
		"roundrobin": func(s *simpleserver.Server) {},
		"leastconns": func(s *simpleserver.Server) { s.Balance = simpleserver.LeastConns },
	} {
		t.Run(name, func(t *testing.T) {
			srv := helloServer(tweak)
			srv.Loops = 4
			addr := start(t, srv)
			runClients(t, addr, 40, 10)
		})
	}
	t.Run("reuseport", func(t *testing.T) {
		srv := helloServer(func(s *simpleserver.Server) {
			s.Loops, s.ReusePort, s.Addr, s.DeferAccept = 3, true, "127.0.0.1:0", -1
		})
		if err := srv.Start(nil); err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		addrs := srv.Addrs()
		if len(addrs) != 3 || addrs[0].String() != addrs[2].String() {
			t.Fatalf("Addrs = %v, want 3 listeners on one port", addrs)
		}
		runClients(t, addrs[0].String(), 40, 10)
	})
}
