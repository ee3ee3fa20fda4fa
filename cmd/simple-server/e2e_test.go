package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinaries compiles simple-server and simple-client into a temporary
// directory, so the end-to-end test runs them exactly as a user would.
func buildBinaries(t *testing.T) (server, client string) {
	t.Helper()
	dir := t.TempDir()
	server, client = filepath.Join(dir, "simple-server"), filepath.Join(dir, "simple-client")
	for bin, pkg := range map[string]string{server: ".", client: "../simple-client"} {
		// The binaries run the engine this test binary was built for.
		out, err := exec.Command("go", "build", "-tags", engineTags, "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return server, client
}

var listening = regexp.MustCompile(`msg="simple-server listening" addr=(\S+)`)

// serverProcess is a running simple-server binary.
type serverProcess struct {
	addr  string
	start string // the start line
	cmd   *exec.Cmd
	log   <-chan string // yields the log after the start line, once stderr ends
}

// startServer runs the server binary on a free port and waits for its
// start line.
func startServer(t *testing.T, bin string, args ...string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addrc := make(chan []string, 1)
	rest := make(chan string, 1)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- []string{m[1], sc.Text()}
			}
		}
		rest <- log.String()
	}()
	select {
	case m := <-addrc:
		if !strings.Contains(m[1], " engine="+wantEngine+" ") {
			t.Fatalf("the start log does not name the engine %s: %s", wantEngine, m[1])
		}
		return &serverProcess{addr: m[0], start: m[1], cmd: cmd, log: rest}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not report its address")
		return nil
	}
}

type clientResult struct {
	Requests   int64 `json:"requests"`
	Sent       int64 `json:"sent"`
	Mismatches int64 `json:"mismatches"`
	OK         bool  `json:"ok"`
	Errors     struct {
		Total int64 `json:"total"`
	} `json:"errors"`
}

func runClient(t *testing.T, bin string, args ...string) clientResult {
	t.Helper()
	cmd := exec.Command(bin, append(args, "-json", "-q", "-timeout", "20s")...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("simple-client %v: %v\n%s", args, err, out)
	}
	var r clientResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	return r
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)

	t.Run("hello", func(t *testing.T) {
		srv := startServer(t, server, "-loops", "2", "-workers", "4")
		for _, pipeline := range []string{"1", "16"} {
			r := runClient(t, client, "-addr", srv.addr, "-c", "50", "-n", "20000", "-pipeline", pipeline, "-close")
			if !r.OK || r.Requests != 20000 || r.Sent != 20000 || r.Mismatches != 0 || r.Errors.Total != 0 {
				t.Fatalf("pipeline %s: %+v", pipeline, r)
			}
		}
		srv.stop(t)
	})

	t.Run("echo", func(t *testing.T) {
		srv := startServer(t, server, "-proto", "echo")
		r := runClient(t, client, "-addr", srv.addr, "-proto", "echo", "-c", "20", "-n", "5000", "-size", "4096", "-pipeline", "4")
		if !r.OK || r.Requests != 5000 || r.Mismatches != 0 || r.Errors.Total != 0 {
			t.Fatalf("echo: %+v", r)
		}
		srv.stop(t)
	})

	t.Run("bad flags", func(t *testing.T) {
		out, err := exec.Command(server, "-proto", "gopher").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `unknown -proto "gopher"`) {
			t.Fatalf("exit %v, output %q", err, out)
		}
	})
}

// stop sends SIGTERM and expects exit status 0 within 10 s, a log that
// says it stopped, and no error in the log. It returns the log.
func (s *serverProcess) stop(t *testing.T) string {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return s.wait(t, 10*time.Second)
}

// wait waits for the server to exit after a signal: its log first (the
// pipe ends when the process does, and Wait would close it under the
// reader), then its status.
func (s *serverProcess) wait(t *testing.T, within time.Duration) string {
	t.Helper()
	var text string
	select {
	case text = <-s.log:
	case <-time.After(within):
		t.Fatalf("server did not exit within %v of SIGTERM", within)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit: %v\n%s", err, text)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("server closed its log but did not exit\n%s", text)
	}
	if !strings.Contains(text, "msg=stopped") {
		t.Fatalf("server log lacks the stop line:\n%s", text)
	}
	if strings.Contains(text, "level=ERROR") || strings.Contains(text, "level=WARN") {
		t.Fatalf("server log has errors:\n%s", text)
	}
	return text
}
