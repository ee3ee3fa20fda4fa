package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// runServerCommand runs the server binary to completion (for flags that
// exit before serving) and returns its exit code and output.
func runServerCommand(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return 0, out.String(), errOut.String()
}

// startFields returns the key=value fields of the start line in log.
func startFields(t *testing.T, log string) []string {
	t.Helper()
	for line := range strings.Lines(log) {
		if listening.MatchString(line) {
			return strings.Fields(line)
		}
	}
	t.Fatalf("no start line in\n%s", log)
	return nil
}

func checkFields(t *testing.T, fields []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(fields, w) {
			t.Errorf("the start line lacks %s: %s", w, strings.Join(fields, " "))
		}
	}
}

// flagNames lists the binary's flags from its -h output.
func flagNames(t *testing.T, bin string) []string {
	t.Helper()
	code, _, usage := runServerCommand(t, bin, "-h")
	if code != 0 {
		t.Fatalf("-h: exit %d\n%s", code, usage)
	}
	var names []string
	for line := range strings.Lines(usage) {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			names = append(names, strings.Fields(name)[0])
		}
	}
	if len(names) < 30 {
		t.Fatalf("-h lists %d flags:\n%s", len(names), usage)
	}
	return names
}

// decodeConfig reads a TOML document the way a reader other than
// simple-server would.
func decodeConfig(t *testing.T, doc string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if _, err := toml.Decode(doc, &m); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return m
}

func TestConfigEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	server, client := buildBinaries(t)
	const file = `# Settings the start line shows, whatever the protocol and address.
loops = 2
balance = "least"
workers = 3
worker-queue = 64
nodelay = false
backlog = 128
idle-timeout = "45s"
max-frame = 8192
`
	path := writeConfig(t, file)

	t.Run("the file's values, flags over them", func(t *testing.T) {
		srv := startServer(t, server, "-config", path, "-loops", "1", "-idle-timeout", "50s")
		r := runClient(t, client, "-addr", srv.addr, "-c", "10", "-n", "2000", "-pipeline", "4", "-close")
		if !r.OK || r.Requests != 2000 || r.Mismatches != 0 || r.Errors.Total != 0 {
			t.Fatalf("with the config file: %+v", r)
		}
		checkFields(t, startFields(t, srv.stop(t)), "loops=1", "idle_timeout=50s",
			"balance=least", "workers=3", "worker_queue=64", "nodelay=false", "backlog=128", "max_frame=8192")
	})

	t.Run("defer-accept from the file counts as set for relay", func(t *testing.T) {
		up := startServer(t, server)
		for _, tc := range []struct{ line, want string }{
			{"", "defer_accept=false"},
			{"defer-accept = true\n", "defer_accept=true"},
		} {
			relay := writeConfig(t, "proto = \"relay\"\nupstream = \""+up.addr+"\"\n"+tc.line)
			srv := startServer(t, server, "-config", relay)
			r := runClient(t, client, "-addr", srv.addr, "-c", "4", "-n", "400", "-close")
			if !r.OK || r.Requests != 400 || r.Mismatches != 0 || r.Errors.Total != 0 {
				t.Fatalf("through the relay: %+v", r)
			}
			checkFields(t, startFields(t, srv.stop(t)), "proto=relay", "upstreams="+up.addr, tc.want)
		}
		up.stop(t)
	})

	t.Run("errors name the file, line and key", func(t *testing.T) {
		for _, tc := range []struct{ file, want string }{
			{"# comment\nloops = 2\nbogus = 1\n", `:3: unknown key "bogus"`},
			{"loops = 2\n\nbacklog = \"many\"\n", `:3: key "backlog": want an integer, not a string`},
			{"idle-timeout = \"soon\"\n", `:1: key "idle-timeout": invalid value "soon" (want a duration string such as "1m30s"): parse error`},
			{"[server]\nloops = 2\n", `:1: table "server": the file is flat, one flag = value a line, without [tables] or dotted keys`},
		} {
			bad := writeConfig(t, tc.file)
			code, stdout, stderr := runServerCommand(t, server, "-config", bad, "-addr", "127.0.0.1:0")
			if want := "simple-server: config " + bad + tc.want + "\n"; code != 2 || stderr != want || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, want)
			}
		}
		code, _, stderr := runServerCommand(t, server, "-log-format", "xml")
		if want := "simple-server: unknown -log-format \"xml\" (want text or json)\n"; code != 2 || stderr != want {
			t.Errorf("-log-format xml: exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
		}
	})

	t.Run("-print-config round trip", func(t *testing.T) {
		code, first, stderr := runServerCommand(t, server, "-config", path, "-print-config", "-loops", "3")
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		for _, want := range []string{"\nloops = 3\n", "\nworkers = 3\n", "\nidle-timeout = \"45s\"\n", "\nnodelay = false\n",
			"\nproto = \"hello\"\n", "\nlog-format = \"text\"\n", "\n# TCP_NODELAY on accepted sockets\nnodelay = false\n"} {
			if !strings.Contains(first, want) {
				t.Errorf("the printed configuration lacks %q:\n%s", want, first)
			}
		}
		var keys []string
		for k := range decodeConfig(t, first) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.DeleteFunc(flagNames(t, server), func(n string) bool { return n == "config" || n == "print-config" })
		if !slices.Equal(keys, want) {
			t.Errorf("printed keys\n%q\nwant every flag but config and print-config\n%q", keys, want)
		}
		again := writeConfig(t, first)
		code, second, stderr := runServerCommand(t, server, "-config", again, "-print-config")
		if code != 0 || stderr != "" || second != first {
			t.Fatalf("read back: exit %d, stderr %q, printed\n%s\nfirst\n%s", code, stderr, second, first)
		}
	})

	t.Run("docs/simple-server.toml loads", func(t *testing.T) {
		const example = "../../docs/simple-server.toml"
		code, printed, stderr := runServerCommand(t, server, "-config", example, "-print-config")
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		doc, err := os.ReadFile(example)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeConfig(t, printed)
		for k, v := range decodeConfig(t, string(doc)) {
			p := got[k]
			if s, ok := v.(string); ok {
				// Durations print in their canonical form: "90s" as "1m30s".
				if d, err := time.ParseDuration(s); err == nil {
					v = d.String()
				}
			}
			if p != v {
				t.Errorf("%s: the example sets %#v, -print-config shows %#v", k, v, p)
			}
		}
	})

	t.Run("-log-format json", func(t *testing.T) {
		testJSONLog(t, server, client)
	})
}

// testJSONLog runs the server with -log-format json and expects every line
// it logs, from the start line to the stop line, to be a JSON object.
func testJSONLog(t *testing.T, server, client string) {
	cmd := exec.Command(server, "-addr", "127.0.0.1:0", "-log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// record returns the next line as an object, or ok false when the log
	// has ended.
	record := func(within time.Duration) (r map[string]any, ok bool) {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok {
				return nil, false
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("a log line is not JSON: %q: %v", line, err)
			}
			return r, true
		case <-time.After(within):
			t.Fatalf("no log line within %v", within)
			return nil, false
		}
	}
	next := func() map[string]any {
		t.Helper()
		r, ok := record(20 * time.Second)
		if !ok {
			t.Fatal("the log ended")
		}
		return r
	}
	start := next()
	addr, _ := start["addr"].(string)
	if start["msg"] != "simple-server listening" || start["level"] != "INFO" || addr == "" || start["engine"] != wantEngine ||
		start["proto"] != "hello" || start["nodelay"] != true || start["idle_timeout"] != float64(60*time.Second) {
		t.Fatalf("start record %v", start)
	}
	r := runClient(t, client, "-addr", addr, "-c", "4", "-n", "400")
	if !r.OK || r.Requests != 400 || r.Mismatches != 0 || r.Errors.Total != 0 {
		t.Fatalf("with JSON logs: %+v", r)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var msgs []any
	deadline := time.Now().Add(15 * time.Second)
	for {
		rec, ok := record(time.Until(deadline))
		if !ok {
			break
		}
		msgs = append(msgs, rec["msg"])
	}
	if !slices.Equal(msgs, []any{"shutting down", "stopped"}) {
		t.Fatalf("after the start line the log has %q, want shutting down, stopped", msgs)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}
