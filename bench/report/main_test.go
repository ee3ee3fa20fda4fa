package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const straceSample = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 38.66    0.751267        1388       541         1 futex
 17.73    0.344456           6     57157           write
  6.63    0.128731           2     57257           read
  0.79    0.015320          18       840           epoll_pwait
  0.04    0.000823           8       100           epoll_ctl
------ ----------- ----------- --------- --------- ----------------
100.00    1.943062          15    125360         3 total
`

const perfSample = `# started on Thu Nov 26 10:59:38 2026

94253,,syscalls:sys_enter_read,529022586,100.00,,
94153,,syscalls:sys_enter_write,529022586,100.00,,
10,,syscalls:sys_enter_writev,529022586,100.00,,
<not counted>,,syscalls:sys_enter_epoll_wait,0,100.00,,
18180,,syscalls:sys_enter_epoll_pwait,529022586,100.00,,
100,,syscalls:sys_enter_epoll_ctl,529022586,100.00,,
213536,,raw_syscalls:sys_enter,529022586,100.00,,
`

func TestSyscallCounts(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"s.txt": straceSample, "p.txt": perfSample} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := syscallCounts("strace", filepath.Join(dir, "s.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s["futex"] != 541 || s["write"] != 57157 || s["read"] != 57257 || s["epoll_pwait"] != 840 || s["epoll_ctl"] != 100 || s["total"] != 125360 {
		t.Errorf("strace counts %v", s)
	}
	p, err := syscallCounts("perf", filepath.Join(dir, "p.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if p["read"] != 94253 || p["writev"] != 10 || p["epoll_pwait"] != 18180 || p["epoll_wait"] != 0 || p["total"] != 213536 {
		t.Errorf("perf counts %v", p)
	}

	r := &Record{Syscalls: "perf", TraceFile: "p.txt", Client: &Client{Requests: 94000}}
	row, err := syscallsPerRequest(r, dir)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(row.write-94163.0/94000) > 1e-9 || math.Abs(row.wait-18180.0/94000) > 1e-9 || math.Abs(row.total-213536.0/94000) > 1e-9 {
		t.Errorf("per request %+v", row)
	}
}

func TestMedianAndPairedRatio(t *testing.T) {
	if m := median([]float64{3, 1, math.NaN(), 2}); m != 2 {
		t.Errorf("median %v, want 2", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median %v, want 2.5", m)
	}
	run := func(server string, round int, rps float64) *Record {
		return &Record{Scenario: "a", Server: server, Round: round, Client: &Client{RequestsPerSec: rps}}
	}
	recs := []*Record{
		run("c", 1, 100), run("c", 2, 200), run("c", 3, 100),
		run("net", 1, 50), run("net", 2, 150), run("net", 3, 90),
		run("gnet", 1, 80), run("gnet", 2, 100), run("gnet", 3, 70),
	}
	gs := groups(recs, "a", false)
	if len(gs) != 3 || gs[0].server != "c" || gs[1].server != "net" || gs[2].server != "gnet" {
		t.Fatalf("groups in order %v", gs)
	}
	// net: 0.5, 0.75, 0.9 -> 0.75.
	if r := pairedRatio(gs[1], gs[0], (*Record).reqPerSec); math.Abs(r-0.75) > 1e-9 {
		t.Errorf("paired ratio %v, want 0.75", r)
	}
	// Best peer by median: net 90, gnet 80.
	if best, who := bestPeerMedian(recs, nil); best != 90 || who != "net" {
		t.Errorf("best peer %v %s, want 90 net", best, who)
	}
	if best, who := bestPeerMedian(recs, []string{"c", "gnet"}); best != 80 || who != "gnet" {
		t.Errorf("best peer among c, gnet: %v %s, want 80 gnet", best, who)
	}
}

func TestReportWrites(t *testing.T) {
	dir := t.TempDir()
	rec := `{"scenario":"a","server":"c","round":1,"duration_s":2,"clk_tck":100,"server_cpu_ticks":50,
 "machine_busy_ticks":300,"machine_total_ticks":400,"cpu0_busy_ticks":100,"cpu0_total_ticks":200,"cpu1_busy_ticks":200,"cpu1_total_ticks":200,
 "loadavg_after":1.5,"client_exit":0,
 "client":{"requests":100000,"requests_per_s":50000,"duration_s":2,"ok":true,"errors":{"total":0},"client_cpu":{"run_s":1.5,"run_pct":75}}}`
	if err := os.WriteFile(filepath.Join(dir, "a-c-r1.json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "R.md")
	// bench/http.sh's part, and the notes below it, outlive the rewrite.
	httpText := httpBegin + "\n# HTTP\n" + httpEnd + "\n\n## HTTP notes\n"
	if err := os.WriteFile(out, []byte("# Old\n\n"+httpText), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(dir, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.HasSuffix(string(b), "\n"+httpText) || strings.Contains(string(b), "# Old") {
		t.Errorf("the HTTP part was not kept as it was, after the new tables:\n%s", b)
	}
	// 0.5 s of server CPU for 100,000 replies: 5 µs each, 25% of a core;
	// the machine was busy 3 s of 4 (2 s, 2 CPUs): 3 - 0.5 - 1.5 = 1 s
	// left over, 50% of a core.
	want := "| C reference (epoll) | 50,000 | 50,000 – 50,000 | 1.00 | 5.00 | 1.00 | 25.0% | 75.0% | 50.0% | 0 |"
	if !strings.Contains(string(b), want) {
		t.Errorf("report lacks %q:\n%s", want, b)
	}
}

// portableRecs: scenario a for c, simpleserver, portable and net over two
// rounds (portable the fastest of all, so it would be the best peer if it
// counted as one), plus e and f for portable and net.
func portableRecs() []*Record {
	run := func(scen, server string, round int, rps, requests, ticks float64) *Record {
		return &Record{Scenario: scen, Server: server, Round: round, DurationS: 2, ClkTck: 100, ServerTicks: ticks,
			// 2 CPUs for 2 s; the client's 1 s and 0.2 s of other work on
			// top of the server's: rest 10%.
			MachineTotal: 400, CPU0Total: 200, MachineBusy: ticks + 100 + 20,
			Client: &Client{RequestsPerSec: rps, Requests: requests, DurationSec: 2, OK: true,
				ClientCPU: struct {
					TotalSec   float64 `json:"total_s"`
					RunSec     float64 `json:"run_s"`
					RunPercent float64 `json:"run_pct"`
				}{RunSec: 1, RunPercent: 50}}}
	}
	held := func(server string, beforeKB, heldKB float64) *Record {
		r := run("e", server, 1, 1000, 1000, 10)
		r.RSSBeforeKB, r.RSSHeldKB, r.Client.Held = &beforeKB, &heldKB, 1000
		return r
	}
	latency := func(server string, p99 float64) *Record {
		r := run("f", server, 1, 5000, 10000, 10)
		r.Client.Latency.P99 = p99
		return r
	}
	return []*Record{
		// c and net: 5 µs/req; portable 5 then 6 µs/req.
		run("a", "c", 1, 100000, 200000, 100), run("a", "c", 2, 100000, 200000, 100),
		run("a", "simpleserver", 1, 120000, 240000, 60), run("a", "simpleserver", 2, 120000, 240000, 60),
		run("a", "portable", 1, 200000, 400000, 200), run("a", "portable", 2, 180000, 360000, 216),
		run("a", "net", 1, 100000, 200000, 100), run("a", "net", 2, 90000, 180000, 90),
		held("portable", 1000, 3000), held("net", 1000, 4000),
		latency("portable", 300), latency("net", 200),
	}
}

func TestPortableIsOursNotAPeer(t *testing.T) {
	recs := portableRecs()
	gs := groups(recs, "a", false)
	var order []string
	for _, g := range gs {
		order = append(order, g.server)
	}
	if got := strings.Join(order, " "); got != "c simpleserver portable net" {
		t.Errorf("groups in order %q, want \"c simpleserver portable net\"", got)
	}
	// portable's 190,000 is the highest median, but only net is a peer.
	if best, who := bestPeerMedian(recs, nil); best != 95000 || who != "net" {
		t.Errorf("best peer %v %s, want 95000 net", best, who)
	}
	// With no peer in the run, every server counts, as before.
	if best, who := bestPeerMedian(recs, []string{"simpleserver", "portable"}); best != 190000 || who != "portable" {
		t.Errorf("best of simpleserver, portable: %v %s, want 190000 portable", best, who)
	}
	if serverLabel["portable"] != "simpleserver (portable engine)" || fallback("portable") != "" {
		t.Errorf("portable's label %q", serverLabel["portable"])
	}
}

func TestReportPortableAgainstNet(t *testing.T) {
	dir := t.TempDir()
	for _, r := range portableRecs() {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-r%d.json", r.Scenario, r.Server, r.Round)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	machine := "build_portable=go build -tags simpleserver_portable -o /b/out/portable ./servers/simpleserver\nserver_portable=taskset -c 0 env GOMAXPROCS=1 /b/out/portable -proto <hello|echo> -addr 127.0.0.1:<port>\n"
	if err := os.WriteFile(filepath.Join(dir, "machine.txt"), []byte(machine), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "R.md")
	if err := writeReport(dir, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{
		"# portable is servers/simpleserver built with: go build -tags simpleserver_portable -o /b/out/portable ./servers/simpleserver\ntaskset -c 0 env GOMAXPROCS=1 /b/out/portable -proto <hello|echo> -addr 127.0.0.1:<port>\n",
		// portable: × C 2.0 and 1.8, µs/req × C 1.0 and 1.2, CPU 100% and
		// 108%; net: CPU 50% and 45%.
		"| simpleserver (portable engine) | 190,000 | 180,000 – 200,000 | 1.90 | 5.50 | 1.10 | 104.0% | 50.0% | 10.0% | 0 |\n| Go net | 95,000 | 90,000 – 100,000 | 0.95 | 5.00 | 1.00 | 47.5% | 50.0% | 10.0% | 0 |\n",
		"## Portable engine against Go net\n\n",
		"| scenario | portable req/s | net req/s | req/s × net | portable µs/req | net µs/req | µs/req × net | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n| (a) hello, 100 conns, pipeline 1 | 190,000 | 95,000 | 2.00 | 5.50 | 5.00 | 1.10 | 0 |\n\n",
		"- (e) server RSS growth per held connection: portable 2,048 B, net 3,072 B, × net 0.67.\n",
		"- (f) p99 latency at the same offered rate: portable 300 µs, net 200 µs, × net 1.50.\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	// The (f) section takes its rate from the best peer, net.
	if want := "half the best peer's median throughput in (a) (net, 95,000 req/s)"; !strings.Contains(string(b), want) {
		t.Errorf("report lacks %q", want)
	}
}

func TestReportWithoutNetHasNoPortableSection(t *testing.T) {
	dir := t.TempDir()
	for _, r := range portableRecs() {
		if r.Server == "net" {
			continue
		}
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-r%d.json", r.Scenario, r.Server, r.Round)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "R.md")
	if err := writeReport(dir, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if strings.Contains(string(b), "Portable engine against Go net") {
		t.Errorf("a report without net has the portable-vs-net section:\n%s", b)
	}
}
