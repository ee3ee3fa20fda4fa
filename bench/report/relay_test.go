package main

import (
	"strings"
	"testing"
)

// relayRun is one run through a proxy: 1 s, clk_tck 100, CPU 1 busy for
// cpu1 of 100 ticks, the proxy's RSS 10 MiB half way and 12 MiB at peak.
func relayRun(scen, proxy string, round int, rps, proxyTicks, upstreamTicks, cpu1 float64) *Record {
	run, peak := 10240.0, 12288.0
	return &Record{Scenario: scen, Server: proxy, Round: round, DurationS: 1, ClkTck: 100,
		ServerTicks: proxyTicks, UpstreamTicks: upstreamTicks, UpstreamCommand: "taskset -c 1 c",
		CPU1Busy: cpu1, CPU1Total: 100, RSSRunKB: &run, RSSPeakKB: &peak,
		Client: &Client{RequestsPerSec: rps, Requests: rps, DurationSec: 1, OK: true,
			Latency: Latency{P50: 200, P99: 900}}}
}

func TestRelayReport(t *testing.T) {
	var recs []*Record
	for round := 1; round <= 3; round++ {
		// (a): HAProxy slower in round 2 and the relay with it, so only a
		// paired ratio is 1.20 in every round; CPU 0.4 of 0.5 s.
		hp := map[int]float64{1: 100000, 2: 80000, 3: 100000}[round]
		recs = append(recs,
			relayRun("a", "haproxy", round, hp, 50, 30, 80),
			relayRun("a", "simpleserver", round, hp*1.2, 40*1.2*hp/100000, 30, 95),
			// (c): more req/s, but 10% more CPU per request.
			relayRun("c", "haproxy", round, 1e6, 50, 30, 80),
			relayRun("c", "simpleserver", round, 1.05e6, 1.1*50*1.05, 30, 80),
			// (d): the relay alone.
			relayRun("d", "simpleserver", round, 50000, 50, 30, 80))
	}
	var b strings.Builder
	renderRelay(&b, recs, map[string]string{"haproxy_version": "2.6.12-1+deb12u4", "rounds": "3"})
	out := b.String()
	for _, want := range []string{
		"## Relay: (a) hello, 100 connections, pipeline 1, 64-byte payload\n",
		// 0.48 s of CPU over 120,000 requests: 4 µs; 0.8 of HAProxy's 5 µs.
		// CPU 1 at 95%: the load side set the pace.
		"| **simpleserver relay** | 120,000 | 96,000 – 120,000 | 1.20 | 4.00 | 0.80 | 48.0% | 2.50 | 200 µs | 900 µs | 10.0 MiB (12.0) | 95.0% ⚠ | 0 |\n",
		"| HAProxy 2.6.12 | 100,000 | 80,000 – 100,000 | 1.00 | 5.00 | 1.00 | 50.0% | 3.00 | 200 µs | 900 µs | 10.0 MiB (12.0) | 80.0% | 0 |\n",
		"Target (relay CPU per request ≤ HAProxy's and req/s ≥ HAProxy's, 0 errors): met — req/s × HAProxy 1.200, µs/req × HAProxy 0.800, 0 errors.\n",
		"Target (relay CPU per request ≤ HAProxy's and req/s ≥ HAProxy's, 0 errors): **missed** — req/s × HAProxy 1.050, µs/req × HAProxy 1.100, 0 errors.\n",
		"Target (relay CPU per request ≤ HAProxy's and req/s ≥ HAProxy's, 0 errors): not measured (it needs simpleserver and HAProxy in the same rounds).\n",
		"**Missed** in (c) (met in (a)): relay CPU per request ≤ HAProxy's and req/s ≥ HAProxy's, 0 errors. Not measured in (d).\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "| **simpleserver relay** | 120,000"), strings.Index(out, "| HAProxy 2.6.12 | 100,000"); i < 0 || j < i {
		t.Errorf("rows out of order (simpleserver at %d, HAProxy at %d)", i, j)
	}

	// Every scenario met: one line says so.
	b.Reset()
	renderRelay(&b, recs[:2], map[string]string{})
	if want := "**Met** in (a): relay CPU per request ≤ HAProxy's and req/s ≥ HAProxy's, 0 errors.\n"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}

func TestRelayTargetNeedsNoErrors(t *testing.T) {
	hp := &group{server: "haproxy", runs: []*Record{relayRun("a", "haproxy", 1, 100, 50, 0, 0)}}
	good := relayRun("a", "simpleserver", 1, 200, 50, 0, 0)
	if c := checkRelay(&group{server: "simpleserver", runs: []*Record{good}}, hp); !c.met() {
		t.Errorf("twice the req/s at half the CPU per request: %s", c)
	}
	bad := relayRun("a", "simpleserver", 1, 200, 50, 0, 0)
	bad.Client.Errors.Total = 3
	if c := checkRelay(&group{server: "simpleserver", runs: []*Record{bad}}, hp); c.met() || c.errors != 3 {
		t.Errorf("3 errors, yet %s", c)
	}
	if c := checkRelay(nil, hp); c.met() || c.measured {
		t.Errorf("no relay run, yet %s", c)
	}
}
