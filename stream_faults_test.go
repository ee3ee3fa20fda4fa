package simpleserver_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/simple-server/simpleserver"
)

// A panic in a StreamHandler closes its own connection, as a Handler's
// does: the loop, the process and the other connections go on. Run in a
// child process, so that a regression crashes the child, not the suite.
func TestStreamServePanicIsolated(t *testing.T) {
	if os.Getenv("STREAM_PANIC_CHILD") == "1" {
		p := newLineProto(t)
		p.cmds["offload"] = func(c *simpleserver.Conn, _ *lineConn, _ string) { c.Offload(func() {}) }
		srv, closes, addr := streamServer(t, p, nil)
		c := dial(t, addr)
		write(t, c, []byte("echo first\noffload\n"))
		expectBytes(t, c, "first\n")
		expectEOF(t, c)
		if err := closes.next(t); !errors.Is(err, simpleserver.ErrHandlerPanic) {
			t.Fatalf("close reason = %v, want ErrHandlerPanic", err)
		}
		other := dial(t, addr)
		write(t, other, []byte("echo still serving\n"))
		expectBytes(t, other, "still serving\n")
		if st := srv.Stats(); st.Closed.Panic != 1 {
			t.Fatalf("stats: %+v", st)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStreamServePanicIsolated$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), "STREAM_PANIC_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// A connection detached while the server drains reports ErrDetached, not
// the drain's reason: it was handed over, not closed.
func TestStreamDetachDuringDrain(t *testing.T) {
	proceed := make(chan struct{})
	out := make(chan detached, 1)
	p := newLineProto(t)
	p.cmds["detach"] = func(c *simpleserver.Conn, st *lineConn, _ string) {
		c.PauseReading()
		st.stop = true
		st.busy++
		c.Offload(func() {
			<-proceed
			nc, kept, err := c.Detach()
			out <- detached{nc, kept, err}
		})
	}
	srv, closes, addr := streamServer(t, p, func(s *simpleserver.Server) { s.Workers = 1 })
	c := dial(t, addr)
	write(t, c, []byte("detach\n"))
	p.conn(t, c, "the detach request", func(st *lineConn) bool { return st.busy == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	p.waitDrains(t, 1)
	close(proceed)
	d := <-out
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.nc.Close()
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	err := closes.next(t)
	if st := srv.Stats(); err != simpleserver.ErrDetached || st.Closed.Detached != 1 {
		t.Fatalf("close reason %v, Stats.Closed %+v; want ErrDetached, Detached: 1", err, st.Closed)
	}
}
