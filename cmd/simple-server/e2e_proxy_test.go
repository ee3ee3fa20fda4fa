package main

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// simple-server -proxy-protocol behind curl --haproxy-protocol, which
// sends a version 1 header before its HTTP request: served; the same
// request without the header: the connection is closed, unanswered.
func TestProxyProtocolWithCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	server, _ := buildBinaries(t)
	curl := lookTool(t, "curl", "curl")
	for _, workers := range []string{"0", "4"} {
		srv := startServer(t, server, "-proto", "http", "-workers", workers, "-proxy-protocol", "-proxy-header-timeout", "2s")
		url := "http://" + srv.addr + "/plaintext"
		out, _ := runCurl(t, curl, nil, "--haproxy-protocol", url)
		if string(out) != "Hello, World!" {
			t.Errorf("workers %s: with the header: %q", workers, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := exec.CommandContext(ctx, curl, "-q", "-sS", "--noproxy", "*", "--max-time", "10", url).Run()
		cancel()
		// curl's exit code 52: "the server did not reply anything".
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 52 {
			t.Errorf("workers %s: without the header curl ended with %v, want exit 52 (empty reply)", workers, err)
		}
		srv.stop(t)
	}
}
