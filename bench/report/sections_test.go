package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplice(t *testing.T) {
	sec := "# HTTP\n\nrows\n"
	block := httpBegin + "\n" + sec + httpEnd + "\n"
	if got := splice("", httpBegin, httpEnd, sec); got != block {
		t.Errorf("into nothing: %q", got)
	}
	if got := splice("# Hello\n\ntable\n", httpBegin, httpEnd, sec); got != "# Hello\n\ntable\n\n"+block {
		t.Errorf("appended: %q", got)
	}
	doc := "# Hello\n\n" + httpBegin + "\nold\n" + httpEnd + "\n# After\n"
	if got := splice(doc, httpBegin, httpEnd, sec); got != "# Hello\n\n"+block+"# After\n" {
		t.Errorf("replaced: %q", got)
	}
	// The relay's section goes after the HTTP notes, and replacing either
	// leaves the other and the notes as they were.
	relay := relayBegin + "\nrelay\n" + relayEnd + "\n"
	both := splice(doc, relayBegin, relayEnd, "relay\n")
	if both != doc+"\n"+relay {
		t.Errorf("relay appended: %q", both)
	}
	if got := splice(both, httpBegin, httpEnd, sec); got != "# Hello\n\n"+block+"# After\n\n"+relay {
		t.Errorf("HTTP replaced beside the relay: %q", got)
	}
	if got := splice(both, relayBegin, relayEnd, "new\n"); got != doc+"\n"+relayBegin+"\nnew\n"+relayEnd+"\n" {
		t.Errorf("relay replaced: %q", got)
	}
	// An end marker before its begin marker is no section.
	odd := relayEnd + "\n" + relayBegin + "\n"
	if got := splice(odd, relayBegin, relayEnd, "x\n"); got != odd+"\n"+relayBegin+"\nx\n"+relayEnd+"\n" {
		t.Errorf("end before begin: %q", got)
	}
}

func TestSuitesPart(t *testing.T) {
	h := httpBegin + "\nold\n" + httpEnd + "\n# HTTP notes\n"
	r := relayBegin + "\nold\n" + relayEnd + "\n# Relay notes\n"
	for _, c := range []struct{ doc, want string }{
		{"# Hello\n", ""},
		{"# Hello\n\n" + h, h},
		{"# Hello\n\n" + r, r},
		{"# Hello\n\n" + h + r, h + r},
		{"# Hello\n\n" + r + h, r + h},
		{"# Hello\n\n" + httpBegin + "\nno end\n", ""},
	} {
		if got := suitesPart(c.doc); got != c.want {
			t.Errorf("suitesPart(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

// TestModesKeepEachOther runs -results, -http and -relay on one file in
// every order, with hand-written notes below the suites' sections: each
// rewrites only its own part.
func TestModesKeepEachOther(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(scen, server string) string {
		return `{"scenario":"` + scen + `","server":"` + server + `","round":1,"duration_s":2,"clk_tck":100,"server_cpu_ticks":50,
 "cpu0_busy_ticks":100,"cpu0_total_ticks":200,"cpu1_busy_ticks":100,"cpu1_total_ticks":200,"client_exit":0,
 "client":{"requests":100000,"requests_per_s":50000,"duration_s":2,"ok":true}}`
	}
	hello, httpDir, relayDir := filepath.Join(root, "results"), filepath.Join(root, "http"), filepath.Join(root, "relay")
	write(filepath.Join(hello, "a-c-r1.json"), run("a", "c"))
	write(filepath.Join(hello, "machine.txt"), "command=HELLO-ONE\n")
	write(filepath.Join(httpDir, "h1-fast-r1.json"), run("h1", "fast"))
	write(filepath.Join(httpDir, "machine.txt"), "command=HTTP-ONE\n")
	write(filepath.Join(relayDir, "a-simpleserver-r1.json"), run("a", "simpleserver"))
	write(filepath.Join(relayDir, "a-haproxy-r1.json"), run("a", "haproxy"))
	write(filepath.Join(relayDir, "machine.txt"), "command=RELAY-ONE\n")
	out := filepath.Join(root, "R.md")
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	appendNote := func(note string) { write(out, read()+"\n"+note+"\n") }
	modes := map[string]func() error{
		"results": func() error { return writeReport(hello, out) },
		"http":    func() error { return writeHTTPReport(httpDir, out) },
		"relay":   func() error { return writeSection(relayDir, out, relayBegin, relayEnd, renderRelay) },
	}
	do := func(mode string) {
		t.Helper()
		if err := modes[mode](); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}

	do("results")
	do("http")
	appendNote("## HTTP notes, by hand")
	do("relay")
	appendNote("## Relay notes, by hand")
	want := read()
	// In order: the hello report, the HTTP section and its notes, the
	// relay section and its notes.
	at := -1
	for _, s := range []string{"HELLO-ONE", httpBegin, "HTTP-ONE", httpEnd, "## HTTP notes, by hand", relayBegin, "RELAY-ONE", relayEnd, "## Relay notes, by hand"} {
		i := strings.Index(want, s)
		if i <= at || strings.Count(want, s) != 1 {
			t.Fatalf("%q out of place (at %d, after %d) or not once in:\n%s", s, i, at, want)
		}
		at = i
	}

	for _, order := range [][]string{
		{"results", "http", "relay"}, {"results", "relay", "http"}, {"http", "results", "relay"},
		{"http", "relay", "results"}, {"relay", "results", "http"}, {"relay", "http", "results"},
	} {
		for _, mode := range order {
			do(mode)
			if got := read(); got != want {
				t.Fatalf("after %v (at %s) the file changed:\n%s\nwas:\n%s", order, mode, got, want)
			}
		}
	}

	// A new run replaces its own part and nothing else.
	write(filepath.Join(relayDir, "machine.txt"), "command=RELAY-TWO\n")
	do("relay")
	if got := read(); got != strings.Replace(want, "RELAY-ONE", "RELAY-TWO", 1) {
		t.Errorf("a new relay run changed more than its section:\n%s", got)
	}
	write(filepath.Join(hello, "machine.txt"), "command=HELLO-TWO\n")
	do("results")
	if got := read(); got != strings.NewReplacer("RELAY-ONE", "RELAY-TWO", "HELLO-ONE", "HELLO-TWO").Replace(want) {
		t.Errorf("a new hello run changed more than its part:\n%s", got)
	}
}
