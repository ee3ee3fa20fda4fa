package simpleserver_test

// Hostile input: requests declaring absurd lengths, and streams of random
// bytes. The promise under test is in hostile_clients_test.go.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/simple-server/simpleserver"
	"github.com/simple-server/simpleserver/codec"
	"github.com/simple-server/simpleserver/protocol/hello"
)

// TestHostileHugeDeclaredLength: 100 connections declare a 2^32-1 byte
// request (half send the header with 1000 bytes of payload in one write,
// half send the header one byte at a time). Each is closed with a
// *ProtocolError wrapping codec.ErrFrameTooLarge as soon as its header is
// complete, gets no reply, and the server never allocates for the
// declared length: across all 100 the whole process allocates far less
// than one such frame (4 GiB).
func TestHostileHugeDeclaredLength(t *testing.T) {
	const conns = 100
	const allocBound = 64 << 20
	srv, closes := recordingServer(nil)
	addr := start(t, srv)
	good := dial(t, addr)
	expectRoundTrip(t, good, "before")
	bytesIn := uint64(len(frame("before")))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hdr := le32(math.MaxUint32)
	var addrs []string
	for i := range conns {
		c := dial(t, addr)
		addrs = append(addrs, c.LocalAddr().String())
		if i%2 == 0 {
			req := append(slices.Clone(hdr), bytes.Repeat([]byte("x"), 1000)...)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			bytesIn += uint64(len(req))
		} else {
			for _, b := range hdr {
				if _, err := c.Write([]byte{b}); err != nil {
					t.Fatal(err)
				}
			}
			bytesIn += uint64(len(hdr))
		}
		expectEOF(t, c)
		c.Close()
	}
	closes.wait(t, conns)
	runtime.ReadMemStats(&after)
	total := after.TotalAlloc - before.TotalAlloc
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d connections declaring %d bytes: the process allocated %.1f MiB in all, heap grew by %.1f MiB",
		conns, uint32(math.MaxUint32), float64(total)/(1<<20), float64(heap)/(1<<20))
	if total >= allocBound || heap >= allocBound {
		t.Errorf("allocated %d bytes (heap grew %d) for %d oversized declarations; want < %d", total, heap, conns, allocBound)
	}
	for i, a := range addrs {
		err, ok := closes.reason(a)
		var perr *simpleserver.ProtocolError
		if !ok || !errors.As(err, &perr) || !errors.Is(err, codec.ErrFrameTooLarge) {
			t.Errorf("connection %d: close reason %v (closed %v), want a *ProtocolError wrapping ErrFrameTooLarge", i, err, ok)
		}
	}
	st := settledStats(srv)
	if st.Closed.Protocol != conns || st.Open != 1 || st.MessagesIn != 1 || st.BytesIn != bytesIn || st.BytesQueued != 0 {
		t.Errorf("stats = %+v; want %d protocol closes, 1 open, 1 message, %d bytes in", st, conns, bytesIn)
	}
	expectRoundTrip(t, good, "after")
}

// streamWant is what the server must do with one byte stream that is
// followed by the client's EOF, by the protocol's rules.
type streamWant struct {
	replies  []byte // every reply, in order
	msgs     int    // requests handled
	protocol bool   // closed with a protocol error (else orderly)
	closeReq bool   // closed on a zero-length request
	partial  bool   // the stream ended inside a frame
	early    bool   // the server stops before the end of the stream
}

// helloModel runs the hello protocol over stream: frames are answered in
// order until a length over maxFrame (a protocol error), a zero length (a
// close request), or the end of the stream (EOF; a partial frame is
// dropped).
func helloModel(stream []byte, maxFrame int) streamWant {
	var e streamWant
	for len(stream) >= hello.HeaderLen {
		n := binary.LittleEndian.Uint32(stream)
		switch {
		case uint64(n) > uint64(maxFrame):
			e.protocol = true
		case n == 0:
			e.closeReq = true
		case len(stream)-hello.HeaderLen < int(n):
			e.partial = true
			return e
		default:
			e.replies = append(e.replies, hello.Prefix...)
			e.replies = append(e.replies, stream[hello.HeaderLen:hello.HeaderLen+int(n)]...)
			e.msgs++
			stream = stream[hello.HeaderLen+int(n):]
			continue
		}
		e.early = len(stream) > hello.HeaderLen
		return e
	}
	e.partial = len(stream) > 0
	return e
}

// garbage returns one connection's worth of hostile bytes: a third are
// pure noise, the rest a random mix of valid requests, noise, plausible
// lengths the rest of the stream may or may not fill, lengths over the
// limit and close requests.
func garbage(r *rand.Rand, maxFrame int) []byte {
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	if r.IntN(3) == 0 {
		return noise(1 + r.IntN(2048))
	}
	var b []byte
	for range 1 + r.IntN(16) {
		switch k := r.IntN(20); {
		case k < 10:
			b = hello.AppendRequest(b, noise(1+r.IntN(300)))
		case k < 14:
			b = append(b, noise(1+r.IntN(32))...)
		case k < 17:
			b = binary.LittleEndian.AppendUint32(b, uint32(1+r.IntN(4096)))
		case k < 19:
			b = binary.LittleEndian.AppendUint32(b, uint32(maxFrame)+1+r.Uint32N(math.MaxUint32-uint32(maxFrame)))
		default:
			b = binary.LittleEndian.AppendUint32(b, 0)
		}
	}
	return b
}

// garbageClient sends stream in one write, shuts its sending side and
// reads until the server closes; what it read must be exactly the
// model's replies. The close must be a FIN, unless the server stopped
// before the end of the stream, when bytes it never read make its close a
// reset. It reports whether it saw a reset.
func garbageClient(addr string, stream []byte, want streamWant) (reset bool, err error) {
	c, err := connect(addr, testDeadline)
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write(stream); err != nil && !(want.early && closedByServer(err)) {
		return false, fmt.Errorf("write: %w", err)
	}
	c.(*net.TCPConn).CloseWrite() // fails only if the server reset us already
	got, err := io.ReadAll(c)
	switch {
	case err == nil:
	case want.early && errors.Is(err, syscall.ECONNRESET):
		reset = true
	default:
		return false, fmt.Errorf("after %d reply bytes: %w", len(got), err)
	}
	if !bytes.Equal(got, want.replies) {
		return reset, fmt.Errorf("got %d reply bytes, want %d:\n got %q\nwant %q", len(got), len(want.replies), trunc(string(got)), trunc(string(want.replies)))
	}
	return reset, nil
}

// TestHostileRandomGarbage: 200 connections of random bytes (fixed seed),
// 20 at a time, while a well-behaved client makes round trips all along.
// Each garbage connection gets exactly what the protocol says, replies
// for the well-formed frames before the first bad length, close request
// or EOF, in order, then the close; the server counts each close under
// the right reason; the good client is answered correctly throughout.
func TestHostileRandomGarbage(t *testing.T) {
	for _, workers := range []int{0, 4} {
		t.Run(fmt.Sprintf("Workers=%d", workers), func(t *testing.T) { testHostileGarbage(t, workers) })
	}
}

func testHostileGarbage(t *testing.T, workers int) {
	const conns, parallel = 200, 20
	const maxFrame = hello.DefaultMaxFrame
	rng := rand.New(rand.NewPCG(0x5eed, uint64(workers)))
	streams := make([][]byte, conns)
	wants := make([]streamWant, conns)
	for i := range streams {
		streams[i] = garbage(rng, maxFrame)
		wants[i] = helloModel(streams[i], maxFrame)
	}
	srv, closes := recordingServer(func(s *simpleserver.Server) { s.Workers = workers })
	addr := start(t, srv)

	good := dial(t, addr)
	stopGood := roundTripsMeanwhile([]net.Conn{good}, "good %d")
	errs := make([]error, conns)
	resets := make([]bool, conns)
	inParallel(parallel, conns, func(id int) bool {
		resets[id], errs[id] = garbageClient(addr, streams[id], wants[id])
		return true
	})
	goodTrips, err := stopGood()
	if err != nil {
		t.Fatalf("the well-behaved client: %v", err)
	}
	closes.wait(t, conns)

	var protocol, closeReq, partial, eof, msgs, nreset int
	var replyBytes int
	for i := range conns {
		if errs[i] != nil {
			t.Errorf("garbage connection %d (%d bytes): %v", i, len(streams[i]), errs[i])
		}
		w := wants[i]
		msgs += w.msgs
		replyBytes += len(w.replies)
		switch {
		case w.protocol:
			protocol++
		case w.closeReq:
			closeReq++
		case w.partial:
			partial++
		default:
			eof++
		}
		if resets[i] {
			nreset++
		}
	}
	t.Logf("%d garbage connections: %d protocol errors, %d close requests, %d ended inside a frame, %d ended cleanly; "+
		"%d requests answered (%d bytes); %d closes seen as resets; the good client made %d round trips meanwhile",
		conns, protocol, closeReq, partial, eof, msgs, replyBytes, nreset, goodTrips)
	if goodTrips == 0 {
		t.Error("the well-behaved client made no round trip while the garbage was sent")
	}
	st := settledStats(srv)
	trips := uint64(goodTrips)
	want := simpleserver.ClosedStats{Protocol: uint64(protocol), Peer: uint64(conns - protocol)}
	if st.Closed != want || st.Open != 1 || st.MessagesIn != uint64(msgs)+trips || st.MessagesOut != uint64(msgs)+trips || st.BytesQueued != 0 {
		t.Errorf("stats = %+v\nwant closed %+v, 1 open, %d messages in and out", st, want, uint64(msgs)+trips)
	}
	expectRoundTrip(t, good, "still here")
}
