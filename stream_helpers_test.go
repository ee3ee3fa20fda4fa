package simpleserver_test

// lineProto, the StreamHandler the Stream tests serve, and what they use
// to watch it.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
)

// lineProto is a protocol that frames itself, for the Stream tests.
// Requests are lines ending in '\n':
//
//	echo X   replies "X\n"
//	put N    is followed by N raw bytes (newlines included), which are
//	         echoed as they arrive, consumed as they arrive: the reply is
//	         "[" + the bytes + "]\n"
//
// and whatever a test adds in cmds. ServeStream consumes every complete
// line and every body byte it is given, and keeps (leaves unconsumed) only
// an incomplete line, or what follows a command that sets lineConn.stop.
//
// Every call is checked against what the server promises: in begins with
// exactly what the previous call left unconsumed, nothing comes after the
// eof call, CloseStream comes once and before OnClose; and, with expect
// set, in is exactly the next bytes of expect from the count consumed so
// far, so a dropped, duplicated or reordered byte of kept input fails.
type lineProto struct {
	t testing.TB
	// expect, if set, is every connection's inbound stream (or a longer
	// one it is a prefix of).
	expect []byte
	// timeouts runs Server.ReadTimeout per request: started at a
	// request's first byte, restarted at each body byte, stopped when the
	// request is complete.
	timeouts bool
	// offloadEcho runs echo on a worker (Server.Workers > 0), after a
	// short sleep, so its reply is written after ServeStream returned.
	offloadEcho bool
	// cmds are the test's own commands. They run inside ServeStream,
	// with the connection's lineConn locked.
	cmds map[string]func(c *simpleserver.Conn, st *lineConn, arg string)

	mu      sync.Mutex
	conns   map[string]*lineConn // by the client's address
	drains  int                  // DrainStream calls, all connections
	changed chan struct{}        // signalled after every call of the server's
}

// lineConn is lineProto's state for one connection. The fields are
// guarded by mu: the loop, the workers and the test read and write them.
type lineConn struct {
	c    *simpleserver.Conn
	addr string

	mu       sync.Mutex
	left     []byte        // what the last call left unconsumed
	consumed int           // bytes consumed so far
	calls    int           // ServeStream calls
	ins      []string      // every call's in, in order
	eofCalls int           // calls with eof set
	eofIn    []byte        // the eof call's in
	late     int           // calls after the eof call
	body     int           // body bytes of a put still to come
	inReq    bool          // a request's first byte has been seen, not its end
	stop     bool          // a command asks to stop parsing this call's input
	busy     int           // commands running on (or queued for) a worker
	draining bool          // DrainStream was called
	drains   int           // DrainStream calls
	closes   int           // CloseStream calls
	closeErr error         // CloseStream's err
	onCloses int           // OnClose calls
	loopGo   atomic.Uint64 // the goroutine ServeStream last ran on; read without mu
}

func newLineProto(t testing.TB) *lineProto {
	return &lineProto{
		t:       t,
		cmds:    make(map[string]func(*simpleserver.Conn, *lineConn, string)),
		conns:   make(map[string]*lineConn),
		changed: make(chan struct{}, 1),
	}
}

// streamServer serves p on a fresh port with two loops, the given tweaks
// applied, no logging, and an OnClose that records closes (after p has
// checked them). The server is closed when the test ends.
func streamServer(t testing.TB, p *lineProto, tweak func(*simpleserver.Server)) (*simpleserver.Server, *closeLog, string) {
	t.Helper()
	closes := newCloseLog()
	srv := &simpleserver.Server{Stream: p, Loops: 2, Logger: discardLogger()}
	srv.OnClose = func(c *simpleserver.Conn, err error) {
		p.onClose(c, err)
		closes.onClose(c, err)
	}
	if tweak != nil {
		tweak(srv)
	}
	return srv, closes, start(t, srv)
}

func (p *lineProto) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// state returns c's lineConn, making it on first use. On the loop.
func (p *lineProto) state(c *simpleserver.Conn) *lineConn {
	if st, ok := c.Value().(*lineConn); ok {
		return st
	}
	st := &lineConn{c: c, addr: c.RemoteAddr().String()}
	c.SetValue(st)
	p.mu.Lock()
	p.conns[st.addr] = st
	p.mu.Unlock()
	return st
}

func (p *lineProto) ServeStream(c *simpleserver.Conn, in []byte, eof bool) int {
	defer p.signal()
	st := p.state(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.loopGo.Store(goid())
	if st.eofCalls > 0 {
		st.late++
		p.t.Errorf("%s: ServeStream(%q, %v) after the eof call", st.addr, in, eof)
	}
	if !bytes.HasPrefix(in, st.left) {
		p.t.Errorf("%s: call %d: in = %q, does not begin with the %q left unconsumed", st.addr, st.calls, in, st.left)
	}
	if p.expect != nil {
		want := p.expect[min(st.consumed, len(p.expect)):min(st.consumed+len(in), len(p.expect))]
		if !bytes.Equal(in, want) {
			p.t.Errorf("%s: call %d: in = %q, want %q (the stream from offset %d)", st.addr, st.calls, in, want, st.consumed)
		}
	}
	st.calls++
	st.ins = append(st.ins, string(in))
	st.stop = false
	n := p.parse(c, st, in)
	if eof {
		st.eofCalls++
		st.eofIn = append([]byte(nil), in...)
	}
	st.left = append(st.left[:0], in[n:]...)
	st.consumed += n
	return n
}

// parse serves the requests in in and returns how many bytes it consumed.
func (p *lineProto) parse(c *simpleserver.Conn, st *lineConn, in []byte) int {
	n := 0
	for n < len(in) && !st.stop {
		if st.body > 0 {
			k := min(st.body, len(in)-n)
			c.Write(in[n : n+k])
			st.body -= k
			n += k
			if p.timeouts {
				c.RestartReadTimeout()
			}
			if st.body == 0 {
				p.endRequest(c, st, "]\n")
			}
			continue
		}
		if st.draining && st.busy == 0 && !st.inReq {
			// Between requests during a drain: a new request is not
			// begun.
			c.Close()
			break
		}
		if !st.inReq {
			st.inReq = true
			if p.timeouts {
				c.StartReadTimeout()
			}
		}
		i := bytes.IndexByte(in[n:], '\n')
		if i < 0 {
			break
		}
		line := string(in[n : n+i])
		n += i + 1
		p.command(c, st, line)
	}
	return n
}

// command runs one request line.
func (p *lineProto) command(c *simpleserver.Conn, st *lineConn, line string) {
	name, arg, _ := strings.Cut(line, " ")
	switch name {
	case "echo":
		if p.offloadEcho {
			st.busy++
			c.Offload(func() {
				time.Sleep(20 * time.Millisecond)
				c.Write([]byte(arg + "\n"))
				p.idle(c, st)
			})
			p.endRequest(c, st, "")
			return
		}
		p.endRequest(c, st, arg+"\n")
	case "put":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 {
			p.t.Errorf("%s: bad request %q", st.addr, line)
			c.Close()
			st.stop = true
			return
		}
		c.Write([]byte("["))
		st.body = n
		if n == 0 {
			p.endRequest(c, st, "]\n")
		}
	default:
		f := p.cmds[name]
		if f == nil {
			p.t.Errorf("%s: unknown request %q", st.addr, line)
			c.Close()
			st.stop = true
			return
		}
		f(c, st, arg)
		if st.body == 0 {
			p.endRequest(c, st, "")
		}
	}
}

// endRequest writes the end of a request's reply, and stops the read
// timeout: the request is complete. During a drain, an idle connection
// closes at this boundary.
func (p *lineProto) endRequest(c *simpleserver.Conn, st *lineConn, reply string) {
	if reply != "" {
		c.Write([]byte(reply))
	}
	st.inReq = false
	if p.timeouts {
		c.StopReadTimeout()
	}
	if st.draining && st.busy == 0 {
		c.Close()
		st.stop = true
	}
}

// idle notes that the command running on a worker for st is done; during
// a drain, that ends the connection. On the worker, after its last write.
func (p *lineProto) idle(c *simpleserver.Conn, st *lineConn) {
	st.mu.Lock()
	st.busy--
	draining := st.draining && st.busy == 0 && !st.inReq && st.body == 0
	st.mu.Unlock()
	if draining {
		c.Close()
	}
	p.signal()
}

func (p *lineProto) DrainStream(c *simpleserver.Conn) {
	defer p.signal()
	st := p.state(c)
	p.mu.Lock()
	p.drains++
	p.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.drains++
	st.draining = true
	if st.busy == 0 && !st.inReq && st.body == 0 {
		c.Close()
	}
}

func (p *lineProto) CloseStream(c *simpleserver.Conn, err error) {
	defer p.signal()
	st := p.state(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closes++
	st.closeErr = err
	if st.closes != 1 || st.onCloses != 0 {
		p.t.Errorf("%s: CloseStream call %d (%v), after %d OnClose calls", st.addr, st.closes, err, st.onCloses)
	}
}

// onClose checks the Server's OnClose comes once, after CloseStream, with
// the same reason.
func (p *lineProto) onClose(c *simpleserver.Conn, err error) {
	defer p.signal()
	st := p.state(c)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.onCloses++
	if st.onCloses != 1 || st.closes != 1 || st.closeErr != err {
		p.t.Errorf("%s: OnClose call %d (%v) after %d CloseStream calls (%v)", st.addr, st.onCloses, err, st.closes, st.closeErr)
	}
}

// conn waits until the server has served the client c and ok, called with
// its lineConn locked, is true; then it returns the lineConn. what says
// what is awaited, for the failure.
func (p *lineProto) conn(t testing.TB, c net.Conn, what string, ok func(st *lineConn) bool) *lineConn {
	t.Helper()
	addr := c.LocalAddr().String()
	timeout := time.After(testDeadline)
	for {
		p.mu.Lock()
		st := p.conns[addr]
		p.mu.Unlock()
		if st != nil {
			st.mu.Lock()
			done := ok == nil || ok(st)
			st.mu.Unlock()
			if done {
				return st
			}
		}
		select {
		case <-p.changed:
		case <-timeout:
			t.Fatalf("%s: still waiting for %s", addr, what)
		}
	}
}

// waitDrains waits until DrainStream has been called n times.
func (p *lineProto) waitDrains(t testing.TB, n int) {
	t.Helper()
	timeout := time.After(testDeadline)
	for {
		p.mu.Lock()
		got := p.drains
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-p.changed:
		case <-timeout:
			t.Fatalf("DrainStream was called %d times, want %d", got, n)
		}
	}
}

// snapshot returns fields of st the tests compare, read under its lock.
func (st *lineConn) snapshot() (calls int, ins []string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.calls, append([]string(nil), st.ins...)
}

// write writes b to c, failing the test on error.
func write(t testing.TB, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write %q: %v", trunc(string(b)), err)
	}
}

// expectBytes reads len(want) bytes from r and checks they are want.
func expectBytes(t testing.TB, r io.Reader, want string) {
	t.Helper()
	if got := string(readN(t, r, len(want))); got != want {
		t.Fatalf("read %q, want %q", trunc(got), trunc(want))
	}
}

// goid returns the ID of the calling goroutine, to tell whether two calls
// ran on the same goroutine (an event loop's).
func goid() uint64 {
	var buf [64]byte
	f := bytes.Fields(buf[:runtime.Stack(buf[:], false)])
	if len(f) < 2 {
		return 0
	}
	id, _ := strconv.ParseUint(string(f[1]), 10, 64)
	return id
}

// dialSmall connects to addr with a 64 KiB receive buffer, set before the
// handshake so the window never grows past it: with Server.WriteBuffer
// small too, the kernel holds only a few hundred KiB of a reply the
// client does not read, and the rest stays queued in the server.
func dialSmall(t testing.TB, addr string) net.Conn {
	t.Helper()
	return dialSmallWindow(t, addr, 64<<10)
}

// pattern returns n bytes of a sequence with no short period, starting at
// offset off of it, so a lost, repeated or reordered stretch shows.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		o := off + i
		b[i] = byte(o*131 + o>>8 + o>>16)
	}
	return b
}

// chunk fills b with chunk i of a stream of len(b)-byte chunks: the
// pattern base with i stamped in its first 8 bytes.
func chunk(b, base []byte, i int) []byte {
	copy(b, base)
	copy(b, fmt.Sprintf("%08d", i))
	return b
}
