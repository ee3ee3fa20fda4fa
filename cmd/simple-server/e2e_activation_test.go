//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// freePort is a loopback port nothing listens on (a moment ago, the
// kernel gave it to us and we closed it), for tools that take a fixed one.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// systemd-socket-activate listens, and on the first connection executes
// simple-server with the sockets as systemd does (LISTEN_PID,
// LISTEN_FDS, LISTEN_FDNAMES, descriptors from 3): the server serves them,
// not its -addr, and says so.
func TestSocketActivation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	activate := lookTool(t, "systemd-socket-activate", "systemd")
	server, client := buildBinaries(t)
	sockPath := filepath.Join(t.TempDir(), "activated.sock")
	for _, tc := range []struct {
		name, listen, clientAddr, network string
	}{
		{"tcp", freePort(t), "", "tcp"},
		{"unix", sockPath, "unix:" + sockPath, "unix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientAddr := tc.clientAddr
			if clientAddr == "" {
				clientAddr = tc.listen
			}
			// -addr names a port that must not be used: the inherited
			// socket is served instead.
			chain := startActivated(t, activate, "-l", tc.listen, "--fdname=web", server, "-addr", "127.0.0.1:1")
			// The first connection makes systemd-socket-activate exec the
			// server (the same process, so the pid is the chain's).
			r := runClient(t, client, "-addr", clientAddr, "-c", "20", "-n", "2000")
			if !r.OK || r.Requests != 2000 || r.Sent != 2000 || r.Mismatches != 0 || r.Errors.Total != 0 {
				t.Fatalf("client over the activated socket: %+v", r)
			}
			_, m := chain.log.wait(t, startPID, 0)
			if m[1] != tc.listen || m[3] != "1" || !strings.Contains(m[0], " network="+tc.network+" ") {
				t.Fatalf("start line %q: want addr=%s network=%s inherited=1", m[0], tc.listen, tc.network)
			}
			chain.log.wait(t, regexp.MustCompile(`msg="serving inherited sockets; -addr is ignored" from=systemd sockets=1 names=web addr_flag=127.0.0.1:1`), 0)
			if err := chain.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			chain.log.wait(t, stoppedLine, 0)
			<-chain.log.done
			if tc.network == "unix" {
				// systemd's socket: systemd (here the tool) owns its file.
				if _, err := os.Stat(sockPath); err != nil {
					t.Fatalf("the server removed systemd's socket file: %v", err)
				}
			}
		})
	}
}

// startActivated runs systemd-socket-activate with args and waits until
// it listens; the server's lines come once a connection arrives.
func startActivated(t *testing.T, activate string, args ...string) *serverChain {
	t.Helper()
	cmd := exec.Command(activate, args...)
	log, stderr := startLogged(t, cmd)
	c := &serverChain{cmd: cmd, log: log, pid: cmd.Process.Pid}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-c.log.done
		stderr.Close()
	})
	c.log.wait(t, regexp.MustCompile(`^Listening on .* as 3\.$`), 0)
	return c
}

// LISTEN_FDS meant for another process (LISTEN_PID is not ours, and no
// restarting parent set its marker) is ignored with a log line: the
// server listens on -addr, and the descriptor it was handed is not served.
func TestSocketActivationOtherPID(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	server, client := buildBinaries(t)
	handed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer handed.Close()
	f, err := handed.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(server, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "LISTEN_PID=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=other")
	cmd.ExtraFiles = []*os.File{f}
	log, stderr := startLogged(t, cmd)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); <-log.done; stderr.Close() })
	log.wait(t, regexp.MustCompile(`msg="LISTEN_FDS is for another process; ignored" listen_pid=1 parent_pid="" pid=\d+`), 0)
	_, m := log.wait(t, startPID, 0)
	if m[1] == handed.Addr().String() || m[3] != "0" {
		t.Fatalf("start line %q: want its own address, inherited=0", m[0])
	}
	r := runClient(t, client, "-addr", m[1], "-c", "5", "-n", "500")
	if !r.OK || r.Requests != 500 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("client: %+v", r)
	}
}

// A systemd socket named metrics (FileDescriptorName=metrics in a second
// socket unit) is the metrics endpoint's, even without -metrics-addr: the
// server serves the other socket, and /metrics on this one counts it.
func TestSocketActivationMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	activate := lookTool(t, "systemd-socket-activate", "systemd")
	server, client := buildBinaries(t)
	hello, metrics := freePort(t), freePort(t)
	chain := startActivated(t, activate, "-l", hello, "-l", metrics, "--fdname=hello:metrics", server, "-addr", "127.0.0.1:1")
	r := runClient(t, client, "-addr", hello, "-c", "4", "-n", "400")
	if !r.OK || r.Requests != 400 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("client over the activated socket: %+v", r)
	}
	_, m := chain.log.wait(t, startPID, 0)
	if m[1] != hello || m[3] != "2" || !strings.Contains(m[0], " metrics_addr="+metrics+" ") {
		t.Fatalf("start line %q: want addr=%s metrics_addr=%s inherited=2", m[0], hello, metrics)
	}
	chain.log.wait(t, regexp.MustCompile(`msg="serving inherited sockets; -addr is ignored" from=systemd sockets=2 names=hello:metrics `), 0)
	waitSample(t, metrics, "simpleserver_connections_accepted_total", 4)
	if code, body := scrape(t, metrics, "/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
}
