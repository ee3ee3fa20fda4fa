package simpleserver_test

// How a peer ends its connection: shutting down its sending side with
// replies still due, or resetting it in the middle of a frame.

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// TestHalfCloseGetsEveryReply: a client that sends its requests and
// shuts down its sending side still gets every reply, in order, and then
// the server's close — also when replies are still being produced (on
// workers, some slowly) as the EOF arrives. With one request, the EOF
// reaches the server together with the request; with 100 and workers,
// the loop also pauses reading (WorkerQueue) before it sees the EOF.
func TestHalfCloseGetsEveryReply(t *testing.T) {
	const clients = 10
	for _, workers := range []int{0, 4} {
		for _, n := range []int{100, 1} {
			t.Run(fmt.Sprintf("Workers=%d/requests=%d", workers, n), func(t *testing.T) {
				testHalfClose(t, workers, clients, n)
			})
		}
	}
}

func testHalfClose(t *testing.T, workers, clients, n int) {
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.Workers = workers
		s.Handler = simpleserver.HandlerFunc(func(c *simpleserver.Conn, msg []byte) {
			if msg[len(msg)-1] == '7' { // every tenth request is slow
				time.Sleep(time.Millisecond)
			}
			hello.Serve(c, msg)
		})
	})
	addr := start(t, srv)
	runEach(t, clients, func(id int) error { return halfCloseClient(addr, id, n) })
	closes.wait(t, clients)
	if k, err := closes.errors(); k != 0 {
		t.Errorf("%d connections closed with an error, e.g. %v; want all orderly", k, err)
	}
	var payload uint64
	for id := range clients {
		for i := range n {
			payload += uint64(len(requestPayload(id, i)))
		}
	}
	want := servedStats(uint64(clients), uint64(clients*n), payload, simpleserver.ClosedStats{Peer: uint64(clients)})
	if st := srv.Stats(); st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

// halfCloseClient pipelines n requests, shuts down its sending side,
// and expects exactly the n replies in order, then EOF.
func halfCloseClient(addr string, id, n int) error {
	c, err := send(addr, replyWait, pipelined(id, n))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	return readRepliesThenEOF(c, id, n)
}

// TestResetMidFrameFreesEverything: connections reset by the peer while
// the server holds the start of a frame are closed with every resource
// released: descriptors, counters, queued output.
func TestResetMidFrameFreesEverything(t *testing.T) {
	const conns = 200
	warmUp(t)
	srv, closes := recordingServer(nil)
	addr := start(t, srv)
	baseline := openFDs(t)

	// One full request and the first half of the next frame (its header
	// declares 64 bytes, 32 follow), in one write. The reply proves the
	// server read the write, so it holds the half frame.
	var req []byte
	req = hello.AppendRequest(req, []byte("complete"))
	req = append(req, le32(64)...)
	req = append(req, bytes.Repeat([]byte("h"), 32)...)
	cs := make([]*net.TCPConn, 0, conns)
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
	})
	for range conns {
		c := dial(t, addr).(*net.TCPConn)
		cs = append(cs, c)
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		expectReply(t, c, "complete")
	}
	if st := srv.Stats(); st.Open != conns {
		t.Fatalf("%d connections open, want %d", st.Open, conns)
	}

	for _, c := range cs {
		if err := c.SetLinger(0); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	closes.wait(t, conns)
	if k := closes.resets(); k != conns {
		_, last := closes.errors()
		t.Errorf("%d connections closed with ECONNRESET, want %d (e.g. %v)", k, conns, last)
	}
	st := srv.Stats()
	want := simpleserver.Stats{
		Accepted:    conns,
		Closed:      simpleserver.ClosedStats{Error: conns},
		BytesIn:     conns * uint64(len(req)),
		BytesOut:    conns * uint64(hello.ReplyLen(len("complete"))),
		MessagesIn:  conns,
		MessagesOut: conns,
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	// The client sockets are closed, and the server closes each of its
	// own just after OnClose: nothing may be left but the baseline.
	if leaked := waitNewFDs(t, baseline, 0); len(leaked) != 0 {
		t.Errorf("descriptors left open: %v", leaked)
	}
}
