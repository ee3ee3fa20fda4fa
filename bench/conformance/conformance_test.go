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
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const prefix = "Hi there, you just said: "

// goServers are the Go benchmark servers, each built from ../servers/pkg
// with tags: portable is servers/simpleserver again on the library's
// portable engine, as run.sh builds it.
var goServers = []struct{ name, pkg, tags string }{
	{"simpleserver", "simpleserver", ""},
	{"portable", "simpleserver", "simpleserver_portable"},
	{"net", "net", ""},
	{"gnet", "gnet", ""},
	{"netpoll", "netpoll", ""},
	{"nbio", "nbio", ""},
	{"evio", "evio", ""},
}

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
		for _, s := range goServers {
			args := []string{"build", "-o", filepath.Join(binDir, s.name)}
			if s.tags != "" {
				args = append(args, "-tags", s.tags)
			}
			args = append(args, "../servers/"+s.pkg)
			if buildErr = goCommand(args...); buildErr != nil {
				return
			}
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

// goCommand runs the go command with args, its output in the error.
func goCommand(args ...string) error {
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{binDir, httpBinDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func servers(t *testing.T) []string {
	build(t)
	var s []string
	for _, g := range goServers {
		s = append(s, g.name)
	}
	if haveC {
		s = append([]string{"c"}, s...)
	} else {
		t.Log("gcc not found: the C reference is not checked")
	}
	return s
}

// logBuffer collects a server's output; the test reads it while the
// server's output is still being copied in.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs server name with proto on a free port and returns its
// address and its output so far; the server is killed when the test ends.
func start(t *testing.T, name, proto string) (string, *logBuffer) {
	t.Helper()
	dir := build(t)
	return launch(t, name, false, func(addr string) *exec.Cmd {
		return exec.Command(filepath.Join(dir, name), "-proto", proto, "-addr", addr)
	})
}

// launch runs the command newCmd makes for a free port on 127.0.0.1
// (with GOMAXPROCS=1 in its environment) until that port accepts, and
// returns the address and the process's output so far. A process that
// exits at start is tried again on another port (one taken in between).
// When the test ends the process is stopped and waited for: killed, or,
// with term, sent SIGTERM and required to exit with status 0 within 10 s
// (and not to have exited before).
func launch(t *testing.T, name string, term bool, newCmd func(addr string) *exec.Cmd) (string, *logBuffer) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := newCmd(addr)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		logs := new(logBuffer)
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var waitErr error
		exited := make(chan struct{})
		go func() { waitErr = cmd.Wait(); close(exited) }()
		serving := false
		t.Cleanup(func() {
			if !term {
				cmd.Process.Kill()
				<-exited
				return
			}
			select {
			case <-exited:
				if serving {
					t.Errorf("%s exited before the test ended: %v; output:\n%s", name, waitErr, logs)
				}
				return
			default:
			}
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
				if waitErr != nil {
					t.Errorf("%s on SIGTERM: %v, want exit status 0; output:\n%s", name, waitErr, logs)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Errorf("%s had not exited 10 s after SIGTERM; output:\n%s", name, logs)
			}
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
				serving = true
				return addr, logs
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s did not start listening on %s", name, addr)
	retry:
	}
	t.Fatalf("%s would not start", name)
	return "", nil
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
			addr, _ := start(t, name, proto)
			f(t, addr)
		})
	}
}

// The simpleserver binary names its engine in its start log: epoll on
// Linux, and portable when built with -tags simpleserver_portable, so the
// portable server really measures the portable engine.
func TestEngine(t *testing.T) {
	native := "portable"
	if runtime.GOOS == "linux" {
		native = "epoll"
	}
	for name, want := range map[string]string{"simpleserver": native, "portable": "portable"} {
		for _, proto := range []string{"hello", "echo"} {
			t.Run(name+"/"+proto, func(t *testing.T) {
				t.Parallel()
				_, logs := start(t, name, proto)
				// The line is logged once the server listens, so it may
				// follow the first successful dial.
				head := fmt.Sprintf("simpleserver %s listening on ", proto)
				var line string
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					_, rest, found := strings.Cut(logs.String(), head)
					if l, _, complete := strings.Cut(rest, "\n"); found && complete {
						line = head + l
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no complete start log line %q...; output: %q", head, logs.String())
					}
				}
				if !strings.HasSuffix(line, ", engine "+want) {
					t.Fatalf("%s (-proto %s) logged %q, want it to end \", engine %s\"", name, proto, line, want)
				}
				t.Log(line)
			})
		}
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
