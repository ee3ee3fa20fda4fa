package http1_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simple-server/simpleserver/http1"
	"github.com/simple-server/simpleserver/protocol/plaintext"
)

// streamSize is the body these tests move: far more than any buffer.
const streamSize = 256 << 20

// rssBound is how much the process's peak RSS may grow while it moves
// streamSize bytes through the server (and a client of its own).
const rssBound = 64 << 20

// patterned yields n bytes of a pattern no buffer reuse can fake, and
// hashes what it yields.
type patterned struct {
	n, off int
	h      hash.Hash
}

func newPatterned(n int) *patterned { return &patterned{n: n, h: sha256.New()} }

func (p *patterned) Read(b []byte) (int, error) {
	if p.off == p.n {
		return 0, io.EOF
	}
	b = b[:min(len(b), p.n-p.off)]
	for i := range b {
		k := p.off + i
		b[i] = byte(k ^ k>>8 ^ k>>16)
	}
	p.off += len(b)
	p.h.Write(b)
	return len(b), nil
}

// peakRSS measures the growth of the process's peak resident set while f
// runs: clear_refs resets the peak (VmHWM) to the current RSS.
func peakRSS(t *testing.T, f func()) int64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak RSS: %v", err)
	}
	before := procStatus(t, "VmHWM:")
	f()
	return procStatus(t, "VmHWM:") - before
}

func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// A 256 MiB upload streams through the echo Handler while it arrives,
// both with a Content-Length and chunked: every byte comes back, and the
// server holds a bounded window of it, never the body.
func TestUploadStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	_, addr := serve(t, &http1.Protocol{Handler: plaintext.Mux()}, nil)
	for _, chunkedBody := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunkedBody), func(t *testing.T) {
			c := dial(t, addr)
			src := newPatterned(streamSize)
			head := fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", streamSize)
			if chunkedBody {
				head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			}
			var got [sha256.Size]byte
			var n int64
			var readErr error
			growth := peakRSS(t, func() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					r, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil {
						readErr = err
						return
					}
					h := sha256.New()
					n, readErr = io.Copy(h, r.Body)
					copy(got[:], h.Sum(nil))
				}()
				io.WriteString(c, head)
				var w io.Writer = c
				if chunkedBody {
					w = &chunkWriter{w: c}
				}
				if _, err := io.CopyBuffer(w, src, make([]byte, 61_000)); err != nil {
					t.Errorf("sending: %v", err)
				}
				if chunkedBody {
					io.WriteString(c, "0\r\n\r\n")
				}
				<-done
			})
			if readErr != nil || n != streamSize || !bytes.Equal(got[:], src.h.Sum(nil)) {
				t.Fatalf("echo: %d bytes, %v, hash match %v", n, readErr, bytes.Equal(got[:], src.h.Sum(nil)))
			}
			if growth > rssBound {
				t.Fatalf("peak RSS grew by %d MiB moving %d MiB", growth>>20, streamSize>>20)
			}
			t.Logf("peak RSS grew by %.1f MiB", float64(growth)/(1<<20))
		})
	}
}

// chunkWriter frames each write as one chunk.
type chunkWriter struct{ w io.Writer }

func (c *chunkWriter) Write(p []byte) (int, error) {
	if _, err := fmt.Fprintf(c.w, "%x\r\n", len(p)); err != nil {
		return 0, err
	}
	if _, err := c.w.Write(p); err != nil {
		return 0, err
	}
	_, err := io.WriteString(c.w, "\r\n")
	return len(p), err
}

// A Handler writing 256 MiB to a client that reads slowly at first waits
// for it (the connection's watermarks), instead of queueing the response
// (and being closed as a slow consumer): memory stays bounded, every byte
// arrives.
func TestResponseStreamsToSlowReader(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.CopyBuffer(w, newPatterned(streamSize), make([]byte, 1<<20))
	})
	srv, addr := serve(t, &http1.Protocol{Handler: h}, nil)
	c := dial(t, addr)
	want := newPatterned(streamSize)
	io.Copy(io.Discard, want) // the hash of what should arrive
	var n int64
	var sum []byte
	growth := peakRSS(t, func() {
		io.WriteString(c, get("/"))
		r, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		hs := sha256.New()
		// Slow for the first 8 MiB, a megabyte every 20 ms, then at
		// full speed.
		for n < 8<<20 {
			m, err := io.CopyN(hs, r.Body, 1<<20)
			n += m
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // the client's pace, not a wait for the server
		}
		m, err := io.Copy(hs, r.Body)
		n += m
		if err != nil {
			t.Fatal(err)
		}
		sum = hs.Sum(nil)
	})
	if n != streamSize || !bytes.Equal(sum, want.h.Sum(nil)) {
		t.Fatalf("received %d bytes, hash match %v", n, bytes.Equal(sum, want.h.Sum(nil)))
	}
	if st := srv.Stats(); st.Closed.SlowConsumer != 0 {
		t.Fatalf("closed as a slow consumer: %+v", st.Closed)
	}
	if growth > rssBound {
		t.Fatalf("peak RSS grew by %d MiB moving %d MiB", growth>>20, streamSize>>20)
	}
	t.Logf("peak RSS grew by %.1f MiB", float64(growth)/(1<<20))
}
