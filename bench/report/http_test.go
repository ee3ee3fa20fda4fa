package main

import (
	"strings"
	"testing"
)

func TestHTTPTargets(t *testing.T) {
	held := func(kb float64) *float64 { return &kb }
	var recs []*Record
	for round := 1; round <= 3; round++ {
		for server, rps := range map[string]float64{"fast": 200, "fasthttp": 100, "nginx": 250, "compat": 140, "nethttp": 100} {
			recs = append(recs, &Record{Scenario: "h1", Server: server, Round: round, ClkTck: 100, ServerTicks: 100,
				Client: &Client{RequestsPerSec: rps, Requests: rps, DurationSec: 1, OK: true}})
		}
		for server, kb := range map[string]float64{"fast": 3000, "compat": 12000} {
			recs = append(recs, &Record{Scenario: "h5", Server: server, Round: round, RSSBeforeKB: held(1000), RSSHeldKB: held(kb),
				Client: &Client{Held: 10000, OK: true}})
		}
	}
	var b strings.Builder
	renderHTTP(&b, recs, map[string]string{})
	out := b.String()
	for _, want := range []string{
		// 200/100 req/s, and 1 s of CPU over twice the requests.
		"| (h1) `Fast` req/s × fasthttp | ≥ 1.00× | 2.00× | met |",
		"| (h1) `Fast` server µs/req × fasthttp | ≤ 1.00× | 0.50× | met |",
		"| (h1) `Fast` req/s × nginx | ≥ 0.90× | 0.80× | **missed** |",
		"| (h1) `Handler` req/s × net/http | ≥ 1.50× | 1.40× | **missed** |",
		// (3000 - 1000) KiB over 10,000 connections.
		"| (h5) **simpleserver `Fast`** per idle keep-alive connection | ≤ 512 B | 205 B | met |",
		"| (h5) **simpleserver `Handler`** (ServeMux) per idle keep-alive connection | ≤ 512 B | 1,126 B | **missed** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if i, j := strings.Index(out, "| **simpleserver `Fast`** | 200 |"), strings.Index(out, "| Go net/http (ServeMux) | 100 |"); i < 0 || j < i {
		t.Errorf("rows out of order (Fast at %d, net/http at %d):\n%s", i, j, out)
	}
}
