package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simple-server/simpleserver/protocol/hello"
)

var metricsAddrRE = regexp.MustCompile(` metrics_addr=(\S+)`)

// scrape GETs path from the metrics endpoint and returns status and body.
func scrape(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	// A new connection each time: what answers is whichever process
	// accepts now (the restart tests rely on it), not one kept alive.
	c := http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// samples parses the text exposition format into series (name with its
// labels, exactly as exposed) and values; it fails on a line it cannot
// read, so a format slip shows here as well as in promtool.
func samples(t *testing.T, body string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	for line := range strings.Lines(body) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("unreadable sample %q", line)
		}
		m[line[:i]] = v
	}
	return m
}

// promtoolCheck runs Prometheus' own linter over an exposition, as an
// operator's CI would.
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	cmd := exec.Command(lookTool(t, "promtool", "prometheus"), "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// waitSample scrapes until series has value want, or fails after 10 s.
func waitSample(t *testing.T, addr, series string, want float64) map[string]float64 {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for {
		_, body := scrape(t, addr, "/metrics")
		m := samples(t, body)
		v, ok := m[series]
		if ok && v == want {
			return m
		}
		if time.Now().After(end) {
			t.Fatalf("%s = %v (exposed: %v), want %v", series, v, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The metrics endpoint counts exactly what a known workload did, passes
// promtool, and health answers; during a drain /readyz turns 503 while
// /healthz stays 200, and the endpoint lives until the drain ends.
func TestMetricsEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	srv := startServer(t, server, "-loops", "2", "-metrics-addr", "127.0.0.1:0", "-shutdown-timeout", "60s")
	m := metricsAddrRE.FindStringSubmatch(srv.start)
	if m == nil {
		t.Fatalf("the start line does not name metrics_addr: %s", srv.start)
	}
	maddr := m[1]

	const conns, requests = 10, 1000
	r := runClient(t, client, "-addr", srv.addr, "-c", strconv.Itoa(conns), "-n", strconv.Itoa(requests))
	if !r.OK || r.Requests != requests || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("client: %+v", r)
	}
	got := waitSample(t, maddr, `simpleserver_connections_closed_total{reason="peer"}`, conns)
	for series, want := range map[string]float64{
		`simpleserver_info{engine="` + wantEngine + `",proto="hello"}`: 1,
		`simpleserver_ready`:                                    1,
		`simpleserver_connections_open`:                         0,
		`simpleserver_connections_accepted_total`:               conns,
		`simpleserver_received_messages_total`:                  requests,
		`simpleserver_sent_messages_total`:                      requests,
		`simpleserver_queued_bytes`:                             0,
		`simpleserver_paused_connections`:                       0,
		`simpleserver_worker_queued_messages`:                   0,
		`simpleserver_accept_backoffs_total`:                    0,
		`simpleserver_connections_closed_total{reason="error"}`: 0,
		`simpleserver_loop_connections_open{loop="0"}`:          0,
		`simpleserver_loop_connections_open{loop="1"}`:          0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (exposed: %v), want %v", series, v, ok, want)
		}
	}
	if a, b := got[`simpleserver_loop_received_messages_total{loop="0"}`], got[`simpleserver_loop_received_messages_total{loop="1"}`]; a+b != requests || a == 0 || b == 0 {
		t.Errorf("per-loop messages %v + %v; want both loops busy, summing to %d", a, b, requests)
	}
	if got["simpleserver_received_bytes_total"] <= 4*requests || got["simpleserver_sent_bytes_total"] <= float64(len(hello.Prefix)*requests) {
		t.Errorf("bytes in %v, out %v: fewer than %d requests' headers and replies' prefixes", got["simpleserver_received_bytes_total"], got["simpleserver_sent_bytes_total"], requests)
	}
	for _, series := range []string{"go_goroutines", "process_open_fds", "process_resident_memory_bytes"} {
		if _, ok := got[series]; !ok {
			t.Errorf("%s is not exposed (the Go and process collectors)", series)
		}
	}
	_, body := scrape(t, maddr, "/metrics")
	promtoolCheck(t, body)
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		if code, body := scrape(t, maddr, path); code != http.StatusOK || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, code, body, want)
		}
	}

	// A client that pipelines and does not read holds the drain open: its
	// replies cannot be flushed until it reads.
	stalled, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	const pipelined = 200000
	var reqs []byte
	for i := range pipelined {
		reqs = hello.AppendRequest(reqs, fmt.Appendf(nil, "%06d", i))
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := stalled.Write(reqs) // blocks while the server is not reading
		wrote <- err
	}()
	waitSample(t, maddr, "simpleserver_paused_connections", 1)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(10 * time.Second)
	for {
		code, body := scrape(t, maddr, "/readyz")
		if code == http.StatusServiceUnavailable && body == "draining\n" {
			break
		}
		if code != http.StatusOK || time.Now().After(end) {
			t.Fatalf("GET /readyz after SIGTERM = %d %q, want 503 \"draining\\n\"", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := scrape(t, maddr, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz while draining = %d %q, want 200 \"ok\\n\"", code, body)
	}
	draining := waitSample(t, maddr, "simpleserver_ready", 0)
	if draining["simpleserver_connections_open"] != 1 || draining["simpleserver_queued_bytes"] == 0 {
		t.Errorf("while draining: open %v, queued %v; want the stalled client open with replies queued",
			draining["simpleserver_connections_open"], draining["simpleserver_queued_bytes"])
	}

	// The client reads: every request the server had received by the
	// drain is answered, in order, and then the connection ends cleanly,
	// at a reply's boundary (requests still in the client's socket buffer
	// were never received, so never answered). Then the process exits.
	read := draining["simpleserver_received_messages_total"] - requests
	br := bufio.NewReaderSize(stalled, 64<<10)
	want := []byte(hello.Prefix + "000000")
	reply := make([]byte, len(want))
	answered := 0
	for ; answered < pipelined; answered++ {
		if _, err := io.ReadFull(br, reply); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reply %d: %v", answered, err)
		}
		want = fmt.Appendf(want[:len(hello.Prefix)], "%06d", answered)
		if !bytes.Equal(reply, want) {
			t.Fatalf("reply %d = %q, want %q", answered, reply, want)
		}
	}
	if float64(answered) < read {
		t.Errorf("the drain answered %d requests; it had received %v when it began", answered, read)
	}
	t.Logf("drain answered %d of %d pipelined requests (%v received when it began)", answered, pipelined, read)
	stalled.Close()
	<-wrote // ends with EPIPE or a reset if the server closed first: not answered, not lost
	srv.wait(t, 20*time.Second)
	if c, err := net.DialTimeout("tcp", maddr, time.Second); err == nil {
		c.Close()
		t.Errorf("the metrics endpoint %s still accepts after the process exited", maddr)
	}
}

// A metrics address that cannot be bound stops the start, with the reason.
func TestMetricsAddrInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	server, _ := buildBinaries(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cmd := exec.Command(server, "-addr", "127.0.0.1:0", "-metrics-addr", taken.Addr().String())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `msg="cannot start" err="-metrics-addr: listen tcp `+taken.Addr().String()+`: bind: address already in use"`) {
		t.Fatalf("exit %v, output %q; want exit 1 and -metrics-addr's address in use", err, out)
	}
}
