package conformance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const prefix = "Hi there, you just said: "

var goServers = []string{"simpleserver", "net", "gnet", "netpoll", "nbio", "evio"}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
	haveC     bool
)

// build compiles every server once for the whole test binary.
func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "bench-conformance")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + "/"}
		for _, s := range goServers {
			args = append(args, "../servers/"+s)
		}
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if _, err := exec.LookPath("gcc"); err == nil {
			out, err := exec.Command("gcc", "-O2", "-Wall", "-Werror", "-o", filepath.Join(binDir, "c"), "../servers/c/hello.c").CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("gcc: %v\n%s", err, out)
				return
			}
			haveC = true
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func servers(t *testing.T) []string {
	build(t)
	s := append([]string(nil), goServers...)
	if haveC {
		s = append([]string{"c"}, s...)
	} else {
		t.Log("gcc not found: the C reference is not checked")
	}
	return s
}

// start runs server name with proto on a free port and returns its
// address; the server is killed when the test ends.
func start(t *testing.T, name, proto string) string {
	t.Helper()
	dir := build(t)
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(filepath.Join(dir, name), "-proto", proto, "-addr", addr)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			select {
			case <-exited:
				t.Logf("%s exited at start (attempt %d): %s", name, attempt, logs.String())
				goto retry
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s did not start listening on %s", name, addr)
	retry:
	}
	t.Fatalf("%s would not start", name)
	return ""
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(15 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(payload []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func payload(i, n int) []byte {
	p := make([]byte, n)
	for j := range p {
		p[j] = byte('a' + (i+j)%26)
	}
	return p
}

// readReplies reads the replies to payloads, in order, and fails on any
// difference.
func readReplies(t *testing.T, c net.Conn, payloads [][]byte) {
	t.Helper()
	for i, p := range payloads {
		want := append([]byte(prefix), p...)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("reply %d of %d: %v", i+1, len(payloads), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("reply %d differs: got %.60q..., want %.60q...", i+1, got, want)
		}
	}
}

// expectClosed waits for the server to close: EOF or a reset, with no
// further bytes.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	n, err := c.Read(b[:])
	switch {
	case n > 0:
		t.Fatalf("got %q, want the connection closed", b[:n])
	case errors.Is(err, io.EOF), err != nil && strings.Contains(err.Error(), "reset"):
	default:
		t.Fatalf("read: %v, want EOF", err)
	}
}

func each(t *testing.T, proto string, f func(t *testing.T, addr string)) {
	for _, name := range servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, start(t, name, proto))
		})
	}
}

// Many requests in one write: every one answered, in order.
func TestHelloPipelined(t *testing.T) {
	each(t, "hello", func(t *testing.T, addr string) {
		c := dial(t, addr)
		var buf []byte
		var ps [][]byte
		for i := range 500 {
			p := payload(i, 1+i%200)
			ps = append(ps, p)
			buf = append(buf, frame(p)...)
		}
		go c.Write(buf)
		readReplies(t, c, ps)
	})
}

// Frames dribbled a few bytes at a time: partial headers and payloads are
// kept until complete.
func TestHelloSplitFrames(t *testing.T) {
	each(t, "hello", func(t *testing.T, addr string) {
		c := dial(t, addr)
		var buf []byte
		var ps [][]byte
		for i := range 20 {
			p := payload(i, 1+i*7)
			ps = append(ps, p)
			buf = append(buf, frame(p)...)
		}
		go func() {
			for i := 0; i < len(buf); i += 3 {
				c.Write(buf[i:min(i+3, len(buf))])
				time.Sleep(200 * time.Microsecond)
			}
		}()
		readReplies(t, c, ps)
	})
}

// Frames larger than any read buffer, up to the 1 MiB limit itself.
func TestHelloLargeFrames(t *testing.T) {
	each(t, "hello", func(t *testing.T, addr string) {
		c := dial(t, addr)
		ps := [][]byte{payload(1, 200_000), payload(2, 10), payload(3, 1<<20)}
		var buf []byte
		for _, p := range ps {
			buf = append(buf, frame(p)...)
		}
		go c.Write(buf)
		readReplies(t, c, ps)
	})
}

// A zero-length request closes the connection after the replies due.
func TestHelloCloseRequest(t *testing.T) {
	each(t, "hello", func(t *testing.T, addr string) {
		c := dial(t, addr)
		ps := [][]byte{payload(1, 5), payload(2, 64)}
		buf := append(frame(ps[0]), frame(ps[1])...)
		buf = append(buf, 0, 0, 0, 0)
		c.Write(buf)
		readReplies(t, c, ps)
		expectClosed(t, c)
	})
}

// A frame declared above 1 MiB closes the connection (after the replies
// due), without the server waiting for its payload.
func TestHelloOversizedFrame(t *testing.T) {
	each(t, "hello", func(t *testing.T, addr string) {
		c := dial(t, addr)
		p := payload(1, 30)
		buf := append(frame(p), binary.LittleEndian.AppendUint32(nil, 1<<20+1)...)
		c.Write(buf)
		readReplies(t, c, [][]byte{p})
		expectClosed(t, c)
	})
}

// Echo returns every byte, in order, whatever the chunking.
func TestEcho(t *testing.T) {
	each(t, "echo", func(t *testing.T, addr string) {
		c := dial(t, addr)
		data := payload(0, 300_000)
		go func() {
			for i := 0; i < len(data); i += 4096 {
				c.Write(data[i:min(i+4096, len(data))])
			}
		}()
		got := make([]byte, len(data))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("echo differs")
		}
	})
}
