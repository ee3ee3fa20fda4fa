package simpleserver_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/protocol/hello"
)

func TestHelloOneByteAtATime(t *testing.T) {
	addr := start(t, helloServer(nil))
	c := dial(t, addr)
	for _, b := range frame("hello, world") {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	expectReply(t, c, "hello, world")
}

func TestHelloManyFramesInOneWrite(t *testing.T) {
	addr := start(t, helloServer(nil))
	c := dial(t, addr)
	var req []byte
	var want []string
	for i := range 500 {
		p := strings.Repeat("x", i%37) + "!"
		req = append(req, frame(p)...)
		want = append(want, p)
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		expectReply(t, c, p)
	}
}

// signalCodec wraps the hello codec and reports each time the server finds
// a partial frame and waits for more bytes, so a test can split its
// stream at exact offsets and know the server saw the split.
type signalCodec struct {
	codec.Codec
	waiting chan int // buffered bytes when the server needs more
}

func (s signalCodec) Decode(buf []byte) ([]byte, int, error) {
	msg, n, err := s.Codec.Decode(buf)
	if n == 0 && err == nil {
		s.waiting <- len(buf)
	}
	return msg, n, err
}

func TestHelloSplitAtEveryOffset(t *testing.T) {
	payloads := []string{"a", "", "hello", strings.Repeat("z", 300)}
	// An empty payload means close in the seed protocol: leave it out of
	// this stream; it is tested on its own.
	payloads = append(payloads[:1], payloads[2:]...)
	var stream []byte
	var ends []int // offset just past each frame
	for _, p := range payloads {
		stream = append(stream, frame(p)...)
		ends = append(ends, len(stream))
	}
	sc := signalCodec{Codec: hello.Codec(0), waiting: make(chan int, 16)}
	addr := start(t, helloServer(func(s *simpleserver.Server) { s.Codec = sc; s.Loops = 1 }))
	for k := 1; k < len(stream); k++ {
		c := dial(t, addr)
		if _, err := c.Write(stream[:k]); err != nil {
			t.Fatal(err)
		}
		// Replies for the frames complete in the first part come before
		// the second part is sent.
		done := 0
		for done < len(ends) && ends[done] <= k {
			expectReply(t, c, payloads[done])
			done++
		}
		start := 0
		if done > 0 {
			start = ends[done-1]
		}
		if start != k {
			// A partial frame: wait until the server holds exactly it.
			select {
			case n := <-sc.waiting:
				if n != k-start {
					t.Fatalf("split %d: server waits with %d bytes, want %d", k, n, k-start)
				}
			case <-deadline():
				t.Fatalf("split %d: server never waited for more bytes", k)
			}
		}
		if _, err := c.Write(stream[k:]); err != nil {
			t.Fatal(err)
		}
		for ; done < len(payloads); done++ {
			expectReply(t, c, payloads[done])
		}
		c.Close()
		// Drain the signals of this split's later partial frames.
		for len(sc.waiting) > 0 {
			<-sc.waiting
		}
	}
}

func TestHelloOneMiBFrame(t *testing.T) {
	addr := start(t, helloServer(nil))
	c := dial(t, addr)
	p := bytes.Repeat([]byte("0123456789abcdef"), hello.DefaultMaxFrame/16)
	if _, err := c.Write(hello.AppendRequest(nil, p)); err != nil {
		t.Fatal(err)
	}
	expectReply(t, c, string(p))
}

func TestHelloZeroLengthCloses(t *testing.T) {
	closed := make(chan error, 1)
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		s.OnClose = func(_ *simpleserver.Conn, err error) { closed <- err }
	}))
	c := dial(t, addr)
	req := append(frame("bye"), le32(0)...)
	req = append(req, frame("never answered")...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	expectReply(t, c, "bye")
	expectEOF(t, c)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("OnClose err = %v, want nil for a requested close", err)
		}
	case <-deadline():
		t.Fatal("OnClose not called")
	}
}

func TestOversizedFrameClosesOnlyThatConnection(t *testing.T) {
	reasons := make(chan error, 2)
	addr := start(t, helloServer(func(s *simpleserver.Server) {
		s.Codec = hello.Codec(1000)
		s.Logger = discardLogger()
		s.OnClose = func(_ *simpleserver.Conn, err error) { reasons <- err }
	}))
	good := dial(t, addr)
	bad := dial(t, addr)
	if _, err := good.Write(frame("before")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, good, "before")
	// A valid frame, then a header declaring 1001 bytes: the first is
	// answered, then the connection closes without the server waiting
	// for (or buffering) the oversized payload.
	if _, err := bad.Write(append(frame("ok"), le32(1001)...)); err != nil {
		t.Fatal(err)
	}
	expectReply(t, bad, "ok")
	expectEOF(t, bad)
	select {
	case err := <-reasons:
		var perr *simpleserver.ProtocolError
		if !errors.As(err, &perr) || !errors.Is(err, codec.ErrFrameTooLarge) {
			t.Fatalf("close reason = %v, want a ProtocolError wrapping ErrFrameTooLarge", err)
		}
	case <-deadline():
		t.Fatal("OnClose not called")
	}
	if _, err := good.Write(frame("after")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, good, "after")
	if len(reasons) != 0 {
		t.Fatalf("another connection closed: %v", <-reasons)
	}
}

func TestServeUnixSocket(t *testing.T) {
	path := t.TempDir() + "/s.sock"
	srv := helloServer(func(s *simpleserver.Server) { s.Network, s.Addr = "unix", path })
	if err := srv.Start(nil); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(frame("over unix")); err != nil {
		t.Fatal(err)
	}
	expectReply(t, c, "over unix")
}
