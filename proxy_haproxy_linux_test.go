package simpleserver_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// freePort returns a 127.0.0.1 port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Real HAProxy (Debian's haproxy, which .ci/run installs) in mode tcp in
// front of two servers, one with send-proxy (version 1), one with
// send-proxy-v2, both health-checked with check-send-proxy: under load
// every connection's RemoteAddr is exactly the client's address and port
// as HAProxy saw them, and the health checks arrive with valid headers
// (version 2: LOCAL).
func TestProxyProtocolBehindHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is not installed (%v): this test needs Debian's haproxy; .ci/run installs it with apt-get install -y haproxy", err)
	}
	type backend struct {
		srv    *simpleserver.Server
		addr   string
		checks chan struct{}
		front  int
	}
	var backends [2]*backend
	for i := range backends {
		b := &backend{checks: make(chan struct{}, 1000), front: freePort(t)}
		b.srv = whoServer(&simpleserver.ProxyProtocol{}, nil)
		b.srv.OnOpen = func(c *simpleserver.Conn) {
			// HAProxy 2.6's checks say LOCAL in version 2; in version
			// 1 they carry its own addresses, the check's destination
			// being the server itself (a client's is the frontend).
			p := c.Proxy()
			check := p.Local
			if i == 0 {
				check = !p.Local && p.Destination.String() == c.LocalAddr().String()
			}
			if check {
				select {
				case b.checks <- struct{}{}:
				default:
				}
			}
		}
		b.addr = start(t, b.srv)
		backends[i] = b
	}
	cfg := fmt.Sprintf(`global
	nbthread 1
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend v1
	bind 127.0.0.1:%d
	default_backend v1
backend v1
	server s1 %s send-proxy check check-send-proxy inter 100ms
frontend v2
	bind 127.0.0.1:%d
	default_backend v2
backend v2
	server s2 %s send-proxy-v2 check check-send-proxy inter 100ms
`, backends[0].front, backends[0].addr, backends[1].front, backends[1].addr)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	for i, b := range backends {
		front := fmt.Sprintf("127.0.0.1:%d", b.front)
		// HAProxy is up once its frontend accepts.
		for end := time.Now().Add(testDeadline); ; time.Sleep(10 * time.Millisecond) {
			if c, err := net.Dial("tcp", front); err == nil {
				c.Close()
				break
			}
			if time.Now().After(end) {
				t.Fatalf("haproxy did not listen on %s:\n%s", front, log.String())
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				c, err := connect(front, testDeadline)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				client := c.LocalAddr().String()
				r := bufio.NewReader(c)
				for j := range 20 {
					fmt.Fprintf(c, "line %d\n", j)
					got, err := r.ReadString('\n')
					if err != nil {
						errs <- fmt.Errorf("line %d: %v", j, err)
						return
					}
					want := fmt.Sprintf("line %d remote=%s proxy=", j, client)
					if !strings.HasPrefix(got, want) || !strings.Contains(got, " dst="+front+" local=no") {
						errs <- fmt.Errorf("got %q, want %q... dst=%s", got, want, front)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("send-proxy v%d: %v", i+1, err)
		}
		waitFor(t, b.checks, fmt.Sprintf("a v%d health check", i+1))

		if st := b.srv.Stats(); st.MessagesIn < 50*20 || st.Closed.Proxy != 0 {
			t.Errorf("v%d server: %d messages, %d refused headers; want ≥ 1000 and 0", i+1, st.MessagesIn, st.Closed.Proxy)
		}
	}
}
