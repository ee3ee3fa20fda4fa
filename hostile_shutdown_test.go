package simpleserver_test

// Server-side closes with the client's input unread (Shutdown under load,
// a protocol error) while the client is slow to read: every reply due
// must still arrive, then EOF. The promise under test is in
// hostile_clients_test.go.
//
// These are the regression tests of the lingering close (linger.go):
// before it, the server close(2)d a connection whose input it had not
// read, so the kernel reset it, discarding replies not yet delivered; see
// docs/RELIABILITY.md.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// TestHostileShutdownUnderFullLoad: 200 connections pipeline continuously
// (up to 32 requests in flight each, Workers 4) when Shutdown begins.
// Every reply a client gets is correct and in order; every connection
// ends with EOF right after its last reply (a reset would mean the server
// threw away what the client sent and, with it, any reply still in the
// kernel); and the server handled exactly as many requests as the clients
// got replies for: not one accepted request went unanswered.
func TestHostileShutdownUnderFullLoad(t *testing.T) {
	const (
		clients = 200
		window  = 32 // requests in flight per connection
		batch   = 8  // requests per write, at most
		warm    = 20 // replies every client has had before Shutdown
	)
	srv := helloServer(func(s *simpleserver.Server) {
		s.Workers = 4
		s.Logger = discardLogger()
	})
	addr := start(t, srv)

	type result struct {
		wrote, replies int
		end            error // what ended the replies: want io.EOF
		bad            error // a wrong reply, or a failure to connect
	}
	results := make([]result, clients)
	var warmed atomic.Int64
	allWarm := make(chan struct{})
	var wg sync.WaitGroup
	for id := range clients {
		wg.Go(func() {
			r := &results[id]
			c, err := connect(addr, testDeadline)
			if err != nil {
				r.bad = err
				if warmed.Add(1) == clients {
					close(allWarm)
				}
				return
			}
			payload := func(seq int) []byte { return fmt.Appendf(nil, "c%03d r%08d", id, seq) }
			frameLen := hello.HeaderLen + len(payload(0))
			slots := make(chan struct{}, window)
			readerDone := make(chan struct{})
			var wrote atomic.Int64
			var writer sync.WaitGroup
			writer.Go(func() {
				var buf []byte
				for seq := 0; ; {
					select {
					case slots <- struct{}{}:
					case <-readerDone:
						return
					}
					k := 1
				more:
					for k < batch {
						select {
						case slots <- struct{}{}:
							k++
						default:
							break more
						}
					}
					buf = buf[:0]
					for i := range k {
						buf = hello.AppendRequest(buf, payload(seq+i))
					}
					n, err := c.Write(buf)
					wrote.Add(int64(n / frameLen))
					if err != nil {
						return
					}
					seq += k
				}
			})
			br := bufio.NewReader(c)
			got := make([]byte, hello.ReplyLen(len(payload(0))))
			for seq := 0; ; seq++ {
				if _, err := io.ReadFull(br, got); err != nil {
					r.end = err
					break
				}
				if want := append([]byte(hello.Prefix), payload(seq)...); !bytes.Equal(got, want) {
					r.bad = fmt.Errorf("reply %d = %q, want %q", seq, got, want)
					break
				}
				r.replies++
				<-slots
				if r.replies == warm && warmed.Add(1) == clients {
					close(allWarm)
				}
			}
			close(readerDone)
			c.Close()
			writer.Wait()
			r.wrote = int(wrote.Load())
		})
	}
	select {
	case <-allWarm:
	case <-deadline():
		t.Fatal("the clients did not all get going")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait() // bounded: every connection has testDeadline

	var wrote, replies, eof, reset int
	ends := map[string]int{}
	for id, r := range results {
		wrote += r.wrote
		replies += r.replies
		if r.bad != nil {
			t.Errorf("client %d: %v", id, r.bad)
			continue
		}
		switch {
		case r.end == io.EOF:
			eof++
		case errors.Is(r.end, syscall.ECONNRESET):
			reset++
		}
		if r.end != io.EOF {
			ends[endCause(r.end)]++
		}
		if r.replies > r.wrote {
			t.Errorf("client %d: %d replies to %d requests", id, r.replies, r.wrote)
		}
	}
	st := srv.Stats()
	t.Logf("%d clients wrote %d requests and got %d replies; %d ended with EOF, %d with a reset; the server handled %d",
		clients, wrote, replies, eof, reset, st.MessagesIn)
	if eof != clients {
		t.Errorf("%d of %d connections ended with EOF after their last reply; the others: %v", eof, clients, ends)
	}
	if uint64(replies) != st.MessagesIn || st.MessagesOut != st.MessagesIn {
		t.Errorf("clients got %d replies; the server handled %d messages and wrote %d replies: %d accepted requests unanswered",
			replies, st.MessagesIn, st.MessagesOut, int64(st.MessagesIn)-int64(replies))
	}
	if st.Closed.Shutdown != clients || st.Open != 0 {
		t.Errorf("stats = %+v; want %d closed by the shutdown, none open", st, clients)
	}
}

// TestHostileShutdownSlowReaderGetsEveryReply is the full-load case made
// deterministic: one client pipelines 4,000 requests and does not read
// until the server, its replies backed up, has stopped reading it
// (WriteHighWater), so requests it never read wait in its socket. Then
// Shutdown begins, and the client reads, slowly (1 KiB a millisecond).
// The server must deliver the reply to every request it handled, then
// EOF. Small socket buffers (16 KiB) keep it quick.
func TestHostileShutdownSlowReaderGetsEveryReply(t *testing.T) {
	const (
		requests   = 4000
		high, low  = 64 << 10, 16 << 10
		kernelBuf  = 16 << 10
		payloadLen = 100
	)
	paused := make(chan struct{}, 1)
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.WriteHighWater, s.WriteLowWater = high, low
		s.WriteBuffer = kernelBuf
		s.OnBackpressure = func(_ *simpleserver.Conn, p bool) {
			if p {
				select {
				case paused <- struct{}{}:
				default:
				}
			}
		}
	})
	addr := start(t, srv)
	c := dialSmallWindow(t, addr, kernelBuf)
	payload := func(i int) []byte { return slowPayload(i, payloadLen) }
	var req []byte
	for i := range requests {
		req = hello.AppendRequest(req, payload(i))
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		wrote <- err
	}()
	select {
	case <-paused:
	case <-deadline():
		t.Fatal("the server never paused the client")
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// The loop closes its listener and stops reading every connection in
	// one task: once a dial is refused, the client's unread requests will
	// stay unread.
	for end := time.Now().Add(testDeadline); ; {
		p, err := net.DialTimeout("tcp", addr, testDeadline)
		if err != nil {
			break
		}
		p.Close()
		if time.Now().After(end) {
			t.Fatal("still accepting after Shutdown")
		}
		time.Sleep(time.Millisecond)
	}

	got, end := readSlowly(c)
	replies := checkSlowReplies(t, got, payloadLen)
	replyLen := hello.ReplyLen(payloadLen)
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-deadline():
		t.Fatal("Shutdown did not return")
	}
	<-wrote // the server is gone: the write has ended one way or the other
	reason, _ := closes.reason(c.LocalAddr().String())
	st := srv.Stats()
	t.Logf("the server handled %d of %d requests and wrote %d bytes; the client got %d replies (%d bytes) and then %v; server-side close: %v",
		st.MessagesIn, requests, st.BytesOut, replies, len(got), end, reason)
	if end != io.EOF || len(got)%replyLen != 0 {
		t.Errorf("after %d replies (%d bytes): %v; want EOF after a whole reply", replies, len(got), end)
	}
	if uint64(replies) != st.MessagesIn {
		t.Errorf("the client got %d replies; the server handled %d requests: %d accepted requests lost their replies",
			replies, st.MessagesIn, int64(st.MessagesIn)-int64(replies))
	}
}

// TestHostileProtocolErrorSlowReaderGetsRepliesDue: the README's promise
// for a frame over the limit is that "that connection is closed after the
// replies already due". A client pipelines 1,000 requests, then a header
// declaring 2^32-1 bytes, then 256 KiB more, and reads its replies slowly
// (1 KiB a millisecond, 16 KiB socket buffers). It must get all 1,000
// replies, in order, then EOF; the server closes it with a
// *ProtocolError.
func TestHostileProtocolErrorSlowReaderGetsRepliesDue(t *testing.T) {
	const (
		requests   = 1000
		payloadLen = 100
		kernelBuf  = 16 << 10
		tail       = 256 << 10
	)
	srv, closes := recordingServer(func(s *simpleserver.Server) {
		s.Loops = 1
		s.WriteHighWater, s.WriteLowWater = 64<<10, 16<<10
		s.WriteBuffer = kernelBuf
	})
	addr := start(t, srv)
	c := dialSmallWindow(t, addr, kernelBuf)
	var req []byte
	for i := range requests {
		req = hello.AppendRequest(req, slowPayload(i, payloadLen))
	}
	req = append(req, le32(math.MaxUint32)...)
	req = append(req, bytes.Repeat([]byte("g"), tail)...)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		wrote <- err
	}()
	got, end := readSlowly(c)
	replies := checkSlowReplies(t, got, payloadLen)
	<-wrote // the server is gone: the write has ended one way or the other
	closes.wait(t, 1)
	reason, _ := closes.reason(c.LocalAddr().String())
	st := srv.Stats()
	t.Logf("the server handled %d requests and wrote %d bytes; the client got %d replies (%d bytes), then %v; server-side close: %v",
		st.MessagesIn, st.BytesOut, replies, len(got), end, reason)
	var perr *simpleserver.ProtocolError
	if !errors.As(reason, &perr) {
		t.Errorf("closed with %v, want a *ProtocolError", reason)
	}
	if st.MessagesIn != requests {
		t.Errorf("the server handled %d requests, want %d", st.MessagesIn, requests)
	}
	if end != io.EOF || len(got)%hello.ReplyLen(payloadLen) != 0 {
		t.Errorf("after %d replies (%d bytes): %v; want EOF after a whole reply", replies, len(got), end)
	}
	if replies != requests {
		t.Errorf("the client got %d of the %d replies due: %d lost", replies, requests, requests-replies)
	}
}

// dialSmallWindow connects with a receive buffer of rcvbuf bytes, set
// before connecting so that the window the client offers is small from
// the start.
func dialSmallWindow(t testing.TB, addr string, rcvbuf int) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: testDeadline, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = setRcvbuf(fd, rcvbuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*net.TCPConn)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testDeadline))
	return c
}

// slowPayload is the payload of request i of a slow reader.
func slowPayload(i, size int) []byte {
	return fmt.Appendf(nil, "%06d %s", i, bytes.Repeat([]byte("r"), size-7))
}

// readSlowly reads 1 KiB a millisecond until the connection ends.
func readSlowly(c net.Conn) (got []byte, end error) {
	buf := make([]byte, 1<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
		time.Sleep(time.Millisecond)
	}
}

// checkSlowReplies checks that got is the replies to requests 0, 1,
// ... of a slow reader, in order (the last one possibly cut short), and
// returns how many whole replies it holds.
func checkSlowReplies(t testing.TB, got []byte, payloadLen int) int {
	t.Helper()
	replyLen := hello.ReplyLen(payloadLen)
	for i := 0; i*replyLen < len(got); i++ {
		want := append([]byte(hello.Prefix), slowPayload(i, payloadLen)...)
		part := got[i*replyLen : min(len(got), (i+1)*replyLen)]
		if !bytes.Equal(part, want[:len(part)]) {
			t.Fatalf("reply %d = %q, want %q", i, part, want)
		}
	}
	return len(got) / replyLen
}
