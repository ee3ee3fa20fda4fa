//go:build linux && !simpleserver_portable

// SO_REUSEPORT groups are the epoll engine's: the portable engine refuses
// ReusePort (sock.ErrReusePort).

package main

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Two processes share one port through SO_REUSEPORT (-reuseport), and the
// kernel spreads new connections over both. One is killed under load: its
// own connections die with it, but from then on every new connection is
// served by the other; none is refused.
func TestReusePortAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	// A port free now; both processes bind it. (Another program could take
	// it in between; on loopback in a test run that does not happen.)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	args := []string{"-addr", addr, "-reuseport", "-loops", "1", "-metrics-addr", "127.0.0.1:0"}
	a, b := startServer(t, server, args...), startServer(t, server, args...)
	metrics := func(p *serverProcess) string {
		m := metricsAddrRE.FindStringSubmatch(p.start)
		if m == nil {
			t.Fatalf("no metrics_addr in %s", p.start)
		}
		return m[1]
	}
	ma, mb := metrics(a), metrics(b)
	accepted := func(maddr string) float64 {
		_, body := scrape(t, maddr, "/metrics")
		return samples(t, body)["simpleserver_connections_accepted_total"]
	}

	// Both serve: 200 connections spread over the two.
	const conns = 200
	r := runClient(t, client, "-addr", addr, "-c", strconv.Itoa(conns), "-n", "2000")
	if !r.OK || r.Requests != 2000 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("client against both: %+v", r)
	}
	na, nb := accepted(ma), accepted(mb)
	if na+nb != conns || na == 0 || nb == 0 {
		t.Fatalf("accepted %v and %v; want %d spread over both processes", na, nb, conns)
	}
	t.Logf("the kernel spread %d connections as %v and %v", conns, na, nb)

	// Under load (a client running against both), a is killed.
	load := exec.Command(client, "-addr", addr, "-c", "50", "-d", "3s", "-q", "-timeout", "20s")
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer load.Process.Kill()
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()
	for end := time.Now().Add(10 * time.Second); accepted(ma) <= na || accepted(mb) <= nb; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the load did not reach both processes")
		}
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.log // stderr ends with the process; then Wait may close the pipe
	a.cmd.Wait()
	// The load lost a's connections; whether it fails or redials does not
	// matter here, so it is stopped before b's count is taken.
	load.Process.Kill()
	<-loadDone

	// From now on every new connection is b's.
	before := accepted(mb)
	r = runClient(t, client, "-addr", addr, "-c", strconv.Itoa(conns), "-n", "2000")
	if !r.OK || r.Requests != 2000 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("client after the kill: %+v", r)
	}
	if got := accepted(mb) - before; got != conns {
		t.Fatalf("b accepted %v of the %d connections made after a was killed", got, conns)
	}
	b.stop(t)
}
