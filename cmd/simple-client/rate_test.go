package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// A -rate run with -n sends exactly N requests, on a schedule that takes
// (N-1)/Rate seconds however fast the server is.
func TestRateSchedule(t *testing.T) {
	for _, pipeline := range []int{1, 8} {
		t.Run(fmt.Sprintf("pipeline=%d", pipeline), func(t *testing.T) {
			srv := startHello(t, helloOpts{})
			cfg := testCfg(srv.addr())
			cfg.Conns, cfg.N, cfg.Pipeline, cfg.Rate = 4, 301, pipeline, 1000
			res := runT(t, cfg)
			checkClean(t, cfg, res)
			// The last request is due at 300/1000 s.
			if res.DurationSec < 0.295 || res.DurationSec > 3 {
				t.Errorf("run took %.3fs; the schedule needs 0.3s", res.DurationSec)
			}
			if res.OfferedRate != 1000 || res.SendLag == nil {
				t.Errorf("offered %v, send lag %v; want 1000 and a distribution", res.OfferedRate, res.SendLag)
			}
		})
	}
}

// A -rate run for -d holds the rate, not the server's pace.
func TestRateDuration(t *testing.T) {
	srv := startHello(t, helloOpts{})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Duration, cfg.Pipeline, cfg.Rate = 5, 0, 500*time.Millisecond, 4, 2000
	res := runT(t, cfg)
	if !res.OK || res.Requests != res.Sent {
		t.Fatalf("OK %v requests %d sent %d", res.OK, res.Requests, res.Sent)
	}
	// 2000/s for 0.5s: 1000 requests, give or take the edges of the run.
	// The -d timer may fire late on a busy machine, and the schedule runs
	// until it does, so the cap is the rate over the run's measured length.
	if limit := uint64(2000*res.DurationSec) + 10; res.Requests < 900 || res.Requests > limit {
		t.Errorf("%d requests in %.3fs at 2000/s; want about 1000, at most %d", res.Requests, res.DurationSec, limit)
	}
}

// Coordinated omission: when the server stalls, the requests that fall due
// meanwhile cannot be sent (the window is full), and their latency is
// counted from when they were due, not from when the client got round to
// sending them. A closed-loop run over the same stall records it once.
func TestRateCountsStallFromDueTime(t *testing.T) {
	const stall = 200 * time.Millisecond
	run := func(rate float64, pipeline int) Result {
		srv := startHello(t, helloOpts{stallAt: 50, stall: stall})
		cfg := testCfg(srv.addr())
		cfg.Conns, cfg.N, cfg.Pipeline, cfg.Rate = 1, 400, pipeline, rate
		res := runT(t, cfg)
		checkClean(t, cfg, res)
		return res
	}
	for _, pipeline := range []int{1, 8} {
		// 1000/s over 0.4s: about half the requests fall due during the
		// stall, with latencies spread from 0 to 200ms; a tenth of them
		// waited over 160ms.
		res := run(1000, pipeline)
		l := res.Latency
		if l.Max < 190e3 || l.P90 < 100e3 {
			t.Errorf("pipeline %d: latency %+v; want p90 >= 100ms and max >= 190ms for a 200ms stall", pipeline, l)
		}
		if res.SendLag.P90 < 50e3 {
			t.Errorf("pipeline %d: send lag %+v; requests due during the stall should have been sent late", pipeline, *res.SendLag)
		}
	}
	// Closed loop: one request sees the stall, the rest are fast.
	if l := run(0, 1).Latency; l.Max < 190e3 || l.P90 > 50e3 {
		t.Errorf("closed loop: latency %+v; want one 200ms outlier and a fast p90", l)
	}
}

// -hold: every connection gets one reply and is then held, silent, until
// the run's duration ends.
func TestHold(t *testing.T) {
	for _, closeReq := range []bool{false, true} {
		t.Run(fmt.Sprintf("close=%v", closeReq), func(t *testing.T) {
			srv := startHello(t, helloOpts{})
			cfg := testCfg(srv.addr())
			cfg.Conns, cfg.N, cfg.Duration, cfg.Hold, cfg.Close = 20, 0, 400*time.Millisecond, true, closeReq
			var mu sync.Mutex
			var calls []int
			var openAtHold, requestsAtHold int64
			cfg.OnHold = func(held int) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, held)
				openAtHold, requestsAtHold = srv.open.Load(), srv.requests.Load()
			}
			start := time.Now()
			res := runT(t, cfg)
			if d := time.Since(start); d < 400*time.Millisecond {
				t.Errorf("run ended after %v; connections must be held for -d", d)
			}
			if !res.OK || res.Held != 20 || res.Requests != 20 || res.Sent != 20 || res.Connected != 20 {
				t.Errorf("OK %v held %d requests %d sent %d connected %d; want true, 20 each", res.OK, res.Held, res.Requests, res.Sent, res.Connected)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != 1 || calls[0] != 20 {
				t.Errorf("OnHold calls %v; want one, with 20", calls)
			}
			if openAtHold != 20 || requestsAtHold != 20 {
				t.Errorf("when holding: server had %d open and %d answered; want 20 and 20", openAtHold, requestsAtHold)
			}
			if want := map[bool]int64{false: 0, true: 20}[closeReq]; srv.closes.Load() != want {
				t.Errorf("close requests %d, want %d", srv.closes.Load(), want)
			}
		})
	}
}

// A connection that fails before its reply still counts towards OnHold,
// so a harness waiting for it is not left hanging.
func TestHoldWithFailures(t *testing.T) {
	srv := startHello(t, helloOpts{silent: true})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Duration, cfg.Hold, cfg.Timeout = 3, 0, 2*time.Second, true, 200*time.Millisecond
	held := make(chan int, 2)
	cfg.OnHold = func(n int) { held <- n }
	res := runT(t, cfg)
	select {
	case n := <-held:
		if n != 0 {
			t.Errorf("OnHold(%d); want 0 held", n)
		}
	default:
		t.Error("OnHold not called")
	}
	if res.OK || res.Errors.Timeout != 3 || res.Held != 0 {
		t.Errorf("OK %v timeouts %d held %d; want false, 3, 0", res.OK, res.Errors.Timeout, res.Held)
	}
}

// The result carries the client's own CPU time, -rate's schedule and
// -hold's count; the text summary says them too.
func TestMainRateHoldAndCPU(t *testing.T) {
	srv := startHello(t, helloOpts{})
	code, out, errOut := realMainT(t, "-addr", srv.addr(), "-c", "2", "-n", "50", "-rate", "500", "-json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.ClientCPU.TotalSec <= 0 || res.ClientCPU.TotalSec != res.ClientCPU.UserSec+res.ClientCPU.SysSec ||
		res.ClientCPU.RunSec < 0 || res.ClientCPU.RunSec > res.ClientCPU.TotalSec || res.ClientCPU.RunPercent < 0 {
		t.Errorf("client cpu %+v", res.ClientCPU)
	}
	for _, field := range []string{`"client_cpu"`, `"run_pct"`, `"offered_rate_per_s": 500`, `"send_lag_us"`} {
		if !strings.Contains(out, field) {
			t.Errorf("JSON lacks %s:\n%s", field, out)
		}
	}

	code, out, errOut = realMainT(t, "-addr", srv.addr(), "-c", "3", "-hold", "-d", "200ms", "-q")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	// The hold notice is printed even with -q: harnesses wait for it.
	if !strings.Contains(errOut, "simple-client: holding 3 connections\n") {
		t.Errorf("stderr %q lacks the hold notice", errOut)
	}
	for _, want := range []string{"held         3 connections", "client cpu   user "} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestRateHoldFlagErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-rate", "-5"}, "-rate must be a positive number"},
		{[]string{"-rate", "NaN"}, "-rate must be a positive number"},
		{[]string{"-hold", "-rate", "100"}, "-hold and -rate do not go together"},
		{[]string{"-hold", "-n", "10"}, "give -d, not -n"},
	}
	for _, tc := range cases {
		var stderr bytes.Buffer
		_, _, err := parseFlags(tc.args, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v; want %q", tc.args, err, tc.want)
		}
		code, out, errOut := realMainT(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
}

// A connection that breaks in a -rate run stops sending and the run still
// ends on time, with the failure counted.
func TestRateServerClosesEarly(t *testing.T) {
	srv := startHello(t, helloOpts{closeAfter: 5})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Duration, cfg.Pipeline, cfg.Rate = 3, 0, 300*time.Millisecond, 4, 1000
	start := time.Now()
	res := runT(t, cfg)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("run took %v", d)
	}
	if res.OK || res.Errors.Total != 3 || res.Requests != 15 {
		t.Errorf("OK %v errors %+v requests %d; want false, 3 errors, 15 replies", res.OK, res.Errors, res.Requests)
	}
}
