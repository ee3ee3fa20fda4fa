package main

import (
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
	if err := writeReport(dir, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	// 0.5 s of server CPU for 100,000 replies: 5 µs each, 25% of a core;
	// the machine was busy 3 s of 4 (2 s, 2 CPUs): 3 - 0.5 - 1.5 = 1 s
	// left over, 50% of a core.
	want := "| C reference (epoll) | 50,000 | 50,000 – 50,000 | 1.00 | 5.00 | 1.00 | 25.0% | 75.0% | 50.0% | 0 |"
	if !strings.Contains(string(b), want) {
		t.Errorf("report lacks %q:\n%s", want, b)
	}
}
