//go:build linux

package main

// 10,000 idle keep-alive connections, held by a client that is one epoll
// set rather than 10,000 goroutines (Linux-only: the client, not the
// server, which may run either engine).

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// --- 10,000 idle keep-alive connections ---

func testIdle10k(t *testing.T, bin string) {
	const (
		conns  = 10000
		idle   = 2 * time.Second
		margin = 1500 * time.Millisecond
	)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < conns+1000 {
		t.Fatalf("the open-file limit is %d (hard %d): holding %d connections needs at least %d (ulimit -n)", lim.Cur, lim.Max, conns, conns+1000)
	}
	eachMode(t, func(t *testing.T, workers string) {
		srv := startHTTP(t, bin, workers, "-idle-timeout", idle.String())
		holdIdle(t, srv.addr, conns, idle, margin)

		// Still serving.
		c := dialRaw(t, srv.addr)
		if err := c.send("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r, err := c.response(false, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatalf("a new connection after the idle closes: %v", err)
		}
		if err := r.check("HTTP/1.1 200 OK", plainFields, nil, []byte(plainBody)); err != nil {
			t.Fatal(err)
		}
		srv.stop(t)
	})
}

// idleConn is one connection of holdIdle, its times since holdIdle began.
type idleConn struct {
	fd    int
	state int
	sent  time.Duration // request written
	got   time.Duration // response read
	eof   time.Duration // EOF read
	fin   time.Duration // the FIN arrived, by the kernel's clock
	buf   []byte
}

const (
	icConnecting = iota + 1
	icAwaiting   // request sent, response incomplete
	icIdle       // response read; silent
	icClosed     // EOF seen
)

// holdIdle opens n connections with raw non-blocking sockets and one
// epoll set (no goroutine per connection: the race detector allows 8128),
// at most 256 of them without their response at a time so the backlog
// never overflows; sends GET /plaintext on each and reads its response;
// then stays silent and expects each to be closed by the server (EOF, no
// byte more, no reset) idle after its request, within margin after its
// response.
func holdIdle(t *testing.T, addr string, n int, idle, margin time.Duration) {
	const window = 256
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	cs := make([]idleConn, n)
	defer func() {
		for i := range cs {
			if cs[i].state != 0 && cs[i].state != icClosed {
				unix.Close(cs[i].fd)
			}
		}
	}()
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
	base := time.Now()
	deadline := base.Add(60 * time.Second)
	opened, pending, responded, closed := 0, 0, 0, 0
	var lastGot time.Duration
	events := make([]unix.EpollEvent, 1024)
	var scratch [4096]byte
	for closed < n {
		for opened < n && pending < window {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatalf("socket %d: %v", opened, err)
			}
			c := &cs[opened]
			c.fd, c.state = fd, icConnecting
			if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
				t.Fatalf("connect %d: %v", opened, err)
			}
			ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(opened)}
			if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
				t.Fatal(err)
			}
			opened++
			pending++
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d opened, %d responded, %d closed of %d", time.Since(base), opened, responded, closed, n)
		}
		k, err := unix.EpollWait(ep, events, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events[:k] {
			i := int(ev.Fd)
			c := &cs[i]
			if c.state == icConnecting {
				if e, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
					t.Fatalf("connection %d: connect: %v %v", i, syscall.Errno(e), err)
				}
				c.sent = time.Since(base)
				if m, err := unix.Write(c.fd, req); err != nil || m != len(req) {
					t.Fatalf("connection %d: write: %d, %v", i, m, err)
				}
				c.state = icAwaiting
				mod := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
				if err := unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, c.fd, &mod); err != nil {
					t.Fatal(err)
				}
				continue
			}
			for c.state != icClosed {
				m, err := unix.Read(c.fd, scratch[:])
				if err == unix.EAGAIN {
					break
				}
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					t.Fatalf("connection %d (state %d, %v after its request): read: %v", i, c.state, time.Since(base)-c.sent, err)
				}
				if m == 0 {
					if c.state != icIdle {
						t.Fatalf("connection %d closed %v after its request, before its whole response (%q)", i, time.Since(base)-c.sent, c.buf)
					}
					// When the FIN came, whatever the delay before we
					// looked: the kernel stamps each ACK it receives,
					// and the FIN was the last.
					c.eof = time.Since(base)
					ti, err := unix.GetsockoptTCPInfo(c.fd, unix.IPPROTO_TCP, unix.TCP_INFO)
					if err != nil {
						t.Fatalf("connection %d: TCP_INFO: %v", i, err)
					}
					c.fin = c.eof - time.Duration(ti.Last_ack_recv)*time.Millisecond
					unix.Close(c.fd)
					c.state = icClosed
					closed++
					break
				}
				if c.state == icIdle {
					t.Fatalf("connection %d: %d bytes after its response: %q", i, m, scratch[:m])
				}
				c.buf = append(c.buf, scratch[:m]...)
				r, used, err := parseResponse(c.buf, false)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				if used == 0 {
					continue
				}
				if err := r.check("HTTP/1.1 200 OK", plainFields, nil, []byte(plainBody)); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				if used != len(c.buf) {
					t.Fatalf("connection %d: %d bytes after its response: %q", i, len(c.buf)-used, c.buf[used:])
				}
				c.got, c.buf, c.state = time.Since(base), nil, icIdle
				lastGot = c.got
				pending--
				responded++
			}
		}
	}

	// The server's idle clock starts when it reads the request, on a
	// clock read once per loop turn (so up to a turn before the read).
	// The FIN's arrival is what the server did; when we read the EOF also
	// says how busy this process was.
	const turn = 100 * time.Millisecond
	minAfterSent, maxAfterGot, maxLag := time.Duration(1<<62), time.Duration(0), time.Duration(0)
	bad := 0
	for i := range cs {
		c := &cs[i]
		afterSent, afterGot := c.fin-c.sent, c.fin-c.got
		minAfterSent, maxAfterGot, maxLag = min(minAfterSent, afterSent), max(maxAfterGot, afterGot), max(maxLag, c.eof-c.fin)
		if afterSent < idle-turn || afterGot > idle+margin {
			if bad++; bad <= 5 {
				t.Errorf("connection %d: closed %v after its request and %v after its response (EOF read %v later), want %v to %v",
					i, afterSent, afterGot, c.eof-c.fin, idle, idle+margin)
			}
		}
	}
	if bad > 0 {
		// Closes after each response, and since the start (a stall
		// shows as a heap of them at one moment), in 250 ms steps.
		after, at := map[time.Duration]int{}, map[time.Duration]int{}
		for i := range cs {
			after[(cs[i].fin-cs[i].got).Truncate(250*time.Millisecond)]++
			at[cs[i].fin.Truncate(250*time.Millisecond)]++
		}
		t.Fatalf("%d of %d connections closed outside the idle window; closes by time after the response: %v; by time since the first connection: %v", bad, n, after, at)
	}
	t.Logf("%d connections: all responses by %v, closed %v to %v after their requests and responses (EOFs read up to %v after the FIN came)",
		n, lastGot, minAfterSent, maxAfterGot, maxLag)
}
