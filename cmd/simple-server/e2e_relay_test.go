package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The relay as users run it: simple-server -proto relay in front of
// simple-server upstreams, simple-client verifying every byte through it.
func TestRelayEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)

	t.Run("hello, 1000 connections, pipeline 16", func(t *testing.T) {
		up := startServer(t, server, "-loops", "1")
		relay := startServer(t, server, "-proto", "relay", "-upstream", up.addr, "-loops", "2")
		r := runClient(t, client, "-addr", relay.addr, "-c", "1000", "-n", "64000", "-pipeline", "16", "-close")
		if !r.OK || r.Requests != 64000 || r.Sent != 64000 || r.Mismatches != 0 || r.Errors.Total != 0 {
			t.Fatalf("through the relay: %+v", r)
		}
		relay.stop(t)
		up.stop(t)
	})

	t.Run("echo, 4 KiB, two upstreams by least connections", func(t *testing.T) {
		up1 := startServer(t, server, "-proto", "echo")
		up2 := startServer(t, server, "-proto", "echo")
		relay := startServer(t, server, "-proto", "relay", "-upstream", up1.addr+","+up2.addr, "-upstream-balance", "least",
			"-stats-interval", "1h")
		r := runClient(t, client, "-addr", relay.addr, "-proto", "echo", "-c", "50", "-n", "10000", "-size", "4096", "-pipeline", "4", "-close")
		if !r.OK || r.Requests != 10000 || r.Mismatches != 0 || r.Errors.Total != 0 {
			t.Fatalf("echo through the relay: %+v", r)
		}
		relay.stop(t)
		up1.stop(t)
		up2.stop(t)
	})

	t.Run("a refusing upstream is skipped", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		up := startServer(t, server)
		relay := startServer(t, server, "-proto", "relay", "-upstream", dead+","+up.addr, "-log-level", "debug")
		r := runClient(t, client, "-addr", relay.addr, "-c", "100", "-n", "10000", "-pipeline", "4", "-close")
		if !r.OK || r.Requests != 10000 || r.Mismatches != 0 || r.Errors.Total != 0 {
			t.Fatalf("with a dead upstream: %+v", r)
		}
		log := relay.stop(t)
		if !strings.Contains(log, "upstream connect failed") || !strings.Contains(log, "connection refused") {
			t.Errorf("the relay's debug log does not tell of the refused upstream:\n%s", log)
		}
	})

	t.Run("SIGTERM under load", func(t *testing.T) {
		up := startServer(t, server, "-loops", "1")
		relay := startServer(t, server, "-proto", "relay", "-upstream", up.addr)
		// Runs until the relay stops under it: a run that ends in
		// errors, by design, so only its verification counts.
		cmd := exec.Command(client, "-addr", relay.addr, "-c", "200", "-pipeline", "8", "-d", "20s", "-json", "-timeout", "5s")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		flowing := make(chan struct{})
		go func() {
			// The progress line, once a second: "  1.0s      52000 req/s      0 errors".
			sc := bufio.NewScanner(stderr)
			seen := false
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); !seen && len(f) > 2 && f[2] == "req/s" && f[1] != "0" {
					close(flowing)
					seen = true
				}
			}
		}()
		select {
		case <-flowing:
		case <-time.After(20 * time.Second):
			t.Fatal("no load flowed through the relay")
		}
		log := relay.stop(t)
		cmd.Wait()
		var r clientResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Requests == 0 || r.Mismatches != 0 {
			t.Errorf("replies corrupted while the relay stopped, or none (%v): %s", err, out.String())
		}
		if strings.Contains(log, "level=ERROR") {
			t.Errorf("the relay logged errors while stopping:\n%s", log)
		}
		up.stop(t)
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{"-proto", "relay"},
			{"-proto", "relay", "-upstream", "127.0.0.1:1", "-upstream-balance", "random"},
			{"-upstream", "127.0.0.1:1"},
		} {
			out, err := exec.Command(server, args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Errorf("%v: exit %v, output %q; want exit 2", args, err, out)
			}
		}
	})
}
