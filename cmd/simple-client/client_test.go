package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCfg is a run against addr with the built-in text, sized for tests.
func testCfg(addr string) Config {
	return Config{
		Addr:     addr,
		Proto:    "hello",
		Conns:    5,
		Pipeline: 1,
		N:        1003, // not a multiple of Conns: the spread must still be exact
		Timeout:  5 * time.Second,
		Payloads: splitLines(builtinText),
	}
}

// runT runs cfg with a deadline so that no test can hang.
func runT(t *testing.T, cfg Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("run outlived its test deadline")
	}
	return res
}

// wireBytes computes the exact bytes each way of a complete -n run: each
// connection sends its share of N, starting at its own payload.
func wireBytes(t *testing.T, cfg Config) (out, in uint64) {
	t.Helper()
	w, err := newWire(cfg.Proto, cfg.Payloads)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Conns {
		q := cfg.N / int64(cfg.Conns)
		if int64(i) < cfg.N%int64(cfg.Conns) {
			q++
		}
		for j := range int(q) {
			k := (i + j) % len(w.frames)
			out += uint64(len(w.frames[k]))
			in += uint64(len(w.replies[k]))
		}
		if cfg.Close && cfg.Proto == "hello" {
			out += 4
		}
	}
	return out, in
}

// checkClean asserts a run that completed exactly, with nothing wrong.
func checkClean(t *testing.T, cfg Config, res Result) {
	t.Helper()
	if !res.OK || res.ExitCode() != 0 {
		t.Errorf("run not OK: %+v", res)
	}
	if res.Requests != uint64(cfg.N) || res.Sent != uint64(cfg.N) {
		t.Errorf("requests %d, sent %d; want %d each", res.Requests, res.Sent, cfg.N)
	}
	if res.Mismatches != 0 || res.Errors != (Errors{}) {
		t.Errorf("mismatches %d, errors %+v; want none", res.Mismatches, res.Errors)
	}
	if res.Connected != cfg.Conns {
		t.Errorf("connected %d, want %d", res.Connected, cfg.Conns)
	}
	out, in := wireBytes(t, cfg)
	if res.BytesSent != out || res.BytesReceived != in {
		t.Errorf("bytes sent %d received %d; want %d and %d", res.BytesSent, res.BytesReceived, out, in)
	}
	if res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
		t.Errorf("implausible latency %+v", res.Latency)
	}
}

func TestHelloExactN(t *testing.T) {
	for _, pipeline := range []int{1, 16} {
		for _, split := range []bool{false, true} {
			for _, closeReq := range []bool{false, true} {
				t.Run(fmt.Sprintf("pipeline=%d/split=%v/close=%v", pipeline, split, closeReq), func(t *testing.T) {
					srv := startHello(t, helloOpts{})
					cfg := testCfg(srv.addr())
					cfg.Pipeline, cfg.forceSplit, cfg.Close = pipeline, split, closeReq
					res := runT(t, cfg)
					checkClean(t, cfg, res)
					if got := srv.requests.Load(); got != cfg.N {
						t.Errorf("server answered %d requests, want %d", got, cfg.N)
					}
					wantCloses := int64(0)
					if closeReq {
						wantCloses = int64(cfg.Conns)
					}
					if got := srv.closes.Load(); got != wantCloses {
						t.Errorf("server saw %d close requests, want %d", got, wantCloses)
					}
				})
			}
		}
	}
}

// More connections than requests: some connections send nothing, and the
// total is still exact.
func TestHelloMoreConnsThanRequests(t *testing.T) {
	srv := startHello(t, helloOpts{})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Pipeline = 50, 7, 4
	checkClean(t, cfg, runT(t, cfg))
}

// Large payloads take the two-goroutine loop on their own (the window does
// not fit the socket buffers) and frames bigger than the write buffer.
func TestHelloLargePayloads(t *testing.T) {
	srv := startHello(t, helloOpts{})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Pipeline = 2, 21, 4
	cfg.Payloads = generatePayloads(splitLines(builtinText), 200_000, generatedPayloads)
	w, _ := newWire(cfg.Proto, cfg.Payloads)
	if windowFits(cfg.Pipeline, w.maxFrame, w.maxReply) {
		t.Fatal("expected the split loop for 200 kB payloads")
	}
	checkClean(t, cfg, runT(t, cfg))
}

func TestMismatchCounted(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			srv := startHello(t, helloOpts{corruptAt: 37})
			cfg := testCfg(srv.addr())
			cfg.Conns, cfg.N, cfg.Pipeline, cfg.forceSplit = 3, 100, 4, split
			res := runT(t, cfg)
			if res.Mismatches != 1 || res.Requests != 100 || res.Errors.Total != 0 {
				t.Errorf("mismatches %d requests %d errors %+v; want 1, 100, none", res.Mismatches, res.Requests, res.Errors)
			}
			if res.OK || res.ExitCode() != 1 {
				t.Errorf("OK %v exit %d; want false, 1", res.OK, res.ExitCode())
			}
			if !strings.Contains(res.FirstMismatch, "differs") {
				t.Errorf("first mismatch %q does not describe the difference", res.FirstMismatch)
			}
		})
	}
}

func TestServerClosesEarly(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			srv := startHello(t, helloOpts{closeAfter: 5})
			cfg := testCfg(srv.addr())
			cfg.Conns, cfg.N, cfg.forceSplit = 3, 30, split
			res := runT(t, cfg)
			// Pipeline 1: each connection gets exactly 5 replies, then its
			// next request meets a closed connection.
			if res.Requests != 15 || res.Mismatches != 0 {
				t.Errorf("requests %d mismatches %d; want 15, 0", res.Requests, res.Mismatches)
			}
			e := res.Errors
			if e.Total != 3 || e.EOF+e.Read+e.Write != 3 {
				t.Errorf("errors %+v; want 3 connection errors (eof, read or write)", e)
			}
			if res.OK || res.ExitCode() != 1 || res.FirstError == "" {
				t.Errorf("OK %v exit %d first error %q; want false, 1, non-empty", res.OK, res.ExitCode(), res.FirstError)
			}
		})
	}
}

func TestReplyTimeout(t *testing.T) {
	srv := startHello(t, helloOpts{silent: true})
	cfg := testCfg(srv.addr())
	cfg.Conns, cfg.N, cfg.Timeout = 2, 10, 200*time.Millisecond
	start := time.Now()
	res := runT(t, cfg)
	if res.Errors.Timeout != 2 || res.Errors.Total != 2 || res.Requests != 0 {
		t.Errorf("errors %+v requests %d; want 2 timeouts and no replies", res.Errors, res.Requests)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to time out after 200ms", d)
	}
}

func TestDialError(t *testing.T) {
	ln := listenTCP(t)
	addr := ln.Addr().String()
	ln.Close()
	cfg := testCfg(addr)
	res := runT(t, cfg)
	if res.Errors.Dial != cfg.Conns || res.Errors.Total != cfg.Conns || res.Connected != 0 || res.OK {
		t.Errorf("errors %+v connected %d OK %v; want %d dial errors", res.Errors, res.Connected, res.OK, cfg.Conns)
	}
}

func TestEcho(t *testing.T) {
	cases := []struct {
		name     string
		size     int
		pipeline int
		close    bool
	}{
		{"small", 100, 8, false},
		{"small-halfclose", 100, 8, true},
		{"pipeline1", 64, 1, false},
		{"large", 100_000, 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startEcho(t)
			cfg := testCfg(srv.addr())
			cfg.Proto, cfg.Conns, cfg.N, cfg.Pipeline, cfg.Close = "echo", 3, 500, tc.pipeline, tc.close
			cfg.Payloads = generatePayloads(splitLines(builtinText), tc.size, generatedPayloads)
			checkClean(t, cfg, runT(t, cfg))
		})
	}
}

func TestUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "sc") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	srv := serveHello(t, ln, helloOpts{})
	cfg := testCfg(srv.addr())
	cfg.Pipeline, cfg.Close = 8, true
	checkClean(t, cfg, runT(t, cfg))
}

// A -d run stops sending when time is up and drains what is in flight:
// every request sent is answered and verified.
func TestDuration(t *testing.T) {
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			srv := startHello(t, helloOpts{})
			cfg := testCfg(srv.addr())
			cfg.N, cfg.Duration, cfg.Conns, cfg.Pipeline, cfg.forceSplit = 0, 300*time.Millisecond, 4, 8, split
			res := runT(t, cfg)
			if !res.OK || res.Requests == 0 || res.Requests != res.Sent || res.Sent != uint64(srv.requests.Load()) {
				t.Errorf("OK %v requests %d sent %d server %d; want OK and all equal", res.OK, res.Requests, res.Sent, srv.requests.Load())
			}
			if res.DurationSec < 0.3 || res.DurationSec > 5 {
				t.Errorf("duration %.3fs, want about 0.3s", res.DurationSec)
			}
		})
	}
}

// Cancelling the context (Ctrl-C) ends an unlimited run the same way.
func TestCancel(t *testing.T) {
	srv := startHello(t, helloOpts{})
	cfg := testCfg(srv.addr())
	cfg.N, cfg.Duration, cfg.Pipeline = 0, time.Hour, 4
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	done := make(chan Result, 1)
	go func() {
		res, err := run(ctx, cfg)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case res := <-done:
		if !res.OK || res.Requests == 0 || res.Requests != res.Sent {
			t.Errorf("OK %v requests %d sent %d", res.OK, res.Requests, res.Sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}

// realMainT runs the command line and returns its status, stdout, stderr.
func realMainT(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := realMain(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestMainJSON(t *testing.T) {
	srv := startHello(t, helloOpts{})
	code, out, errOut := realMainT(t, "-addr", srv.addr(), "-c", "4", "-pipeline", "8", "-n", "400", "-json", "-close")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if !res.OK || res.Requests != 400 || res.Connections != 4 || res.Pipeline != 8 || res.Latency.Max <= 0 {
		t.Errorf("unexpected result %+v", res)
	}
	for _, field := range []string{`"requests_per_s"`, `"latency_us"`, `"p99_9"`, `"sent_mb_per_s"`, `"errors"`} {
		if !strings.Contains(out, field) {
			t.Errorf("JSON lacks %s", field)
		}
	}
}

func TestMainText(t *testing.T) {
	srv := startHello(t, helloOpts{corruptAt: 3})
	code, out, _ := realMainT(t, "-addr", srv.addr(), "-c", "2", "-n", "10", "-q")
	if code != 1 {
		t.Errorf("exit %d with a corrupted reply, want 1", code)
	}
	for _, want := range []string{"requests     10 replies", "mismatches   1\n", "first mismatch: conn ", "result       FAILED"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestMainFile(t *testing.T) {
	srv := startHello(t, helloOpts{})
	path := filepath.Join(t.TempDir(), "p.txt")
	if err := os.WriteFile(path, []byte("one\r\n\n  \ntwo\nthree"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := realMainT(t, "-addr", srv.addr(), "-c", "1", "-n", "3", "-file", path, "-json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var res Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	// "one", "  " (not empty), "two" with their 4-byte headers.
	if want := uint64(3 + 2 + 3 + 3*4); res.BytesSent != want {
		t.Errorf("bytes sent %d, want %d", res.BytesSent, want)
	}
}

func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	blank := filepath.Join(dir, "blank.txt")
	if err := os.WriteFile(blank, []byte("\n\r\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.txt")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("x"), 1<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-c", "-1"}, "-c must be at least 1"},
		{[]string{"-c", "0"}, "-c must be at least 1"},
		{[]string{"-pipeline", "0"}, "-pipeline must be at least 1"},
		{[]string{"-proto", "gopher"}, `-proto must be hello, echo or http (got "gopher")`},
		{[]string{"-file", filepath.Join(dir, "missing.txt")}, "-file: open "},
		{[]string{"-file", blank}, "has no non-empty lines"},
		{[]string{"-file", huge}, "exceeds the hello limit"},
		{[]string{"-size", "1048577"}, "exceeds the hello frame limit of 1048576"},
		{[]string{"-size", "-5"}, "-size must not be negative"},
		{[]string{"-n", "-1"}, "-n must not be negative"},
		{[]string{"-d", "0"}, "-d must be positive when -n is 0"},
		{[]string{"-d", "-1s"}, "-d must not be negative"},
		{[]string{"-timeout", "0"}, "-timeout must be positive"},
		{[]string{"-addr", ""}, "-addr must not be empty"},
		{[]string{"stray"}, "unexpected arguments"},
		{[]string{"-c", "many"}, "invalid value"},
		{[]string{"-nosuchflag"}, "flag provided but not defined"},
	}
	for _, tc := range cases {
		code, out, errOut := realMainT(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if code, _, _ := realMainT(t, "-h"); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, opts, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:19920" || cfg.Proto != "hello" || cfg.Conns != 100 || cfg.Pipeline != 1 ||
		cfg.N != 0 || cfg.Duration != 10*time.Second || cfg.Timeout != 10*time.Second || cfg.Close || opts.json || opts.quiet {
		t.Errorf("defaults: %+v %+v", cfg, opts)
	}
	if len(cfg.Payloads) < 30 {
		t.Errorf("built-in text gave %d payloads", len(cfg.Payloads))
	}
	// -n alone is not cut short by the default -d; an explicit -d caps it.
	if cfg, _, _ := parseFlags([]string{"-n", "5"}, &bytes.Buffer{}); cfg.Duration != 0 {
		t.Errorf("-n 5: duration %v, want none", cfg.Duration)
	}
	if cfg, _, _ := parseFlags([]string{"-n", "5", "-d", "3s"}, &bytes.Buffer{}); cfg.Duration != 3*time.Second {
		t.Errorf("-n 5 -d 3s: duration %v, want 3s", cfg.Duration)
	}
	// Echo defaults to 64-byte messages; hello -size gives exact sizes.
	for _, tc := range []struct {
		args []string
		size int
	}{{[]string{"-proto", "echo"}, 64}, {[]string{"-size", "10"}, 10}, {[]string{"-proto", "echo", "-size", "1"}, 1}} {
		cfg, _, err := parseFlags(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Payloads) != generatedPayloads {
			t.Errorf("%q: %d payloads", tc.args, len(cfg.Payloads))
		}
		for _, p := range cfg.Payloads {
			if len(p) != tc.size {
				t.Errorf("%q: payload of %d bytes, want %d", tc.args, len(p), tc.size)
			}
		}
	}
}

func TestGeneratePayloads(t *testing.T) {
	ps := generatePayloads([][]byte{[]byte("abc"), []byte("defgh")}, 20, 4)
	want := []string{"abc defghabc defghab", "c defghabc defghabc ", "defghabc defghabc de", "fghabc defghabc defg"}
	for i, p := range ps {
		if string(p) != want[i] {
			t.Errorf("payload %d = %q, want %q", i, p, want[i])
		}
	}
}
