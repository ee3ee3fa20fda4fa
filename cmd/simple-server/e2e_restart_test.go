//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// restartWait bounds every wait of these tests for a log line.
const restartWait = 30 * time.Second

// procLog collects the stderr lines of a simple-server and of every
// successor it starts, which inherit that stderr. It ends (done) when the
// last process holding the pipe has exited: that is how the tests know
// none outlived them.
type procLog struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced at every line
	done    chan struct{}
}

func newProcLog(r io.Reader) *procLog {
	l := &procLog{changed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

// wait returns the first line from index from on that matches re, with
// its index and submatches; it fails the test if none comes in time.
func (l *procLog) wait(t *testing.T, re *regexp.Regexp, from int) (int, []string) {
	t.Helper()
	deadline := time.After(restartWait)
	for {
		l.mu.Lock()
		for i := from; i < len(l.lines); i++ {
			if m := re.FindStringSubmatch(l.lines[i]); m != nil {
				l.mu.Unlock()
				return i, m
			}
		}
		from = max(from, len(l.lines))
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-l.done:
			t.Fatalf("the servers exited without logging %q:\n%s", re, l.text())
		case <-deadline:
			t.Fatalf("no log line %q within %v:\n%s", re, restartWait, l.text())
		}
	}
}

func (l *procLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// count is how many lines match re.
func (l *procLog) count(re *regexp.Regexp) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if re.MatchString(line) {
			n++
		}
	}
	return n
}

var (
	startPID     = regexp.MustCompile(`msg="simple-server listening" addr=(\S+) .* pid=(\d+) inherited=(\d+)`)
	successorPID = regexp.MustCompile(`msg="restart: successor (?:started|ready)" pid=(\d+)`)
	readyPID     = regexp.MustCompile(`msg="restart: successor ready" pid=(\d+)`)
	stoppedLine  = regexp.MustCompile(`msg=stopped`)
)

// startLogged starts cmd with its stderr collected in a procLog, through
// a pipe of our own, not StderrPipe: Wait closes that one once the first
// process exits, while its successors still write to it (and would die of
// SIGPIPE). The caller closes stderr, the read end, once the log is done.
func startLogged(t *testing.T, cmd *exec.Cmd) (log *procLog, stderr *os.File) {
	t.Helper()
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stderr.Close()
		t.Fatal(err)
	}
	return newProcLog(stderr), stderr
}

// serverChain is a simple-server started by the test and the successors
// it hands over to on SIGHUP, which are not the test's children.
type serverChain struct {
	cmd  *exec.Cmd
	log  *procLog
	addr string
	pid  int // the process serving now
}

// startChain runs bin with args and waits for its start line. At cleanup
// every process of the chain is killed by pid, and the test fails if any
// still holds the log pipe (is alive) a few seconds later.
func startChain(t *testing.T, bin string, env []string, args ...string) *serverChain {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	log, stderr := startLogged(t, cmd)
	c := &serverChain{cmd: cmd, log: log, pid: cmd.Process.Pid}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		pids := map[int]bool{cmd.Process.Pid: true}
		for _, re := range []*regexp.Regexp{startPID, successorPID} {
			c.log.mu.Lock()
			for _, line := range c.log.lines {
				if m := re.FindStringSubmatch(line); m != nil {
					pid, _ := strconv.Atoi(m[len(m)-1])
					if re == startPID {
						pid, _ = strconv.Atoi(m[2])
					}
					pids[pid] = true
				}
			}
			c.log.mu.Unlock()
		}
		for pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-c.log.done:
		case <-time.After(10 * time.Second):
			t.Errorf("a server process outlived the test (pids %v)", pids)
		}
		stderr.Close()
		<-waited
	})
	_, m := c.log.wait(t, startPID, 0)
	if m[2] != strconv.Itoa(c.pid) {
		t.Fatalf("start line of pid %s, want %d", m[2], c.pid)
	}
	c.addr = m[1]
	return c
}

// restart sends SIGHUP to the serving process and waits until it reports
// its successor ready, and the successor's start line says it inherited
// the sockets and serves the same address. It returns the first log index
// after the old process's stop line.
func (c *serverChain) restart(t *testing.T, from int) int {
	t.Helper()
	old := c.pid
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	i, m := c.log.wait(t, readyPID, from)
	pid, _ := strconv.Atoi(m[1])
	if pid == old {
		t.Fatalf("successor pid %d is the old process's", pid)
	}
	_, sm := c.log.wait(t, regexp.MustCompile(`msg="simple-server listening" addr=(\S+) .* pid=`+m[1]+` inherited=(\d+)`), from)
	if sm[1] != c.addr || sm[2] == "0" {
		t.Fatalf("successor serves %s with inherited=%s; want %s, inherited", sm[1], sm[2], c.addr)
	}
	c.pid = pid
	j, _ := c.log.wait(t, stoppedLine, i)
	return j + 1
}

// terminate sends SIGTERM to the serving process and waits until no
// process of the chain is left.
func (c *serverChain) terminate(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(c.pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.log.done:
	case <-time.After(restartWait):
		t.Fatalf("pid %d did not exit on SIGTERM", c.pid)
	}
}

// loadResult is what the restart tests read of simple-client's JSON.
type loadResult struct {
	Requests   int64 `json:"requests"`
	Mismatches int64 `json:"mismatches"`
	Dials      int64 `json:"dials"`
	DialErrors int64 `json:"dial_errors"`
	Retried    int64 `json:"retried"`
	OK         bool  `json:"ok"`
	Errors     struct {
		Total int64 `json:"total"`
	} `json:"errors"`
	FirstError string `json:"first_error"`
}

// Three restarts in a row under load: 200 connections churning every 20
// replies, none refused, every reply exact.
func TestRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	chain := startChain(t, server, nil, "-addr", "127.0.0.1:0", "-loops", "2")

	load := exec.Command(client, "-addr", chain.addr, "-c", "200", "-churn", "20", "-retry",
		"-d", "6s", "-timeout", "20s", "-json")
	var out strings.Builder
	load.Stdout = &out
	progress, err := load.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- load.Wait() }()
	t.Cleanup(func() { load.Process.Kill(); <-exited })
	// The first progress line: the load has run for a second.
	clientLog := newProcLog(progress)
	clientLog.wait(t, regexp.MustCompile(`req/s`), 0)

	from := 0
	for range 3 {
		from = chain.restart(t, from)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		var r loadResult
		if jerr := json.Unmarshal([]byte(out.String()), &r); jerr != nil {
			t.Fatalf("client output %q: %v (exit %v)", out.String(), jerr, err)
		}
		if err != nil || !r.OK || r.DialErrors != 0 || r.Mismatches != 0 || r.Errors.Total != 0 || r.Requests == 0 {
			t.Fatalf("client exit %v, result %+v", err, r)
		}
		t.Logf("3 restarts under load: %d requests over %d connections, %d retried, 0 refused", r.Requests, r.Dials, r.Retried)
	case <-time.After(60 * time.Second):
		t.Fatal("the client did not finish")
	}
	if n := chain.log.count(stoppedLine); n != 3 {
		t.Errorf("%d processes stopped, want the 3 old ones", n)
	}
	if strings.Contains(chain.log.text(), "level=ERROR") || strings.Contains(chain.log.text(), "level=WARN") {
		t.Errorf("server log has errors:\n%s", chain.log.text())
	}
	select {
	case <-chain.log.done:
		t.Fatal("the last successor exited")
	default:
	}
}

// A restart over a Unix socket keeps the socket file: the old process
// does not remove it when it exits; the last one does at its final stop.
func TestRestartUnixSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	path := filepath.Join(t.TempDir(), "hello.sock")
	chain := startChain(t, server, nil, "-addr", "unix:"+path)
	if chain.addr != path {
		t.Fatalf("serves %s, want %s", chain.addr, path)
	}
	from := 0
	for range 2 {
		from = chain.restart(t, from)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("after the old process stopped: %v", err)
		}
		r := runClient(t, client, "-addr", "unix:"+path, "-c", "10", "-n", "1000")
		if !r.OK || r.Requests != 1000 || r.Mismatches != 0 || r.Errors.Total != 0 {
			t.Fatalf("client over the inherited socket: %+v", r)
		}
	}
	chain.terminate(t)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after the final stop: %v, want it removed", err)
	}
}

// A successor that fails to start leaves the old process serving; once
// the binary is good again, the next SIGHUP succeeds. The binary is
// replaced by rename-over, as an upgrade installs it: the running process
// keeps its inode, and the restart executes what is at the path now.
func TestRestartFailedSuccessor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	chain := startChain(t, server, nil, "-addr", "127.0.0.1:0", "-restart-timeout", "10s")
	good := server + ".good"
	if err := os.Link(server, good); err != nil {
		t.Fatal(err)
	}
	bad := server + ".bad"
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho broken successor >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bad, server); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(chain.pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	i, _ := chain.log.wait(t, regexp.MustCompile(`level=ERROR msg="restart failed" err="successor \d+ exited before it was ready: exit status 1"`), 0)
	r := runClient(t, client, "-addr", chain.addr, "-c", "20", "-n", "2000")
	if !r.OK || r.Requests != 2000 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("the old process after the failed restart: %+v", r)
	}
	if n := chain.log.count(startPID); n != 1 {
		t.Fatalf("%d start lines, want the old process's only", n)
	}
	if err := os.Rename(good, server); err != nil {
		t.Fatal(err)
	}
	chain.restart(t, i+1)
	r = runClient(t, client, "-addr", chain.addr, "-c", "20", "-n", "2000")
	if !r.OK || r.Requests != 2000 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("the successor: %+v", r)
	}
}

// sd_notify: READY=1 from the first process; from a successor its pid
// and READY=1, for systemd to follow the new main process. Exactly these
// datagrams, in this order.
func TestSDNotify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	server, _ := buildBinaries(t)
	path := filepath.Join(t.TempDir(), "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	datagrams := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := nc.ReadFromUnix(buf)
			if err != nil {
				close(datagrams)
				return
			}
			datagrams <- string(buf[:n])
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case d := <-datagrams:
			return d
		case <-time.After(restartWait):
			t.Fatal("no sd_notify datagram")
			return ""
		}
	}
	chain := startChain(t, server, []string{"NOTIFY_SOCKET=" + path}, "-addr", "127.0.0.1:0")
	if d := next(); d != "READY=1" {
		t.Fatalf("first datagram %q, want READY=1", d)
	}
	chain.restart(t, 0)
	if d, want := next(), "MAINPID="+strconv.Itoa(chain.pid)+"\nREADY=1"; d != want {
		t.Fatalf("successor's datagram %q, want %q", d, want)
	}
	chain.terminate(t)
	// Every process that could send is gone; a marker of ours, queued
	// after whatever they sent, shows that nothing else was.
	mark, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer mark.Close()
	if _, err := mark.Write([]byte("test marker")); err != nil {
		t.Fatal(err)
	}
	if d := next(); d != "test marker" {
		t.Fatalf("unexpected datagram %q", d)
	}
}

// The metrics socket is handed over with the others: after a restart the
// successor serves /metrics and /readyz on the same port (its own counters
// prove it is the one answering), and the old process, gone, left no
// refused scrape behind it.
func TestRestartMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	chain := startChain(t, server, nil, "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0")
	_, m := chain.log.wait(t, regexp.MustCompile(`msg="simple-server listening" .* metrics_addr=(\S+) pid=`+strconv.Itoa(chain.pid)+` `), 0)
	metrics := m[1]
	if code, body := scrape(t, metrics, "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz before the restart: %d %q", code, body)
	}
	r := runClient(t, client, "-addr", chain.addr, "-c", "7", "-n", "700")
	if !r.OK || r.Requests != 700 {
		t.Fatalf("client: %+v", r)
	}
	waitSample(t, metrics, "simpleserver_connections_accepted_total", 7)

	chain.restart(t, 0)
	_, m = chain.log.wait(t, regexp.MustCompile(`msg="simple-server listening" .* metrics_addr=(\S+) pid=`+strconv.Itoa(chain.pid)+` inherited=2 sockets=2`), 0)
	if m[1] != metrics {
		t.Fatalf("the successor serves metrics on %s, want %s", m[1], metrics)
	}
	// The old process has stopped (restart waited for it): only the
	// successor can answer, with counters of its own.
	if code, body := scrape(t, metrics, "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz after the restart: %d %q", code, body)
	}
	waitSample(t, metrics, "simpleserver_connections_accepted_total", 0)
	r = runClient(t, client, "-addr", chain.addr, "-c", "3", "-n", "300")
	if !r.OK || r.Requests != 300 {
		t.Fatalf("client after the restart: %+v", r)
	}
	waitSample(t, metrics, "simpleserver_connections_accepted_total", 3)
	if text := chain.log.text(); strings.Contains(text, "level=ERROR") || strings.Contains(text, "level=WARN") {
		t.Errorf("server log has errors:\n%s", text)
	}
	if n := chain.log.count(stoppedLine); n != 1 {
		t.Errorf("%d processes stopped, want the old one", n)
	}
}
